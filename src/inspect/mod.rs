//! The image inspector (docs/api.md §19): what format some data really is,
//! its virtual size, and whether a hypervisor given it would reach for other
//! files. Pure: it reads from a `Captured` (a bounded head, the last bytes,
//! the size once known) and asks for more head when it needs it, so the same
//! code serves an upload as it streams and an object read with ranges.

mod iso;
mod qcow2;
mod stream;
mod vdi;
mod vhd;
mod vhdx;
mod vmdk;

#[cfg(test)]
mod tests;

use std::fmt;

pub(crate) use stream::Sniffer;

/// The most head bytes an inspection reads, whatever the data's size.
pub(crate) const BOUND: usize = 4 << 20;
/// The head every inspection reads first: the magic numbers, the ISO 9660
/// volume descriptors at 32 KiB, most headers whole.
pub(crate) const MIN_HEAD: usize = 64 << 10;
/// Where the formats' fixed headers end (VHDX's second region table).
const FIXED_HEADERS: u64 = 256 << 10;
/// The bytes kept from the end: a VHD footer.
pub(crate) const TAIL: usize = 512;

/// A format the inspector knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// None of the others (GPT and MBR disks included).
    Raw,
    /// QEMU copy-on-write, versions 2 and 3.
    Qcow2,
    /// VMware: a sparse extent or a text descriptor.
    Vmdk,
    /// Virtual PC / Hyper-V, fixed or dynamic.
    Vhd,
    /// Hyper-V's newer format.
    Vhdx,
    /// VirtualBox.
    Vdi,
    /// An ISO 9660 file system.
    Iso,
}

impl Format {
    /// The format of a name `as_str` gave.
    pub(crate) fn parse(name: &str) -> Option<Format> {
        [
            Format::Raw,
            Format::Qcow2,
            Format::Vmdk,
            Format::Vhd,
            Format::Vhdx,
            Format::Vdi,
            Format::Iso,
        ]
        .into_iter()
        .find(|f| f.as_str() == name)
    }

    /// The `disk_format` name of the format.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Format::Raw => "raw",
            Format::Qcow2 => "qcow2",
            Format::Vmdk => "vmdk",
            Format::Vhd => "vhd",
            Format::Vhdx => "vhdx",
            Format::Vdi => "vdi",
            Format::Iso => "iso",
        }
    }
}

/// What makes data unsafe to hand to a hypervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finding {
    /// A qcow2 naming a backing file (its name, as far as it was read).
    BackingFile(String),
    /// A qcow2 with an external data file (its name, if the header gives one).
    DataFile(String),
    /// A qcow2 with incompatible feature bits this inspector does not know.
    UnknownFeatures(u64),
    /// A VMDK of a `createType` whose extents are other files.
    CreateType(String),
    /// A sparse VMDK whose embedded descriptor names other extents.
    Extents(Vec<String>),
    /// A VMDK text descriptor: every extent is another file.
    Descriptor {
        /// Its `createType`, empty when it names none.
        create_type: String,
        /// Its extent lines.
        extents: Vec<String>,
    },
    /// A differencing disk (VHD, VHDX, VDI): it names a parent.
    Parent,
    /// An ISO 9660 image that is at the same time an image of this format.
    IsoAnd(Format),
    /// What an earlier inspection of the same bytes found, as it was kept.
    Recorded(String),
    /// The header stops before its end: the data is shorter than it says.
    Truncated(&'static str),
    /// A header field outside what the format allows, or what it points at
    /// lies beyond the bytes an inspection reads.
    OutOfRange(String),
}

/// At most this many characters of a name taken from the data.
const NAME_CHARS: usize = 120;

