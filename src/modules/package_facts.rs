//! `package_facts`: the installed packages as `ansible_facts.packages`
//! (`{name: [{name, version, arch, category, source}]}`), read from dpkg's
//! database with `dpkg-query` (no Python on the host). Only the apt
//! manager is implemented; Ansible's `origin` (from python-apt's cache) is
//! not reported.

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
const QUERY: &str = "dpkg-query -W -f='${db:Status-Abbrev}\\t${Package}\\t${Version}\\t${Architecture}\\t${Section}\\n'";

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
        let list = packages.entry(name).or_insert_with(|| json!([]));
        if let Json::Array(items) = list {
            items.push(entry);
        }
    }
    packages
}

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let managers: Vec<String> = match args.get("manager") {
        Some(Json::Array(items)) => items
            .iter()
            .map(|v| crate::core::display_text(v).to_lowercase())
            .collect(),
        _ => vec!["auto".into()],
    };
    if let Some(other) = managers
        .iter()
        .find(|m| !matches!(m.as_str(), "auto" | "apt"))
    {
        return TaskResult::failed(format!(
            "package_facts: the manager '{other}' is not supported by rollout yet (only apt)"
        ));
    }
    let out = match ctx.conn.exec(&format!("LC_ALL=C {QUERY}"), None).await {
        Ok(out) => out,
        Err(e) => return TaskResult::from_connection(e),
    };
    if out.rc != 0 {
        return TaskResult::failed(
            "Could not detect a supported package manager from the following list: ['apt'] \
             (rollout reads dpkg's database; dpkg-query failed on this host)",
        )
        .with("stderr", String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let packages = parse(&String::from_utf8_lossy(&out.stdout));
    TaskResult::ok().with("ansible_facts", json!({ "packages": packages }))
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
}
