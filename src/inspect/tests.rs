//! The inspector on headers built here, whole, cut short and fuzzed: the
//! stream and the ranged reads agree, neither reads past the bound, and a
//! header that cannot be read whole is a finding, never a panic.

use proptest::prelude::*;

use super::*;

/// Inspects `data` with ranged reads, counting the bytes read.
fn ranged(data: &[u8]) -> (Inspection, u64) {
    let mut r = Ranged::new(data.len() as u64);
    let mut read = 0;
    loop {
        match r.next() {
            Step::Done(i) => return (i, read),
            Step::Tail(n) => {
                r.tail = data[data.len() - n as usize..].to_vec();
                read += n;
            }
            Step::Head { from, to } => {
                assert!(to > from && to as usize <= BOUND, "{from}..{to}");
                assert_eq!(from as usize, r.head.len());
                r.head.extend_from_slice(&data[from as usize..to as usize]);
                read += to - from;
            }
        }
    }
}

/// Inspects `data` as a stream of `piece`-byte chunks.
fn streamed(data: &[u8], piece: usize) -> Inspection {
    let mut s = Sniffer::new();
    for chunk in data.chunks(piece.max(1)) {
        s.feed(chunk);
    }
    assert_eq!(s.total(), data.len() as u64);
    s.finish()
}

/// Both ways, which must agree; the inspection.
fn both(data: &[u8]) -> Inspection {
    let (a, read) = ranged(data);
    assert!(read <= (BOUND + TAIL) as u64, "{read} bytes read");
    for piece in [1 << 20, 4096, 511] {
        assert_eq!(streamed(data, piece), a, "in pieces of {piece}");
    }
    a
}

fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

fn qcow2(version: u32, backing: Option<&str>, incompatible: u64) -> Vec<u8> {
    let mut b = vec![0u8; 128 << 10];
    put(&mut b, 0, qcow2::MAGIC);
    put(&mut b, 4, &version.to_be_bytes());
    put(&mut b, 20, &16u32.to_be_bytes());
    put(&mut b, 24, &(1u64 << 30).to_be_bytes());
    if version == 3 {
        put(&mut b, 72, &incompatible.to_be_bytes());
        put(&mut b, 100, &104u32.to_be_bytes());
    }
    if let Some(name) = backing {
        put(&mut b, 8, &512u64.to_be_bytes());
        put(&mut b, 16, &(name.len() as u32).to_be_bytes());
        put(&mut b, 512, name.as_bytes());
    }
    b
}

fn vmdk(create_type: &str, extents: &str) -> Vec<u8> {
    let mut b = vec![0u8; 64 << 10];
    put(&mut b, 0, vmdk::MAGIC);
    put(&mut b, 4, &1u32.to_le_bytes());
    put(&mut b, 12, &2048u64.to_le_bytes());
    put(&mut b, 28, &1u64.to_le_bytes());
    put(&mut b, 36, &20u64.to_le_bytes());
    let text = format!("# Disk DescriptorFile\nversion=1\ncreateType=\"{create_type}\"\n{extents}");
    put(&mut b, 512, text.as_bytes());
    b
}

fn vhd_footer(kind: u32, size: u64, next: u64) -> Vec<u8> {
    let mut f = vec![0u8; 512];
    put(&mut f, 0, vhd::MAGIC);
    put(&mut f, 16, &next.to_be_bytes());
    put(&mut f, 48, &size.to_be_bytes());
    put(&mut f, 60, &kind.to_be_bytes());
    f
}

