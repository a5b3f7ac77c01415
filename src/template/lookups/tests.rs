use super::super::Templar;
use minijinja::Value;
use serde_json::json;

/// A project directory with a file under `files/` and a template under
/// `templates/`, and a context whose `playbook_dir` is it.
fn project() -> (tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("files")).unwrap();
    std::fs::create_dir_all(dir.path().join("templates")).unwrap();
    std::fs::write(dir.path().join("files/motd"), "  hi  \n").unwrap();
    std::fs::write(
        dir.path().join("templates/t.j2"),
        "{{ who }}:{{ extra | default('-') }}\n",
    )
    .unwrap();
    let ctx = Value::from(minijinja::value::Serde(json!({
        "playbook_dir": dir.path().display().to_string(),
        "who": "web1",
    })));
    (dir, ctx)
}

fn eval(expr: &str, ctx: &Value) -> serde_json::Value {
    Templar::new()
        .eval(expr, ctx)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

#[test]
fn lookup_joins_strings_and_query_keeps_the_list() {
    let (_dir, ctx) = project();
    assert_eq!(eval("lookup('file', 'motd')", &ctx), json!("  hi"));
    assert_eq!(
        eval("lookup('file', 'motd', 'motd')", &ctx),
        json!("  hi,  hi")
    );
    assert_eq!(
        eval("query('file', 'motd', lstrip=true)", &ctx),
        json!(["hi"])
    );
    assert_eq!(eval("lookup('list', 1, 2)", &ctx), json!([1, 2]));
    assert_eq!(eval("q('items', [1, [2]], 3)", &ctx), json!([1, [2], 3]));
    assert_eq!(
        eval("lookup('list', 'a', wantlist=true)", &ctx),
        json!(["a"])
    );
}

#[test]
fn template_lookup_sees_the_callers_variables() {
    let (_dir, ctx) = project();
    assert_eq!(eval("lookup('template', 't.j2')", &ctx), json!("web1:-\n"));
    assert_eq!(
        eval(
            "lookup('template', 't.j2', template_vars={'extra': 1})",
            &ctx
        ),
        json!("web1:1\n")
    );
}

#[test]
fn failures_name_the_plugin_unless_ignored() {
    let (_dir, ctx) = project();
    let err = Templar::new()
        .eval("lookup('file', 'nope')", &ctx)
        .unwrap_err();
    assert!(
        err.message.contains("The lookup plugin 'file' failed"),
        "{err}"
    );
    assert!(err.message.contains("'nope'"), "{err}");
    assert_eq!(
        eval("lookup('file', 'nope', errors='ignore')", &ctx),
        json!(null)
    );
    let templar = Templar::new();
    assert_eq!(
        templar
            .eval("query('file', 'nope', errors='warn')", &ctx)
            .unwrap(),
        json!([])
    );
    assert_eq!(templar.take_warnings().len(), 1);
    assert!(templar.take_warnings().is_empty());
    let err = Templar::new().eval("lookup('dig', 'x')", &ctx).unwrap_err();
    assert!(
        err.message.contains("lookup plugin 'dig' is not supported"),
        "{err}"
    );
    let err = Templar::new()
        .eval("lookup('file', 'motd', bogus=1)", &ctx)
        .unwrap_err();
    assert!(err.message.contains("bogus"), "{err}");
}

#[test]
fn password_is_stored_once_and_read_back() {
    let (dir, ctx) = project();
    let first = eval(
        "lookup('password', 'creds/db length=16 chars=digits')",
        &ctx,
    );
    let text = first.as_str().unwrap();
    assert_eq!(text.len(), 16);
    assert!(text.chars().all(|c| c.is_ascii_digit()), "{text}");
    assert_eq!(eval("lookup('password', 'creds/db length=4')", &ctx), first);
    let stored = dir.path().join("creds/db");
    assert_eq!(
        std::fs::read_to_string(&stored).unwrap(),
        format!("{text}\n")
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&stored), 0o600);
    assert_eq!(mode(&dir.path().join("creds")), 0o700);
    // `,,` stands for a comma; /dev/null stores nothing.
    assert_eq!(
        eval("lookup('password', '/dev/null length=3 chars=,,')", &ctx),
        json!(",,,")
    );
    let err = Templar::new()
        .eval("lookup('password', '/dev/null encrypt=sha512_crypt')", &ctx)
        .unwrap_err();
    assert!(
        err.message.contains("'encrypt' option is not supported"),
        "{err}"
    );
}

#[test]
fn first_found_tries_names_under_paths_and_can_skip() {
    let (dir, ctx) = project();
    let motd = dir.path().join("files/motd").display().to_string();
    assert_eq!(
        eval("lookup('first_found', 'nope', 'files/motd')", &ctx),
        json!(motd)
    );
    assert_eq!(
        eval(
            "lookup('first_found', {'files': 'nope;motd', 'paths': 'x:files'})",
            &ctx
        ),
        json!(motd)
    );
    assert_eq!(
        eval("query('first_found', ['nope'], skip=true)", &ctx),
        json!([])
    );
    assert!(
        Templar::new()
            .eval("lookup('first_found', 'nope')", &ctx)
            .is_err()
    );
}

#[test]
fn every_with_lookup_the_loader_accepts_has_a_plugin() {
    for name in crate::playbook::load::WITH_LOOKUPS {
        assert!(super::PLUGINS.iter().any(|(n, _)| n == name), "{name}");
    }
}
