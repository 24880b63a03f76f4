//! Starting the built binary on a temporary directory and talking to it.

use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

use crate::support;
pub use crate::support::process::{binary, Server};
pub use crate::support::users::{set_mode, ALICE};
use crate::support::users::{write_tokens, ALICE_NAME, BOB};

/// A temporary deployment: token file, store root and database path.
pub struct Deployment {
    pub dir: TempDir,
}

impl Deployment {
    /// Alice and Bob in the token file (Carol is for a test to add), an
    /// empty store root.
    pub fn new() -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("objects")).unwrap();
        write_tokens(
            &dir.path().join("tokens"),
            &[(ALICE, Some(ALICE_NAME)), (BOB, None)],
        );
        Deployment { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Environment overrides pointing plankton at this deployment.
    pub fn env(&self) -> Vec<(String, String)> {
        support::process::env_for(self.dir.path())
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

/// Registers `pithos://alice/images/<name>` as alice; returns the new id.
pub async fn register(client: &reqwest::Client, base: &str, name: &str) -> String {
    let resp = client
        .post(format!("{base}/images"))
        .header("X-Auth-Token", ALICE.0)
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
