//! `command` and `shell`.
//!
//! `command` splits its line into words *before* templating and quotes every
//! word, so a templated value is always exactly one argument and never meets a
//! shell (`{{ x }}` holding `; touch /tmp/pwned` is passed as one harmless
//! argument). `shell` is the explicit opt-in to shell syntax.

use super::registry::Module;
use super::spec::{Kind, ModuleSpec, Param, aliases, p};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_str};
use crate::connection::ExecOutput;
use crate::connection::output::OUTPUT_CAP;
use crate::core::shell_quote;
use serde_json::Value as Json;

/// `command` and `shell` take the same parameters.
const COMMAND_PARAMS: &[Param] = &[
    aliases(p("cmd", Kind::Str), &["_raw_params"]),
    p("argv", Kind::List),
    p("chdir", Kind::Str),
    p("creates", Kind::Str),
    p("removes", Kind::Str),
    p("stdin", Kind::Str),
    p("stdin_add_newline", Kind::Bool),
    p("strip_empty_ends", Kind::Bool),
    p("executable", Kind::Str),
];

/// `command`: what it accepts and how it runs.
pub const COMMAND: Module = Module::new(
    ModuleSpec::new("command", COMMAND_PARAMS).free_form("cmd"),
    |args, ctx| Box::pin(run(args, ctx, false)),
)
.self_rendering(&["cmd"]);

/// `shell`: what it accepts and how it runs.
pub const SHELL: Module = Module::new(
    ModuleSpec::new("shell", COMMAND_PARAMS).free_form("cmd"),
    |args, ctx| Box::pin(run(args, ctx, true)),
);

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>, shell: bool) -> TaskResult {
    let (line, cmd_field) = match build_line(args, ctx, shell) {
        Ok(built) => built,
        Err(msg) => return TaskResult::failed(msg),
    };
    if let Some(skip) = creates_removes(args, ctx).await {
        return skip;
    }
    // In check mode a command runs nothing; with creates/removes (which
    // did not hold) Ansible reports the change it would have made.
    if ctx.check_mode {
        if args.contains_key("creates") || args.contains_key("removes") {
            return TaskResult::changed()
                .with_msg("Command would have run if not in check mode")
                .with("cmd", cmd_field)
                .with("rc", 0);
        }
        return TaskResult::skipped("command would run; not run in check mode")
            .with("cmd", cmd_field);
    }
    let stdin = arg_str(args, "stdin").map(|s| {
        let mut data = s.as_bytes().to_vec();
        if arg_bool(args, "stdin_add_newline", true) {
            data.push(b'\n');
        }
        data
    });
    let full = with_prelude(&line, args, ctx);
    let strip = arg_bool(args, "strip_empty_ends", true);
    run_line(ctx, &full, stdin.as_deref(), cmd_field, strip).await
}

/// Runs a finished command line and shapes the result like `command`'s
/// (`rc`, `stdout`, `stderr`, their `_lines`, `start`/`end`/`delta`).
pub(crate) async fn run_line(
    ctx: &ModuleContext<'_>,
    full: &str,
    stdin: Option<&[u8]>,
    cmd_field: Json,
    strip: bool,
) -> TaskResult {
    let started = chrono::Local::now();
    let output = match ctx.conn.exec(full, stdin).await {
        Ok(out) => out,
        Err(e) => return TaskResult::from_connection(e),
    };
    let ended = chrono::Local::now();
    let stdout = text(&output.stdout, strip);
    let stderr = text(&output.stderr, strip);
    let mut result = TaskResult::changed()
        .with("cmd", cmd_field)
        .with("rc", output.rc)
        .with("stdout_lines", lines(&stdout))
        .with("stderr_lines", lines(&stderr))
        .with("stdout", stdout)
        .with("stderr", stderr)
        .with("start", started.format("%Y-%m-%d %H:%M:%S%.6f").to_string())
        .with("end", ended.format("%Y-%m-%d %H:%M:%S%.6f").to_string())
        .with("delta", format_delta(ended - started));
    if output.rc != 0 {
        result.failed = true;
        result.msg = Some("non-zero return code".into());
    }
    mark_truncated(result, &output)
}

/// Says which streams were cut at the output cap, in the result and in a
/// warning.
fn mark_truncated(mut result: TaskResult, output: &ExecOutput) -> TaskResult {
    let mut cut = Vec::new();
    for (name, truncated) in [
        ("stdout", output.stdout_truncated),
        ("stderr", output.stderr_truncated),
    ] {
        if truncated {
            result = result.with(&format!("{name}_truncated"), true);
            cut.push(name);
        }
    }
    if cut.is_empty() {
        return result;
    }
    let mb = OUTPUT_CAP >> 20;
    let note = format!(
        "{} cut at {mb} MiB: the rest was not kept",
        cut.join(" and ")
    );
    result.msg.get_or_insert_with(|| note.clone());
    result.with("warnings", Json::Array(vec![Json::String(note)]))
}

