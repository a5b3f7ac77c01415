//! `command` and `shell`.
//!
//! `command` splits its line into words *before* templating and quotes every
//! word, so a templated value is always exactly one argument and never meets a
//! shell (`{{ x }}` holding `; touch /tmp/pwned` is passed as one harmless
//! argument). Like Ansible's, it expands environment variables (`$HOME`)
//! and a leading `~` in each argument, and nothing else (`expanding_word`).
//! `shell` is the explicit opt-in to shell syntax.

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
    p("expand_argument_vars", Kind::Bool),
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
        // Ansible's words and rc: `msg` is what a registered result shows.
        let msg = "Command would have run if not in check mode";
        return TaskResult::skipped(msg)
            .with_msg(msg)
            .with("cmd", cmd_field)
            .with("rc", 0);
    }
    let stdin = arg_str(args, "stdin").map(|s| {
        let mut data = s.as_bytes().to_vec();
        if arg_bool(args, "stdin_add_newline", true) {
            data.push(b'\n');
        }
        data
    });
    let full = with_prelude(&line, args);
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
    result.with_warning(note)
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
    let expand = arg_bool(args, "expand_argument_vars", true);
    let line = argv
        .iter()
        .map(|w| {
            if expand {
                expanding_word(w)
            } else {
                shell_quote(w)
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    Ok((
        line,
        Json::Array(argv.into_iter().map(Json::String).collect()),
    ))
}

/// One argument as the shell must pass it, expanded as Ansible's command
/// module expands each argument (`expand_argument_vars`: Python's
/// `expandvars`, then `expanduser`): `$NAME` and `${NAME}` become the
/// variable's value when it is set and stay as written when not, and a
/// leading `~` or `~user` (followed by `/` or nothing) becomes the home
/// directory. Everything else is single-quoted text, so `$(…)`, backticks,
/// `;`, globs and `$1` stay literal; a variable's value is expanded only
/// inside double quotes, never split, globbed or evaluated. (The shell also
/// expands variables it sets without exporting them, such as `PPID`.)
fn expanding_word(word: &str) -> String {
    let mut out = String::new();
    let mut literal = String::new();
    let mut rest = word;
    if let Some(after) = word.strip_prefix('~') {
        let (user, tail) = after.split_at(after.find('/').unwrap_or(after.len()));
        let portable = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        if user.is_empty() || (user.chars().all(portable) && !user.starts_with(['-', '.'])) {
            // An unquoted tilde prefix, then the slash unquoted as well, or
            // the shell would not expand it.
            out.push('~');
            out.push_str(user);
            let slash = tail.starts_with('/');
            if slash {
                out.push('/');
            }
            rest = &tail[usize::from(slash)..];
        }
    }
    while let Some(at) = rest.find('$') {
        literal.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, len) = match after.strip_prefix('{') {
            Some(braced) => match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            },
            None => {
                let end = (after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
                    .unwrap_or(after.len());
                (&after[..end], end)
            }
        };
        let is_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if is_name {
            out.push_str(&quote_literal(&std::mem::take(&mut literal)));
            // Unset: the text as written (only `$`, braces and the name).
            let written = if after.starts_with('{') {
                format!("\\${{{name}\\}}")
            } else {
                format!("\\${name}")
            };
            out.push_str(&format!("\"${{{name}-{written}}}\""));
        } else {
            literal.push_str(&rest[at..at + 1 + len]);
        }
        rest = &after[len..];
    }
    literal.push_str(rest);
    out.push_str(&quote_literal(&literal));
    if out.is_empty() { "''".into() } else { out }
}

/// Literal text for [`expanding_word`]: nothing for nothing, and quoted when
/// it holds `=`, so a first word such as `A=$B` is never an assignment.
fn quote_literal(text: &str) -> String {
    match text {
        "" => String::new(),
        t if t.contains('=') => format!("'{}'", t.replace('\'', r"'\''")),
        t => shell_quote(t),
    }
}

/// `chdir` (and `executable`) around the command.
fn with_prelude(line: &str, args: &Vars) -> String {
    let prelude = prelude(args);
    match arg_str(args, "executable") {
        Some(exe) => format!(
            "{prelude}exec {} -c {}",
            shell_quote(exe),
            shell_quote(line)
        ),
        None => format!("{prelude}{line}"),
    }
}

/// The `cd` of `chdir`, ending in `; ` (the task's `environment:` is
/// exported by the connection, for every module: connection/environment.rs).
pub(crate) fn prelude(args: &Vars) -> String {
    match arg_str(args, "chdir") {
        Some(dir) => format!("cd {} || exit 1; ", shell_quote(dir)),
        None => String::new(),
    }
}

/// `creates`/`removes`: skip the command when its work is already done.
pub(crate) async fn creates_removes(args: &Vars, ctx: &ModuleContext<'_>) -> Option<TaskResult> {
    let conn = ctx.conn.beneath_async().unwrap_or(ctx.conn);
    for (key, run_if_exists) in [("creates", false), ("removes", true)] {
        let Some(path) = arg_str(args, key) else {
            continue;
        };
        let test = format!("test -e {}", shell_quote(path));
        let exists = match conn.exec(&test, None).await {
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

    /// What `/bin/sh` makes of each word's [`expanding_word`], one per line.
    fn through_sh(words: &[&str]) -> Vec<String> {
        let line: Vec<String> = words.iter().map(|w| expanding_word(w)).collect();
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("printf '%s\\n' {}", line.join(" ")))
            .current_dir(std::env::temp_dir())
            .env("GREETING", "hi there * $(echo no)")
            .env("EMPTY", "")
            .env("HOME", "/home/deploy")
            .env_remove("UNSET_VAR")
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines().map(String::from).collect()
    }

    #[test]
    fn arguments_expand_set_variables_as_ansible_does() {
        assert_eq!(
            through_sh(&[
                "$GREETING",
                "a${GREETING}b",
                "$UNSET_VAR",
                "${UNSET_VAR}",
                "x$EMPTY.y",
                "~",
                "~/a b",
                "~no_such_user_here/x",
                "a~",
                "$HOME/$UNSET_VAR",
                "A=$GREETING",
                "",
            ]),
            [
                "hi there * $(echo no)",
                "ahi there * $(echo no)b",
                "$UNSET_VAR",
                "${UNSET_VAR}",
                "x.y",
                "/home/deploy",
                "/home/deploy/a b",
                "~no_such_user_here/x",
                "a~",
                "/home/deploy/$UNSET_VAR",
                "A=hi there * $(echo no)",
                "",
            ]
        );
    }

    #[test]
    fn expansion_never_reaches_shell_syntax() {
        let pwned = tempfile::tempdir().unwrap();
        let p = pwned.path().join("pwned");
        let p = p.display();
        let hostile = [
            format!("$(touch {p})"),
            format!("`touch {p}`"),
            format!("; touch {p}"),
            format!("${{GREETING:-$(touch {p})}}"),
            format!("${{UNSET_VAR-`touch {p}`}}"),
            format!("$GREETING;touch {p}"),
            "*".to_string(),
            "/*".to_string(),
            "~*".to_string(),
            "$1 $$ $? $@ $* ${#GREETING} $((1+1))".to_string(),
            "'\"\\".to_string(),
            "~;x".to_string(),
        ];
        let words: Vec<&str> = hostile.iter().map(String::as_str).collect();
        let mut expected = hostile.to_vec();
        expected[5] = format!("hi there * $(echo no);touch {p}");
        assert_eq!(through_sh(&words), expected);
        assert!(!pwned.path().join("pwned").exists());
    }

    #[test]
    fn delta_format() {
        assert_eq!(
            format_delta(chrono::TimeDelta::microseconds(3_723_000_001)),
            "1:02:03.000001"
        );
    }
}
