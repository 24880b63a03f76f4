//! VHD (Microsoft's "Virtual Hard Disk Image Format Specification"): a
//! 512-byte footer at the end; a dynamic or differencing disk also has a
//! copy of it at the start, then its dynamic header ("cxsparse").

use super::{be, found, out_of_range, Captured, Finding, Format, Inspection, Miss, Need, Parsed};

/// The footer's cookie.
pub(super) const MAGIC: &[u8] = b"conectix";
const FOOTER: usize = 512;
const DYNAMIC_COOKIE: &[u8] = b"cxsparse";
/// Disk types.
const FIXED: u64 = 2;
const DYNAMIC: u64 = 3;
const DIFFERENCING: u64 = 4;

/// A footer's disk type and current (virtual) size.
fn footer(b: &[u8]) -> (u64, u64) {
    (be(b, 60, 4), be(b, 48, 8))
}

/// Inspects data that begins with a footer copy: a dynamic or
/// differencing disk, whose dynamic header the copy points at.
pub(super) fn parse(c: &Captured<'_>) -> Parsed {
    let copy = c.at(0, FOOTER)?;
    let (kind, size) = footer(copy);
    match kind {
        DYNAMIC | DIFFERENCING => {
            let at = be(copy, 16, 8);
            if c.at(at, 1024)?.get(..8) != Some(DYNAMIC_COOKIE) {
                return out_of_range(
                    Format::Vhd,
                    "a VHD dynamic header without its cookie".into(),
                );
            }
            let finding = (kind == DIFFERENCING).then_some(Finding::Parent);
            found(Format::Vhd, size, finding)
        }
        // A fixed disk's footer is at its end only: this one's data merely
        // begins like a footer, and the real one decides.
        FIXED => match c.last(FOOTER).map_err(Miss::Need)? {
            Some(end) if &end[..8] == MAGIC && footer(end).0 == FIXED => {
                found(Format::Vhd, footer(end).1, None)
            }
            _ => out_of_range(Format::Vhd, "a fixed VHD footer at the start".into()),
        },
        other => out_of_range(Format::Vhd, format!("VHD disk type {other}")),
    }
}

/// A fixed VHD: data that does not begin like any format, with a footer
/// at its end; `None` when there is none.
pub(super) fn from_footer(c: &Captured<'_>) -> Result<Option<Inspection>, Need> {
    let Some(end) = c.last(FOOTER)? else {
        return Ok(None);
    };
    if &end[..8] != MAGIC {
        return Ok(None);
    }
    let (kind, size) = footer(end);
    let parsed = match kind {
        FIXED => found(Format::Vhd, size, None),
        other => out_of_range(
            Format::Vhd,
            format!("a VHD footer of disk type {other} at the end only"),
        ),
    };
    super::settle(Format::Vhd, parsed).map(Some)
}
