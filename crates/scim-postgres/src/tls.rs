//! TLS to the database with rustls: the system's certificate authorities and, when given, the
//! operator's own (a PEM file). Whether TLS is used is the URL's `sslmode` (`disable`, `prefer`,
//! the default, or `require`); when it is, the server's certificate and name are verified. A Unix
//! socket never uses TLS.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use scim_core::store::StoreError;
use tokio_postgres_rustls::MakeRustlsConnect;

pub(crate) fn connector(ca_file: Option<&Path>) -> Result<MakeRustlsConnect, StoreError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A system certificate rustls cannot use is left out, as browsers do.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            StoreError::Refused(format!("database_ca_file {}: {e}", path.display()))
        })?;
        let mut added = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| {
                StoreError::Refused(format!("database_ca_file {}: {e}", path.display()))
            })?;
            roots.add(cert).map_err(|e| {
                StoreError::Refused(format!("database_ca_file {}: {e}", path.display()))
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(StoreError::Refused(format!(
                "database_ca_file {} holds no PEM certificate",
                path.display()
            )));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Io(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}
