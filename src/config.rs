//! Settings: built-in defaults, then a TOML file, then `PLANKTON_*` environment variables.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The whole configuration, loaded once at start and passed by value.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on, `host:port`.
    pub listen: String,
    /// Prefix every route is mounted under, e.g. `/image`; empty for none.
    pub base_path: String,
    /// The catalogue: a SQLite file, or a PostgreSQL URL (docs/api.md §18).
    pub database: Database,
    /// Connections one process keeps to PostgreSQL at most.
    pub database_pool: usize,
    /// The digest of `os_hash_value` (docs/api.md §17.2).
    pub hashing_algorithm: HashingAlgorithm,
    /// Who callers are.
    pub identity: IdentitySettings,
    /// Where image data lives.
    pub store: StoreSettings,
    /// Per-image limits.
    pub limits: Limits,
    /// Allowed disk and container formats.
    pub formats: Formats,
    /// What is done with image data (docs/api.md §19).
    pub images: ImagesSettings,
    /// The HTTP client the `astakos` and `pithos` backends share.
    pub http: HttpSettings,
    /// `<base>/metrics`.
    pub metrics: MetricsSettings,
    /// The web view (docs/api.md §15).
    pub ui: UiSettings,
    /// The URL clients reach `<base>` at (behind a proxy, say), for the
    /// links plankton writes; unset: built from each request.
    pub public_url: Option<String>,
    /// Whether to believe a proxy's `Forwarded` / `X-Forwarded-Proto` /
    /// `X-Forwarded-Host` when building links without `public_url`.
    pub trust_forwarded_headers: bool,
    /// Serving HTTPS itself.
    pub tls: TlsSettings,
}

/// The certificate and key to serve HTTPS with; neither: plain HTTP.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSettings {
    /// The certificate chain, PEM, the server's own first.
    pub certificate: Option<PathBuf>,
    /// Its private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub private_key: Option<PathBuf>,
}

/// Image data: how it is inspected (docs/api.md §19).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImagesSettings {
    /// `enforce` (the default), `record` or `off`.
    pub inspection: InspectionPolicy,
}

/// What the inspector's verdict does to an image's data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InspectionPolicy {
    /// Unsafe data, or data not of its `disk_format`, is refused.
    #[default]
    Enforce,
    /// Everything is accepted; what was found is kept.
    Record,
    /// Nothing is inspected.
    Off,
}

/// The web view at `<base>/ui/`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiSettings {
    /// Seconds a browser session lasts from its login.
    pub session_ttl: u64,
    /// Sessions one user may have at once; a new login past it ends that
    /// user's oldest session.
    pub max_sessions_per_user: usize,
    /// Logins one user, and one client address, may make at once, and
    /// then a minute; past that the login form answers 429.
    pub logins_per_minute: u32,
}

/// Who may read `<base>/metrics`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// `loopback` (the default), `everyone`, or `off`.
    pub access: MetricsAccess,
}

/// Who may read the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsAccess {
    /// Requests from 127.0.0.0/8 and ::1 only.
    #[default]
    Loopback,
    /// Anyone who can reach the server.
    Everyone,
    /// No one: `<base>/metrics` is not served.
    Off,
}

/// The digest plankton computes as an image's `os_hash_value` wherever it
/// streams the whole data; Glance's `hashing_algorithm`, limited to the two
/// digests the clients verify.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HashingAlgorithm {
    /// SHA-512, Glance's default.
    #[default]
    Sha512,
    /// SHA-256.
    Sha256,
}

impl HashingAlgorithm {
    /// The name shown as `os_hash_algo` and stored beside the value.
    pub fn as_str(self) -> &'static str {
        match self {
            HashingAlgorithm::Sha512 => "sha512",
            HashingAlgorithm::Sha256 => "sha256",
        }
    }

    /// Parses a stored name; `None` for one this build does not know.
    pub fn parse(s: &str) -> Option<HashingAlgorithm> {
        match s {
            "sha512" => Some(HashingAlgorithm::Sha512),
            "sha256" => Some(HashingAlgorithm::Sha256),
            _ => None,
        }
    }
}

/// The one HTTP client of the HTTP backends.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// A PEM bundle of extra certificate authorities to trust (beside the system's).
    pub tls_ca_file: Option<PathBuf>,
    /// Seconds to wait for a connection to a backend.
    pub connect_timeout: u64,
    /// Seconds to wait for a backend's whole answer (its headers, for downloads).
    pub timeout: u64,
}

