//! Starting the built binary on a temporary directory and talking to it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub const ALICE: &str = "alice-token";

/// The binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_plankton"))
}

/// A temporary deployment: token file, store root and database path.
pub struct Deployment {
    pub dir: TempDir,
}

impl Deployment {
    pub fn new() -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("objects")).unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::write(&tokens, format!("{ALICE} alice Alice\nbob-token bob\n")).unwrap();
        set_mode(&tokens, 0o600);
        Deployment { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Environment overrides pointing plankton at this deployment.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("PLANKTON_LISTEN".into(), "127.0.0.1:0".into()),
            (
                "PLANKTON_DATABASE".into(),
                self.path("plankton.db").display().to_string(),
            ),
            (
                "PLANKTON_IDENTITY__TOKEN_FILE".into(),
                self.path("tokens").display().to_string(),
            ),
            (
                "PLANKTON_STORE__ROOT".into(),
                self.path("objects").display().to_string(),
            ),
        ]
    }

    /// Writes `data` as the object `pithos://alice/images/<name>`.
    pub fn put_object(&self, name: &str, data: &[u8]) -> PathBuf {
        let file = self.path("objects/alice/images").join(name);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, data).unwrap();
        file
    }

    /// Runs a subcommand to completion: (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(binary())
            .args(args)
            .envs(self.env())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Starts the server with this deployment's environment.
    pub fn serve(&self) -> Server {
        Server::start(Command::new(binary()).envs(self.env()))
    }
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A running server process whose log lines are collected.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `cmd` (already given its arguments and environment) and waits for
    /// its start-up line to learn the port.
    pub fn start(cmd: &mut Command) -> Server {
        let mut child = cmd
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(pos) = line.find("listening on http://") {
                    let rest = &line[pos + "listening on ".len()..];
                    let url = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = tx.send(url);
                }
                sink.lock().unwrap().push(line);
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("server did not start: {:?}", log.lock().unwrap()));
        Server { child, base, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`TERM`, `HUP`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit (at most `limit`), returning its code.
    pub fn wait(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Every log line so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Registers `pithos://alice/images/<name>` as alice; returns the new id.
pub async fn register(client: &reqwest::Client, base: &str, name: &str) -> String {
    let resp = client
        .post(format!("{base}/images"))
        .header("X-Auth-Token", ALICE)
        .header("X-Image-Meta-Name", name)
        .header(
            "X-Image-Meta-Location",
            format!("pithos://alice/images/{name}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "register {name}: {:?}",
        resp.text().await
    );
    resp.headers()["x-image-meta-id"]
        .to_str()
        .unwrap()
        .to_string()
}
