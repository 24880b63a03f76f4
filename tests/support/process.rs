//! The built binary as a process: located once, pointed at a temporary
//! directory with no `PLANKTON_*` setting but ours, its log gathered line by
//! line and its address learned from its start-up line.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The binary under test: `TEST_PLANKTON_BIN` (a release build, as `make
/// crashtest` gives it; not `PLANKTON_*`, which plankton reads as settings)
/// or the one cargo built with this test.
pub fn binary() -> PathBuf {
    std::env::var_os("TEST_PLANKTON_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_plankton")),
        PathBuf::from,
    )
}

/// The settings pointing plankton at `dir`: port 0, the database
/// `plankton.db`, the token file `tokens` and the store root `objects`;
/// inspection records (§19).
pub fn env_for(dir: &Path) -> Vec<(String, String)> {
    let at = |rel: &str| dir.join(rel).display().to_string();
    vec![
        ("PLANKTON_LISTEN".into(), "127.0.0.1:0".into()),
        ("PLANKTON_DATABASE".into(), at("plankton.db")),
        ("PLANKTON_IDENTITY__TOKEN_FILE".into(), at("tokens")),
        ("PLANKTON_STORE__ROOT".into(), at("objects")),
        // Made-up bytes with any disk_format, as in `app::settings`.
        ("PLANKTON_IMAGES__INSPECTION".into(), "record".into()),
    ]
}

/// The binary with `env_for(dir)` and no other `PLANKTON_*` variable: one of
/// the caller's would be a setting too.
pub fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(binary());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PLANKTON_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env_for(dir));
    cmd
}

/// A running server whose standard error is gathered; killed when dropped.
pub struct Server {
    /// The process.
    pub child: Child,
    /// The URL it says it listens on (`http://127.0.0.1:<port>`, and the
    /// base path if any).
    pub base: String,
    /// `127.0.0.1:<port>`.
    pub addr: SocketAddr,
    /// Every log line so far.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `cmd` (given its arguments and environment) at log level info
    /// and waits (30 s) for its start-up line, panicking with its log if
    /// none comes.
    pub fn start(cmd: &mut Command) -> Server {
        Self::try_start(cmd).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `start`, the failure to start an error.
    pub fn try_start(cmd: &mut Command) -> Result<Server, String> {
        let mut child = cmd
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn {:?}: {e}", cmd.get_program()))?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let url = gather(child.stderr.take().unwrap(), Arc::clone(&log));
        let Ok(base) = url.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            let _ = child.wait();
            let lines = log.lock().unwrap().join("\n");
            return Err(format!("the server did not start:\n{lines}"));
        };
        let host_port = base["http://".len()..].split('/').next().unwrap_or("");
        let addr = host_port
            .parse()
            .map_err(|_| format!("bad address {host_port}"))?;
        Ok(Server {
            child,
            base,
            addr,
            log,
        })
    }

    /// Its process id.
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

/// Reads `stderr` into `log` on a thread of its own; the URL of the
/// start-up line ("listening on http://…") comes on the channel.
fn gather(
    stderr: impl std::io::Read + Send + 'static,
    log: Arc<Mutex<Vec<String>>>,
) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(pos) = line.find("listening on http://") {
                let rest = &line[pos + "listening on ".len()..];
                let url = rest.split_whitespace().next().unwrap_or("").to_string();
                let _ = tx.send(url);
            }
            log.lock().unwrap().push(line);
        }
    });
    rx
}
