//! What makes a run the same rollout as the one `--resume` continues: its
//! playbooks, `--limit`, `--tags`/`--skip-tags` and extra vars, recorded in
//! the journal's first entry. Extra vars may hold secrets, so only their
//! names are written, with a salted hash of their values.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunIdentity {
    pub playbooks: String,
    #[serde(default)]
    pub limit: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub skip_tags: Vec<String>,
    /// The extra vars' names, sorted.
    #[serde(default)]
    pub extra_vars: Vec<String>,
    /// SHA-256 of `salt` and the values (keys sorted), hex.
    #[serde(default)]
    pub extra_values: String,
    #[serde(default)]
    pub salt: String,
}

impl RunIdentity {
    /// This run's identity; `playbooks` as [`super::resume::playbooks_id`]
    /// names them.
    pub fn new(
        playbooks: String,
        limit: Option<String>,
        tags: &[String],
        skip_tags: &[String],
        extra_vars: &Map<String, Json>,
    ) -> RunIdentity {
        let salt = format!(
            "{}-{}",
            std::process::id(),
            chrono::Local::now()
                .timestamp_nanos_opt()
                .unwrap_or_default()
        );
        let mut identity = RunIdentity {
            playbooks,
            limit,
            tags: tags.to_vec(),
            skip_tags: skip_tags.to_vec(),
            extra_vars: Vec::new(),
            extra_values: String::new(),
            salt,
        };
        identity.set_extra_vars(extra_vars);
        identity
    }

    fn set_extra_vars(&mut self, vars: &Map<String, Json>) {
        let mut names: Vec<String> = vars.keys().cloned().collect();
        names.sort();
        self.extra_values = values_hash(&self.salt, vars);
        self.extra_vars = names;
    }

    /// What differs between the run `self` records and `current` (the
    /// values compared with `self`'s salt); empty when they are the same.
    pub fn differences(
        &self,
        current: &RunIdentity,
        extra_vars: &Map<String, Json>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let shown = |v: &[String]| match v.is_empty() {
            true => "none".to_string(),
            false => v.join(","),
        };
        if self.playbooks != current.playbooks {
            out.push(format!(
                "it was of {}, not of {}",
                self.playbooks, current.playbooks
            ));
        }
        if self.limit != current.limit {
            let limit = |l: &Option<String>| l.clone().unwrap_or_else(|| "none".into());
            out.push(format!(
                "--limit was {}, now {}",
                limit(&self.limit),
                limit(&current.limit)
            ));
        }
        for (flag, then, now) in [
            ("--tags", &self.tags, &current.tags),
            ("--skip-tags", &self.skip_tags, &current.skip_tags),
        ] {
            if then != now {
                out.push(format!("{flag} was {}, now {}", shown(then), shown(now)));
            }
        }
        if self.extra_vars != current.extra_vars {
            out.push(format!(
                "the extra vars were {}, now {}",
                shown(&self.extra_vars),
                shown(&current.extra_vars)
            ));
        } else if self.extra_values != values_hash(&self.salt, extra_vars) {
            out.push(format!(
                "the values of the extra vars ({}) differ",
                shown(&self.extra_vars)
            ));
        }
        out
    }
}

/// SHA-256 of the salt and the values, hex; keys sorted at every depth so
/// that `-e` order does not count.
fn values_hash(salt: &str, vars: &Map<String, Json>) -> String {
    fn canonical(value: &Json) -> Json {
        match value {
            Json::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Json::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), canonical(&map[k])))
                        .collect(),
                )
            }
            Json::Array(items) => Json::Array(items.iter().map(canonical).collect()),
            other => other.clone(),
        }
    }
    let values = canonical(&Json::Object(vars.clone()));
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(b"\n");
    hasher.update(values.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(value: Json) -> Map<String, Json> {
        value.as_object().unwrap().clone()
    }

    fn id(limit: Option<&str>, tags: &[&str], extra: &Map<String, Json>) -> RunIdentity {
        let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        RunIdentity::new(
            "/p/site.yaml".into(),
            limit.map(Into::into),
            &tags,
            &[],
            extra,
        )
    }

    #[test]
    fn the_same_run_has_no_differences_and_secrets_are_not_written() {
        let extra = vars(json!({"version": "2.0", "password": "hunter2", "m": {"b": 1, "a": 2}}));
        let then = id(Some("web"), &["deploy"], &extra);
        let text = serde_json::to_string(&then).unwrap();
        assert!(!text.contains("hunter2") && !text.contains("2.0"), "{text}");
        // Another salt, keys in another order: still the same run.
        let reordered =
            vars(json!({"m": {"a": 2, "b": 1}, "password": "hunter2", "version": "2.0"}));
        let now = id(Some("web"), &["deploy"], &reordered);
        assert_ne!(then.extra_values, now.extra_values, "salted");
        assert!(then.differences(&now, &reordered).is_empty());
    }

    #[test]
    fn each_difference_is_named() {
        let extra = vars(json!({"version": "2.0"}));
        let then = id(Some("web"), &["deploy"], &extra);
        let other = vars(json!({"version": "2.1"}));
        let diff = then.differences(&id(Some("web"), &["deploy"], &other), &other);
        assert_eq!(diff, ["the values of the extra vars (version) differ"]);
        let diff = then.differences(&id(None, &[], &extra), &extra);
        assert_eq!(
            diff,
            ["--limit was web, now none", "--tags was deploy, now none"]
        );
        let more = vars(json!({"version": "2.0", "x": 1}));
        let diff = then.differences(&id(Some("web"), &["deploy"], &more), &more);
        assert_eq!(diff, ["the extra vars were version, now version,x"]);
    }
}
