//! VMDK (VMware's "Virtual Disk Format 1.1"; qemu's block/vmdk.c reads the
//! same): a sparse extent's `KDMV` header and its embedded descriptor, or
//! a text descriptor, whose `createType` and extent lines say which files
//! the disk is made of.

use super::{found, le, out_of_range, shown, Captured, Finding, Format, Miss, Need, Parsed};

/// "KDMV", the sparse extent header's magic.
pub(super) const MAGIC: &[u8] = b"KDMV";
/// The sparse header's length.
const HEADER: usize = 512;
const SECTOR: u64 = 512;
/// The most descriptor text read (qemu's own limit is lower).
const MAX_DESCRIPTOR: u64 = 64 << 10;
/// The `createType`s whose one extent is the file itself.
const SELF_CONTAINED: [&str; 2] = ["monolithicSparse", "streamOptimized"];
/// The first words of an extent line: its access.
const ACCESS: [&str; 3] = ["RW", "RDONLY", "NOACCESS"];

/// What a descriptor says.
#[derive(Debug, Default, PartialEq, Eq)]
struct Descriptor {
    create_type: String,
    /// Extent lines, as written.
    extents: Vec<String>,
    /// The sum of the extents' sizes, in bytes.
    size: u64,
}

/// Whether the data is a text descriptor: its first line that is neither
/// blank nor a comment sets `version=`, or it starts with the comment
/// VMware writes.
pub(super) fn is_descriptor(c: &Captured<'_>) -> Result<bool, Need> {
    let text = match c.upto(0, 1024) {
        Ok(b) => b,
        Err(Miss::Need(n)) => return Err(n),
        Err(_) => return Ok(false),
    };
    if text.starts_with(b"# Disk DescriptorFile") {
        return Ok(true);
    }
    let first = text
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .find(|l| !l.is_empty() && !l.starts_with(b"#"));
    Ok(first.is_some_and(|l| l.starts_with(b"version=")))
}

/// Reads descriptor text: lines up to the first NUL.
fn descriptor(text: &[u8]) -> Descriptor {
    let text = text.split(|&b| b == 0).next().unwrap_or_default();
    let mut d = Descriptor::default();
    for line in String::from_utf8_lossy(text).lines() {
        let line = line.trim();
        if let Some((key, value)) = line.split_once('=') {
            if key.trim() == "createType" {
                d.create_type = shown(value.trim().trim_matches('"').as_bytes());
                continue;
            }
        }
        let mut words = line.split_whitespace();
        if words.next().is_some_and(|w| ACCESS.contains(&w)) {
            let sectors = words.next().and_then(|s| s.parse::<u64>().ok());
            d.size = d
                .size
                .saturating_add(sectors.unwrap_or(0).saturating_mul(SECTOR));
            d.extents.push(shown(line.as_bytes()));
        }
    }
    d
}

/// The extent lines' types (their third word).
fn extent_type(line: &str) -> &str {
    line.split_whitespace().nth(2).unwrap_or("")
}

/// Inspects data that begins like a VMDK.
pub(super) fn parse(c: &Captured<'_>) -> Parsed {
    if c.at(0, MAGIC.len())? != MAGIC {
        let d = descriptor(c.upto(0, MAX_DESCRIPTOR as usize)?);
        let finding = Finding::Descriptor {
            create_type: d.create_type,
            extents: d.extents,
        };
        return found(Format::Vmdk, d.size, Some(finding));
    }
    let h = c.at(0, HEADER)?;
    let version = le(h, 4, 4);
    if !(1..=3).contains(&version) {
        return out_of_range(Format::Vmdk, format!("VMDK version {version}"));
    }
    let Some(size) = le(h, 12, 8).checked_mul(SECTOR) else {
        return out_of_range(Format::Vmdk, "a VMDK capacity over 2^64 bytes".into());
    };
    let (desc_at, desc_len) = (le(h, 28, 8), le(h, 36, 8));
    if desc_at == 0 || desc_len == 0 {
        return found(Format::Vmdk, size, Some(Finding::CreateType(String::new())));
    }
    let (Some(off), Some(len)) = (desc_at.checked_mul(SECTOR), desc_len.checked_mul(SECTOR)) else {
        return Err(Miss::Bound);
    };
    if len > MAX_DESCRIPTOR {
        return out_of_range(Format::Vmdk, format!("a VMDK descriptor of {len} bytes"));
    }
    let d = descriptor(c.at(off, len as usize)?);
    found(Format::Vmdk, size, embedded(d))
}

/// What is unsafe in a sparse extent's embedded descriptor: a `createType`
/// that makes the disk of other files, or an extent that is not this one.
fn embedded(d: Descriptor) -> Option<Finding> {
    if !SELF_CONTAINED.contains(&d.create_type.as_str()) {
        return Some(Finding::CreateType(d.create_type));
    }
    let foreign = d.extents.iter().any(|e| extent_type(e) != "SPARSE");
    (d.extents.len() > 1 || foreign).then_some(Finding::Extents(d.extents))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_name_their_type_and_extents() {
        let text = b"# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n\
            RW 2048 FLAT \"/etc/passwd\" 0\nRDONLY 10 SPARSE \"b.vmdk\"\n\0\0garbage";
        let d = descriptor(text);
        assert_eq!(d.create_type, "monolithicFlat");
        assert_eq!(d.extents.len(), 2);
        assert_eq!(d.size, 2058 * 512);
        assert_eq!(
            embedded(d),
            Some(Finding::CreateType("monolithicFlat".into()))
        );
        let one = descriptor(b"createType=\"streamOptimized\"\nRW 8 SPARSE \"x.vmdk\"\n");
        assert_eq!(embedded(one), None);
        let flat = descriptor(b"createType=\"monolithicSparse\"\nRW 8 FLAT \"/dev/sda\" 0\n");
        assert!(matches!(embedded(flat), Some(Finding::Extents(_))));
    }
}
