//! Real disk images made at test time by `qemu-img` (Debian's qemu-utils)
//! and `xorriso`, each with what the inspector must say of it: its format
//! and the virtual size `qemu-img info` reads, or the finding that makes it
//! unsafe. Without the tools the tests say so and skip, except in CI (`CI`
//! set), where a missing tool fails them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What plankton must conclude about an image.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Accepted: the format found and the virtual size.
    Safe {
        format: &'static str,
        virtual_size: u64,
    },
    /// Refused under `enforce`; the message names this.
    Unsafe(&'static str),
}

/// One image file and what is declared and expected of it.
#[derive(Debug, Clone)]
pub struct Case {
    /// A short name, also the object name it is stored under.
    pub name: &'static str,
    /// The `disk_format` it is registered with.
    pub disk_format: &'static str,
    pub path: PathBuf,
    pub verdict: Verdict,
}

impl Case {
    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).unwrap()
    }
}

/// Whether `tool` runs; in CI a missing tool is a failure.
fn have(tool: &str, arg: &str) -> bool {
    let ok = Command::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is missing in CI: .ci/run installs it (qemu-utils, xorriso)"
        );
        eprintln!("skipped: {tool} is not installed (apt-get install qemu-utils xorriso)");
    }
    ok
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn qemu_img(dir: &Path, args: &[&str]) {
    run(Command::new("qemu-img").current_dir(dir).args(args));
}

/// The virtual size `qemu-img info` reads from `file` as `format`.
pub fn qemu_virtual_size(file: &Path, format: &str) -> u64 {
    let out = Command::new("qemu-img")
        .args(["info", "--output=json", "-f", format])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    info["virtual-size"].as_u64().unwrap()
}

fn safe(dir: &Path, file: &str, qemu_format: &str, format: &'static str) -> Verdict {
    Verdict::Safe {
        format,
        virtual_size: qemu_virtual_size(&dir.join(file), qemu_format),
    }
}

fn case(dir: &Path, name: &'static str, disk_format: &'static str, verdict: Verdict) -> Case {
    Case {
        name,
        disk_format,
        path: dir.join(name),
        verdict,
    }
}

/// The qcow2 family: plain, compressed, with a backing file, with an
/// external data file.
fn qcow2_cases(dir: &Path) -> Vec<Case> {
    qemu_img(dir, &["create", "-q", "-f", "qcow2", "plain.qcow2", "1G"]);
    std::fs::write(dir.join("some.raw"), vec![0x5a; 1 << 20]).unwrap();
    qemu_img(
        dir,
        &[
            "convert",
            "-c",
            "-O",
            "qcow2",
            "some.raw",
            "compressed.qcow2",
        ],
    );
    let base = dir.join("base.raw");
    std::fs::write(&base, vec![0u8; 1 << 20]).unwrap();
    let base = base.to_str().unwrap();
    qemu_img(
        dir,
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            base,
            "-F",
            "raw",
            "backed.qcow2",
        ],
    );
    let data_file = format!("data_file={}", dir.join("data.raw").display());
    qemu_img(
        dir,
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-o",
            &data_file,
            "datafile.qcow2",
            "8M",
        ],
    );
    vec![
        case(
            dir,
            "plain.qcow2",
            "qcow2",
            safe(dir, "plain.qcow2", "qcow2", "qcow2"),
        ),
        case(
            dir,
            "compressed.qcow2",
            "qcow2",
            safe(dir, "compressed.qcow2", "qcow2", "qcow2"),
        ),
        case(
            dir,
            "backed.qcow2",
            "qcow2",
            Verdict::Unsafe("backing file"),
        ),
        case(
            dir,
            "datafile.qcow2",
            "qcow2",
            Verdict::Unsafe("external data file"),
        ),
    ]
}

