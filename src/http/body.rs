//! A response body read from the wire chunk by chunk, each read bounded by
//! the request's timeout: a slow but steady download goes on, a stalled one
//! fails.

use crate::connection::ConnectionError;
use bytes::Bytes;
use http_body_util::BodyExt;
use std::time::Duration;

/// The body of a response whose head has been read.
pub struct Body {
    incoming: hyper::body::Incoming,
    /// Drives the connection's I/O; aborted when the body is dropped.
    driver: tokio::task::JoinHandle<()>,
    /// No data for this long fails the read.
    idle: Duration,
    /// `GET http://…`, for messages.
    what: String,
}

impl Body {
    pub(super) fn new(
        incoming: hyper::body::Incoming,
        driver: tokio::task::JoinHandle<()>,
        idle: Duration,
        what: String,
    ) -> Body {
        Body {
            incoming,
            driver,
            idle,
            what,
        }
    }

    /// The next chunk (as the transport delivered it), `None` at the end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, ConnectionError> {
        loop {
            let frame = tokio::time::timeout(self.idle, self.incoming.frame())
                .await
                .map_err(|_| {
                    ConnectionError::Failed(format!(
                        "{}: timed out: no data received for {}s (timeout)",
                        self.what,
                        self.idle.as_secs_f32()
                    ))
                })?;
            match frame {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(ConnectionError::Failed(format!("{}: {e}", self.what)));
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) if !data.is_empty() => return Ok(Some(data)),
                    // Trailers and empty frames carry nothing to keep.
                    _ => {}
                },
            }
        }
    }

    /// The whole body, for responses small enough to keep (`uri`, IMDS).
    pub async fn collect(mut self) -> Result<Vec<u8>, ConnectionError> {
        let mut all = Vec::new();
        while let Some(chunk) = self.chunk().await? {
            all.extend_from_slice(&chunk);
        }
        Ok(all)
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        self.driver.abort();
    }
}
