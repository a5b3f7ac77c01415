//! The play's `load_balancer:` section, checked: which manager, and the
//! lifecycle's bounds and policy. One parser serves both checks: the loader
//! reads the section as written (a templated value is known only once
//! rendered, so it is skipped), the engine reads it rendered with each
//! host's variables. Errors name the key path (`elbv2.port`) so the caller
//! can point at that key's line.

use super::haproxy::{Address, check_name};
use super::wait::MinHealthy;
use crate::core::{duration_from_secs, parse_duration};
use serde_json::{Map, Value as Json};
use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Manager {
    Elbv2 {
        target_groups: Vec<String>,
        port: Option<u16>,
    },
    Haproxy {
        /// A unix socket path, or `tcp://HOST:PORT`.
        socket: String,
        /// The inventory host that owns the socket, reached over SSH.
        via: Option<String>,
        backend: String,
        server: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    KeepOut,
    Restore,
    Rollback,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LbConfig {
    pub manager: Manager,
    pub min_healthy: MinHealthy,
    pub drain_timeout: Option<Duration>,
    pub healthy_timeout: Duration,
    pub unhealthy_grace: Duration,
    /// Checked from the host (through its connection) before registering.
    pub health_url: Option<String>,
    pub poll_interval: Duration,
    pub on_failure: OnFailure,
}

/// Margin added to the deregistration delay for the drain bound.
pub const DRAIN_MARGIN: Duration = Duration::from_secs(30);

const KEYS: &[&str] = &[
    "elbv2",
    "haproxy",
    "min_healthy",
    "drain_timeout",
    "healthy_timeout",
    "unhealthy_grace",
    "health_url",
    "poll_interval",
    "on_failure",
];
const ELBV2_KEYS: &[&str] = &["target_groups", "target_group", "port"];
const HAPROXY_KEYS: &[&str] = &["socket", "via", "backend", "server", "health_url"];
const ON_FAILURE: &[&str] = &["keep_out", "restore", "rollback"];

/// What is wrong with a section, and where: the key path (`elbv2.port`,
/// `drain_timeout`; empty for the section itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    pub path: String,
    pub message: String,
    /// What to write instead, when there is a likely candidate.
    pub help: Option<String>,
}

impl KeyError {
    fn new(path: &str, message: impl Into<String>) -> KeyError {
        KeyError {
            path: path.to_string(),
            message: message.into(),
            help: None,
        }
    }

    /// An unknown key under `parent` (empty for the section), with a
    /// did-you-mean among `known`.
    fn unknown(parent: &str, key: &str, known: &[&str]) -> KeyError {
        let path = join(parent, key);
        let what = if parent.is_empty() {
            "load_balancer"
        } else {
            parent
        };
        KeyError {
            message: format!("unknown {what} key '{key}'"),
            help: crate::diag::suggestion(key, known.iter().copied())
                .or_else(|| Some(format!("the keys are {}", known.join(", ")))),
            path,
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match &self.help {
            Some(help) => write!(f, " ({help})"),
            None => Ok(()),
        }
    }
}

/// `parent.key`, or `key` at the top.
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Which values a read sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// Rendered with the host's variables: everything is checked.
    Rendered,
    /// As written in the playbook: a templated value is skipped (a default
    /// stands in for it) and checked once rendered.
    Written,
}

impl LbConfig {
    /// Parses a rendered section.
    pub fn parse(section: &Json) -> Result<LbConfig, KeyError> {
        Self::read(section, Values::Rendered)
    }

    /// Parses a section; with [`Values::Written`] the result holds
    /// stand-ins for templated values and serves only to find errors (and
    /// a literal `on_failure`).
    pub fn read(section: &Json, values: Values) -> Result<LbConfig, KeyError> {
        let reader = Reader { values };
        let map = section.as_object().ok_or_else(|| {
            KeyError::new(
                "",
                "load_balancer must be a mapping with elbv2: or haproxy:",
            )
        })?;
        if let Some((key, value)) = map.iter().find(|(k, _)| !KEYS.contains(&k.as_str())) {
            let close = crate::diag::suggestion(key, KEYS.iter().copied()).is_some();
            // A mapping in a manager's place, not a typo: say which managers there are.
            if value.is_object() && !close {
                return Err(KeyError {
                    path: key.clone(),
                    message: format!("unknown load balancer '{key}'"),
                    help: Some(
                        "rollout drives elbv2: (AWS target groups) or haproxy: (its runtime API)"
                            .into(),
                    ),
                });
            }
            return Err(KeyError::unknown("", key, KEYS));
        }
        let manager = match (map.get("elbv2"), map.get("haproxy")) {
            (Some(_), Some(_)) => {
                return Err(KeyError::new(
                    "haproxy",
                    "load_balancer takes elbv2: or haproxy:, not both",
                ));
            }
            (Some(e), None) => reader.elbv2(e)?,
            (None, Some(h)) => reader.haproxy(h)?,
            (None, None) => {
                return Err(KeyError::new("", "load_balancer needs elbv2: or haproxy:"));
            }
        };
        Ok(LbConfig {
            manager,
            min_healthy: reader.min_healthy(map)?,
            drain_timeout: reader.duration(map, "drain_timeout")?,
            healthy_timeout: reader
                .duration(map, "healthy_timeout")?
                .unwrap_or(Duration::from_secs(300)),
            unhealthy_grace: reader
                .duration(map, "unhealthy_grace")?
                .unwrap_or(Duration::from_secs(30)),
            health_url: text(map, "", "health_url")?.or(map
                .get("haproxy")
                .and_then(|h| h.get("health_url"))
                .and_then(Json::as_str)
                .map(str::to_string)),
            poll_interval: reader
                .duration(map, "poll_interval")?
                .unwrap_or(Duration::from_secs(1)),
            on_failure: reader.on_failure(map)?,
        })
    }
}

struct Reader {
    values: Values,
}

impl Reader {
    /// The value of `key`, or `None` when absent, null, or (as written)
    /// templated: its default stands in until it is rendered.
    fn known<'a>(&self, map: &'a Map<String, Json>, key: &str) -> Option<&'a Json> {
        map.get(key).filter(|v| !v.is_null() && !self.pending(v))
    }

    fn pending(&self, value: &Json) -> bool {
        matches!(value, Json::String(s) if self.pending_text(s))
    }

    fn pending_text(&self, text: &str) -> bool {
        self.values == Values::Written && crate::template::is_template(text)
    }

    fn elbv2(&self, section: &Json) -> Result<Manager, KeyError> {
        if self.pending(section) {
            return Ok(Manager::Elbv2 {
                target_groups: Vec::new(),
                port: None,
            });
        }
        let map = submap(section, "elbv2", ELBV2_KEYS, "with target_groups:")?;
        let groups = match map.get("target_groups").or(map.get("target_group")) {
            Some(Json::Array(items)) if !items.is_empty() => {
                items.iter().map(crate::core::display_text).collect()
            }
            Some(Json::String(one)) => vec![one.clone()],
            _ => {
                return Err(KeyError::new(
                    "elbv2",
                    "elbv2 needs target_groups: a list of target group ARNs or names",
                ));
            }
        };
        let port = match self.known(map, "port") {
            None => None,
            Some(v) => Some(port(v)?),
        };
        Ok(Manager::Elbv2 {
            target_groups: groups,
            port,
        })
    }

    fn haproxy(&self, section: &Json) -> Result<Manager, KeyError> {
        if self.pending(section) {
            return Ok(Manager::Haproxy {
                socket: String::new(),
                via: None,
                backend: String::new(),
                server: String::new(),
            });
        }
        let map = submap(
            section,
            "haproxy",
            HAPROXY_KEYS,
            "with socket:, backend:, server:",
        )?;
        let need = |key: &str| {
            text(map, "haproxy", key)?
                .ok_or_else(|| KeyError::new("haproxy", format!("haproxy needs {key}:")))
        };
        let (socket, backend, server) = (need("socket")?, need("backend")?, need("server")?);
        if !self.pending_text(&socket) {
            Address::parse(&socket).map_err(|e| KeyError::new("haproxy.socket", e))?;
        }
        for (key, name) in [("backend", &backend), ("server", &server)] {
            if !self.pending_text(name) {
                check_name(key, name).map_err(|e| KeyError::new(&format!("haproxy.{key}"), e))?;
            }
        }
        Ok(Manager::Haproxy {
            socket,
            via: text(map, "haproxy", "via")?,
            backend,
            server,
        })
    }

    fn duration(&self, map: &Map<String, Json>, key: &str) -> Result<Option<Duration>, KeyError> {
        let Some(value) = self.known(map, key) else {
            return Ok(None);
        };
        let secs = match value {
            Json::Number(n) => n.as_f64(),
            Json::String(s) => parse_duration(s),
            _ => None,
        };
        let secs = secs.ok_or_else(|| {
            KeyError::new(
                key,
                format!("{key} must be a duration such as 90, \"90s\" or \"5m\", not {value}"),
            )
        })?;
        duration_from_secs(secs)
            .map(Some)
            .map_err(|e| KeyError::new(key, format!("{key}: {e}")))
    }

    fn min_healthy(&self, map: &Map<String, Json>) -> Result<MinHealthy, KeyError> {
        let Some(value) = self.known(map, "min_healthy") else {
            return Ok(MinHealthy::Count(1));
        };
        let parsed = match value {
            Json::Number(n) => n.as_u64().map(|n| MinHealthy::Count(n as usize)),
            Json::String(s) => match s.trim().strip_suffix('%') {
                Some(p) => p
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|p| (0.0..=100.0).contains(p))
                    .map(MinHealthy::Percent),
                None => s.trim().parse().ok().map(MinHealthy::Count),
            },
            _ => None,
        };
        parsed.ok_or_else(|| {
            KeyError::new(
                "min_healthy",
                format!("min_healthy must be a count (1) or a percentage (\"50%\"), not {value}"),
            )
        })
    }

    fn on_failure(&self, map: &Map<String, Json>) -> Result<OnFailure, KeyError> {
        if self.known(map, "on_failure").is_none() {
            return Ok(OnFailure::KeepOut);
        }
        match text(map, "", "on_failure")?.as_deref() {
            Some("restore") => Ok(OnFailure::Restore),
            Some("rollback") => Ok(OnFailure::Rollback),
            Some("keep_out") | None => Ok(OnFailure::KeepOut),
            Some(other) => Err(KeyError {
                path: "on_failure".into(),
                message: format!("on_failure must be keep_out, restore or rollback, not '{other}'"),
                help: crate::diag::suggestion(other, ON_FAILURE.iter().copied()),
            }),
        }
    }
}

