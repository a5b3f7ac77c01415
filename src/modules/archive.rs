//! `archive` (community.general): files and trees of the host packed into
//! a tar (gz, bz2, xz, none) or zip archive, or a single file compressed,
//! with the host's `tar`, `zip`, `gzip`, `bzip2`, `xz`.
//!
//! As community.general: paths (globs expanded on the host) minus
//! `exclude_path`, named in the archive relative to their common parent;
//! the archive is rebuilt and the task changed when its members (name,
//! mode, owner, size, time) or, for a compressed file, its content differ
//! from the old one.

use super::registry::Module;
use super::remote_file::{self, exec_ok, temp_name, wanted_attributes};
use super::spec::{ATTRS, Kind, ModuleSpec, choices, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_list, arg_str};
use crate::core::shell_quote;
use std::collections::BTreeSet;

/// `archive`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "archive",
        &[
            required(p("path", Kind::List)),
            choices(p("format", Kind::Str), &["bz2", "gz", "tar", "xz", "zip"]),
            p("dest", Kind::Str),
            p("exclude_path", Kind::List),
            p("force_archive", Kind::Bool),
            p("remove", Kind::Bool),
            p("exclusion_patterns", Kind::List),
            ATTRS[0],
            ATTRS[1],
            ATTRS[2],
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match try_run(args, ctx).await {
        Ok(r) | Err(r) => r,
    }
}

/// A path of the task after glob expansion, and whether it exists.
struct Expanded {
    path: String,
    exists: bool,
    is_dir: bool,
}

fn joined(v: &[Expanded]) -> Vec<String> {
    v.iter().map(|e| e.path.clone()).collect()
}

fn is_glob(path: &str) -> bool {
    path.contains('*') || path.contains('?')
}

/// Expands the paths on the host: a glob gives the paths it matches (none
/// when nothing does), any other path itself.
async fn expand(ctx: &ModuleContext<'_>, paths: &[String]) -> Result<Vec<Expanded>, TaskResult> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    // Unquoted "$g" is globbed but never split (IFS is empty) nor run.
    let mut s = String::from(
        "IFS=\nd() { if [ -e \"$1\" ] || [ -L \"$1\" ]; then e=1; else e=0; fi; \
         if [ -d \"$1\" ]; then k=1; else k=0; fi; printf '%s%s%s\\n' \"$e\" \"$k\" \"$1\"; }\n",
    );
    for path in paths {
        if is_glob(path) {
            s.push_str(&format!(
                "g={}; for m in $g; do [ -e \"$m\" ] || [ -L \"$m\" ] && d \"$m\"; done\n",
                shell_quote(path)
            ));
        } else {
            s.push_str(&format!("d {}\n", shell_quote(path)));
        }
    }
    s.push_str("exit 0\n");
    let out = exec_ok(ctx, &s, None, "expanding the paths").await?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.len() > 2)
        .map(|l| Expanded {
            exists: l.as_bytes()[0] == b'1',
            is_dir: l.as_bytes()[1] == b'1',
            path: l[2..].to_string(),
        })
        .collect())
}

/// community.general's `common_path`: the longest common prefix of the
/// paths' directories, cut back to a directory, with a trailing `/`.
fn common_path(paths: &[&str]) -> String {
    let dirs: Vec<String> = paths
        .iter()
        .map(|p| match p.rfind('/') {
            Some(i) => format!("{}/", &p[..i]),
            None => String::new(),
        })
        .collect();
    let first = dirs.first().cloned().unwrap_or_default();
    let mut len = first.len();
    for d in &dirs[1..] {
        len = first
            .bytes()
            .zip(d.bytes())
            .take(len)
            .take_while(|(a, b)| a == b)
            .count();
    }
    let prefix = &first[..len];
    match prefix.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => format!("{}/", &prefix[..i]),
        None => String::new(),
    }
}