/// Text from the data, fit for a message: printable, bounded.
fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.chars()
        .take(NAME_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let named = |what: &str, name: &str| {
            if name.is_empty() {
                what.to_string()
            } else {
                format!("{what} '{name}'")
            }
        };
        match self {
            Finding::BackingFile(n) => write!(f, "{}", named("a qcow2 backing file", n)),
            Finding::DataFile(n) => write!(f, "{}", named("a qcow2 external data file", n)),
            Finding::UnknownFeatures(bits) => {
                write!(f, "unknown qcow2 incompatible features {bits:#x}")
            }
            Finding::CreateType(t) if t.is_empty() => {
                write!(
                    f,
                    "a VMDK sparse extent without a descriptor naming its createType"
                )
            }
            Finding::CreateType(t) => write!(f, "VMDK createType '{t}'"),
            Finding::Extents(e) => write!(f, "VMDK extents {}", e.join("; ")),
            Finding::Descriptor {
                create_type,
                extents,
            } => write!(
                f,
                "a VMDK descriptor file (createType '{create_type}', extents: {})",
                extents.join("; ")
            ),
            Finding::Parent => write!(f, "a differencing disk that names a parent"),
            Finding::IsoAnd(other) => {
                write!(f, "an ISO 9660 image that is also {}", other.as_str())
            }
            Finding::Truncated(what) => write!(f, "a truncated {what}"),
            Finding::OutOfRange(what) | Finding::Recorded(what) => write!(f, "{what}"),
        }
    }
}

/// What an inspection learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inspection {
    /// The format the data is.
    pub(crate) format: Format,
    /// The virtual disk size in bytes, where the header says (raw and ISO:
    /// the data's size).
    pub(crate) virtual_size: Option<u64>,
    /// What makes it unsafe, if anything.
    pub(crate) finding: Option<Finding>,
}

impl Inspection {
    /// An inspection as the catalogue kept it: the format's name, the
    /// finding's words, the virtual size; `None` for a name not known.
    pub(crate) fn recorded(
        format: &str,
        finding: Option<String>,
        virtual_size: Option<u64>,
    ) -> Option<Inspection> {
        Some(Inspection {
            format: Format::parse(format)?,
            virtual_size,
            finding: finding.map(Finding::Recorded),
        })
    }
}

/// Why an inspection could not finish on what it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// The head up to this many bytes (at most `BOUND`).
    Head(usize),
    /// The end of the data, which a stream has not reached yet.
    Tail,
}

/// Why a read of the captured bytes failed, inside a format's parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Miss {
    /// Something the caller can bring.
    Need(Need),
    /// Past the end of the data.
    Short,
    /// Past `BOUND`, and not in the tail.
    Bound,
}

/// The bytes an inspection sees: the head (from offset 0), the last bytes,
/// and the size once the data has ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Captured<'a> {
    /// The first bytes.
    pub(crate) head: &'a [u8],
    /// The last `min(TAIL, size)` bytes, once the size is known.
    pub(crate) tail: &'a [u8],
    /// The data's size; `None` while a stream is still arriving.
    pub(crate) size: Option<u64>,
}

impl<'a> Captured<'a> {
    /// Exactly `len` bytes at `off`.
    fn at(&self, off: u64, len: usize) -> Result<&'a [u8], Miss> {
        let end = off.checked_add(len as u64).ok_or(Miss::Bound)?;
        if end <= self.head.len() as u64 {
            return Ok(&self.head[off as usize..end as usize]);
        }
        if let Some(size) = self.size {
            if end > size {
                return Err(Miss::Short);
            }
            let tail_start = size - self.tail.len() as u64;
            if off >= tail_start {
                let from = (off - tail_start) as usize;
                return Ok(&self.tail[from..from + len]);
            }
        }
        if end > BOUND as u64 {
            return Err(Miss::Bound);
        }
        Err(Miss::Need(Need::Head(end as usize)))
    }

    /// Up to `len` bytes at `off`: fewer only where the data ends first.
    fn upto(&self, off: u64, len: usize) -> Result<&'a [u8], Miss> {
        let len = match self.size {
            Some(size) => len.min(size.saturating_sub(off) as usize),
            None => len,
        };
        self.at(off, len)
    }

    /// Whether the data has these bytes at `off` (false where it is shorter).
    fn has(&self, off: u64, magic: &[u8]) -> Result<bool, Need> {
        match self.at(off, magic.len()) {
            Ok(b) => Ok(b == magic),
            Err(Miss::Need(n)) => Err(n),
            Err(Miss::Short | Miss::Bound) => Ok(false),
        }
    }

    /// The last `len` bytes, once the data has ended (`None`: it is shorter).
    fn last(&self, len: usize) -> Result<Option<&'a [u8]>, Need> {
        let Some(size) = self.size else {
            return Err(Need::Tail);
        };
        if (len as u64) > size {
            return Ok(None);
        }
        match self.at(size - len as u64, len) {
            Ok(b) => Ok(Some(b)),
            Err(Miss::Need(n)) => Err(n),
            Err(_) => Ok(None),
        }
    }
}