fn vhdx(size: u64, flags: u32) -> Vec<u8> {
    let mut b = vec![0u8; 3 << 20];
    put(&mut b, 0, vhdx::MAGIC);
    put(&mut b, 128 << 10, b"head");
    let rt = 192 << 10;
    put(&mut b, rt, b"regi");
    put(&mut b, rt + 8, &1u32.to_le_bytes());
    put(
        &mut b,
        rt + 16,
        &[0x06, 0xA2, 0x7C, 0x8B, 0x90, 0x47, 0x9A, 0x4B],
    );
    put(
        &mut b,
        rt + 24,
        &[0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E],
    );
    let meta = 2usize << 20;
    put(&mut b, rt + 32, &(meta as u64).to_le_bytes());
    put(&mut b, meta, b"metadata");
    put(&mut b, meta + 10, &2u16.to_le_bytes());
    let items: [([u8; 16], u32); 2] = [
        (
            [
                0x24, 0x42, 0xA5, 0x2F, 0x1B, 0xCD, 0x76, 0x48, 0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B,
                0xF4, 0xB8,
            ],
            0x10000,
        ),
        (
            [
                0x37, 0x67, 0xA1, 0xCA, 0x36, 0xFA, 0x43, 0x4D, 0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44,
                0xE7, 0x6B,
            ],
            0x10008,
        ),
    ];
    for (n, (id, off)) in items.iter().enumerate() {
        let e = meta + 32 + n * 32;
        put(&mut b, e, id);
        put(&mut b, e + 16, &off.to_le_bytes());
    }
    put(&mut b, meta + 0x10000, &size.to_le_bytes());
    put(&mut b, meta + 0x10008 + 4, &flags.to_le_bytes());
    b
}

fn vdi(kind: u32) -> Vec<u8> {
    let mut b = vec![0u8; 4096];
    put(&mut b, 0, b"<<< Oracle VM VirtualBox Disk Image >>>\n");
    put(&mut b, 64, vdi::MAGIC);
    put(&mut b, 68, &0x0001_0001u32.to_le_bytes());
    put(&mut b, 76, &kind.to_le_bytes());
    put(&mut b, 368, &(5u64 << 20).to_le_bytes());
    b
}

fn iso(size: usize) -> Vec<u8> {
    let mut b = vec![0u8; size];
    put(&mut b, 32768, b"\x01CD001\x01");
    b
}

#[test]
fn qcow2_headers_are_read_and_judged() {
    let plain = both(&qcow2(3, None, 0));
    assert_eq!(
        (plain.format, plain.virtual_size, plain.finding),
        (Format::Qcow2, Some(1 << 30), None)
    );
    assert_eq!(both(&qcow2(2, None, 0)).finding, None);
    let backed = both(&qcow2(2, Some("/etc/nova/nova.conf"), 0));
    assert_eq!(
        backed.finding,
        Some(Finding::BackingFile("/etc/nova/nova.conf".into()))
    );
    assert_eq!(
        both(&qcow2(3, None, 4)).finding,
        Some(Finding::DataFile(String::new()))
    );
    assert_eq!(
        both(&qcow2(3, None, 1 << 9)).finding,
        Some(Finding::UnknownFeatures(1 << 9))
    );
    let mut ext = qcow2(3, None, 0);
    put(&mut ext, 104, &0x4441_5441u32.to_be_bytes());
    put(&mut ext, 108, &9u32.to_be_bytes());
    put(&mut ext, 112, b"/dev/sda1");
    assert_eq!(
        both(&ext).finding,
        Some(Finding::DataFile("/dev/sda1".into()))
    );
    assert_eq!(
        both(&qcow2(3, None, 0)[..50]).finding,
        Some(Finding::Truncated("qcow2 header"))
    );
    assert!(matches!(
        both(&qcow2(7, None, 0)).finding,
        Some(Finding::OutOfRange(_))
    ));
}

#[test]
fn vmdk_sparse_headers_and_descriptors_are_read_and_judged() {
    let ok = both(&vmdk("monolithicSparse", "RW 2048 SPARSE \"a.vmdk\"\n"));
    assert_eq!(
        (ok.format, ok.virtual_size, ok.finding),
        (Format::Vmdk, Some(2048 * 512), None)
    );
    let flat = both(&vmdk("monolithicFlat", "RW 2048 FLAT \"/etc/shadow\" 0\n"));
    assert_eq!(
        flat.finding,
        Some(Finding::CreateType("monolithicFlat".into()))
    );
    let two = both(&vmdk(
        "monolithicSparse",
        "RW 8 SPARSE \"a\"\nRW 8 FLAT \"/dev/sda\" 0\n",
    ));
    assert!(matches!(two.finding, Some(Finding::Extents(e)) if e.len() == 2));
    let text = b"# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\nRW 20 FLAT \"x-flat.vmdk\" 0\n";
    let d = both(text);
    assert_eq!(d.format, Format::Vmdk);
    assert!(
        matches!(d.finding, Some(Finding::Descriptor { create_type, .. }) if create_type == "monolithicFlat")
    );
    assert_eq!(both(b"\n# hi\nversion=1\n").format, Format::Vmdk);
    let mut bare = vmdk("monolithicSparse", "");
    put(&mut bare, 28, &0u64.to_le_bytes());
    let found = both(&bare).finding.expect("a finding").to_string();
    assert!(found.contains("without a descriptor"), "{found}");
}