/// The identity backend and its keys.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentitySettings {
    /// `tokenfile` (offline) or `astakos`.
    pub backend: IdentityBackendKind,
    /// The token file of the `tokenfile` backend.
    pub token_file: PathBuf,
    /// Astakos's identity endpoint, e.g. `https://accounts.example.org/identity/v2.0`.
    pub auth_url: Option<String>,
    /// Seconds an Astakos answer is cached.
    pub token_cache_ttl: u64,
    /// How many tokens the Astakos cache holds at most.
    pub token_cache_size: usize,
    /// Failed authentications one client address may make at once, and
    /// then a minute; past that it is answered 429 (docs/behaviour.md).
    pub failures_per_minute: u32,
    /// How many client addresses the failure counts remember at most.
    pub failure_addresses: usize,
}

/// Which identity backend serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityBackendKind {
    /// A static token file.
    #[default]
    Tokenfile,
    /// Synnefo's Astakos over HTTP(S).
    Astakos,
}

/// The object store backend and its keys.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `fs` (offline) or `pithos`.
    pub backend: StoreBackendKind,
    /// The directory the `fs` backend serves objects from.
    pub root: PathBuf,
    /// Pithos's object-store endpoint, e.g. `https://storage.example.org/object-store/v1`.
    pub pithos_url: Option<String>,
    /// Keep Pithos's read permissions in step with members and publicity.
    pub sync_sharing: bool,
    /// The container uploads through the image API go to (docs/api.md §13).
    pub upload_container: String,
    /// Bytes each account may keep in the `fs` store; 0 for no quota.
    pub quota: u64,
}

/// Which object store backend serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackendKind {
    /// A directory on disk.
    #[default]
    Fs,
    /// Synnefo's Pithos over HTTP(S).
    Pithos,
}

/// Limits on what one image may carry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Properties per image.
    pub max_properties: usize,
    /// Members per image.
    pub max_members: usize,
    /// Tags per image (docs/api.md §17.2; Glance's quota).
    pub max_tags: usize,
    /// Seconds an idle connection is kept open for its next request; 0 closes
    /// every connection after one request.
    pub keep_alive: u64,
    /// Connections one client address (an IPv4 address, an IPv6 /64) may
    /// hold open at once; 0 for no cap.
    pub max_connections_per_address: usize,
    /// Bytes one uploaded image may have.
    pub max_image_size: u64,
}

/// The allowed format names.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Formats {
    /// Allowed `disk_format` values; must include `diskdump`, the default.
    pub disk: Vec<String>,
    /// Allowed `container_format` values; must include `bare`, the default.
    pub container: Vec<String>,
}

// The built-in defaults are the `Default` impls below, and only they:
// `#[serde(default)]` on each struct fills a missing key from them.

/// A space-separated list as owned strings.
fn words(list: &str) -> Vec<String> {
    list.split(' ').map(String::from).collect()
}

impl Default for IdentitySettings {
    fn default() -> Self {
        IdentitySettings {
            backend: IdentityBackendKind::default(),
            token_file: "./var/tokens".into(),
            auth_url: None,
            token_cache_ttl: 60,
            token_cache_size: 10_000,
            failures_per_minute: 10,
            failure_addresses: 65_536,
        }
    }
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            backend: StoreBackendKind::default(),
            root: "./var/objects".into(),
            pithos_url: None,
            sync_sharing: true,
            upload_container: "images".into(),
            quota: 0,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_properties: 64,
            max_members: 1024,
            max_tags: 128,
            keep_alive: 75,
            max_connections_per_address: 128,
            max_image_size: 1 << 40,
        }
    }
}

impl Default for Formats {
    fn default() -> Self {
        Formats {
            disk: words(
                "diskdump extdump ntfsdump raw vhd vmdk vdi iso qcow2 aki ari ami vhdx ploop",
            ),
            container: words("aki ari ami bare ovf ova docker compressed"),
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            tls_ca_file: None,
            connect_timeout: 5,
            timeout: 10,
        }
    }
}

impl Default for UiSettings {
    fn default() -> Self {
        UiSettings {
            session_ttl: 8 * 60 * 60,
            max_sessions_per_user: 32,
            logins_per_minute: 20,
        }
    }
}

