//! IMDSv2, read from the host's side of its connection: `PUT
//! /latest/api/token` with a TTL header, then `GET`s carrying the token.
//! Requests travel through the host's SSH connection (direct-tcpip), or
//! through curl on the host where sshd refuses forwarding. Used by
//! `ec2_metadata_facts` and by the rolling lifecycle to find a host's
//! instance ID.

use crate::connection::{Connection, ConnectionError};
use crate::http::{self, HttpRequest, HttpResponse};
use std::time::Duration;

pub const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
const TOKEN_PATH: &str = "/latest/api/token";
const TTL_HEADER: &str = "X-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "X-aws-ec2-metadata-token";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A session with one host's metadata service: the token is fetched once.
pub struct Imds<'a> {
    conn: &'a dyn Connection,
    endpoint: String,
    token: String,
}

impl<'a> Imds<'a> {
    /// Gets a token valid for `ttl_seconds` (1..=21600) from `endpoint`
    /// (`http://169.254.169.254` on EC2).
    pub async fn open(
        conn: &'a dyn Connection,
        endpoint: &str,
        ttl_seconds: u32,
    ) -> Result<Imds<'a>, ConnectionError> {
        let endpoint = endpoint.trim_end_matches('/').to_string();
        let mut request = HttpRequest::get(&format!("{endpoint}{TOKEN_PATH}"))
            .header(TTL_HEADER, &ttl_seconds.to_string());
        request.method = "PUT".into();
        request.timeout = REQUEST_TIMEOUT;
        let response = http::send_or_curl(conn, &request).await?;
        if response.status != 200 {
            return Err(refused(&endpoint, "the token request (PUT)", &response));
        }
        let token = String::from_utf8_lossy(&response.body).trim().to_string();
        if token.is_empty() {
            return Err(ConnectionError::Failed(format!(
                "IMDSv2 at {endpoint} answered the token request with an empty token"
            )));
        }
        Ok(Imds {
            conn,
            endpoint,
            token,
        })
    }

    /// The value at `path` (relative to `/latest/`), or `None` when the
    /// service has no such entry (404).
    pub async fn get(&self, path: &str) -> Result<Option<String>, ConnectionError> {
        let mut request = HttpRequest::get(&format!(
            "{}/latest/{}",
            self.endpoint,
            path.trim_start_matches('/')
        ))
        .header(TOKEN_HEADER, &self.token);
        request.timeout = REQUEST_TIMEOUT;
        let response = http::send_or_curl(self.conn, &request).await?;
        match response.status {
            200 => Ok(Some(String::from_utf8_lossy(&response.body).into_owned())),
            404 => Ok(None),
            _ => Err(refused(&self.endpoint, &format!("GET {path}"), &response)),
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

/// The host's EC2 instance ID.
pub async fn instance_id(conn: &dyn Connection, endpoint: &str) -> Result<String, ConnectionError> {
    let imds = Imds::open(conn, endpoint, 60).await?;
    match imds.get("meta-data/instance-id").await? {
        Some(id) if id.trim().starts_with("i-") => Ok(id.trim().to_string()),
        Some(other) => Err(ConnectionError::Failed(format!(
            "IMDSv2 at {endpoint} returned '{}' as the instance ID, which is not one (i-...)",
            other.trim()
        ))),
        None => Err(ConnectionError::Failed(format!(
            "IMDSv2 at {endpoint} has no meta-data/instance-id; is this an EC2 instance? \
             Set the host var instance_id to skip the lookup"
        ))),
    }
}

fn refused(endpoint: &str, what: &str, response: &HttpResponse) -> ConnectionError {
    let hint = match response.status {
        401 => ": the token was refused (expired, or IMDSv2 is not what answers)",
        403 => ": IMDS is disabled for this instance or the request was forwarded",
        400 => ": the request was malformed (TTL header missing or out of range)",
        _ => "",
    };
    ConnectionError::Failed(format!(
        "IMDSv2 at {endpoint} answered {what} with HTTP {}{hint}",
        response.status
    ))
}