#[test]
fn vhd_fixed_and_dynamic_are_told_apart() {
    let mut fixed = vec![7u8; 1 << 20];
    fixed.extend(vhd_footer(2, 1 << 20, u64::MAX));
    let f = both(&fixed);
    assert_eq!(
        (f.format, f.virtual_size, f.finding),
        (Format::Vhd, Some(1 << 20), None)
    );
    let mut dynamic = vhd_footer(3, 9 << 20, 512);
    dynamic.extend(b"cxsparse");
    dynamic.resize(4096, 0);
    dynamic.extend(vhd_footer(3, 9 << 20, 512));
    let d = both(&dynamic);
    assert_eq!(
        (d.format, d.virtual_size, d.finding),
        (Format::Vhd, Some(9 << 20), None)
    );
    let mut diff = dynamic.clone();
    put(&mut diff, 60, &4u32.to_be_bytes());
    assert_eq!(both(&diff).finding, Some(Finding::Parent));
    assert_eq!(
        both(&dynamic[..600]).finding,
        Some(Finding::Truncated("VHD header"))
    );
}

#[test]
fn vhdx_vdi_iso_and_raw() {
    let x = both(&vhdx(10 << 30, 0));
    assert_eq!(
        (x.format, x.virtual_size, x.finding),
        (Format::Vhdx, Some(10 << 30), None)
    );
    assert_eq!(both(&vhdx(1 << 30, 2)).finding, Some(Finding::Parent));
    let mut headless = vhdx(1 << 30, 0);
    put(&mut headless, 128 << 10, b"\0\0\0\0");
    assert!(
        matches!(both(&headless).finding, Some(Finding::OutOfRange(m)) if m.contains("header"))
    );
    let v = both(&vdi(1));
    assert_eq!(
        (v.format, v.virtual_size, v.finding),
        (Format::Vdi, Some(5 << 20), None)
    );
    assert_eq!(both(&vdi(4)).finding, Some(Finding::Parent));
    let i = both(&iso(1 << 20));
    assert_eq!(
        (i.format, i.virtual_size, i.finding),
        (Format::Iso, Some(1 << 20), None)
    );
    let mut iso_qcow = qcow2(3, None, 0);
    put(&mut iso_qcow, 32768, b"\x01CD001\x01");
    assert_eq!(
        both(&iso_qcow).finding,
        Some(Finding::IsoAnd(Format::Qcow2))
    );
    let mut iso_vhd = iso(1 << 20);
    iso_vhd.extend(vhd_footer(2, 1 << 20, u64::MAX));
    assert_eq!(both(&iso_vhd).finding, Some(Finding::IsoAnd(Format::Vhd)));
    let mut mbr = vec![0u8; 1 << 20];
    put(&mut mbr, 510, &[0x55, 0xAA]);
    put(&mut mbr, 512, b"EFI PART");
    put(&mut mbr, 700 << 10, qcow2::MAGIC);
    let raw = both(&mbr);
    assert_eq!(
        (raw.format, raw.virtual_size, raw.finding),
        (Format::Raw, Some(1 << 20), None)
    );
    assert_eq!(both(b"").format, Format::Raw);
    assert_eq!(both(b"QFI").format, Format::Raw);
}

#[test]
fn a_kept_inspection_is_judged_as_the_first() {
    for f in ["raw", "qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso"] {
        assert_eq!(Format::parse(f).map(Format::as_str), Some(f));
    }
    assert_eq!(Format::parse("ploop"), None);
    let first = both(&qcow2(3, Some("/etc/passwd"), 0));
    let kept = Inspection::recorded(
        first.format.as_str(),
        first.finding.as_ref().map(ToString::to_string),
        first.virtual_size,
    )
    .unwrap();
    assert_eq!(judge(&kept, Some("qcow2")), judge(&first, Some("qcow2")));
    let plain = Inspection::recorded("qcow2", None, Some(1)).unwrap();
    assert!(matches!(
        judge(&plain, Some("raw")),
        Some(Refusal::Mismatch(_))
    ));
}

