//! The archive handlers Ansible has, as shell commands on the host: zip
//! (`unzip`), then GNU tar with gzip, none, bzip2 or xz, the first that can
//! list the archive.

use super::run_ok;
use crate::core::shell_quote;
use crate::modules::remote_file::{Attributes, attribute_commands, exec};
use crate::modules::{ModuleContext, TaskResult};
use serde_json::{Value as Json, json};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Handler {
    Zip,
    Tar(&'static str),
}

/// The tar compression flags, in the order Ansible tries its handlers.
const TAR_FLAGS: [&str; 4] = ["-z", "", "-j", "-J"];

impl Handler {
    /// Ansible's handler class name (the result's `handler`).
    pub fn name(self) -> &'static str {
        match self {
            Handler::Zip => "ZipArchive",
            Handler::Tar("-z") => "TgzArchive",
            Handler::Tar("-j") => "TarBzipArchive",
            Handler::Tar("-J") => "TarXzArchive",
            Handler::Tar(_) => "TarArchive",
        }
    }
}

/// What the task asks beyond src and dest.
pub struct Options {
    pub excludes: Vec<String>,
    /// Only these members (tar: names given to tar; zip: fnmatch patterns).
    pub includes: Vec<String>,
    pub extra_opts: Vec<String>,
    pub keep_newer: bool,
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl Options {
    pub fn has_attributes(&self) -> bool {
        self.mode.is_some() || self.owner.is_some() || self.group.is_some()
    }
}

fn quoted(words: &[String]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first handler that can list the archive, and its members (without
/// excluded ones and leading `/`), in one round trip.
pub async fn pick(
    ctx: &ModuleContext<'_>,
    archive: &str,
    dest: &str,
    options: &Options,
) -> Result<(Handler, Vec<String>), TaskResult> {
    let mut s = format!(
        "src={}; d={}\n\
         [ -e \"$src\" ] || {{ printf \"Source '%s' does not exist\\n\" \"$src\" >&2; exit 1; }}\n\
         [ -r \"$src\" ] || {{ printf \"Source '%s' not readable\\n\" \"$src\" >&2; exit 1; }}\n\
         [ -s \"$src\" ] || {{ printf \"Invalid archive '%s', the file is 0 bytes\\n\" \"$src\" >&2; exit 1; }}\n\
         if command -v unzip >/dev/null 2>&1 && unzip -Z -1 \"$src\" >/dev/null 2>&1; then echo zip; unzip -Z -1 \"$src\"; exit 0; fi\n\
         tar --version 2>/dev/null | head -n 1 | grep -q GNU || {{ printf 'Failed to find handler for \"%s\". Make sure the required command to extract the file is installed (GNU tar, or unzip for zip files).\\n' \"$src\" >&2; exit 1; }}\n",
        shell_quote(archive),
        shell_quote(dest)
    );
    for flag in TAR_FLAGS {
        s.push_str(&format!(
            "if out=$(cd \"$d\" && tar --list -C \"$d\" {flag} {} -f \"$src\" {} 2>/dev/null) && [ -n \"$out\" ]; then echo 'tar{flag}'; printf '%s\\n' \"$out\"; exit 0; fi\n",
            tar_options(options, false),
            quoted(&options.includes)
        ));
    }
    s.push_str("printf 'Failed to find handler for \"%s\". Make sure the required command to extract the file is installed.\\n' \"$src\" >&2; exit 1\n");
    let out = run_ok(ctx, &s, "unarchive").await.map_err(|mut r| {
        // The script's own message, without the generic prefix.
        if let Some(msg) = r.msg.as_mut() {
            *msg = msg.trim_start_matches("unarchive failed: ").to_string();
        }
        r.data.remove("rc");
        r
    })?;
    let mut lines = out.lines();
    let handler = match lines.next() {
        Some("zip") => Handler::Zip,
        Some(tag) => {
            let flag = tag.trim_start_matches("tar");
            Handler::Tar(TAR_FLAGS.into_iter().find(|f| *f == flag).unwrap_or(""))
        }
        None => return Err(TaskResult::failed("unarchive: no handler found")),
    };
    let excluded = patterns(&options.excludes)?;
    // tar was given the includes; a zip's listing is filtered by them.
    let included = patterns(&options.includes)?;
    let files = lines
        .map(|l| l.trim_start_matches('/').to_string())
        .filter(|f| !f.is_empty() && !excluded.is_match(f))
        .filter(|f| handler != Handler::Zip || included.is_empty() || included.is_match(f))
        .collect();
    Ok((handler, files))
}

/// Ansible's `fnmatch` of excludes or includes (`*` also matches `/`).
fn patterns(excludes: &[String]) -> Result<globset::GlobSet, TaskResult> {
    let mut set = globset::GlobSetBuilder::new();
    for e in excludes {
        let glob = globset::Glob::new(e)
            .map_err(|err| TaskResult::failed(format!("exclude '{e}': {err}")))?;
        set.add(glob);
    }
    set.build()
        .map_err(|err| TaskResult::failed(format!("exclude: {err}")))
}

/// tar's options after the compression flag: extra options, owner/group
/// (for diff and extract), keep_newer, excludes.
fn tar_options(options: &Options, with_attrs: bool) -> String {
    let mut words = Vec::new();
    if !options.extra_opts.is_empty() {
        words.push("--show-transformed-names".to_string());
        words.extend(options.extra_opts.iter().cloned());
    }
    if with_attrs {
        if let Some(o) = &options.owner {
            words.push(format!("--owner={o}"));
        }
        if let Some(g) = &options.group {
            words.push(format!("--group={g}"));
        }
        if options.keep_newer {
            words.push("--keep-newer-files".into());
        }
    }
    words.extend(options.excludes.iter().map(|e| format!("--exclude={e}")));
    quoted(&words)
}

/// Lines of `tar --diff` that mean the archive is not (fully) in `dest`, as
/// Ansible reads them.
fn tar_differs(line: &str, options: &Options, root: bool) -> bool {
    // A member whose name `--strip-components` emptied (Ansible skips it).
    if line.ends_with(": : Warning: Cannot stat: No such file or directory") {
        return false;
    }
    const ALWAYS: [&str; 7] = [
        ": Mod time differs",
        ": Cannot stat: No such file or directory",
        ": Invalid owner",
        ": Invalid group",
        ": Symlink differs",
        ": Contents differ",
        ": Size differs",
    ];
    ALWAYS.iter().any(|s| line.contains(s))
        || (options.mode.is_none() && line.ends_with(": Mode differs"))
        || (root && options.owner.is_none() && line.ends_with(": Uid differs"))
        || (root && options.group.is_none() && line.ends_with(": Gid differs"))
}

/// Whether `dest` already holds the archive.
pub async fn is_unarchived(
    ctx: &ModuleContext<'_>,
    handler: Handler,
    archive: &str,
    dest: &str,
    options: &Options,
    files: &[String],
) -> Result<bool, TaskResult> {
    let head = format!(
        "src={}; d={}\ncd \"$d\" || exit 1\n",
        shell_quote(archive),
        shell_quote(dest)
    );
    match handler {
        Handler::Tar(flag) => {
            let s = format!(
                "{head}id -u\ntar --diff -C \"$d\" {flag} {} -f \"$src\" {} 2>&1\nexit 0\n",
                tar_options(options, true),
                quoted(&options.includes)
            );
            let out = run_ok(ctx, &s, "comparing the archive").await?;
            let mut lines = out.lines();
            let root = lines.next() == Some("0");
            Ok(!lines.any(|l| tar_differs(l, options, root)))
        }
        Handler::Zip => {
            // Each member's bytes (or directory) against what `dest` has.
            let mut s = format!(
                "{head}c() {{ case \"$1\" in */) [ -d \"$1\" ] || echo differs;; \
                 *) [ -f \"$1\" ] && unzip -p \"$src\" \"$1\" | cmp -s - \"$1\" || echo differs;; esac; }}\n"
            );
            for f in files {
                s.push_str(&format!("c {}\n", shell_quote(f)));
            }
            let out = run_ok(ctx, &s, "comparing the archive").await?;
            Ok(!out.contains("differs"))
        }
    }
}

/// Unpacks; Ansible's `extract_results` (cmd, rc, out, err).
pub async fn extract(
    ctx: &ModuleContext<'_>,
    handler: Handler,
    archive: &str,
    dest: &str,
    options: &Options,
) -> Result<Json, TaskResult> {
    let cmd = match handler {
        Handler::Tar(flag) => format!(
            "tar --extract -C \"$d\" {flag} {} -f \"$src\" {}",
            tar_options(options, true),
            quoted(&options.includes)
        ),
        Handler::Zip => {
            let mut c = format!(
                "unzip -o \"$src\" {} -d \"$d\"",
                quoted(&options.extra_opts)
            );
            if !options.excludes.is_empty() {
                c.push_str(&format!(" -x {}", quoted(&options.excludes)));
            }
            if !options.includes.is_empty() {
                c.push_str(&format!(" {}", quoted(&options.includes)));
            }
            c
        }
    };
    let script = format!(
        "src={}; d={}\ncd \"$d\" || exit 1\n{cmd}\n",
        shell_quote(archive),
        shell_quote(dest)
    );
    let out = exec(ctx, &script, None).await?;
    let shown = cmd.replace("\"$src\"", archive).replace("\"$d\"", dest);
    Ok(json!({
        "cmd": shown,
        "rc": out.rc,
        "out": String::from_utf8_lossy(&out.stdout),
        "err": String::from_utf8_lossy(&out.stderr),
    }))
}

/// mode/owner/group on every member and on the top folders; whether any
/// changed.
pub async fn set_attributes(
    ctx: &ModuleContext<'_>,
    dest: &str,
    files: &[String],
    options: &Options,
) -> Result<bool, TaskResult> {
    let attrs = Attributes {
        mode: options.mode,
        owner: options.owner.as_deref(),
        group: options.group.as_deref(),
    };
    let mut paths: Vec<&str> = files.iter().map(|f| f.trim_end_matches('/')).collect();
    for f in files {
        if let Some((top, _)) = f.split_once('/')
            && !paths.contains(&top)
        {
            paths.push(top);
        }
    }
    // Deepest first, so that a directory's new mode cannot lock its
    // members away from a user who is not root.
    paths.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    let mut s = format!(
        "cd {} || exit 1\nch=0\na() {{ p=$1; b=$(stat -c '%a %u %g' -- \"$p\")\n{}[ \"$b\" = \"$(stat -c '%a %u %g' -- \"$p\")\" ] || ch=1; }}\n",
        shell_quote(dest),
        attribute_commands(&attrs, false)
    );
    for p in paths {
        s.push_str(&format!("a {}\n", shell_quote(p)));
    }
    s.push_str("echo \"changed=$ch\"\n");
    let out = run_ok(ctx, &s, "setting attributes").await?;
    Ok(out.contains("changed=1"))
}
