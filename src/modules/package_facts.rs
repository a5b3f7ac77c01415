//! `package_facts`: the installed packages as `ansible_facts.packages`
//! (`{name: [{name, version, ...}]}`), read with `dpkg-query` (apt:
//! `arch, category, source`) and `rpm -qa` (rpm, and its aliases dnf, yum,
//! zypper: `release, epoch, arch, source`), no Python on the host.
//! Ansible's `origin` (from python-apt's cache) is not reported.

use super::registry::Module;
use super::spec::{Kind, ModuleSpec, choices, p};
use super::{ModuleContext, TaskResult, Vars};
use serde_json::{Map, Value as Json, json};

pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "package_facts",
        &[
            p("manager", Kind::List),
            choices(p("strategy", Kind::Str), &["first", "all"]),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

/// Every package dpkg knows: `STATUS<TAB>NAME<TAB>VERSION<TAB>ARCH<TAB>SECTION`.
const DPKG_QUERY: &str = "dpkg-query -W -f='${db:Status-Abbrev}\\t${Package}\\t${Version}\\t${Architecture}\\t${Section}\\n'";

/// Every package rpm knows: `NAME<TAB>VERSION<TAB>RELEASE<TAB>EPOCH<TAB>ARCH`
/// (`(none)` for no epoch).
const RPM_QUERY: &str = "rpm -qa --qf '%{NAME}\\t%{VERSION}\\t%{RELEASE}\\t%{EPOCH}\\t%{ARCH}\\n'";

/// The managers rollout reads, in Ansible's order for `auto` (its sorted
/// names).
const MANAGERS: &[&str] = &["apt", "rpm"];

/// One exec reads every manager the host has, each section headed by
/// `#MANAGER` (a manager whose tool is missing prints nothing).
fn query_script() -> String {
    format!(
        "export LC_ALL=C; \
         if command -v dpkg-query >/dev/null 2>&1; then echo '#apt'; {DPKG_QUERY}; fi; \
         if command -v rpm >/dev/null 2>&1; then echo '#rpm'; {RPM_QUERY}; fi"
    )
}

/// The requested managers with Ansible's aliases resolved (`dnf` is `rpm`),
/// `auto` expanded, each once; the first name rollout cannot read fails.
fn managers(requested: &[String]) -> Result<Vec<&'static str>, String> {
    let mut wanted = Vec::new();
    for name in requested {
        let resolved: &[&'static str] = match name.as_str() {
            "auto" => MANAGERS,
            "apt" => &["apt"],
            "rpm" | "dnf" | "dnf5" | "yum" | "zypper" => &["rpm"],
            other => {
                return Err(format!(
                    "package_facts: the manager '{other}' is not supported by rollout yet (apt and rpm)"
                ));
            }
        };
        for m in resolved {
            if !wanted.contains(m) {
                wanted.push(*m);
            }
        }
    }
    Ok(wanted)
}

/// The script's output split into each manager's section.
fn sections(stdout: &str) -> Vec<(&str, String)> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for line in stdout.lines() {
        if let Some(manager) = line.strip_prefix('#') {
            out.push((manager, String::new()));
        } else if let Some((_, text)) = out.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out
}

fn push(packages: &mut Map<String, Json>, name: &str, entry: Json) {
    if let Json::Array(items) = packages.entry(name).or_insert_with(|| json!([])) {
        items.push(entry);
    }
}

/// The installed packages in `dpkg-query`'s output, by name (a name may be
/// installed for several architectures).
pub fn parse(stdout: &str) -> Map<String, Json> {
    let mut packages = Map::new();
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [status, name, version, arch, section] = fields[..] else {
            continue;
        };
        if status.as_bytes().get(1) != Some(&b'i') {
            continue;
        }
        let entry = json!({
            "name": name, "version": version, "arch": arch,
            "category": section, "source": "apt",
        });
        push(&mut packages, name, entry);
    }
    packages
}

