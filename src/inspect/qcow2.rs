//! qcow2, versions 2 and 3 (qemu's docs/interop/qcow2.txt): the header,
//! its extensions within the first cluster, and the backing file name.

use super::{be, found, out_of_range, shown, Captured, Finding, Format, Parsed};

/// "QFI\xfb".
pub(super) const MAGIC: &[u8] = b"QFI\xfb";
/// A version 2 header's length; version 3 says its own, at least 104.
const V2_HEADER: usize = 72;
const V3_HEADER: usize = 104;
/// Incompatible feature bits qemu defines: dirty, corrupt, external data
/// file, compression type, extended L2 entries.
const KNOWN_INCOMPATIBLE: u64 = 0b1_1111;
const EXTERNAL_DATA_FILE: u64 = 1 << 2;
/// The header extension that names the external data file.
const DATA_FILE_EXTENSION: u64 = 0x4441_5441;
/// At most this many header extensions are walked (qemu knows six kinds).
const MAX_EXTENSIONS: usize = 64;
/// The longest backing file name qemu writes.
const MAX_BACKING_NAME: u64 = 1023;

/// The header's fields this inspector reads.
struct Header {
    version: u64,
    backing_offset: u64,
    backing_size: u64,
    cluster_size: u64,
    size: u64,
    crypt_method: u64,
    incompatible: u64,
    header_length: u64,
}

fn header(c: &Captured<'_>) -> Result<Result<Header, String>, super::Miss> {
    let h = c.at(0, V2_HEADER)?;
    let version = be(h, 4, 4);
    if version != 2 && version != 3 {
        return Ok(Err(format!("qcow2 version {version}")));
    }
    let cluster_bits = be(h, 20, 4);
    if !(9..=21).contains(&cluster_bits) {
        return Ok(Err(format!("qcow2 cluster_bits {cluster_bits}")));
    }
    let (incompatible, header_length) = if version == 3 {
        let h = c.at(0, V3_HEADER)?;
        (be(h, 72, 8), be(h, 100, 4))
    } else {
        (0, V2_HEADER as u64)
    };
    let cluster_size = 1u64 << cluster_bits;
    if version == 3 && !(V3_HEADER as u64..=cluster_size).contains(&header_length) {
        return Ok(Err(format!("qcow2 header_length {header_length}")));
    }
    Ok(Ok(Header {
        version,
        backing_offset: be(h, 8, 8),
        backing_size: be(h, 16, 4),
        cluster_size,
        size: be(h, 24, 8),
        crypt_method: be(h, 32, 4),
        incompatible,
        header_length,
    }))
}

/// Inspects data that begins with the qcow2 magic.
pub(super) fn parse(c: &Captured<'_>) -> Parsed {
    let h = match header(c)? {
        Ok(h) => h,
        Err(what) => return out_of_range(Format::Qcow2, what),
    };
    if h.crypt_method > 2 {
        return out_of_range(
            Format::Qcow2,
            format!("qcow2 crypt_method {}", h.crypt_method),
        );
    }
    if h.backing_offset != 0 {
        return found(Format::Qcow2, h.size, Some(backing(c, &h)?));
    }
    let data_file = data_file_name(c, &h)?;
    if h.incompatible & EXTERNAL_DATA_FILE != 0 || data_file.is_some() {
        let name = data_file.unwrap_or_default();
        return found(Format::Qcow2, h.size, Some(Finding::DataFile(name)));
    }
    let unknown = h.incompatible & !KNOWN_INCOMPATIBLE;
    let finding = (unknown != 0).then_some(Finding::UnknownFeatures(unknown));
    found(Format::Qcow2, h.size, finding)
}

/// The backing file finding, with its name where the header's pointer to
/// it is sound.
fn backing(c: &Captured<'_>, h: &Header) -> Result<Finding, super::Miss> {
    let (off, len) = (h.backing_offset, h.backing_size);
    let sound = (1..=MAX_BACKING_NAME).contains(&len)
        && off
            .checked_add(len)
            .is_some_and(|end| end <= h.cluster_size);
    let name = if sound {
        match c.at(off, len as usize) {
            Ok(b) => shown(b),
            Err(super::Miss::Need(n)) => return Err(super::Miss::Need(n)),
            Err(_) => String::new(),
        }
    } else {
        String::new()
    };
    Ok(Finding::BackingFile(name))
}

/// The name in the external data file header extension, if there is one.
/// The extensions follow the header, each 8-byte aligned, up to the end
/// of the first cluster.
fn data_file_name(c: &Captured<'_>, h: &Header) -> Result<Option<String>, super::Miss> {
    let mut off = if h.version == 3 {
        h.header_length
    } else {
        V2_HEADER as u64
    };
    for _ in 0..MAX_EXTENSIONS {
        if off + 8 > h.cluster_size {
            break;
        }
        let e = c.at(off, 8)?;
        let (kind, len) = (be(e, 0, 4), be(e, 4, 4));
        if kind == 0 {
            break;
        }
        if off + 8 + len > h.cluster_size {
            return Err(super::Miss::Short);
        }
        if kind == DATA_FILE_EXTENSION {
            return Ok(Some(shown(c.at(off + 8, len.min(1024) as usize)?)));
        }
        off += 8 + len.next_multiple_of(8);
    }
    Ok(None)
}