#[test]
fn the_rule_names_unsafe_data_before_a_mismatch() {
    let raw = both(&[1u8; 100]);
    assert_eq!(judge(&raw, Some("diskdump")), None);
    assert_eq!(judge(&raw, Some("ami")), None);
    assert_eq!(judge(&raw, None), None);
    assert!(matches!(judge(&raw, Some("qcow2")), Some(Refusal::Mismatch(m)) if m.contains("raw")));
    assert_eq!(
        judge(&both(b""), Some("qcow2")),
        None,
        "no data, no mismatch"
    );
    let q = both(&qcow2(3, None, 0));
    assert_eq!(judge(&q, Some("qcow2")), None);
    assert!(matches!(judge(&q, Some("raw")), Some(Refusal::Mismatch(_))));
    let backed = both(&qcow2(3, Some("/etc/passwd"), 0));
    assert!(
        matches!(judge(&backed, Some("raw")), Some(Refusal::Unsafe(m)) if m.contains("/etc/passwd"))
    );
}

/// Valid headers of every format, to cut and fuzz, each with its format
/// and where its header (and what it points at) ends.
fn samples() -> Vec<(Vec<u8>, Format, usize)> {
    let mut fixed = vec![0u8; 64 << 10];
    fixed.extend(vhd_footer(2, 64 << 10, u64::MAX));
    let mut dynamic = vhd_footer(3, 9 << 20, 512);
    dynamic.extend(b"cxsparse");
    dynamic.resize(4096, 0);
    vec![
        (qcow2(3, Some("/etc/passwd"), 0), Format::Qcow2, 104),
        (qcow2(2, None, 0), Format::Qcow2, 72),
        (
            vmdk("streamOptimized", "RW 2048 SPARSE \"a.vmdk\"\n"),
            Format::Vmdk,
            512 + 20 * 512,
        ),
        (fixed, Format::Vhd, 0),
        (dynamic, Format::Vhd, 1536),
        (vhdx(1 << 30, 0), Format::Vhdx, (2 << 20) + 0x10010),
        (vdi(2), Format::Vdi, 400),
        (iso(40 << 10), Format::Iso, 0),
    ]
}

proptest! {
    #![proptest_config(crate::domain::proptests::config())]

    #[test]
    fn cut_or_fuzzed_headers_give_a_finding_or_raw_and_read_within_the_bound(
        which in 0usize..8,
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..24),
    ) {
        let (mut data, format, header_end) = samples().swap_remove(which);
        let short = both(&data[..cut.index(data.len())]);
        // A header cut short is a finding (or no longer recognised: raw).
        if cut.index(data.len()) < header_end && short.format == format {
            prop_assert!(short.finding.is_some(), "{short:?}");
        }
        for (at, byte) in flips {
            let i = at.index(data.len().min(1024));
            data[i] = byte;
        }
        let fuzzed = both(&data);
        let cut_fuzzed = both(&data[..cut.index(data.len())]);
        // What is recognised is either read whole (a virtual size) or a finding.
        for i in [&fuzzed, &cut_fuzzed] {
            if i.format != Format::Raw && i.format != Format::Iso {
                prop_assert!(i.finding.is_some() || i.virtual_size.is_some(), "{i:?}");
            }
            prop_assert!(i.virtual_size.is_none_or(|v| v <= i64::MAX as u64));
        }
    }

    #[test]
    fn any_bytes_are_inspected_without_panic(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = both(&data);
    }
}

#[test]
fn names_from_the_data_are_shown_printable_and_bounded() {
    let hostile = format!("/etc/passwd\n\u{1b}[31m<script>{}", "x".repeat(500));
    let found = both(&qcow2(3, Some(&hostile[..1000.min(hostile.len())]), 0));
    let Some(Finding::BackingFile(name)) = found.finding else {
        panic!("{found:?}");
    };
    assert!(name.starts_with("/etc/passwd??[31m<script>"), "{name}");
    assert_eq!(name.chars().count(), 120);
    assert!(!name.chars().any(char::is_control));
}
