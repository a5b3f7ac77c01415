//! TLS (rustls) over the stream a connection opened: the controller
//! verifies the server against its trusted roots, or, with
//! `validate_certs: false`, accepts any certificate.

use super::Url;
use crate::connection::ConnectionError;
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncRead, AsyncWrite};

/// TLS over `stream` for `url`'s host, as `config` verifies it.
pub(super) async fn tls_handshake_with<S>(
    config: Arc<rustls::ClientConfig>,
    stream: S,
    url: &Url,
) -> Result<tokio_rustls::client::TlsStream<S>, ConnectionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = rustls::pki_types::ServerName::try_from(url.host.clone()).map_err(|e| {
        ConnectionError::Failed(format!("{}: not a TLS server name: {e}", url.host))
    })?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(|e| ConnectionError::Failed(format!("TLS with {}: {e}", url.authority)))
}

/// The TLS client settings, built once: the system's trusted roots (or
/// those `SSL_CERT_FILE` / `SSL_CERT_DIR` name), safe protocol versions;
/// with `verify` false (`validate_certs: false`) any certificate passes.
pub(super) fn tls_config(verify: bool) -> Result<Arc<rustls::ClientConfig>, String> {
    static VERIFIED: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    static UNVERIFIED: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if !verify {
        let config = UNVERIFIED.get_or_init(|| {
            let any = AnyCertificate(Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
            let config = client_builder()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(any))
                .with_no_client_auth();
            Arc::new(config)
        });
        return Ok(config.clone());
    }
    VERIFIED
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = rustls::RootCertStore::empty();
            let (_added, _unusable) = roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                let errors: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
                return Err(format!(
                    "https: no trusted CA certificates found ({}); install ca-certificates or \
                     set SSL_CERT_FILE",
                    if errors.is_empty() {
                        "none installed".to_string()
                    } else {
                        errors.join("; ")
                    }
                ));
            }
            Ok(Arc::new(trusting(roots)))
        })
        .clone()
}

/// TLS client settings that verify servers against `roots`.
fn trusting(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    client_builder()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// The start of every TLS client config: aws-lc, safe protocol versions.
fn client_builder() -> rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier> {
    rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("the default provider supports the safe protocol versions")
}

/// `validate_certs: false`: accepts any certificate and name, but still
/// checks the handshake's signatures (the session is encrypted, not
/// authenticated).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{HttpRequest, exchange};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn fixture(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name)
    }

    /// A TLS listener on 127.0.0.1 with the test certificate, answering once.
    async fn tls_server() -> u16 {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_file_iter(fixture("cert.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(fixture("key.pem")).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    continue;
                };
                let mut buf = vec![0; 4096];
                let _ = tls.read(&mut buf).await;
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret")
                    .await;
                let _ = tls.shutdown().await;
            }
        });
        port
    }

    fn client_trusting_the_test_ca() -> Arc<rustls::ClientConfig> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(fixture("ca.pem")).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        Arc::new(trusting(roots))
    }

    #[tokio::test]
    async fn https_verifies_the_certificate_and_its_name() {
        let port = tls_server().await;
        let config = client_trusting_the_test_ca();
        let open = || tokio::net::TcpStream::connect(("127.0.0.1", port));
        // Trusted, and issued for 127.0.0.1: the exchange goes through.
        let url = Url::parse(&format!("https://127.0.0.1:{port}/s")).unwrap();
        let tls = tls_handshake_with(config.clone(), open().await.unwrap(), &url)
            .await
            .unwrap();
        let request = HttpRequest::get(&format!("https://127.0.0.1:{port}/s"));
        let response = exchange(tls, &request).await.unwrap();
        assert_eq!(
            (response.status, response.body.as_slice()),
            (200, &b"secret"[..])
        );
        // The same server under a name its certificate does not have.
        let url = Url::parse(&format!("https://other.example:{port}/s")).unwrap();
        let err = tls_handshake_with(config, open().await.unwrap(), &url)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("TLS with other.example") && err.contains("certificate"),
            "{err}"
        );
        // No trust in the test CA: refused.
        let empty = Arc::new(trusting(rustls::RootCertStore::empty()));
        let url = Url::parse(&format!("https://127.0.0.1:{port}/s")).unwrap();
        let err = tls_handshake_with(empty, open().await.unwrap(), &url)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("UnknownIssuer"), "{err}");
        // validate_certs: false accepts it, under any name.
        let url = Url::parse(&format!("https://other.example:{port}/s")).unwrap();
        let tls = tls_handshake_with(tls_config(false).unwrap(), open().await.unwrap(), &url)
            .await
            .unwrap();
        let response = exchange(tls, &request).await.unwrap();
        assert_eq!(response.status, 200);
    }
}