/// VMDK: the two self-contained sparse kinds, and a monolithicFlat
/// descriptor whose extent is another file.
fn vmdk_cases(dir: &Path) -> Vec<Case> {
    qemu_img(dir, &["create", "-q", "-f", "vmdk", "sparse.vmdk", "300M"]);
    qemu_img(
        dir,
        &[
            "convert",
            "-O",
            "vmdk",
            "-o",
            "subformat=streamOptimized",
            "some.raw",
            "stream.vmdk",
        ],
    );
    qemu_img(
        dir,
        &[
            "create",
            "-q",
            "-f",
            "vmdk",
            "-o",
            "subformat=monolithicFlat",
            "flat.vmdk",
            "4M",
        ],
    );
    vec![
        case(
            dir,
            "sparse.vmdk",
            "vmdk",
            safe(dir, "sparse.vmdk", "vmdk", "vmdk"),
        ),
        case(
            dir,
            "stream.vmdk",
            "vmdk",
            safe(dir, "stream.vmdk", "vmdk", "vmdk"),
        ),
        case(
            dir,
            "flat.vmdk",
            "vmdk",
            Verdict::Unsafe("VMDK descriptor file"),
        ),
    ]
}

/// VHD fixed and dynamic, VHDX, VDI.
fn microsoft_and_virtualbox_cases(dir: &Path) -> Vec<Case> {
    qemu_img(
        dir,
        &[
            "create",
            "-q",
            "-f",
            "vpc",
            "-o",
            "subformat=fixed",
            "fixed.vhd",
            "6M",
        ],
    );
    qemu_img(dir, &["create", "-q", "-f", "vpc", "dynamic.vhd", "100M"]);
    qemu_img(dir, &["create", "-q", "-f", "vhdx", "disk.vhdx", "1G"]);
    qemu_img(dir, &["create", "-q", "-f", "vdi", "disk.vdi", "50M"]);
    vec![
        case(
            dir,
            "fixed.vhd",
            "vhd",
            safe(dir, "fixed.vhd", "vpc", "vhd"),
        ),
        case(
            dir,
            "dynamic.vhd",
            "vhd",
            safe(dir, "dynamic.vhd", "vpc", "vhd"),
        ),
        case(
            dir,
            "disk.vhdx",
            "vhdx",
            safe(dir, "disk.vhdx", "vhdx", "vhdx"),
        ),
        case(dir, "disk.vdi", "vdi", safe(dir, "disk.vdi", "vdi", "vdi")),
    ]
}

/// A raw disk that merely holds a qcow2 magic far from its start.
fn raw_case(dir: &Path) -> Case {
    let mut data = vec![0u8; 3 << 20];
    data[510] = 0x55;
    data[511] = 0xaa;
    data[(2 << 20)..(2 << 20) + 4].copy_from_slice(b"QFI\xfb");
    std::fs::write(dir.join("disk.raw"), &data).unwrap();
    case(
        dir,
        "disk.raw",
        "raw",
        Verdict::Safe {
            format: "raw",
            virtual_size: data.len() as u64,
        },
    )
}

/// An ISO 9660 image, if xorriso is there.
fn iso_case(dir: &Path) -> Option<Case> {
    if !have("xorriso", "-version") {
        return None;
    }
    let tree = dir.join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("README"), b"an ISO made by the inspect tests\n").unwrap();
    run(Command::new("xorriso")
        .current_dir(dir)
        .args(["-as", "mkisofs", "-quiet", "-o", "disk.iso", "tree"]));
    let size = std::fs::metadata(dir.join("disk.iso")).unwrap().len();
    Some(case(
        dir,
        "disk.iso",
        "iso",
        Verdict::Safe {
            format: "iso",
            virtual_size: size,
        },
    ))
}

/// Every case, made in `dir`; `None` (skip) without qemu-img.
pub fn make(dir: &Path) -> Option<Vec<Case>> {
    if !have("qemu-img", "--version") {
        return None;
    }
    let mut cases = qcow2_cases(dir);
    cases.extend(vmdk_cases(dir));
    cases.extend(microsoft_and_virtualbox_cases(dir));
    cases.push(raw_case(dir));
    cases.extend(iso_case(dir));
    Some(cases)
}
