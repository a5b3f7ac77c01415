//! URL parsing: the scheme, host, port and path a request needs.

/// The parts of an `http://` or `https://` URL that a request needs.
#[derive(Debug, PartialEq, Eq)]
pub struct Url {
    /// `https://`: TLS over the stream.
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// `host[:port]`, for the Host header.
    pub authority: String,
    /// Path and query, `/` when empty.
    pub path: String,
}

impl Url {
    pub fn parse(url: &str) -> Result<Url, String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("invalid URL {url}: {e}"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => {
                return Err(format!(
                    "{url}: only http:// and https:// are supported, not {other}://"
                ));
            }
            None => return Err(format!("invalid URL {url}: no http:// or https:// scheme")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("invalid URL {url}: no host"))?;
        Ok(Url {
            tls,
            host: authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            authority: authority.as_str().to_string(),
            path: uri
                .path_and_query()
                .map(|p| p.as_str())
                .filter(|p| !p.is_empty())
                .unwrap_or("/")
                .to_string(),
        })
    }

    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let url = Url::parse("http://169.254.169.254/latest/api/token").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.authority.as_str()),
            ("169.254.169.254", 80, "169.254.169.254")
        );
        assert_eq!(Url::parse("http://[::1]:8080/x").unwrap().host, "::1");
        assert_eq!(Url::parse("http://h:1").unwrap().path, "/");
        let url = Url::parse("https://x/y").unwrap();
        assert_eq!((url.tls, url.port, url.scheme()), (true, 443, "https"));
        assert!(
            Url::parse("ftp://x/")
                .unwrap_err()
                .contains("only http:// and https://")
        );
        assert!(Url::parse("x/y").is_err());
    }
}