async fn try_run(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let patterns = arg_list(args, "path");
    let format = arg_str(args, "format").unwrap_or("gz");
    let expanded = expand(ctx, &patterns).await?;
    let excluded = expand(ctx, &arg_list(args, "exclude_path")).await?;
    let excluded_paths: BTreeSet<&str> = excluded.iter().map(|e| e.path.as_str()).collect();
    let mut seen = BTreeSet::new();
    let mut paths: Vec<&Expanded> = expanded
        .iter()
        .filter(|e| !excluded_paths.contains(e.path.as_str()) && seen.insert(e.path.as_str()))
        .collect();
    paths.sort_by(|a, b| a.path.cmp(&b.path));
    let base = TaskResult::ok()
        .with("expanded_paths", joined(&expanded))
        .with("expanded_exclude_paths", joined(&excluded));
    if paths.is_empty() {
        let mut r = base.with_msg("Error, no source paths were found");
        r.failed = true;
        return Err(r);
    }
    let names: Vec<&str> = paths.iter().map(|e| e.path.as_str()).collect();
    let root = common_path(&names);
    let must_archive = arg_bool(args, "force_archive", false)
        || patterns.iter().any(|p| is_glob(p))
        || paths[0].is_dir
        || paths.len() > 1;
    let dest = match arg_str(args, "dest") {
        Some(d) => d.to_string(),
        None if !must_archive => format!("{}.{format}", paths[0].path),
        None => {
            let mut r = TaskResult::failed(
                "Error, must specify \"dest\" when archiving multiple files or trees",
            );
            r.data.insert("path".into(), patterns.join(", ").into());
            return Err(r);
        }
    };
    let targets: Vec<&str> = paths
        .iter()
        .filter(|e| e.exists)
        .map(|e| e.path.as_str())
        .collect();
    let missing: Vec<&str> = paths
        .iter()
        .filter(|e| !e.exists)
        .map(|e| e.path.as_str())
        .collect();
    let compress = !must_archive && !matches!(format, "tar" | "zip");
    let mut result = base
        .with("dest", dest.clone())
        .with("arcroot", root.clone())
        .with("missing", missing.clone());
    let dest_probe = remote_file::probe_followed(ctx, &dest).await?;
    let state = if targets.is_empty() {
        dest_probe.exists().then_some(if is_archive(&dest) {
            "archive"
        } else {
            "compress"
        })
    } else if compress {
        Some("compress")
    } else if missing.is_empty() {
        Some("archive")
    } else {
        Some("incomplete")
    };
    result = result.with("dest_state", state.unwrap_or("absent"));
    if !targets.is_empty() {
        if ctx.check_mode {
            result.changed = must_archive || !dest_probe.exists();
            return Ok(result.with("archived", Vec::<String>::new()));
        }
        let script = build_script(&dest, &root, &targets, format, compress, args);
        let out = exec_ok(ctx, &script, None, "writing the archive").await?;
        let text = String::from_utf8_lossy(&out.stdout);
        result.changed = text.lines().any(|l| l == "changed");
        let archived: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("A\t"))
            .map(|name| format!("{root}{}", name.trim_start_matches("./")))
            .collect();
        result = result.with("archived", archived);
    } else {
        result = result.with("archived", Vec::<String>::new());
    }
    let probe = remote_file::probe_followed(ctx, &dest).await?;
    if !probe.exists() {
        return Ok(result);
    }
    let attrs = wanted_attributes(args, &probe, false)?;
    let probe = if attrs.differ(&probe) {
        result.changed = true;
        if ctx.check_mode {
            probe
        } else {
            remote_file::set_attributes(ctx, &dest, &attrs, false).await?
        }
    } else {
        probe
    };
    Ok(remote_file::add_file_fields(result, &probe))
}

/// community.general's `is_archive`: the name says it is an archive.
fn is_archive(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    [
        ".tar", ".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tbz2", ".zip",
    ]
    .iter()
    .any(|ext| name.ends_with(ext))
}

/// The compressor of a format, and its tar flag.
fn compressor(format: &str) -> (&'static str, &'static str) {
    match format {
        "bz2" => ("bzip2", "-j"),
        "xz" => ("xz", "-J"),
        "gz" => ("gzip", "-z"),
        _ => ("", ""),
    }
}

