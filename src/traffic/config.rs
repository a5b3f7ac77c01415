//! The play's `load_balancer:` section, rendered with the host's variables
//! and checked: which manager, and the lifecycle's bounds and policy.

use super::wait::MinHealthy;
use crate::core::parse_duration;
use serde_json::{Map, Value as Json};
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

impl LbConfig {
    /// Parses a rendered section; errors name the key and what to write.
    pub fn parse(section: &Json) -> Result<LbConfig, String> {
        let map = section
            .as_object()
            .ok_or("load_balancer must be a mapping with elbv2: or haproxy:")?;
        if let Some(key) = map.keys().find(|k| !KEYS.contains(&k.as_str())) {
            let hint = crate::diag::did_you_mean(key, KEYS.iter().copied())
                .map(|k| format!(" (did you mean '{k}'?)"))
                .unwrap_or_default();
            return Err(format!("unknown load_balancer key '{key}'{hint}"));
        }
        let manager = match (map.get("elbv2"), map.get("haproxy")) {
            (Some(_), Some(_)) => {
                return Err("load_balancer takes elbv2: or haproxy:, not both".into());
            }
            (Some(e), None) => elbv2(e)?,
            (None, Some(h)) => haproxy(h, map)?,
            (None, None) => return Err("load_balancer needs elbv2: or haproxy:".into()),
        };
        Ok(LbConfig {
            manager,
            min_healthy: min_healthy(map.get("min_healthy"))?,
            drain_timeout: duration(map, "drain_timeout")?,
            healthy_timeout: duration(map, "healthy_timeout")?.unwrap_or(Duration::from_secs(300)),
            unhealthy_grace: duration(map, "unhealthy_grace")?.unwrap_or(Duration::from_secs(30)),
            health_url: text(map, "health_url")?.or(map
                .get("haproxy")
                .and_then(|h| h.get("health_url"))
                .and_then(Json::as_str)
                .map(str::to_string)),
            poll_interval: duration(map, "poll_interval")?.unwrap_or(Duration::from_secs(1)),
            on_failure: match text(map, "on_failure")?.as_deref() {
                None | Some("keep_out") => OnFailure::KeepOut,
                Some("restore") => OnFailure::Restore,
                Some("rollback") => OnFailure::Rollback,
                Some(other) => {
                    return Err(format!(
                        "on_failure must be keep_out, restore or rollback, not '{other}'"
                    ));
                }
            },
        })
    }
}

fn elbv2(section: &Json) -> Result<Manager, String> {
    let map = section
        .as_object()
        .ok_or("elbv2 must be a mapping with target_groups:")?;
    let groups = match map.get("target_groups").or(map.get("target_group")) {
        Some(Json::Array(items)) => items.iter().map(crate::core::display_text).collect(),
        Some(Json::String(one)) => vec![one.clone()],
        _ => return Err("elbv2 needs target_groups: a list of target group ARNs or names".into()),
    };
    let port = match map.get("port") {
        None | Some(Json::Null) => None,
        Some(v) => Some(port(v)?),
    };
    Ok(Manager::Elbv2 {
        target_groups: groups,
        port,
    })
}

fn haproxy(section: &Json, _lb: &Map<String, Json>) -> Result<Manager, String> {
    let map = section
        .as_object()
        .ok_or("haproxy must be a mapping with socket:, backend:, server:")?;
    let need = |key: &str| text(map, key)?.ok_or_else(|| format!("haproxy needs {key}:"));
    Ok(Manager::Haproxy {
        socket: need("socket")?,
        via: text(map, "via")?,
        backend: need("backend")?,
        server: need("server")?,
    })
}

fn port(v: &Json) -> Result<u16, String> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("port must be 1..65535, not {v}"))
}

fn text(map: &Map<String, Json>, key: &str) -> Result<Option<String>, String> {
    match map.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(Json::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(format!("{key} must be a string, not {other}")),
    }
}

fn duration(map: &Map<String, Json>, key: &str) -> Result<Option<Duration>, String> {
    let secs = match map.get(key) {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::Number(n)) => n.as_f64(),
        Some(Json::String(s)) => parse_duration(s),
        Some(_) => None,
    };
    secs.filter(|s| *s >= 0.0)
        .map(|s| Some(Duration::from_secs_f64(s)))
        .ok_or_else(|| format!("{key} must be a duration such as 90, \"90s\" or \"5m\""))
}

fn min_healthy(value: Option<&Json>) -> Result<MinHealthy, String> {
    let bad = || "min_healthy must be a count (1) or a percentage (\"50%\")".to_string();
    match value {
        None | Some(Json::Null) => Ok(MinHealthy::Count(1)),
        Some(Json::Number(n)) => n
            .as_u64()
            .map(|n| MinHealthy::Count(n as usize))
            .ok_or_else(bad),
        Some(Json::String(s)) => match s.trim().strip_suffix('%') {
            Some(p) => p
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|p| (0.0..=100.0).contains(p))
                .map(MinHealthy::Percent)
                .ok_or_else(bad),
            None => s.trim().parse().map(MinHealthy::Count).map_err(|_| bad()),
        },
        Some(_) => Err(bad()),
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
        let err = |v: Json| LbConfig::parse(&v).unwrap_err();
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
}