/// Where the catalogue is: a SQLite file or a PostgreSQL URL, told apart
/// by the URL's scheme. Shown (`Display`, `Debug`, `plankton config`) with
/// a URL's password as `***`: the password is only ever handed to the
/// driver.
#[derive(Clone, PartialEq)]
pub enum Database {
    /// A SQLite file (created if missing; its directory must exist).
    File(PathBuf),
    /// A PostgreSQL database (boxed: its connection settings are large,
    /// and settings are cloned about).
    Postgres(Box<crate::database_url::PgUrl>),
}

impl Database {
    /// Reads the setting: `postgresql://` and `postgres://` URLs, anything
    /// else with a scheme refused (no other engine), the rest a file path.
    /// The error names the setting and does not repeat a URL.
    pub fn parse(text: &str) -> Result<Database, String> {
        if crate::database_url::looks_like_url(text) {
            crate::database_url::PgUrl::parse(text)
                .map(|url| Database::Postgres(Box::new(url)))
                .map_err(|e| format!("database: {e}"))
        } else {
            Ok(Database::File(PathBuf::from(text)))
        }
    }

    /// The SQLite file, if the catalogue is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Database::File(path) => Some(path),
            Database::Postgres(_) => None,
        }
    }
}

impl From<PathBuf> for Database {
    fn from(path: PathBuf) -> Database {
        Database::File(path)
    }
}

/// The path, or the URL with its password as `***`.
impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::File(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => write!(f, "{url}"),
        }
    }
}

/// As `Display` (settings are logged with `{:?}`).
impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl Serialize for Database {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Database {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Database, D::Error> {
        let text = String::deserialize(d)?;
        Database::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:9292".into(),
            base_path: String::new(),
            database: Database::File("./var/plankton.db".into()),
            database_pool: 16,
            hashing_algorithm: HashingAlgorithm::default(),
            identity: IdentitySettings::default(),
            store: StoreSettings::default(),
            limits: Limits::default(),
            formats: Formats::default(),
            images: ImagesSettings::default(),
            http: HttpSettings::default(),
            metrics: MetricsSettings::default(),
            ui: UiSettings::default(),
            public_url: None,
            trust_forwarded_headers: false,
            tls: TlsSettings::default(),
        }
    }
}

