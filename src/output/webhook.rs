//! Alerts: a webhook that receives a JSON event when a rollout starts, when
//! a host fails, when the rollout stops early and when it completes (with
//! counts, duration and the hosts left out of rotation). One background
//! task posts them in order, retrying each; it never blocks or fails the
//! rollout, and the run waits a bounded time at the end for the last posts.

use crate::connection::local::LocalConnection;
use crate::events::{Event, EventSink, HostResult, Status};
use crate::http::{self, HttpRequest};
use serde_json::{Value as Json, json};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const ATTEMPTS: u32 = 4;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Webhook {
    url: String,
    started: Instant,
    /// The queue to the posting task, started on the first event.
    queue: Mutex<Option<(mpsc::UnboundedSender<Json>, JoinHandle<()>)>>,
    /// Out-of-rotation hosts seen so far, for the final event.
    out_of_rotation: Mutex<Vec<Json>>,
    stopped: Mutex<Option<String>>,
}

impl Webhook {
    pub fn new(url: &str) -> Result<Webhook, String> {
        http::Url::parse(url)?;
        Ok(Webhook {
            url: url.to_string(),
            started: Instant::now(),
            queue: Mutex::new(None),
            out_of_rotation: Mutex::new(Vec::new()),
            stopped: Mutex::new(None),
        })
    }

    /// Waits up to `bound` for the posts still queued.
    pub async fn flush(&self, bound: Duration) {
        let Some((queue, worker)) = self.queue.lock().ok().and_then(|mut q| q.take()) else {
            return;
        };
        drop(queue);
        let abort = worker.abort_handle();
        if tokio::time::timeout(bound, worker).await.is_err() {
            abort.abort();
        }
    }

    /// The payload for an event, when it is one the webhook reports.
    /// The hosts out of rotation, as last reported.
    fn out_list(&self) -> Vec<Json> {
        (self.out_of_rotation.lock())
            .map(|o| o.clone())
            .unwrap_or_default()
    }

    fn payload(&self, event: &Event) -> Option<Json> {
        let elapsed = self.started.elapsed().as_secs_f64();
        match event {
            Event::PlayStart { name, hosts } => Some(json!({
                "event": "rollout_started", "play": name, "hosts": hosts,
            })),
            Event::HostResult(HostResult {
                host,
                status,
                result,
                ignored: false,
                ..
            }) if matches!(status, Status::Failed | Status::Unreachable) => Some(json!({
                "event": "host_failed", "host": host,
                "unreachable": *status == Status::Unreachable,
                "msg": result.get("msg").cloned().unwrap_or(Json::Null),
                "elapsed_seconds": elapsed,
            })),
            Event::OutOfRotation { hosts } => {
                if let Ok(mut out) = self.out_of_rotation.lock() {
                    *out = hosts.iter().map(|h| json!({"host": h.host, "group": h.group, "target": h.target, "why": h.why})).collect();
                }
                None
            }
            Event::PlayAborted { reason } => {
                if let Ok(mut stopped) = self.stopped.lock() {
                    *stopped = Some(reason.clone());
                }
                // After a second Ctrl-C this is the last event: it names
                // the hosts left out of rotation.
                Some(json!({
                    "event": "rollout_stopped", "reason": reason, "elapsed_seconds": elapsed,
                    "out_of_rotation": self.out_list(),
                }))
            }
            Event::Recap { hosts } => {
                let failed: Vec<&String> = hosts
                    .iter()
                    .filter(|(_, s)| s.failed > 0 || s.unreachable > 0)
                    .map(|(h, _)| h)
                    .collect();
                let out = self.out_list();
                let stopped = self.stopped.lock().ok().and_then(|s| s.clone());
                Some(json!({
                    "event": if stopped.is_none() && failed.is_empty() { "rollout_completed" } else { "rollout_finished_with_errors" },
                    "hosts": hosts.len(),
                    "failed_hosts": failed,
                    "out_of_rotation": out,
                    "stopped": stopped,
                    "duration_seconds": elapsed,
                }))
            }
            _ => None,
        }
    }
}

async fn post(url: &str, body: Json) {
    let mut request = HttpRequest::get(url).header("Content-Type", "application/json");
    request.method = "POST".into();
    request.body = body.to_string().into_bytes();
    request.timeout = REQUEST_TIMEOUT;
    let mut pause = Duration::from_millis(250);
    for attempt in 1..=ATTEMPTS {
        match http::send(&LocalConnection, &request).await {
            Ok(r) if (200..300).contains(&r.status) => return,
            _ if attempt == ATTEMPTS => return,
            _ => {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
    }
}

impl EventSink for Webhook {
    fn emit(&self, event: Event) {
        let Some(body) = self.payload(&event) else {
            return;
        };
        // Outside a runtime (unit tests of other sinks) there is nothing to post with.
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        if let Ok(mut queue) = self.queue.lock() {
            let (sender, _) = queue.get_or_insert_with(|| {
                let (sender, mut events) = mpsc::unbounded_channel::<Json>();
                let url = self.url.clone();
                let worker = tokio::spawn(async move {
                    while let Some(body) = events.recv().await {
                        post(&url, body).await;
                    }
                });
                (sender, worker)
            });
            let _ = sender.send(body);
        }
    }
}

/// Every webhook of a run: `--notify-webhook`, and each play's
/// `notify_webhook`, added as its play starts (one per URL).
#[derive(Default)]
pub struct Webhooks {
    hooks: Mutex<Vec<std::sync::Arc<Webhook>>>,
}

impl crate::events::Subscriptions for Webhooks {
    fn subscribe(&self, url: &str) -> Result<(), String> {
        self.add(url)
    }
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.hooks.lock().map(|h| h.len()).unwrap_or(0);
        write!(f, "Webhooks({count})")
    }
}

impl Webhooks {
    /// Adds `url` unless it is there already; a bad URL is an error.
    pub fn add(&self, url: &str) -> Result<(), String> {
        let mut hooks = self.hooks.lock().map_err(|_| "webhook lock poisoned")?;
        if !hooks.iter().any(|h| h.url == url) {
            hooks.push(std::sync::Arc::new(Webhook::new(url)?));
        }
        Ok(())
    }

    /// Waits up to `bound` for the posts still queued, all hooks at once.
    pub async fn flush(&self, bound: Duration) {
        let hooks: Vec<_> = self.hooks.lock().map(|h| h.clone()).unwrap_or_default();
        futures::future::join_all(hooks.iter().map(|h| h.flush(bound))).await;
    }
}

impl EventSink for Webhooks {
    fn emit(&self, event: Event) {
        let hooks: Vec<_> = self.hooks.lock().map(|h| h.clone()).unwrap_or_default();
        for hook in hooks {
            hook.emit(event.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::OutOfRotationHost;

    #[test]
    fn the_stop_event_names_the_hosts_left_out_of_rotation() {
        let hook = Webhook::new("http://127.0.0.1:9/hook").unwrap();
        let out = OutOfRotationHost {
            host: "web2".into(),
            group: "target group web".into(),
            target: "i-2".into(),
            why: "deregistered, not yet drained".into(),
            restore: "aws elbv2 register-targets ...".into(),
        };
        assert_eq!(
            hook.payload(&Event::OutOfRotation { hosts: vec![out] }),
            None
        );
        let stopped = hook
            .payload(&Event::PlayAborted {
                reason: "interrupted again: stopped at once".into(),
            })
            .unwrap();
        assert_eq!(stopped["event"], "rollout_stopped");
        assert_eq!(stopped["out_of_rotation"][0]["host"], "web2");
        assert_eq!(stopped["out_of_rotation"][0]["target"], "i-2");
    }
}
