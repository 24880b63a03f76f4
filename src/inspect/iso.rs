//! ISO 9660 (ECMA-119): the volume descriptor set starts at sector 16
//! (byte 32768), each descriptor with the standard identifier "CD001".

use super::{Captured, Need};

/// Byte 1 of the first volume descriptor.
const IDENTIFIER_AT: u64 = 16 * 2048 + 1;
const IDENTIFIER: &[u8] = b"CD001";

/// Whether the data holds an ISO 9660 volume descriptor where one goes.
pub(super) fn probe(c: &Captured<'_>) -> Result<bool, Need> {
    c.has(IDENTIFIER_AT, IDENTIFIER)
}