/// A big-endian integer of `N` bytes at `off` of `b` (callers slice first).
fn be(b: &[u8], off: usize, n: usize) -> u64 {
    b[off..off + n]
        .iter()
        .fold(0, |v, &x| (v << 8) | u64::from(x))
}

/// A little-endian integer of `n` bytes at `off` of `b`.
fn le(b: &[u8], off: usize, n: usize) -> u64 {
    b[off..off + n]
        .iter()
        .rev()
        .fold(0, |v, &x| (v << 8) | u64::from(x))
}

/// The result of one format's parser: an inspection, or a miss.
type Parsed = Result<Inspection, Miss>;

/// A format's inspection, its header read whole and sound.
fn found(format: Format, virtual_size: u64, finding: Option<Finding>) -> Parsed {
    Ok(Inspection {
        format,
        virtual_size: Some(virtual_size),
        finding,
    })
}

/// A format's inspection whose header is out of range.
fn out_of_range(format: Format, what: String) -> Parsed {
    Ok(Inspection {
        format,
        virtual_size: None,
        finding: Some(Finding::OutOfRange(what)),
    })
}

/// A parser's miss as the caller sees it: what the caller can bring, or a
/// finding about a header that cannot be read whole.
fn settle(format: Format, parsed: Parsed) -> Result<Inspection, Need> {
    match parsed {
        Ok(i) => Ok(i),
        Err(Miss::Need(n)) => Err(n),
        Err(Miss::Short) => Ok(Inspection {
            format,
            virtual_size: None,
            finding: Some(Finding::Truncated(header_name(format))),
        }),
        Err(Miss::Bound) => Ok(Inspection {
            format,
            virtual_size: None,
            finding: Some(Finding::OutOfRange(format!(
                "a {} header that points past the first {} MiB",
                format.as_str(),
                BOUND >> 20
            ))),
        }),
    }
}

fn header_name(format: Format) -> &'static str {
    match format {
        Format::Qcow2 => "qcow2 header",
        Format::Vmdk => "VMDK header",
        Format::Vhd => "VHD header",
        Format::Vhdx => "VHDX header",
        Format::Vdi => "VDI header",
        Format::Iso => "ISO 9660 volume descriptor",
        Format::Raw => "header",
    }
}

/// The format whose signature the data begins with, if any.
fn at_start(c: &Captured<'_>) -> Result<Option<Format>, Need> {
    Ok(if c.has(0, qcow2::MAGIC)? {
        Some(Format::Qcow2)
    } else if c.has(0, vmdk::MAGIC)? || vmdk::is_descriptor(c)? {
        Some(Format::Vmdk)
    } else if c.has(0, vhdx::MAGIC)? {
        Some(Format::Vhdx)
    } else if c.has(0, vhd::MAGIC)? {
        Some(Format::Vhd)
    } else if c.has(vdi::MAGIC_AT, vdi::MAGIC)? {
        Some(Format::Vdi)
    } else {
        None
    })
}

/// Inspects the captured data; `Err` names what more it needs.
pub(crate) fn inspect(c: &Captured<'_>) -> Result<Inspection, Need> {
    let iso = iso::probe(c)?;
    let primary = match at_start(c)? {
        Some(format) => Some(settle(format, parse(format, c))?),
        None => vhd::from_footer(c)?,
    };
    let mut inspection = match (primary, iso) {
        (Some(other), true) => Inspection {
            finding: Some(Finding::IsoAnd(other.format)),
            ..other
        },
        (Some(one), false) => one,
        (None, true) => Inspection {
            format: Format::Iso,
            virtual_size: c.size,
            finding: None,
        },
        (None, false) => Inspection {
            format: Format::Raw,
            virtual_size: c.size,
            finding: None,
        },
    };
    if inspection.virtual_size.is_some_and(|v| v > i64::MAX as u64) {
        inspection.virtual_size = None;
        inspection
            .finding
            .get_or_insert(Finding::OutOfRange("a virtual size over 2^63 bytes".into()));
    }
    Ok(inspection)
}

fn parse(format: Format, c: &Captured<'_>) -> Parsed {
    match format {
        Format::Qcow2 => qcow2::parse(c),
        Format::Vmdk => vmdk::parse(c),
        Format::Vhdx => vhdx::parse(c),
        Format::Vhd => vhd::parse(c),
        Format::Vdi => vdi::parse(c),
        Format::Iso | Format::Raw => found(format, c.size.unwrap_or(0), None),
    }
}

