//! `script`: copies a controller-side script to the host, runs it with its
//! arguments and removes it again.
//!
//! The script path resolves like `copy`'s `src` (`<base_dir>/files/`, then
//! `<base_dir>/`). Arguments are split into words before templating and each
//! is quoted, as with `command`.

use super::command::{creates_removes, prelude, run_line, split_words};
use super::registry::Module;
use super::spec::{Kind, ModuleSpec, aliases, p};
use super::{ModuleContext, TaskResult, Vars, arg_str};
use crate::core::shell_quote;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

/// `script`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "script",
        &[
            aliases(p("cmd", Kind::Str), &["_raw_params"]),
            p("chdir", Kind::Str),
            p("creates", Kind::Str),
            p("removes", Kind::Str),
            p("executable", Kind::Str),
        ],
    )
    .free_form("cmd"),
    |args, ctx| Box::pin(run(args, ctx)),
)
.self_rendering(&["cmd"]);

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let Some(cmd) = arg_str(args, "cmd") else {
        return TaskResult::failed("script needs a script path (and arguments)");
    };
    let words = match split_words(cmd).and_then(|words| {
        words
            .iter()
            .map(|w| {
                ctx.templar
                    .render_str(w, ctx.scope)
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()
    }) {
        Ok(words) => words,
        Err(msg) => return TaskResult::failed(msg),
    };
    let Some((script, script_args)) = words.split_first() else {
        return TaskResult::failed("script needs a script path");
    };
    let dirs: Vec<&Path> = ctx.role_dir.into_iter().chain([ctx.base_dir]).collect();
    let Some(local) = resolve(script, &dirs) else {
        let looked: Vec<String> = (dirs.iter())
            .map(|d| format!("{}/files/ and {}", d.display(), d.display()))
            .collect();
        return TaskResult::failed(format!(
            "could not find the script '{script}' (looked in {})",
            looked.join(", ")
        ));
    };
    let body = match std::fs::read(&local) {
        Ok(body) => body,
        Err(e) => return TaskResult::failed(format!("cannot read {}: {e}", local.display())),
    };
    if let Some(skip) = creates_removes(args, ctx).await {
        return skip;
    }
    if ctx.check_mode {
        return TaskResult::skipped("script would run; not run in check mode");
    }
    let line = build(&prelude(args), arg_str(args, "executable"), script_args);
    let mut result = run_line(
        ctx,
        &line,
        Some(&body),
        Json::String(cmd.to_string()),
        false,
    )
    .await;
    result.data.remove("cmd");
    result
}

/// Absolute paths as they are; relative ones under `files/`, then the base.
/// The script's file: `<dir>/files/` then `<dir>/` for each of `dirs`
/// (a role's directory, then the playbook's).
fn resolve(script: &str, dirs: &[&Path]) -> Option<PathBuf> {
    let path = Path::new(script);
    if path.is_absolute() {
        return path.is_file().then(|| path.to_path_buf());
    }
    (dirs.iter())
        .flat_map(|base| [base.join("files").join(path), base.join(path)])
        .find(|p| p.is_file())
}

/// One shell line: store stdin in a temporary file, make it executable, run
/// it (in a subshell, after `prelude`) and remove it whatever happened.
pub(crate) fn build(prelude: &str, executable: Option<&str>, args: &[String]) -> String {
    let mut run = match executable {
        Some(exe) => format!("{} \"$t\"", shell_quote(exe)),
        None => "\"$t\"".to_string(),
    };
    for arg in args {
        run.push(' ');
        run.push_str(&shell_quote(arg));
    }
    format!(
        "t=$(mktemp \"${{TMPDIR:-/tmp}}/rollout-script.XXXXXX\") || exit 1; \
         if ! {{ cat > \"$t\" && chmod 700 \"$t\"; }}; then rm -f \"$t\"; exit 1; fi; \
         ( {prelude}{run} ) </dev/null; rc=$?; rm -f \"$t\"; exit $rc"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_and_the_file_removed() {
        let line = build("cd /srv || exit 1; ", None, &["a b".into(), "$(x)".into()]);
        assert!(
            line.contains("( cd /srv || exit 1; \"$t\" 'a b' '$(x)' )"),
            "{line}"
        );
        assert!(line.ends_with("rm -f \"$t\"; exit $rc"), "{line}");
        let line = build("", Some("python3"), &[]);
        assert!(line.contains("( python3 \"$t\" )"), "{line}");
    }

    #[test]
    fn resolves_under_files_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("files")).unwrap();
        std::fs::write(dir.path().join("files/s.sh"), "").unwrap();
        std::fs::write(dir.path().join("s.sh"), "").unwrap();
        std::fs::write(dir.path().join("t.sh"), "").unwrap();
        assert_eq!(
            resolve("s.sh", &[dir.path()]).unwrap(),
            dir.path().join("files/s.sh")
        );
        assert_eq!(
            resolve("t.sh", &[dir.path()]).unwrap(),
            dir.path().join("t.sh")
        );
        assert!(resolve("u.sh", &[dir.path()]).is_none());
    }
}