/// A manager's own mapping (`elbv2:`, `haproxy:`), its keys checked.
fn submap<'a>(
    section: &'a Json,
    name: &str,
    known: &[&str],
    shape: &str,
) -> Result<&'a Map<String, Json>, KeyError> {
    let map = section
        .as_object()
        .ok_or_else(|| KeyError::new(name, format!("{name} must be a mapping {shape}")))?;
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(key) => Err(KeyError::unknown(name, key, known)),
        None => Ok(map),
    }
}

fn port(v: &Json) -> Result<u16, KeyError> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .ok_or_else(|| KeyError::new("elbv2.port", format!("port must be 1..65535, not {v}")))
}

/// A string-valued key of `map` (whose path is `parent`).
fn text(map: &Map<String, Json>, parent: &str, key: &str) -> Result<Option<String>, KeyError> {
    match map.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(Json::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(KeyError::new(
            &join(parent, key),
            format!("{key} must be a string, not {other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_both_managers_and_defaults() {
        let c = LbConfig::parse(&json!({
            "elbv2": {"target_groups": ["arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/web/1"], "port": "8080"},
            "min_healthy": "50%", "drain_timeout": "5m", "on_failure": "restore"
        }))
        .unwrap();
        assert_eq!(c.min_healthy, MinHealthy::Percent(50.0));
        assert_eq!(c.drain_timeout, Some(Duration::from_secs(300)));
        assert_eq!(c.healthy_timeout, Duration::from_secs(300));
        assert_eq!(c.on_failure, OnFailure::Restore);
        assert!(matches!(
            c.manager,
            Manager::Elbv2 {
                port: Some(8080),
                ..
            }
        ));

        let c = LbConfig::parse(&json!({"haproxy": {
            "socket": "/run/haproxy.sock", "backend": "app", "server": "web1",
            "health_url": "http://127.0.0.1:8080/health"
        }}))
        .unwrap();
        assert_eq!(c.min_healthy, MinHealthy::Count(1));
        assert_eq!(
            c.health_url.as_deref(),
            Some("http://127.0.0.1:8080/health")
        );
    }

    #[test]
    fn bad_sections_say_what_to_write() {
        let err = |v: Json| LbConfig::parse(&v).unwrap_err().to_string();
        assert!(err(json!({"haproxy": {"socket": "s", "backend": "b", "server": "x"}, "drain_timout": 3})).contains("did you mean 'drain_timeout'"));
        assert!(err(json!({})).contains("elbv2: or haproxy:"));
        assert!(err(json!({"haproxy": {"socket": "s"}})).contains("backend"));
        assert!(
            err(json!({"elbv2": {"target_groups": ["x"]}, "min_healthy": "lots"}))
                .contains("min_healthy")
        );
        assert!(
            err(json!({"elbv2": {"target_groups": ["x"]}, "drain_timeout": "soon"}))
                .contains("drain_timeout")
        );
        assert!(
            err(json!({"elbv2": {"target_groups": ["x"]}, "on_failure": "pray"}))
                .contains("keep_out")
        );
    }

    fn path(v: Json) -> (String, Option<String>) {
        let e = LbConfig::parse(&v).unwrap_err();
        (e.path, e.help)
    }

    #[test]
    fn errors_name_the_key_path() {
        let tg = json!({"target_groups": ["x"]});
        assert_eq!(
            path(json!({"elbv2": tg, "drain_timout": 3})),
            (
                "drain_timout".into(),
                Some("did you mean 'drain_timeout'?".into())
            )
        );
        assert_eq!(
            path(json!({"elbv2": {"target_grups": ["x"]}})),
            (
                "elbv2.target_grups".into(),
                Some("did you mean 'target_groups'?".into())
            )
        );
        assert_eq!(path(json!({"elbv2": {"port": 80}})).0, "elbv2");
        assert_eq!(path(json!({"elbv2": {"target_groups": []}})).0, "elbv2");
        assert_eq!(
            path(json!({"elbv2": {"target_groups": ["x"], "port": 0}})).0,
            "elbv2.port"
        );
        assert_eq!(path(json!({"elbv2": tg, "haproxy": {}})).0, "haproxy");
        assert_eq!(path(json!({"haproxy": {"backend": "b"}})).0, "haproxy");
        assert_eq!(
            path(json!({"haproxy": {"socket": "admin.sock", "backend": "b", "server": "s"}})).0,
            "haproxy.socket"
        );
        assert_eq!(
            path(json!({"elbv2": tg, "healthy_timeout": [1]})).0,
            "healthy_timeout"
        );
        assert_eq!(
            path(json!({"elbv2": tg, "min_healthy": "150%"})).0,
            "min_healthy"
        );
        assert_eq!(
            path(json!({"elbv2": tg, "on_failure": "restor"})),
            ("on_failure".into(), Some("did you mean 'restore'?".into()))
        );
        assert_eq!(
            path(json!({"elbv2": tg, "health_url": {"a": 1}})).0,
            "health_url"
        );
        assert_eq!(path(json!("elbv2")).0, "");
    }

    #[test]
    fn as_written_templates_wait_for_rendering() {
        let written = json!({
            "elbv2": {"target_groups": "{{ tgs }}", "port": "{{ port }}"},
            "min_healthy": "{{ min }}", "drain_timeout": "{{ drain }}",
            "on_failure": "{{ policy }}"
        });
        let c = LbConfig::read(&written, Values::Written).unwrap();
        assert_eq!(c.drain_timeout, None);
        assert_eq!(c.on_failure, OnFailure::KeepOut);
        // Rendered, the same text is a value like any other.
        assert_eq!(LbConfig::parse(&written).unwrap_err().path, "elbv2.port");
        let c = LbConfig::read(&json!({"haproxy": "{{ hp }}"}), Values::Written).unwrap();
        assert!(matches!(c.manager, Manager::Haproxy { .. }));
        let socket = json!({"haproxy": {"socket": "{{ s }}", "backend": "b", "server": "x"}});
        assert!(LbConfig::read(&socket, Values::Written).is_ok());
        // Literal values are checked as written.
        let bad = json!({"elbv2": {"target_groups": ["{{ tg }}"]}, "drain_timeout": "5 minutes"});
        assert_eq!(
            LbConfig::read(&bad, Values::Written).unwrap_err().path,
            "drain_timeout"
        );
        let durations = json!({"elbv2": {"target_groups": ["x"]}, "drain_timeout": 90, "healthy_timeout": "90s", "unhealthy_grace": "5m"});
        let c = LbConfig::read(&durations, Values::Written).unwrap();
        assert_eq!(
            (c.drain_timeout, c.healthy_timeout, c.unhealthy_grace),
            (
                Some(Duration::from_secs(90)),
                Duration::from_secs(90),
                Duration::from_secs(300)
            )
        );
    }
}