/// One script: the old archive's fingerprint, the new archive in a temp
/// file beside `dest`, its fingerprint, `mv`, `remove`; prints `changed`
/// when they differ and `A<TAB>name` for every member added.
fn build_script(
    dest: &str,
    root: &str,
    targets: &[&str],
    format: &str,
    compress: bool,
    args: &Vars,
) -> String {
    let (tool, flag) = compressor(format);
    let zip = format == "zip";
    let mut s = format!(
        "d={}; root={}\ntmp=$(dirname -- \"$d\")/{}{}\nlst=$tmp.list\n\
         fail() {{ rm -f -- \"$tmp\" \"$lst\"; printf '%s\\n' \"$1\" >&2; exit 1; }}\n",
        shell_quote(dest),
        shell_quote(if root.is_empty() { "." } else { root }),
        temp_name(),
        if zip { ".zip" } else { "" }
    );
    let needed = match (compress, zip) {
        (true, _) => tool,
        (false, true) => "zip",
        (false, false) => "tar",
    };
    s.push_str(&format!(
        "command -v {needed} >/dev/null 2>&1 || fail '{needed} is not installed on the host: the {format} format needs it'\n"
    ));
    let sum = if compress {
        format!("{tool} -dc -- \"$1\" 2>/dev/null | cksum")
    } else if zip {
        "unzip -v \"$1\" 2>/dev/null | awk '{ $1=$2=$3=$4=$5=$6=\"\"; print }' | sort | cksum"
            .into()
    } else {
        "tar -tvf \"$1\" 2>/dev/null | sort | cksum".into()
    };
    s.push_str(&format!(
        "sum() {{ if [ -e \"$1\" ]; then {sum}; fi; }}\nbefore=$(sum \"$d\")\n"
    ));
    if compress {
        s.push_str(&format!(
            "{tool} -c -- {} > \"$tmp\" || fail 'compressing failed'\nprintf 'A\\t%s\\n' {}\n",
            shell_quote(targets[0]),
            shell_quote(targets[0].strip_prefix(root).unwrap_or(targets[0]))
        ));
    } else {
        s.push_str("cd \"$root\" || fail 'cannot enter the common directory'\n{\n");
        for t in targets {
            let rel = shell_quote(t.strip_prefix(root).unwrap_or(t));
            s.push_str(&format!(
                "if [ -d {rel} ] && [ ! -L {rel} ]; then find {rel} -mindepth 1; else printf '%s\\n' {rel}; fi\n"
            ));
        }
        s.push_str("} > \"$lst\" || fail 'listing the files failed'\n");
        s.push_str(&exclusion_filter(
            &arg_list(args, "exclusion_patterns"),
            zip,
        ));
        if zip {
            s.push_str("zip -q \"$tmp\" -@ < \"$lst\" >/dev/null || fail 'zip failed'\n");
        } else {
            s.push_str(&format!(
                "tar -c {flag} --no-recursion -f \"$tmp\" -T \"$lst\" || fail 'tar failed'\n"
            ));
        }
        if zip {
            // As community.general: a zip's directory entries are stored
            // as `dir/`, so its lookup by `dir` fails and they never count
            // as archived.
            s.push_str(
                "while IFS= read -r f; do if [ ! -d \"$f\" ] || [ -L \"$f\" ]; then printf 'A\t%s\n' \"$f\"; fi; done < \"$lst\"\n",
            );
        } else {
            s.push_str("sed 's/^/A\t/' \"$lst\"\n");
        }
    }
    s.push_str(
        "after=$(sum \"$tmp\")\nmv -f -- \"$tmp\" \"$d\" || fail 'writing the archive failed'\nrm -f -- \"$lst\"\n\
         [ \"$before\" = \"$after\" ] || echo changed\n",
    );
    if arg_bool(args, "remove", false) {
        for t in targets {
            s.push_str(&format!("rm -rf -- {}\n", shell_quote(t)));
        }
    }
    s
}

