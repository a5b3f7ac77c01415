//! Bad input: one clear message with file:line:column and the offending
//! line, exit 4, and no task runs.

mod common;

use common::play_local;

/// Runs an error fixture and checks the message and that nothing ran.
fn expect_parse_error(fixture: &str, needles: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = play_local(&format!("errors/{fixture}"), dir.path(), &[]);
    assert_eq!(out.code, 4, "{fixture}: {}", out.all());
    assert!(
        !dir.path().join("ran").exists(),
        "{fixture}: a task ran before the error"
    );
    assert!(
        out.stderr.starts_with("ERROR! "),
        "{fixture}: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("{fixture}:")),
        "{fixture}: no file:line:col in {}",
        out.stderr
    );
    for needle in needles {
        assert!(
            out.stderr.contains(needle),
            "{fixture}: '{needle}' missing from:\n{}",
            out.stderr
        );
    }
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    out.stderr
}

#[test]
fn malformed_yaml() {
    expect_parse_error(
        "malformed.yaml",
        &["YAML syntax error", "malformed.yaml:5:"],
    );
}

#[test]
fn unknown_task_keyword_suggests() {
    expect_parse_error(
        "unknown_keyword.yaml",
        &[
            "unknown task keyword 'whn'",
            ":7:7",
            "7 |       whn: true",
            "did you mean 'when'?",
        ],
    );
}

#[test]
fn unknown_play_keyword_suggests() {
    expect_parse_error(
        "unknown_play_keyword.yaml",
        &[
            "unknown play keyword 'taks'",
            ":5:3",
            "did you mean 'tasks'?",
        ],
    );
}

#[test]
fn unknown_module_suggests() {
    expect_parse_error(
        "unknown_module.yaml",
        &["unknown module 'comand'", ":6:7", "did you mean 'command'?"],
    );
}

#[test]
fn wrong_argument_type() {
    expect_parse_error(
        "wrong_type.yaml",
        &["parameter 'seconds' must be a duration", ":7:9"],
    );
}

#[test]
fn undefined_variable_is_named() {
    expect_parse_error(
        "undefined.yaml",
        &[
            "undefined variable 'app_verison'",
            ":6:24",
            "6 |       command: echo {{ app_verison }}",
        ],
    );
}

#[test]
fn missing_include() {
    expect_parse_error(
        "missing_include.yaml",
        &["'missing.yaml' not found", ":5:22"],
    );
}

#[test]
fn invalid_serial() {
    expect_parse_error("bad_serial.yaml", &["invalid serial", ":2:11"]);
}

#[test]
fn template_syntax_error() {
    expect_parse_error("bad_template.yaml", &["template error", ":6:"]);
}
