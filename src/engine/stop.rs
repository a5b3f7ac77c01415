//! Interruption: the first Ctrl-C or SIGTERM lets the hosts in flight finish
//! their lifecycle and starts no new batch; a second one stops at once. The
//! engine keeps the list of hosts it has out of rotation here, so that an
//! immediate stop can still name every one of them.

use crate::events::OutOfRotationHost;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use tokio::sync::Notify;

#[derive(Default)]
pub struct Stop {
    requests: AtomicU8,
    notify: Notify,
    out: Mutex<Vec<OutOfRotationHost>>,
}

impl std::fmt::Debug for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stop({})", self.requests.load(Ordering::SeqCst))
    }
}

impl Stop {
    /// Records one more stop request; returns how many there have been.
    pub fn request(&self) -> u8 {
        let n = self
            .requests
            .fetch_add(1, Ordering::SeqCst)
            .saturating_add(1);
        self.notify.notify_waiters();
        n
    }

    /// No new batch may start.
    pub fn requested(&self) -> bool {
        self.requests.load(Ordering::SeqCst) >= 1
    }

    /// Resolves once a second request came: stop at once.
    pub async fn immediate(&self) {
        loop {
            let notified = self.notify.notified();
            if self.requests.load(Ordering::SeqCst) >= 2 {
                return;
            }
            notified.await;
        }
    }

    pub fn set_out_of_rotation(&self, hosts: Vec<OutOfRotationHost>) {
        if let Ok(mut out) = self.out.lock() {
            *out = hosts;
        }
    }

    pub fn out_of_rotation(&self) -> Vec<OutOfRotationHost> {
        self.out.lock().map(|o| o.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn the_second_request_stops_at_once() {
        let stop = Arc::new(Stop::default());
        assert!(!stop.requested());
        let waiter = tokio::spawn({
            let stop = stop.clone();
            async move { stop.immediate().await }
        });
        assert_eq!(stop.request(), 1);
        assert!(stop.requested());
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiter.is_finished(), "one request only drains");
        stop.request();
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("the second request ends the wait")
            .unwrap();
    }
}