/// Shell lines dropping the members `exclusion_patterns` match from
/// `$lst` (fnmatch-like `case` patterns, held in variables so that they are
/// never expanded further): tar matches the member's name, zip its path on
/// the host, as community.general does.
fn exclusion_filter(patterns: &[String], zip: bool) -> String {
    if patterns.is_empty() {
        return String::new();
    }
    let mut s = String::new();
    let mut alternatives = Vec::new();
    for (i, pattern) in patterns.iter().enumerate() {
        s.push_str(&format!("x{i}={}\n", shell_quote(pattern)));
        alternatives.push(format!("$x{i}"));
    }
    let subject = if zip { "$root$f" } else { "$f" };
    s.push_str(&format!(
        "while IFS= read -r f; do case \"{subject}\" in {}) ;; *) printf '%s\\n' \"$f\";; esac; done < \"$lst\" > \"$lst.kept\" && mv -f -- \"$lst.kept\" \"$lst\" || fail 'filtering the files failed'\n",
        alternatives.join("|")
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::test_support::*;
    use super::*;
    use serde_json::json;
    use std::process::Command;

    fn tree(h: &Harness) -> String {
        let src = h.path("src");
        std::fs::create_dir_all(format!("{src}/app/sub")).unwrap();
        std::fs::write(format!("{src}/app/f"), "x\n").unwrap();
        std::fs::write(format!("{src}/app/sub/g"), "y\n").unwrap();
        std::fs::write(format!("{src}/one.txt"), "z\n").unwrap();
        src
    }

    fn listing(cmd: &[&str]) -> String {
        let out = Command::new(cmd[0]).args(&cmd[1..]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn common_path_is_the_shared_directory() {
        assert_eq!(common_path(&["/a/src/app"]), "/a/src/");
        assert_eq!(
            common_path(&["/a/src/one.txt", "/a/src/app/f", "/a/nope"]),
            "/a/"
        );
        assert_eq!(common_path(&["/a/b", "/a/bc"]), "/a/");
    }

    #[tokio::test]
    async fn a_tree_into_tar_gz_then_unchanged() {
        let h = Harness::new(json!({}));
        let src = tree(&h);
        let dest = h.path("app.tgz");
        let a = json!({"path": format!("{src}/app"), "dest": dest});
        let r = h.run_module(&MODULE, a.clone()).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(r.data["dest_state"], json!("archive"));
        assert_eq!(r.data["arcroot"], json!(format!("{src}/")));
        let names = listing(&["tar", "-tzf", &dest]);
        assert!(
            names.contains("app/sub/g") && names.contains("app/f"),
            "{names}"
        );
        assert!(!h.run_module(&MODULE, a).await.changed);
        let small = h.path("small.tar");
        let a = json!({"path": format!("{src}/app"), "dest": small, "format": "tar", "exclusion_patterns": ["app/sub*", "$(touch pwned)"]});
        let r = h.run_module(&MODULE, a).await;
        assert_eq!(listing(&["tar", "-tf", &small]), "app/f\n", "{r:?}");
        // The script runs in the common directory.
        assert_not_pwned(std::path::Path::new(&src));
        std::fs::write(format!("{src}/app/f"), "changed\n").unwrap();
        let a = json!({"path": format!("{src}/app"), "dest": dest, "remove": true});
        assert!(h.run_module(&MODULE, a).await.changed);
        assert!(!std::path::Path::new(&format!("{src}/app")).exists());
    }

    #[tokio::test]
    async fn globs_excludes_zip_single_file_and_errors() {
        let h = Harness::new(json!({}));
        let src = tree(&h);
        let dest = h.path("m.zip");
        let a = json!({"path": [format!("{src}/*.txt"), format!("{src}/app/f"), h.path("nope")],
                       "dest": dest, "format": "zip", "exclude_path": [format!("{src}/app/sub")]});
        let r = h.run_module(&MODULE, a).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(r.data["dest_state"], json!("incomplete"));
        assert_eq!(r.data["missing"], json!([h.path("nope")]));
        let names = listing(&["unzip", "-Z", "-1", &dest]);
        assert_eq!(names, "src/app/f\nsrc/one.txt\n");
        // A zip's directories are stored but never listed as archived.
        let zdest = h.path("tree.zip");
        let a = json!({"path": format!("{src}/app"), "dest": zdest, "format": "zip"});
        let r = h.run_module(&MODULE, a).await;
        assert_eq!(
            listing(&["unzip", "-Z", "-1", &zdest]),
            "app/f\napp/sub/\napp/sub/g\n"
        );
        let sorted = |v: &serde_json::Value| {
            let mut v: Vec<String> = serde_json::from_value(v.clone()).unwrap();
            v.sort();
            v
        };
        let files = [format!("{src}/app/f"), format!("{src}/app/sub/g")];
        assert_eq!(sorted(&r.data["archived"]), files, "{r:?}");
        let r = h
            .run_module(&MODULE, json!({"path": format!("{src}/one.txt")}))
            .await;
        assert_eq!(r.data["dest"], json!(format!("{src}/one.txt.gz")), "{r:?}");
        assert_eq!(r.data["dest_state"], json!("compress"));
        assert_eq!(
            listing(&["gzip", "-dc", &format!("{src}/one.txt.gz")]),
            "z\n"
        );
        let r = h
            .run_module(&MODULE, json!({"path": format!("{src}/app")}))
            .await;
        assert!(r.failed && r.msg.unwrap().contains("must specify \"dest\""));
        let r = h
            .run_module(&MODULE, json!({"path": format!("{src}/none*")}))
            .await;
        assert!(
            r.failed && r.msg.as_deref().unwrap().contains("no source paths"),
            "{r:?}"
        );
        let r = h
            .run_module(
                &MODULE,
                json!({"path": h.path(NASTY), "dest": h.path("x.tar"), "format": "tar"}),
            )
            .await;
        assert!(
            !r.failed && r.data["dest_state"] == json!("absent"),
            "{r:?}"
        );
        assert_not_pwned(h.base());
    }
}
