//! `yum_repository`: one repository's section in a `.repo` INI file under
//! `reposdir` (default /etc/yum.repos.d), as Ansible's module writes it
//! with Python's configparser: the section is rewritten at the file's end
//! with its options in name order (`key = value`, booleans as 1/0, lists
//! of URLs on continuation lines), other sections kept; the file goes
//! when its last section does. Whether anything changed is decided, as in
//! Ansible, on the sorted dump of every section, so formatting alone is
//! no change.

use super::registry::Module;
use super::remote_file::{
    Upload, exec, exec_ok, probe_whole_file, set_attributes, upload, wanted_attributes,
};
use super::spec::{ATTRS, Kind, ModuleSpec, aliases, choices, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_list, arg_str};
use crate::core::{display_text, shell_quote};
use serde_json::json;

/// The options written into the section, by their Ansible name (the
/// `description` argument is the section's `name` key).
const BOOLS: &[&str] = &[
    "async",
    "countme",
    "enabled",
    "enablegroups",
    "gpgcheck",
    "keepalive",
    "module_hotfixes",
    "protect",
    "repo_gpgcheck",
    "s3_enabled",
    "skip_if_unavailable",
    "ssl_check_cert_permissions",
    "sslverify",
];
/// Lists written one item a line (URLs) or space-separated (package globs).
const LINE_LISTS: &[&str] = &["baseurl", "gpgkey"];
const WORD_LISTS: &[&str] = &["exclude", "includepkgs"];
const TEXTS: &[&str] = &[
    "bandwidth",
    "cost",
    "deltarpm_metadata_percentage",
    "deltarpm_percentage",
    "failovermethod",
    "gpgcakey",
    "http_caching",
    "include",
    "ip_resolve",
    "keepcache",
    "metadata_expire",
    "metadata_expire_filter",
    "metalink",
    "mirrorlist",
    "mirrorlist_expire",
    "password",
    "priority",
    "proxy",
    "proxy_password",
    "proxy_username",
    "retries",
    "sslcacert",
    "sslclientcert",
    "sslclientkey",
    "throttle",
    "timeout",
    "ui_repoid_vars",
    "username",
];

pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "yum_repository",
        &[
            required(p("name", Kind::Str)),
            p("description", Kind::Any),
            p("file", Kind::Str),
            p("reposdir", Kind::Str),
            choices(p("state", Kind::Str), &["absent", "present"]),
            p("async", Kind::Bool),
            p("countme", Kind::Bool),
            p("enabled", Kind::Bool),
            p("enablegroups", Kind::Bool),
            p("gpgcheck", Kind::Bool),
            p("keepalive", Kind::Bool),
            p("module_hotfixes", Kind::Bool),
            p("protect", Kind::Bool),
            p("repo_gpgcheck", Kind::Bool),
            p("s3_enabled", Kind::Bool),
            p("skip_if_unavailable", Kind::Bool),
            p("ssl_check_cert_permissions", Kind::Bool),
            aliases(p("sslverify", Kind::Bool), &["validate_certs"]),
            p("baseurl", Kind::List),
            p("gpgkey", Kind::List),
            aliases(p("exclude", Kind::List), &["excludepkgs"]),
            p("includepkgs", Kind::List),
            p("bandwidth", Kind::Any),
            p("cost", Kind::Any),
            p("deltarpm_metadata_percentage", Kind::Any),
            p("deltarpm_percentage", Kind::Any),
            choices(p("failovermethod", Kind::Str), &["roundrobin", "priority"]),
            p("gpgcakey", Kind::Any),
            choices(p("http_caching", Kind::Str), &["all", "packages", "none"]),
            p("include", Kind::Any),
            p("ip_resolve", Kind::Any),
            p("keepcache", Kind::Any),
            p("metadata_expire", Kind::Any),
            choices(
                p("metadata_expire_filter", Kind::Str),
                &[
                    "never",
                    "read-only:past",
                    "read-only:present",
                    "read-only:future",
                ],
            ),
            p("metalink", Kind::Any),
            p("mirrorlist", Kind::Any),
            p("mirrorlist_expire", Kind::Any),
            p("password", Kind::Any),
            p("priority", Kind::Any),
            p("proxy", Kind::Any),
            p("proxy_password", Kind::Any),
            p("proxy_username", Kind::Any),
            p("retries", Kind::Any),
            aliases(p("sslcacert", Kind::Any), &["ca_cert"]),
            aliases(p("sslclientcert", Kind::Any), &["client_cert"]),
            aliases(p("sslclientkey", Kind::Any), &["client_key"]),
            p("throttle", Kind::Any),
            p("timeout", Kind::Any),
            p("ui_repoid_vars", Kind::Any),
            p("username", Kind::Any),
            ATTRS[0],
            ATTRS[1],
            ATTRS[2],
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

const DEFAULT_REPOSDIR: &str = "/etc/yum.repos.d";

/// A `.repo` file as configparser holds it: sections in file order, each
/// with its options in order (keys lower-cased, multi-line values joined
/// by `\n`).
pub type Ini = Vec<(String, Vec<(String, String)>)>;

/// configparser's reading: `[section]`, `key = value` or `key: value`,
/// indented continuation lines, `#`/`;` comment lines.
pub fn parse_ini(text: &str) -> Ini {
    let mut ini: Ini = Vec::new();
    let mut continuing = false;
    for line in text.lines() {
        let stripped = line.trim();
        if stripped.is_empty() || stripped.starts_with(['#', ';']) {
            continuing = false;
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        if indented && continuing {
            if let Some((_, value)) = ini.last_mut().and_then(|(_, o)| o.last_mut()) {
                value.push('\n');
                value.push_str(stripped);
            }
            continue;
        }
        if let Some(header) = stripped
            .strip_prefix('[')
            .and_then(|r| r.rfind(']').map(|i| &r[..i]))
        {
            ini.retain(|(s, _)| s != header);
            ini.push((header.to_string(), Vec::new()));
            continuing = false;
            continue;
        }
        let Some(i) = stripped.find(['=', ':']) else {
            continue;
        };
        let (key, value) = (
            stripped[..i].trim_end().to_lowercase(),
            stripped[i + 1..].trim(),
        );
        if let Some((_, options)) = ini.last_mut() {
            options.retain(|(k, _)| *k != key);
            options.push((key, value.to_string()));
            continuing = true;
        }
    }
    ini
}

/// configparser's writing: `[section]`, `key = value` (continuation
/// lines indented by a tab), a blank line after each section.
pub fn write_ini(ini: &Ini) -> String {
    let mut out = String::new();
    for (section, options) in ini {
        out.push_str(&format!("[{section}]\n"));
        for (key, value) in options {
            out.push_str(&format!("{key} = {}\n", value.replace('\n', "\n\t")));
        }
        out.push('\n');
    }
    out
}

/// Ansible's `dump`, what `changed` and the diff compare: sections and
/// their keys sorted.
pub fn dump(ini: &Ini) -> String {
    let mut sections: Vec<&(String, Vec<(String, String)>)> = ini.iter().collect();
    sections.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::new();
    for (section, options) in sections {
        out.push_str(&format!("[{section}]\n"));
        let mut options = options.clone();
        options.sort();
        for (key, value) in options {
            out.push_str(&format!("{key} = {value}\n"));
        }
        out.push('\n');
    }
    out
}

/// The section's options from the arguments, sorted by name as Ansible
/// sets them.
pub fn options(args: &Vars) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let given = |key: &str| args.get(key).filter(|v| !v.is_null());
    for key in BOOLS {
        if let Some(v) = given(key) {
            let on = v.as_bool().unwrap_or(false);
            out.push((key.to_string(), if on { "1" } else { "0" }.into()));
        }
    }
    for (keys, sep) in [(LINE_LISTS, "\n"), (WORD_LISTS, " ")] {
        for key in keys {
            if given(key).is_some() {
                out.push((key.to_string(), arg_list(args, key).join(sep)));
            }
        }
    }
    for key in TEXTS {
        if let Some(v) = given(key) {
            out.push((key.to_string(), display_text(v)));
        }
    }
    if let Some(v) = given("description") {
        out.push(("name".into(), display_text(v)));
    }
    out.sort();
    out
}

/// Ansible's required_if for state=present.
fn check_present(args: &Vars) -> Result<(), String> {
    let has = |k: &str| args.get(k).is_some_and(|v| !v.is_null());
    if !["baseurl", "mirrorlist", "metalink"].iter().any(|k| has(k)) {
        return Err(
            "state is present but any of the following are missing: baseurl, mirrorlist, metalink"
                .into(),
        );
    }
    if !has("description") {
        return Err("state is present but all of the following are missing: description".into());
    }
    Ok(())
}

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match run_checked(args, ctx).await {
        Ok(result) | Err(result) => result,
    }
}