/// A configuration that cannot be used, with what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The named file is not there.
    #[error("configuration file {} does not exist or is not a file", .0.display())]
    NoFile(PathBuf),
    /// The file or the environment could not be read or does not fit the settings.
    #[error("cannot load the configuration")]
    Load(#[from] config::ConfigError),
    /// Values that parse but cannot be used together.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "PLANKTON_CONFIG";

impl Settings {
    /// Loads defaults, then `file` (if any), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// Loads defaults, then `file` (if any), then the given environment variables
    /// (only `PLANKTON_*` ones are read; `PLANKTON_CONFIG` names the file, not a key).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("PLANKTON_") && k != CONFIG_ENV)
            .collect();
        check_variable_names(vars.keys())?;
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::NoFile(path.to_path_buf()));
            }
            builder = builder.add_source(
                config::File::from(path)
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        builder = builder.add_source(
            config::Environment::with_prefix("PLANKTON")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .list_separator(" ")
                .with_list_parse_key("formats.disk")
                .with_list_parse_key("formats.container")
                .source(Some(vars)),
        );
        let built = builder.build()?;
        check_choices(&built)?;
        let settings: Settings = built.try_deserialize()?;
        settings.validated()
    }

    /// Whether a backend chosen talks HTTP (and needs the shared client).
    pub fn needs_http_client(&self) -> bool {
        self.identity.backend == IdentityBackendKind::Astakos
            || self.store.backend == StoreBackendKind::Pithos
    }

    /// A copy fit to print or log: secrets replaced by `***`. Only the
    /// password part of URLs can hold one so far.
    pub fn redacted(&self) -> Settings {
        let mut s = self.clone();
        for url in [&mut s.identity.auth_url, &mut s.store.pithos_url]
            .into_iter()
            .flatten()
        {
            if let Some((scheme, rest)) = url.split_once("://") {
                if let Some((userinfo, host)) = rest.split_once('@') {
                    if let Some((user, _)) = userinfo.split_once(':') {
                        *url = format!("{scheme}://{user}:***@{host}");
                    }
                }
            }
        }
        s
    }

    /// Checks values that types alone cannot, and normalises `base_path`.
    pub fn validated(mut self) -> Result<Settings, ConfigError> {
        let bp = self.base_path.trim_end_matches('/').to_string();
        if !bp.is_empty()
            && (!bp.starts_with('/') || bp.contains("//") || bp.contains(['?', '#', ' ', '%']))
        {
            return Err(ConfigError::Invalid(format!(
                "base_path '{}' must be empty or a path like /image",
                self.base_path
            )));
        }
        self.base_path = bp;
        if let Some(url) = &self.public_url {
            check_url("public_url", Some(url))?;
            self.public_url = Some(url.trim_end_matches('/').to_string());
        }
        check_listen(&self.listen)?;
        if self.tls.certificate.is_some() != self.tls.private_key.is_some() {
            return Err(ConfigError::Invalid(
                "tls.certificate and tls.private_key go together: set both, or neither".into(),
            ));
        }
        self.check_formats()?;
        self.check_backends()?;
        let c = &self.store.upload_container;
        if c.is_empty() || c.len() > 256 || c == "." || c == ".." || c.contains(['/', '\0']) {
            return Err(ConfigError::Invalid(format!(
                "store.upload_container '{c}' must be a container name: 1-256 bytes, no '/'"
            )));
        }
        if self.ui.session_ttl == 0 {
            return Err(ConfigError::Invalid(
                "ui.session_ttl must be at least 1 second".into(),
            ));
        }
        self.check_abuse_limits()?;
        if !(1..=10_000).contains(&self.database_pool) {
            return Err(ConfigError::Invalid(format!(
                "database_pool {} must be between 1 and 10000",
                self.database_pool
            )));
        }
        Ok(self)
    }

    /// The limits against floods and guessing must let something through.
    fn check_abuse_limits(&self) -> Result<(), ConfigError> {
        let zero = [
            (
                "ui.max_sessions_per_user",
                self.ui.max_sessions_per_user == 0,
            ),
            ("ui.logins_per_minute", self.ui.logins_per_minute == 0),
            (
                "identity.failures_per_minute",
                self.identity.failures_per_minute == 0,
            ),
            (
                "identity.failure_addresses",
                self.identity.failure_addresses == 0,
            ),
        ];
        match zero.iter().find(|(_, z)| *z) {
            Some((name, _)) => Err(ConfigError::Invalid(format!("{name} must be at least 1"))),
            None => Ok(()),
        }
    }

    /// The defaults must stay allowed: a request without a format gets them.
    fn check_formats(&self) -> Result<(), ConfigError> {
        if !self.formats.disk.iter().any(|f| f == "diskdump") {
            return Err(ConfigError::Invalid(
                "formats.disk must include diskdump, the default disk format".into(),
            ));
        }
        if !self.formats.container.iter().any(|f| f == "bare") {
            return Err(ConfigError::Invalid(
                "formats.container must include bare, the default container format".into(),
            ));
        }
        Ok(())
    }

    /// What the network backends chosen need.
    fn check_backends(&self) -> Result<(), ConfigError> {
        if self.identity.backend == IdentityBackendKind::Astakos {
            check_url("identity.auth_url", self.identity.auth_url.as_deref())?;
        }
        if self.store.backend == StoreBackendKind::Pithos {
            check_url("store.pithos_url", self.store.pithos_url.as_deref())?;
        }
        if self.http.timeout == 0 || self.http.connect_timeout == 0 {
            return Err(ConfigError::Invalid(
                "http.timeout and http.connect_timeout must be at least 1 second".into(),
            ));
        }
        if self.identity.token_cache_size == 0 {
            return Err(ConfigError::Invalid(
                "identity.token_cache_size must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// The settings whose values are names, and the names each takes.
const CHOICES: [(&str, &[&str]); 5] = [
    ("hashing_algorithm", &["sha512", "sha256"]),
    ("identity.backend", &["tokenfile", "astakos"]),
    ("store.backend", &["fs", "pithos"]),
    ("metrics.access", &["loopback", "everyone", "off"]),
    ("images.inspection", &["enforce", "record", "off"]),
];

/// Names the setting and the values it takes where serde would only say
/// that an enum has no such variant.
fn check_choices(built: &config::Config) -> Result<(), ConfigError> {
    for (key, allowed) in CHOICES {
        let Ok(value) = built.get_string(key) else {
            continue;
        };
        if !allowed.contains(&value.as_str()) {
            let expected = allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>();
            return Err(ConfigError::Invalid(format!(
                "{key}: unknown value `{value}`; expected one of {}",
                expected.join(", ")
            )));
        }
    }
    Ok(())
}

/// Names a `PLANKTON_*` variable that is no setting (a typo must not pass
/// silently, and the error must say where the key came from).
fn check_variable_names<'a>(names: impl Iterator<Item = &'a String>) -> Result<(), ConfigError> {
    let defaults = serde_json::to_value(Settings::default()).unwrap_or_default();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    for name in names {
        let key = name["PLANKTON_".len()..].to_lowercase();
        let (section, field) = match key.split_once("__") {
            Some((section, field)) => (Some(section), field),
            None => (None, key.as_str()),
        };
        let scope = match section {
            Some(section) => &defaults[section],
            None => &defaults,
        };
        if scope.get(field).is_some() && !field.contains("__") {
            continue;
        }
        let dotted = key.replace("__", ".");
        let known = match (section, scope.is_object()) {
            (Some(section), true) => format!("known in [{section}]: {}", keys(scope).join(", ")),
            _ => format!("known: {}", keys(&defaults).join(", ")),
        };
        return Err(ConfigError::Invalid(format!(
            "environment variable {name}: unknown setting `{dotted}`; {known} \
             (PLANKTON_<SECTION>__<KEY> for a key of a section)"
        )));
    }
    Ok(())
}

/// `host:port` with a port number; the host is resolved when binding.
fn check_listen(listen: &str) -> Result<(), ConfigError> {
    let fits = match listen.rsplit_once(':') {
        Some((host, port)) => !host.trim().is_empty() && port.parse::<u16>().is_ok(),
        None => false,
    };
    if fits {
        Ok(())
    } else {
        Err(ConfigError::Invalid(format!(
            "listen `{listen}` must be host:port, e.g. 127.0.0.1:9292"
        )))
    }
}

fn check_url(key: &str, url: Option<&str>) -> Result<(), ConfigError> {
    match url {
        Some(u) if (u.starts_with("http://") || u.starts_with("https://")) && u.len() > 8 => Ok(()),
        Some(u) => Err(ConfigError::Invalid(format!(
            "{key} '{u}' must be an http:// or https:// URL"
        ))),
        None => Err(ConfigError::Invalid(format!(
            "{key} is needed by the backend chosen"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_need_no_file() {
        let s = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(s.listen, "127.0.0.1:9292");
        assert_eq!(s.database.file(), Some(Path::new("./var/plankton.db")));
        assert_eq!(s.limits.max_properties, 64);
        assert_eq!(s.formats.container.len(), 8);
        assert_eq!(s.limits.max_tags, 128);
        assert_eq!(s.hashing_algorithm, HashingAlgorithm::Sha512);
    }

    #[test]
    fn environment_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:1\"\n[store]\nroot = \"/from/file\"\n[limits]\nmax_members = 5\n",
        )
        .unwrap();
        let s = Settings::load_from(
            Some(&file),
            env(&[
                ("PLANKTON_STORE__ROOT", "/from/env"),
                ("PLANKTON_BASE_PATH", "/image/"),
                ("PLANKTON_LIMITS__MAX_PROPERTIES", "7"),
                ("PLANKTON_FORMATS__DISK", "diskdump raw"),
                ("PLANKTON_CONFIG", "/ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(s.listen, "127.0.0.1:1");
        assert_eq!(s.store.root, PathBuf::from("/from/env"));
        assert_eq!(s.base_path, "/image");
        assert_eq!(s.limits.max_properties, 7);
        assert_eq!(s.limits.max_members, 5);
        assert_eq!(s.formats.disk, vec!["diskdump", "raw"]);
    }

    #[test]
    fn unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        std::fs::write(&file, "[store]\nrooot = \"/x\"\n").unwrap();
        let err = Settings::load_from(Some(&file), env(&[])).unwrap_err();
        let err = crate::error::chain(&err);
        assert!(err.contains("rooot"), "{err}");
        let err = Settings::load_from(None, env(&[("PLANKTON_LISTN", "x")])).unwrap_err();
        let err = crate::error::chain(&err);
        assert!(err.contains("listn"), "{err}");
    }

    #[test]
    fn unknown_variables_name_the_variable_and_the_keys() {
        let err = |pairs| crate::error::chain(&Settings::load_from(None, env(pairs)).unwrap_err());
        let bin = err(&[("PLANKTON_BIN", "x")]);
        assert!(
            bin.contains("environment variable PLANKTON_BIN: unknown setting `bin`")
                && bin.contains("listen"),
            "{bin}"
        );
        let root = err(&[("PLANKTON_STORE__ROOOT", "x")]);
        assert!(
            root.contains("`store.rooot`; known in [store]: ") && root.contains("root"),
            "{root}"
        );
        assert!(err(&[("PLANKTON_NOPE__X", "1")]).contains("`nope.x`"));
    }

    #[test]
    fn choices_and_the_listen_address_are_checked_by_name() {
        let err = |pairs| crate::error::chain(&Settings::load_from(None, env(pairs)).unwrap_err());
        assert!(err(&[("PLANKTON_STORE__BACKEND", "s3")])
            .contains("store.backend: unknown value `s3`; expected one of `fs`, `pithos`"));
        assert!(err(&[("PLANKTON_HASHING_ALGORITHM", "md5")]).contains(
            "hashing_algorithm: unknown value `md5`; expected one of `sha512`, `sha256`"
        ));
        assert!(err(&[("PLANKTON_IMAGES__INSPECTION", "warn")]).contains(
            "images.inspection: unknown value `warn`; expected one of `enforce`, `record`, `off`"
        ));
        assert_eq!(
            Settings::default().images.inspection,
            InspectionPolicy::Enforce
        );
        assert!(err(&[("PLANKTON_LISTEN", "nonsense")]).contains("listen `nonsense`"));
        assert!(err(&[("PLANKTON_LISTEN", "127.0.0.1:99999")]).contains("host:port"));
        for (key, allowed) in CHOICES {
            for value in allowed {
                let var = format!("PLANKTON_{}", key.replace('.', "__").to_uppercase());
                let pairs = vec![(var, value.to_string())];
                let pithos = ("PLANKTON_STORE__PITHOS_URL".into(), "http://p/".into());
                let auth = ("PLANKTON_IDENTITY__AUTH_URL".into(), "http://a/".into());
                let loaded = Settings::load_from(None, [pairs, vec![pithos, auth]].concat());
                assert!(loaded.is_ok(), "{key} = {value}: {loaded:?}");
            }
        }
        let ok = Settings::load_from(None, env(&[("PLANKTON_LISTEN", "[::1]:0")]));
        assert!(ok.is_ok());
    }

    #[test]
    fn database_is_a_path_or_a_postgresql_url_shown_without_its_password() {
        let s = Settings::load_from(
            None,
            env(&[
                ("PLANKTON_DATABASE", "postgres://pk:Tr0ub4dor@db:5433/cat"),
                ("PLANKTON_DATABASE_POOL", "40"),
            ]),
        )
        .unwrap();
        assert!(matches!(s.database, Database::Postgres(_)));
        assert_eq!(s.database.file(), None);
        assert_eq!(s.database_pool, 40);
        let shown = format!("{} {:?} {}", s.database, s, toml::to_string(&s).unwrap());
        assert!(shown.contains("postgresql://pk:***@db:5433/cat"), "{shown}");
        assert!(!shown.contains("Tr0ub4dor"), "{shown}");

        let s = Settings::load_from(None, env(&[("PLANKTON_DATABASE", "/srv/c.db")])).unwrap();
        assert_eq!(s.database.file(), Some(Path::new("/srv/c.db")));
    }

    #[test]
    fn bad_database_settings_are_refused_naming_them() {
        fn err(pairs: &[(&str, &str)]) -> String {
            crate::error::chain(&Settings::load_from(None, env(pairs)).unwrap_err())
        }
        for pool in ["0", "10001", "many"] {
            let e = err(&[("PLANKTON_DATABASE_POOL", pool)]);
            assert!(e.contains("database_pool"), "{pool}: {e}");
        }
        let e = err(&[("PLANKTON_DATABASE", "postgresql://u:Tr0ub4dor@h:x/d")]);
        assert!(e.contains("database"), "{e}");
        assert!(!e.contains("Tr0ub4dor"), "{e}");
        let e = err(&[("PLANKTON_DATABASE", "sqlite:///var/c.db")]);
        assert!(
            e.contains("database: a URL must begin postgresql://"),
            "{e}"
        );
    }
}

#[cfg(test)]
mod example_file {
    use super::*;

    /// etc/plankton.toml documents every key with its default: loading it must
    /// give exactly the built-in defaults.
    #[test]
    fn the_example_file_is_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/plankton.toml");
        let from_file = Settings::load_from(Some(&path), Vec::new()).unwrap();
        let defaults = Settings::default().validated().unwrap();
        assert_eq!(
            serde_json::to_value(&from_file).unwrap(),
            serde_json::to_value(&defaults).unwrap()
        );
    }
}