/// The installed packages in `rpm -qa`'s output, by name (kernels are
/// installed side by side), as Ansible's rpm manager gives them.
pub fn parse_rpm(stdout: &str) -> Map<String, Json> {
    let mut packages = Map::new();
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, version, release, epoch, arch] = fields[..] else {
            continue;
        };
        let epoch = match epoch {
            "(none)" | "" => Json::Null,
            e => Json::String(e.to_string()),
        };
        let entry = json!({
            "name": name, "version": version, "release": release,
            "epoch": epoch, "arch": arch, "source": "rpm",
        });
        push(&mut packages, name, entry);
    }
    packages
}

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let requested: Vec<String> = match args.get("manager") {
        Some(Json::Array(items)) => items
            .iter()
            .map(|v| crate::core::display_text(v).to_lowercase())
            .collect(),
        _ => vec!["auto".into()],
    };
    let wanted = match managers(&requested) {
        Ok(wanted) => wanted,
        Err(msg) => return TaskResult::failed(msg),
    };
    let first_only = super::arg_str(args, "strategy") != Some("all");
    let out = match ctx.conn.exec(&query_script(), None).await {
        Ok(out) => out,
        Err(e) => return TaskResult::from_connection(e),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let found = sections(&stdout);
    let mut packages = Map::new();
    let mut warnings = Vec::new();
    let mut used = 0;
    for manager in &wanted {
        if first_only && used > 0 {
            break;
        }
        let Some((_, text)) = found.iter().find(|(m, _)| m == manager) else {
            continue;
        };
        let these = match *manager {
            "apt" => parse(text),
            _ => parse_rpm(text),
        };
        if these.is_empty() {
            warnings.push(json!(format!(
                "Found \"{manager}\" but no associated packages"
            )));
            continue;
        }
        used += 1;
        for (name, entries) in these {
            if let Json::Array(items) = entries {
                for entry in items {
                    push(&mut packages, &name, entry);
                }
            }
        }
    }
    if used == 0 {
        return TaskResult::failed(format!(
            "Could not detect a supported package manager from the following list: {wanted:?}, \
             or the required Python library is not installed. Check warnings for details."
        ))
        .with("warnings", Json::Array(warnings))
        .with("stderr", String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let mut result = TaskResult::ok().with("ansible_facts", json!({ "packages": packages }));
    if !warnings.is_empty() {
        result = result.with("warnings", Json::Array(warnings));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_packages_by_name_with_each_architecture() {
        let got = parse(
            "ii \tbash\t5.2\tamd64\tshells\nrc \told\t1\tall\tmisc\n\
             ii \tlibc6\t2.36\tamd64\tlibs\nii \tlibc6\t2.36\ti386\tlibs\n",
        );
        assert_eq!(
            got["bash"],
            json!([{"name": "bash", "version": "5.2", "arch": "amd64", "category": "shells", "source": "apt"}])
        );
        assert!(!got.contains_key("old"));
        assert_eq!(got["libc6"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn rpm_packages_with_release_and_epoch_as_ansible_gives_them() {
        let got = parse_rpm(
            "kernel\t5.14.0\t362.el9\t(none)\tx86_64\nkernel\t5.14.0\t427.el9\t(none)\tx86_64\nopenssl\t3.0.7\t27.el9\t1\tx86_64\nbroken line\n",
        );
        assert_eq!(got["kernel"].as_array().unwrap().len(), 2);
        assert_eq!(
            got["openssl"],
            json!([{"name": "openssl", "version": "3.0.7", "release": "27.el9", "epoch": "1", "arch": "x86_64", "source": "rpm"}])
        );
        assert_eq!(got["kernel"][0]["epoch"], Json::Null);
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn managers_resolve_aliases_and_auto_in_order() {
        let names = |v: &[&str]| managers(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(names(&["auto"]).unwrap(), vec!["apt", "rpm"]);
        assert_eq!(names(&["dnf", "yum", "apt"]).unwrap(), vec!["rpm", "apt"]);
        assert!(names(&["pacman"]).unwrap_err().contains("'pacman'"));
        let split = sections("#apt\nii \tbash\t5.2\tamd64\tshells\n#rpm\n");
        assert_eq!(split.len(), 2);
        assert_eq!(split[1], ("rpm", String::new()));
    }
}
