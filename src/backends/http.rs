//! The one HTTP(S) client of the network backends, built once at start.

use std::time::Duration;

use crate::config::HttpSettings;

/// The clients of the network backends.
pub(crate) struct Clients {
    /// For every request but uploads: an answer (and each read of its
    /// body) must come within `http.timeout`.
    pub(crate) calls: reqwest::Client,
    /// For uploads, whose answer comes only after the whole body was sent:
    /// the store bounds their waits itself.
    pub(crate) uploads: reqwest::Client,
}

/// Builds the clients: rustls with the system's certificate store plus
/// `tls_ca_file`, and the configured connect and request timeouts.
pub(crate) fn build_clients(settings: &HttpSettings) -> Result<Clients, String> {
    Ok(Clients {
        calls: build_client(settings, Some(Duration::from_secs(settings.timeout)))?,
        uploads: build_client(settings, None)?,
    })
}

fn build_client(
    settings: &HttpSettings,
    read_timeout: Option<Duration>,
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(settings.connect_timeout))
        .pool_idle_timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("plankton/", env!("CARGO_PKG_VERSION")))
        .use_rustls_tls();
    if let Some(path) = &settings.tls_ca_file {
        let pem =
            std::fs::read(path).map_err(|e| format!("http.tls_ca_file {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("http.tls_ca_file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "http.tls_ca_file {}: no PEM certificate in it",
                path.display()
            ));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    if let Some(t) = read_timeout {
        builder = builder.read_timeout(t);
    }
    builder
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))
}
