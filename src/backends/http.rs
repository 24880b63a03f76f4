//! The one HTTP(S) client of the network backends, built once at start.

use std::time::Duration;

use crate::config::HttpSettings;

/// Builds the shared client: rustls with the system's certificate store plus
/// `tls_ca_file`, and the configured connect and request timeouts.
pub(crate) fn build_client(settings: &HttpSettings) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(settings.connect_timeout))
        .read_timeout(Duration::from_secs(settings.timeout))
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
    builder
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))
}
