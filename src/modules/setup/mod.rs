//! `setup`: the host's facts, as Ansible's `setup` module returns them
//! (`ansible_facts` with `ansible_`-prefixed names), gathered by one POSIX
//! shell script ([`SCRIPT`]) in one exec per host: no Python on the host.
//! The script prints raw sections; [`parser`] cuts them and the fact
//! builders ([`system`], [`hardware`], [`network`]) compute the values the
//! way Ansible's collectors do. `gather_subset` and `filter` select what is
//! returned, as Ansible's; every subset is read in the same round trip.

mod hardware;
mod network;
pub mod parser;
mod system;

use super::registry::Module;
use super::spec::{Kind, ModuleSpec, p};
use super::{ModuleContext, TaskResult, Vars};
use parser::Sections;
use serde_json::{Value as Json, json};
use system::Facts;

/// The gathering script, run with `sh -c`.
pub const SCRIPT: &str = include_str!("script.sh");

/// `setup`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "setup",
        &[
            p("gather_subset", Kind::Any),
            p("filter", Kind::Any),
            p("gather_timeout", Kind::Int),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

/// A collector: its name (usable in `gather_subset`), its subset, and how
/// it adds its facts.
type Collect = fn(&Sections<'_>, &mut Facts);
const COLLECTORS: &[(&str, Subset, Collect)] = &[
    ("platform", Subset::Min, system::platform),
    ("distribution", Subset::Min, system::distribution),
    ("user", Subset::Min, system::user),
    ("date_time", Subset::Min, system::date_time),
    ("service_mgr", Subset::Min, system::service_mgr),
    ("pkg_mgr", Subset::Min, system::pkg_mgr),
    ("python", Subset::Min, system::python),
    ("fips", Subset::Min, system::fips),
    ("env", Subset::Min, system::env),
    ("hardware", Subset::Hardware, hardware::collect),
    ("network", Subset::Network, network::collect),
    ("virtual", Subset::Virtual, system::virtual_facts),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subset {
    Min,
    Hardware,
    Network,
    Virtual,
}

/// The subsets Ansible accepts that rollout has nothing for (external
/// fact tools, facts of other systems): accepted, gather nothing.
const EMPTY_SUBSETS: &[&str] = &[
    "ohai",
    "facter",
    "apparmor",
    "caps",
    "cmdline",
    "dns",
    "local",
    "lsb",
    "selinux",
    "ssh_pub_keys",
    "devices",
    "dmi",
    "fibre_channel_wwn",
    "iscsi",
    "nvme",
    "chroot",
    "loadavg",
    "systemd",
];

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let subsets = match list_arg(args.get("gather_subset"), "all") {
        Ok(list) => list,
        Err(e) => return TaskResult::failed(format!("gather_subset: {e}")),
    };
    let chosen = match choose(&subsets) {
        Ok(chosen) => chosen,
        Err(e) => return TaskResult::failed(e),
    };
    let filters = match list_arg(args.get("filter"), "") {
        Ok(list) => list,
        Err(e) => return TaskResult::failed(format!("filter: {e}")),
    };
    // Ansible's gather_timeout bounds each collector; here, the one script.
    let limit = args
        .get("gather_timeout")
        .and_then(Json::as_u64)
        .unwrap_or(10);
    let command = format!("sh -c {}", crate::core::shell_quote(SCRIPT));
    let exec = ctx.conn.exec(&command, None);
    let output = match tokio::time::timeout(std::time::Duration::from_secs(limit), exec).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return TaskResult::from_connection(e),
        Err(_) => {
            return TaskResult::failed(format!(
                "gathering facts took longer than gather_timeout ({limit} s)"
            ));
        }
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let sections = Sections::parse(&text);
    if !sections.complete() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return TaskResult::failed(format!(
            "gathering facts failed: the host's shell stopped early (rc {}): {}",
            output.rc,
            stderr.trim()
        ));
    }
    let mut facts = Facts::new();
    for (name, _, collect) in COLLECTORS {
        if chosen.contains(name) {
            collect(&sections, &mut facts);
        }
    }
    let mut prefixed: Facts = facts
        .into_iter()
        .map(|(k, v)| (format!("ansible_{k}"), v))
        .collect();
    prefixed.insert("gather_subset".into(), json!(subsets));
    prefixed.insert("module_setup".into(), json!(true));
    match select(prefixed, &filters) {
        Ok(selected) => TaskResult::ok().with("ansible_facts", Json::Object(selected)),
        Err(e) => TaskResult::failed(format!("filter: {e}")),
    }
}

/// A list argument given as a list or a comma-separated string.
fn list_arg(value: Option<&Json>, default: &str) -> Result<Vec<String>, String> {
    let split = |s: &str| -> Vec<String> {
        (s.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    match value {
        None | Some(Json::Null) => Ok(split(default)),
        Some(Json::String(s)) => Ok(split(s)),
        Some(Json::Array(items)) => (items.iter())
            .map(|i| match i {
                Json::String(s) => Ok(s.trim().to_string()),
                other => Err(format!("expected a list of strings, got {other}")),
            })
            .collect(),
        Some(other) => Err(format!("expected a list or a string, got {other}")),
    }
}

/// The collectors `gather_subset` selects, as Ansible's
/// `get_collector_names`: `min` always (unless `!min`), then the additions
/// (`all`, subset or collector names), minus the exclusions (`!name`;
/// `!all` keeps `min`); only exclusions mean "all but those".
fn choose(subsets: &[String]) -> Result<Vec<&'static str>, String> {
    let names_of = |subset: &str| -> Option<Vec<&'static str>> {
        let all = || COLLECTORS.iter().map(|(n, _, _)| *n).collect::<Vec<_>>();
        let of = |kind: Subset| {
            (COLLECTORS.iter())
                .filter(|(_, s, _)| *s == kind)
                .map(|(n, _, _)| *n)
                .collect::<Vec<_>>()
        };
        match subset {
            "all" => Some(all()),
            "min" => Some(of(Subset::Min)),
            "hardware" => Some(of(Subset::Hardware)),
            "network" | "interfaces" => Some(of(Subset::Network)),
            "virtual" => Some(of(Subset::Virtual)),
            name if EMPTY_SUBSETS.contains(&name) => Some(Vec::new()),
            name => (COLLECTORS.iter())
                .find(|(n, _, _)| *n == name)
                .map(|(n, _, _)| vec![*n]),
        }
    };
    let only_exclusions = subsets.iter().all(|s| s.starts_with('!'));
    let mut added: Vec<&str> = names_of("min").unwrap_or_default();
    if only_exclusions {
        added = names_of("all").unwrap_or_default();
    }
    let (mut excluded, mut explicit) = (Vec::new(), Vec::new());
    for subset in subsets {
        let (negated, name) = match subset.strip_prefix('!') {
            Some(name) => (true, name),
            None => (false, subset.as_str()),
        };
        let names = names_of(name).ok_or_else(|| {
            format!(
                "Bad subset '{name}' given to Ansible. gather_subset options allowed: all, \
                 hardware, min, network, virtual, {}",
                // The subsets above are collectors too; then the `min` ones.
                (COLLECTORS.iter())
                    .filter(|(_, subset, _)| *subset == Subset::Min)
                    .map(|(n, _, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        match (negated, name) {
            (true, "all") => {
                let min = names_of("min").unwrap_or_default();
                excluded.extend(names.into_iter().filter(|n| !min.contains(n)));
            }
            (true, _) => excluded.extend(names),
            (false, "all" | "min") => added.extend(names),
            (false, _) => {
                explicit.extend(names.iter().copied());
                added.extend(names);
            }
        }
    }
    let mut chosen: Vec<&str> = (COLLECTORS.iter())
        .map(|(n, _, _)| *n)
        .filter(|n| added.contains(n) && !excluded.contains(n) || explicit.contains(n))
        .collect();
    // The facts a chosen collector needs come along, as Ansible's
    // `required_facts` bring them.
    for (collector, needs) in REQUIRES {
        if chosen.contains(collector) {
            chosen.extend(
                needs
                    .iter()
                    .filter(|n| !chosen.contains(n))
                    .collect::<Vec<_>>(),
            );
        }
    }
    Ok((COLLECTORS.iter())
        .map(|(n, _, _)| *n)
        .filter(|n| chosen.contains(n))
        .collect())
}

/// Ansible's `required_facts` of the collectors rollout has.
const REQUIRES: &[(&str, &[&str])] = &[
    ("network", &["platform", "distribution"]),
    ("hardware", &["platform"]),
];

/// The facts whose names match one of the `filter` globs (all without).
fn select(facts: Facts, filters: &[String]) -> Result<Facts, String> {
    if filters.is_empty() {
        return Ok(facts);
    }
    let globs = (filters.iter())
        .map(|f| {
            globset::Glob::new(f)
                .map(|g| g.compile_matcher())
                .map_err(|e| format!("'{f}': {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(facts
        .into_iter()
        .filter(|(k, _)| globs.iter().any(|g| g.is_match(k)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(subsets: &[&str]) -> Vec<&'static str> {
        choose(&subsets.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn subsets_follow_ansible() {
        assert_eq!(chosen(&["all"]).len(), COLLECTORS.len());
        let min = chosen(&["!all"]);
        assert!(min.contains(&"platform") && !min.contains(&"hardware"));
        assert!(chosen(&["!all", "!min"]).is_empty());
        assert_eq!(
            chosen(&["!all", "!min", "network"]),
            ["platform", "distribution", "network"]
        );
        assert_eq!(chosen(&["!all", "!min", "virtual"]), ["virtual"]);
        let no_hw = chosen(&["!hardware"]);
        assert!(no_hw.contains(&"network") && !no_hw.contains(&"hardware"));
        assert!(choose(&["bogus".to_string()]).is_err());
    }

    #[test]
    fn filter_globs() {
        let mut facts = Facts::new();
        facts.insert("ansible_system".into(), json!("Linux"));
        facts.insert("ansible_kernel".into(), json!("6"));
        let kept = select(facts, &["ansible_sys*".into()]).unwrap();
        assert_eq!(kept.keys().collect::<Vec<_>>(), ["ansible_system"]);
    }
}

#[cfg(test)]
mod exec_tests {
    use super::*;
    use crate::connection::{Connection, ConnectionError, ExecOutput, local::LocalConnection};
    use crate::template::Templar;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// This machine, counting the commands it is asked to run.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    #[async_trait::async_trait]
    impl Connection for Counting {
        async fn exec(
            &self,
            cmd: &str,
            stdin: Option<&[u8]>,
        ) -> Result<ExecOutput, ConnectionError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            LocalConnection.exec(cmd, stdin).await
        }
    }

    #[tokio::test]
    async fn gathering_is_one_exec() {
        let conn = Counting::default();
        let (templar, scope) = (Templar::new(), minijinja::Value::default());
        let ctx = ModuleContext {
            host: "here",
            conn: &conn,
            templar: &templar,
            scope: &scope,
            check_mode: false,
            diff: false,
            verbosity: 0,
            base_dir: std::path::Path::new("/"),
            role_dir: None,
        };
        let result = run(&Vars::new(), &ctx).await;
        assert!(!result.failed, "{:?}", result.msg);
        assert_eq!(conn.0.load(Ordering::SeqCst), 1);
        let facts = &result.data["ansible_facts"];
        for name in [
            "ansible_hostname",
            "ansible_mounts",
            "ansible_interfaces",
            "ansible_env",
        ] {
            assert!(facts.get(name).is_some(), "{name} missing");
        }
        assert_eq!(facts["module_setup"], true);
    }
}