/// Inspects data read with ranges: the caller reads the head up to what
/// `next` asks for, then asks again, until it has the inspection.
#[derive(Debug, Default)]
pub(crate) struct Ranged {
    /// The head read so far.
    pub(crate) head: Vec<u8>,
    /// The last bytes.
    pub(crate) tail: Vec<u8>,
    size: u64,
}

/// What to read next for a `Ranged` inspection.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The inspection is done.
    Done(Inspection),
    /// Read bytes `from..to` and append them to the head.
    Head {
        /// The first byte.
        from: u64,
        /// One past the last.
        to: u64,
    },
    /// Read the last `len` bytes into the tail.
    Tail(u64),
}

impl Ranged {
    /// An inspection of `size` bytes of data, none read yet.
    pub(crate) fn new(size: u64) -> Self {
        Ranged {
            head: Vec::new(),
            tail: Vec::new(),
            size,
        }
    }

    /// The next read, or the inspection. The head comes first (the tail of
    /// data no longer than it is taken from it); reads are rounded to
    /// 64 KiB and never go past `BOUND`, nor past the data.
    pub(crate) fn next(&mut self) -> Step {
        let size = self.size;
        let have = self.head.len() as u64;
        let clip = |end: u64| end.min(size).min(BOUND as u64);
        if have < clip(MIN_HEAD as u64) {
            return Step::Head {
                from: have,
                to: clip(MIN_HEAD as u64),
            };
        }
        let want_tail = (TAIL as u64).min(size);
        if self.tail.len() as u64 != want_tail {
            if have < size {
                return Step::Tail(want_tail);
            }
            self.tail = self.head[(size - want_tail) as usize..].to_vec();
        }
        let captured = Captured {
            head: &self.head,
            tail: &self.tail,
            size: Some(size),
        };
        match inspect(&captured) {
            Ok(i) => Step::Done(i),
            // Within the first 256 KiB (where formats keep their fixed
            // headers) the head at least doubles: a header read field by
            // field costs a few reads, not one a field.
            Err(Need::Head(end)) if clip(end as u64) > have => {
                let end = (end as u64).next_multiple_of(MIN_HEAD as u64);
                let doubled = (2 * have).min(FIXED_HEADERS);
                Step::Head {
                    from: have,
                    to: clip(end.max(doubled)),
                }
            }
            // Not reached: with the size known, a read past the head is
            // either brought by the step above or a finding.
            Err(_) => Step::Done(Inspection {
                format: Format::Raw,
                virtual_size: Some(size),
                finding: Some(Finding::OutOfRange(
                    "data the inspector could not read".into(),
                )),
            }),
        }
    }
}

/// Which `disk_format`s need which detected format; `None`: not checked.
fn needs(disk_format: &str) -> Option<Format> {
    Some(match disk_format {
        "raw" | "diskdump" | "extdump" | "ntfsdump" => Format::Raw,
        "qcow2" => Format::Qcow2,
        "vmdk" => Format::Vmdk,
        "vhd" => Format::Vhd,
        "vhdx" => Format::Vhdx,
        "vdi" => Format::Vdi,
        "iso" => Format::Iso,
        _ => return None,
    })
}

/// Why inspected data is refused (under `enforce`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Unsafe whatever it is declared as.
    Unsafe(String),
    /// Safe, but not what its `disk_format` says.
    Mismatch(String),
}

/// The rule of docs/api.md §19: unsafe data, then data that is not what
/// `disk_format` (when checked) says, are refused; unsafe wins. Empty data
/// is of every format.
pub(crate) fn judge(i: &Inspection, disk_format: Option<&str>) -> Option<Refusal> {
    if let Some(f) = &i.finding {
        return Some(Refusal::Unsafe(format!(
            "Image data refused: it is {} ({f})",
            i.format.as_str()
        )));
    }
    let declared = disk_format?;
    let wanted = needs(declared)?;
    // No data is no format: an empty upload (§17.4) contradicts nothing.
    if i.format == Format::Raw && i.virtual_size == Some(0) {
        return None;
    }
    (wanted != i.format).then(|| {
        Refusal::Mismatch(format!(
            "Image data refused: disk_format is '{declared}' but the data is {}",
            i.format.as_str()
        ))
    })
}
