//! Which hosts this run has out of rotation, and why: published on every
//! change (so that an immediate stop can still name them), and reported
//! at the play's end with each manager's restore command.

use crate::events::OutOfRotationHost;
use crate::traffic::{Target, TrafficManager};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Hears the full list of hosts out of rotation after every change.
pub type Publish = Arc<dyn Fn(Vec<OutOfRotationHost>) + Send + Sync>;

pub(super) struct Records {
    /// Hosts this run took out of rotation and has not put back, and why.
    out: BTreeMap<String, String>,
    /// Hosts out of rotation that nothing changed, and why (their drain
    /// did not finish): they go back even though they failed.
    unchanged: HashMap<String, &'static str>,
    publish: Publish,
}

impl Records {
    pub(super) fn new(publish: Publish) -> Records {
        Records {
            out: BTreeMap::new(),
            unchanged: HashMap::new(),
            publish,
        }
    }

    pub(super) fn is_out(&self, host: &str) -> bool {
        self.out.contains_key(host)
    }

    /// Why `host` goes back unchanged, if it does.
    pub(super) fn unchanged(&self, host: &str) -> Option<&'static str> {
        self.unchanged.get(host).copied()
    }

    pub(super) fn mark_unchanged(&mut self, host: &str, why: &'static str) {
        self.unchanged.insert(host.to_string(), why);
    }

    pub(super) fn mark_out(
        &mut self,
        host: &str,
        why: String,
        groups: &[Arc<dyn TrafficManager>],
        targets: &HashMap<String, Target>,
    ) {
        self.out.insert(host.to_string(), why);
        (self.publish)(self.hosts(groups, targets));
    }

    pub(super) fn mark_in(
        &mut self,
        host: &str,
        groups: &[Arc<dyn TrafficManager>],
        targets: &HashMap<String, Target>,
    ) {
        self.out.remove(host);
        (self.publish)(self.hosts(groups, targets));
    }

    /// Every host out of rotation, per group, with how to put it back.
    pub(super) fn hosts(
        &self,
        groups: &[Arc<dyn TrafficManager>],
        targets: &HashMap<String, Target>,
    ) -> Vec<OutOfRotationHost> {
        let unknown = Target {
            id: "?".into(),
            port: None,
        };
        let mut hosts = Vec::new();
        for (host, why) in &self.out {
            let target = targets.get(host);
            for group in groups {
                hosts.push(OutOfRotationHost {
                    host: host.clone(),
                    group: group.name(),
                    target: target.map(|t| t.to_string()).unwrap_or_default(),
                    why: why.clone(),
                    restore: group.restore_hint(target.unwrap_or(&unknown)),
                });
            }
        }
        hosts
    }
}
