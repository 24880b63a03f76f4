//! VDI (VirtualBox; the header as qemu's block/vdi.c reads it): the
//! signature at byte 64, the image type and the disk size.

use super::{found, le, out_of_range, Captured, Finding, Format, Parsed};

/// The signature, little-endian 0xbeda107f, at `MAGIC_AT`.
pub(super) const MAGIC: &[u8] = &[0x7f, 0x10, 0xda, 0xbe];
/// Where the signature is: after 64 bytes of text.
pub(super) const MAGIC_AT: u64 = 64;
/// The header's length as far as this inspector reads it.
const HEADER: usize = 400;
/// Image types: normal (dynamic), fixed, undo, differencing.
const NORMAL: u64 = 1;
const FIXED: u64 = 2;
const DIFFERENCING: u64 = 4;

/// Inspects data with the VDI signature.
pub(super) fn parse(c: &Captured<'_>) -> Parsed {
    let h = c.at(0, HEADER)?;
    let version = le(h, 68, 4);
    if version >> 16 != 1 {
        return out_of_range(Format::Vdi, format!("VDI version {version:#x}"));
    }
    let size = le(h, 368, 8);
    match le(h, 76, 4) {
        NORMAL | FIXED => found(Format::Vdi, size, None),
        DIFFERENCING => found(Format::Vdi, size, Some(Finding::Parent)),
        other => out_of_range(Format::Vdi, format!("VDI image type {other}")),
    }
}
