//! plankton in-process: the settings of a temporary directory (port 0, its
//! database, the token file of `users::EVERYONE`, the store root) and the
//! server started on them in the test's runtime.

use std::path::Path;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use plankton::config::Settings;
use plankton::startup::Application;

use super::users::{write_tokens, EVERYONE};

/// Settings for a server on `dir`, which gets the token file and the
/// (empty) store root `objects`; the caller may change them before
/// `validated()` and `start`.
pub fn settings(dir: &Path) -> Settings {
    let root = dir.join("objects");
    std::fs::create_dir_all(&root).unwrap();
    let tokens = dir.join("tokens");
    write_tokens(&tokens, &EVERYONE);
    let mut settings = Settings {
        listen: "127.0.0.1:0".into(),
        database: dir.join("plankton.db").into(),
        ..Settings::default()
    };
    settings.identity.token_file = tokens;
    settings.store.root = root;
    // The suites label made-up bytes with any disk_format; under the
    // default `enforce` such data is refused (§19), which tests/inspect
    // checks with real images.
    settings.images.inspection = plankton::config::InspectionPolicy::Record;
    settings
}

/// A server started in-process.
pub struct Running {
    /// `http://127.0.0.1:<port>` followed by the base path, if any.
    pub address: String,
    /// Stops it.
    pub handle: ServerHandle,
}

/// Builds the app on validated `settings` and runs it on the test's runtime.
pub fn start(settings: &Settings) -> Running {
    let app = Application::build(settings.clone()).expect("app builds");
    let address = format!("http://127.0.0.1:{}{}", app.port(), settings.base_path);
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    Running { address, handle }
}

/// The HTTP client of a test: redirects are answers to look at, not to follow.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // Below the server's keep-alive (5 s), so that a pooled
        // connection is never reused just as the server closes it.
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// Points `settings` at a fresh PostgreSQL database of this test binary's
/// throwaway server (`postgres`), copied from the migrated template: what
/// a suite that runs on PostgreSQL (`api_pg`) does to every server it
/// starts. Panics where PostgreSQL is not installed: such a suite has
/// nothing to run on.
pub fn on_postgres(settings: &mut Settings) {
    assert!(
        super::postgres::available(),
        "this suite runs on PostgreSQL, which is not installed here"
    );
    let url = super::postgres::server().migrated_database();
    settings.database = plankton::config::Database::parse(&url).expect("the test server's URL");
    // Few connections per server: many servers run at once on one test
    // PostgreSQL.
    settings.database_pool = 4;
}