/// The command line to run, and the `cmd` field of the result.
fn build_line(args: &Vars, ctx: &ModuleContext<'_>, shell: bool) -> Result<(String, Json), String> {
    if shell {
        let cmd = arg_str(args, "cmd").ok_or("shell needs a command line")?;
        return Ok((cmd.to_string(), Json::String(cmd.to_string())));
    }
    let argv: Vec<String> = match (args.get("argv"), arg_str(args, "cmd")) {
        (Some(Json::Array(items)), None) => items.iter().map(crate::core::display_text).collect(),
        (Some(_), Some(_)) => return Err("give either 'cmd' or 'argv', not both".into()),
        (None, Some(cmd)) => split_words(cmd)?
            .into_iter()
            .map(|word| {
                ctx.templar
                    .render_str(&word, ctx.scope)
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("command needs a command line ('cmd') or a list ('argv')".into()),
    };
    if argv.is_empty() {
        return Err("the command line is empty".into());
    }
    let line = argv
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ");
    Ok((
        line,
        Json::Array(argv.into_iter().map(Json::String).collect()),
    ))
}

/// `environment:` exports and `chdir`, in front of the command. Values are
/// quoted; names were validated when the playbook was loaded.
fn with_prelude(line: &str, args: &Vars, ctx: &ModuleContext<'_>) -> String {
    let prelude = prelude(args, ctx);
    match arg_str(args, "executable") {
        Some(exe) => format!(
            "{prelude}exec {} -c {}",
            shell_quote(exe),
            shell_quote(line)
        ),
        None => format!("{prelude}{line}"),
    }
}

/// The `environment:` exports and the `cd` of `chdir`, each ending in `; `.
pub(crate) fn prelude(args: &Vars, ctx: &ModuleContext<'_>) -> String {
    let mut prelude = String::new();
    for (name, value) in ctx.environment {
        if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            prelude.push_str(&format!(
                "export {name}={}; ",
                shell_quote(&crate::core::display_text(value))
            ));
        }
    }
    if let Some(dir) = arg_str(args, "chdir") {
        prelude.push_str(&format!("cd {} || exit 1; ", shell_quote(dir)));
    }
    prelude
}

/// `creates`/`removes`: skip the command when its work is already done.
pub(crate) async fn creates_removes(args: &Vars, ctx: &ModuleContext<'_>) -> Option<TaskResult> {
    for (key, run_if_exists) in [("creates", false), ("removes", true)] {
        let Some(path) = arg_str(args, key) else {
            continue;
        };
        let test = format!("test -e {}", shell_quote(path));
        let exists = match ctx.conn.exec(&test, None).await {
            Ok(out) => out.rc == 0,
            Err(e) => return Some(TaskResult::from_connection(e)),
        };
        if exists != run_if_exists {
            let why = if exists { "exists" } else { "does not exist" };
            return Some(
                TaskResult::ok()
                    .with_msg(format!("Did not run command since '{path}' {why}"))
                    .with("rc", 0)
                    .with("stdout", format!("skipped, since {path} {why}"))
                    .with("stdout_lines", Json::Array(vec![]))
                    .with("stderr", "")
                    .with("stderr_lines", Json::Array(vec![])),
            );
        }
    }
    None
}

/// Splits a command line into words with POSIX quoting rules, keeping
/// `{{ … }}` / `{% … %}` expressions verbatim inside their word so that each
/// word can be rendered on its own afterwards.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '{' && matches!(chars.get(i + 1), Some('{') | Some('%')) {
            let close = if chars[i + 1] == '{' { "}}" } else { "%}" };
            let rest: String = chars[i..].iter().collect();
            let end = rest
                .find(close)
                .ok_or_else(|| format!("unclosed template expression in '{line}'"))?;
            word.push_str(&rest[..end + 2]);
            i += rest[..end + 2].chars().count();
            in_word = true;
            continue;
        }
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('"'), '\\') if matches!(chars.get(i + 1), Some('"' | '\\' | '$' | '`')) => {
                i += 1;
                word.push(chars[i]);
            }
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(&next) = chars.get(i + 1) {
                    word.push(next);
                    i += 1;
                }
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
        i += 1;
    }
    if quote.is_some() {
        return Err(format!("unbalanced quote in command line '{line}'"));
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

fn text(bytes: &[u8], strip: bool) -> String {
    let s = String::from_utf8_lossy(bytes);
    if strip {
        s.trim_end_matches(['\n', '\r']).to_string()
    } else {
        s.into_owned()
    }
}

fn lines(s: &str) -> Json {
    Json::Array(s.lines().map(|l| Json::String(l.to_string())).collect())
}

fn format_delta(d: chrono::TimeDelta) -> String {
    let micros = d.num_microseconds().unwrap_or(0).max(0);
    let secs = micros / 1_000_000;
    format!(
        "{}:{:02}:{:02}.{:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        micros % 1_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_follow_posix_quoting() {
        assert_eq!(
            split_words(r#"echo "a b" 'c d' e\ f"#).unwrap(),
            vec!["echo", "a b", "c d", "e f"]
        );
        assert_eq!(split_words("echo ''").unwrap(), vec!["echo", ""]);
        assert!(split_words("echo 'x").is_err());
    }

    #[test]
    fn templates_stay_inside_one_word() {
        assert_eq!(
            split_words("echo {{ x | default('a b') }} pre{{ y }}post").unwrap(),
            vec!["echo", "{{ x | default('a b') }}", "pre{{ y }}post"]
        );
    }

    #[test]
    fn delta_format() {
        assert_eq!(
            format_delta(chrono::TimeDelta::microseconds(3_723_000_001)),
            "1:02:03.000001"
        );
    }
}
