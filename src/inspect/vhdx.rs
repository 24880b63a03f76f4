//! VHDX (Microsoft's "VHDX Format Specification" v1.0): the file type
//! identifier, the headers at 64 and 128 KiB (one at least must be there),
//! the region table at 192 KiB (its copy at 256 KiB), the
//! metadata region it points at, and in it the virtual disk size and the
//! file parameters (whether the disk has a parent).

use super::{found, le, out_of_range, Captured, Finding, Format, Miss, Parsed};

/// The file type identifier's signature.
pub(super) const MAGIC: &[u8] = b"vhdxfile";
/// The two headers (either may be the current one) and the two copies of
/// the region table.
const HEADERS: [u64; 2] = [64 << 10, 128 << 10];
const REGION_TABLES: [u64; 2] = [192 << 10, 256 << 10];
const ENTRY: usize = 32;
/// The most entries a region table or the metadata table may hold.
const MAX_ENTRIES: u64 = 2047;

/// A GUID as VHDX stores it: the first three fields little-endian.
const fn guid(a: u32, b: u16, c: u16, d: [u8; 8]) -> [u8; 16] {
    let (a, b, c) = (a.to_le_bytes(), b.to_le_bytes(), c.to_le_bytes());
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
        d[7],
    ]
}

const METADATA_REGION: [u8; 16] = guid(
    0x8B7C_A206,
    0x4790,
    0x4B9A,
    [0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E],
);
const VIRTUAL_DISK_SIZE: [u8; 16] = guid(
    0x2FA5_4224,
    0xCD1B,
    0x4876,
    [0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8],
);
const FILE_PARAMETERS: [u8; 16] = guid(
    0xCAA1_6737,
    0xFA36,
    0x4D43,
    [0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B],
);
const PARENT_LOCATOR: [u8; 16] = guid(
    0xA8D3_5F2D,
    0xB30B,
    0x454D,
    [0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C],
);
/// The file parameters' flag: the disk is a differencing disk.
const HAS_PARENT: u64 = 1 << 1;

/// The entries of a table at `at` whose header is `header` bytes long,
/// with `signature` first and the entry count at `count_at` (`count_len`
/// bytes); `None` if the signature is not there or the count is too big.
fn table<'a>(
    c: &Captured<'a>,
    at: u64,
    (signature, header, count_at, count_len): (&[u8], usize, usize, usize),
) -> Result<Option<&'a [u8]>, Miss> {
    let h = c.at(at, header)?;
    let count = le(h, count_at, count_len);
    if &h[..signature.len()] != signature || count > MAX_ENTRIES {
        return Ok(None);
    }
    Ok(Some(c.at(at + header as u64, count as usize * ENTRY)?))
}

/// The entry whose GUID is `id`.
fn entry<'a>(entries: &'a [u8], id: &[u8; 16]) -> Option<&'a [u8]> {
    entries.chunks_exact(ENTRY).find(|e| &e[..16] == id)
}

/// Inspects data with the VHDX identifier.
pub(super) fn parse(c: &Captured<'_>) -> Parsed {
    let mut headed = false;
    for at in HEADERS {
        headed |= c.at(at, 4)? == b"head";
    }
    if !headed {
        return out_of_range(Format::Vhdx, "a VHDX without a header".into());
    }
    let mut regions = None;
    for at in REGION_TABLES {
        regions = table(c, at, (b"regi", 16, 8, 4))?;
        if regions.is_some() {
            break;
        }
    }
    let Some(meta) = regions.and_then(|r| entry(r, &METADATA_REGION)) else {
        return out_of_range(Format::Vhdx, "a VHDX without a metadata region".into());
    };
    let meta_at = le(meta, 16, 8);
    let Some(items) = table(c, meta_at, (b"metadata", 32, 10, 2))? else {
        return out_of_range(
            Format::Vhdx,
            "a VHDX metadata table without its signature".into(),
        );
    };
    let value = |id: &[u8; 16]| -> Result<Option<u64>, Miss> {
        match entry(items, id) {
            None => Ok(None),
            Some(e) => Ok(Some(le(c.at(meta_at + le(e, 16, 4), 8)?, 0, 8))),
        }
    };
    let Some(size) = value(&VIRTUAL_DISK_SIZE)? else {
        return out_of_range(Format::Vhdx, "a VHDX without a virtual disk size".into());
    };
    let flags = value(&FILE_PARAMETERS)?.unwrap_or(0) >> 32;
    let parent = flags & HAS_PARENT != 0 || entry(items, &PARENT_LOCATOR).is_some();
    found(Format::Vhdx, size, parent.then_some(Finding::Parent))
}
