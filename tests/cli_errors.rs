//! Bad input: one clear message with file:line:column and the offending
//! line, exit 4, and no task runs.

mod common;

use common::play_local;

/// Runs an error fixture and checks the message and that nothing ran.
fn expect_parse_error(fixture: &str, needles: &[&str]) -> String {
    expect_error_with(fixture, &[], needles)
}

/// A load-time error: the same under `--syntax-check` as in a run.
fn expect_load_error(fixture: &str, needles: &[&str]) {
    expect_error_with(fixture, &["--syntax-check"], needles);
    expect_parse_error(fixture, needles);
}

fn expect_error_with(fixture: &str, extra: &[&str], needles: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = play_local(&format!("errors/{fixture}"), dir.path(), extra);
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

#[test]
fn load_balancer_misspelt_key_suggests_at_its_line() {
    expect_load_error(
        "lb_misspelt_key.yaml",
        &[
            "unknown load_balancer key 'drain_timout'",
            "lb_misspelt_key.yaml:7:5",
            "7 |     drain_timout: 30s",
            "did you mean 'drain_timeout'?",
        ],
    );
}

#[test]
fn load_balancer_missing_target_groups() {
    expect_load_error(
        "lb_missing_target_groups.yaml",
        &[
            "elbv2 needs target_groups",
            "lb_missing_target_groups.yaml:3:5",
        ],
    );
}

#[test]
fn load_balancer_wrong_type() {
    expect_load_error(
        "lb_wrong_type.yaml",
        &[
            "port must be 1..65535, not [8080]",
            "lb_wrong_type.yaml:5:7",
        ],
    );
}

#[test]
fn load_balancer_bad_duration() {
    expect_load_error(
        "lb_bad_duration.yaml",
        &[
            "healthy_timeout must be a duration such as 90, \"90s\" or \"5m\"",
            "lb_bad_duration.yaml:5:5",
        ],
    );
}

#[test]
fn out_of_range_durations_are_load_errors_at_their_line() {
    expect_load_error(
        "negative_delay.yaml",
        &["-5 is not a duration", "negative_delay.yaml:6:14"],
    );
    expect_load_error(
        "lb_huge_duration.yaml",
        &[
            "drain_timeout: 1e30 seconds is too long",
            "lb_huge_duration.yaml:5:5",
        ],
    );
}

#[test]
fn a_templated_duration_out_of_range_fails_its_task_without_a_panic() {
    for secs in ["-1", "1e20"] {
        let dir = tempfile::tempdir().unwrap();
        let vars = format!("{{\"secs\": {secs}}}");
        let out = play_local("errors/templated_pause.yaml", dir.path(), &["-e", &vars]);
        assert_eq!(out.code, 2, "{secs}: {}", out.all());
        out.assert_says("parameter 'seconds'");
        out.assert_says("templated_pause.yaml:5:");
        assert!(!out.all().contains("panicked"), "{}", out.all());
        assert!(
            !dir.path().join("ran").exists(),
            "{secs}: the next task ran"
        );
    }
}

#[test]
fn load_balancer_bad_on_failure() {
    expect_load_error(
        "lb_bad_on_failure.yaml",
        &[
            "on_failure must be keep_out, restore or rollback, not 'rolback'",
            "lb_bad_on_failure.yaml:5:5",
            "did you mean 'rollback'?",
        ],
    );
}

#[test]
fn load_balancer_unknown_manager() {
    expect_load_error(
        "lb_unknown_manager.yaml",
        &[
            "unknown load balancer 'f5'",
            "lb_unknown_manager.yaml:3:5",
            "elbv2: (AWS target groups) or haproxy:",
        ],
    );
}

#[test]
fn load_balancer_rollback_policy_needs_rollback_tasks() {
    expect_load_error(
        "lb_rollback_without_tasks.yaml",
        &[
            "on_failure: rollback needs the play's 'rollback' tasks",
            "lb_rollback_without_tasks.yaml:5:5",
        ],
    );
}

#[test]
fn load_balancer_templated_value_is_checked_once_rendered_at_its_line() {
    // Written, the value is a template: the syntax check cannot judge it.
    let dir = tempfile::tempdir().unwrap();
    let out = play_local(
        "errors/lb_templated_duration.yaml",
        dir.path(),
        &["--syntax-check"],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    // Rendered, it fails before any task runs, at the key's own line.
    let stderr = expect_parse_error(
        "lb_templated_duration.yaml",
        &[
            "drain_timeout must be a duration such as 90, \"90s\" or \"5m\", not \"soon\"",
            "lb_templated_duration.yaml:11:5",
            "11 |     drain_timeout: \"{{ drain }}\"",
        ],
    );
    assert!(!stderr.contains("haproxy.sock"), "{stderr}");
}

#[test]
fn load_balancer_undefined_variable_is_named_at_its_key() {
    expect_load_error(
        "lb_undefined_variable.yaml",
        &[
            "undefined variable 'tg_ar'",
            "lb_undefined_variable.yaml:6:27",
            "6 |       target_groups: [\"{{ tg_ar }}\"]",
        ],
    );
}

#[test]
fn haproxy_names_that_would_run_another_command_are_refused() {
    expect_load_error(
        "lb_haproxy_name.yaml",
        &[
            "the HAProxy backend name \"app; disable server app/web2\" holds ';'",
            "lb_haproxy_name.yaml:7:7",
        ],
    );
    // Rendered, it fails before any task runs, at the key's own line.
    let stderr = expect_parse_error(
        "lb_haproxy_rendered_name.yaml",
        &[
            "the HAProxy server name \"web1\\nshutdown sessions server app/web2\" holds '\\n'",
            "lb_haproxy_rendered_name.yaml:10:7",
        ],
    );
    assert!(!stderr.contains("must not run"), "{stderr}");
}

#[test]
fn missing_role_names_the_paths_searched() {
    expect_load_error(
        "missing_role.yaml",
        &[
            "the role 'nowhere_to_be_found' was not found in",
            "missing_role.yaml:4:13",
            "errors/roles:",
            "ANSIBLE_ROLES_PATH",
        ],
    );
}

#[test]
fn collection_roles_are_not_supported() {
    expect_load_error(
        "collection_role.yaml",
        &[
            "'acme.web.nginx' is a collection role",
            "collections are not supported",
            "collection_role.yaml:6:15",
        ],
    );
}

#[test]
fn unknown_role_option_suggests() {
    expect_load_error(
        "role_unknown_option.yaml",
        &[
            "'tasks_form' is not a valid keyword for include_role's options",
            "role_unknown_option.yaml:7:9",
            "did you mean 'tasks_from'?",
        ],
    );
}

#[test]
fn async_on_a_module_that_cannot_run_detached() {
    expect_load_error(
        "async_unsupported.yaml",
        &[
            "This action (raw) does not support async.",
            ":7:14",
            "async runs only command and shell; remove 'async'",
        ],
    );
    expect_load_error(
        "async_not_a_number.yaml",
        &["expected a whole number, found 'soon'", ":6:14"],
    );
}