async fn run_checked(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let name = arg_str(args, "name").unwrap_or_default();
    let state = arg_str(args, "state").unwrap_or("present");
    if state == "present" {
        check_present(args).map_err(TaskResult::failed)?;
    }
    let reposdir = arg_str(args, "reposdir").unwrap_or(DEFAULT_REPOSDIR);
    let dir_check = format!("test -d {}", shell_quote(reposdir));
    if exec(ctx, &dir_check, None).await?.rc != 0 {
        return Err(TaskResult::failed(format!(
            "Repo directory '{reposdir}' does not exist."
        )));
    }
    let file = arg_str(args, "file").unwrap_or(name);
    let dest = format!("{}/{file}.repo", reposdir.trim_end_matches('/'));
    let found = probe_whole_file(ctx, &dest).await?;
    let text = found
        .content
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let before = parse_ini(&text);
    let mut after = before.clone();
    after.retain(|(s, _)| s != name);
    if state == "present" {
        after.push((name.to_string(), options(args)));
    }
    let diff = json!({
        "before_header": dest, "before": dump(&before),
        "after_header": dest, "after": dump(&after),
    });
    let mut changed = diff["before"] != diff["after"];
    if changed && !ctx.check_mode {
        if after.is_empty() {
            exec_ok(
                ctx,
                &format!("rm -f -- {}", shell_quote(&dest)),
                None,
                "removing the empty repo file",
            )
            .await?;
        } else {
            upload(
                ctx,
                &Upload {
                    dest: &dest,
                    content: write_ini(&after).as_bytes(),
                    // An existing file keeps its mode (Python's open(w)).
                    mode: found.exists().then_some(found.mode),
                    keep_ids: found.exists().then_some((found.uid, found.gid)),
                    follow: true,
                    ..Default::default()
                },
            )
            .await?;
        }
    }
    // mode/owner/group of the file there is (or would be), as Ansible's
    // set_fs_attributes_if_different.
    let exists_after = if changed {
        !after.is_empty()
    } else {
        found.exists()
    };
    if exists_after {
        let attrs = wanted_attributes(args, &found, false)?;
        let differ = if found.exists() {
            attrs.differ(&found)
        } else {
            attrs.mode.is_some_and(|m| m != 0o644) || attrs.owner.is_some() || attrs.group.is_some()
        };
        if differ {
            if !ctx.check_mode {
                set_attributes(ctx, &dest, &attrs, false).await?;
            }
            changed = true;
        }
    }
    let result = if changed {
        TaskResult::changed()
    } else {
        TaskResult::ok()
    };
    // As Ansible, the diff is part of every result.
    Ok(result
        .with("repo", name)
        .with("state", state)
        .with("diff", diff))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote_file::test_support::args;

    #[test]
    fn the_section_is_written_as_configparser_writes_it() {
        let a = args(json!({
            "name": "epel", "description": "EPEL YUM repo",
            "baseurl": ["https://a/$basearch", "https://b/$basearch"],
            "gpgcheck": true, "enabled": false, "exclude": ["kernel*", "foo"], "priority": 10,
        }));
        let ini = vec![("epel".to_string(), options(&a))];
        assert_eq!(
            write_ini(&ini),
            "[epel]\nbaseurl = https://a/$basearch\n\thttps://b/$basearch\nenabled = 0\n\
             exclude = kernel* foo\ngpgcheck = 1\nname = EPEL YUM repo\npriority = 10\n\n"
        );
        assert_eq!(parse_ini(&write_ini(&ini)), ini);
    }

    #[test]
    fn reading_keeps_other_sections_and_ignores_formatting() {
        let text =
            "# managed by hand\n[b]\nName=B\nBaseURL: http://b/\n  http://b2/\n\n[a]\nname = A\n";
        let ini = parse_ini(text);
        assert_eq!(ini[0].0, "b");
        assert_eq!(
            ini[0].1,
            [
                ("name".to_string(), "B".to_string()),
                ("baseurl".to_string(), "http://b/\nhttp://b2/".to_string())
            ]
        );
        assert_eq!(
            dump(&ini),
            "[a]\nname = A\n\n[b]\nbaseurl = http://b/\nhttp://b2/\nname = B\n\n"
        );
    }

    #[test]
    fn present_needs_a_url_and_a_description() {
        assert!(
            check_present(&args(json!({"name": "x", "description": "d"})))
                .unwrap_err()
                .contains("baseurl, mirrorlist, metalink")
        );
        assert!(
            check_present(&args(json!({"name": "x", "mirrorlist": "http://m"})))
                .unwrap_err()
                .contains("description")
        );
    }
}
