use super::*;
use proptest::prelude::*;
use serde_json::json;
use tempfile::TempDir;

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// Loads one inventory file called `name` from a fresh directory.
fn load_one(name: &str, text: &str) -> (TempDir, Result<Inventory, Diagnostic>) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), name, text);
    let result = Inventory::load(&[path]);
    (dir, result)
}

fn load_ok(text: &str) -> (TempDir, Inventory) {
    let (dir, result) = load_one("inventory", text);
    (dir, result.unwrap_or_else(|e| panic!("{e}")))
}

fn load_err(name: &str, text: &str) -> String {
    let (_dir, result) = load_one(name, text);
    result.expect_err("loading should fail").to_string()
}

fn sel(inv: &Inventory, pattern: &str) -> Vec<String> {
    inv.select(pattern).unwrap_or_else(|e| panic!("{e}"))
}

const INI: &str = "\
# a comment
bastion ansible_host=10.0.0.1

[web]
web[01:03] ansible_user=deploy
web04 ansible_port=2222 motd='hello world' # trailing comment
web05:2200

[db]
db-[a:b]
web01

[web:vars]
http_port=8080
greeting = \"hi there\"

[prod:children]
web
db
";

#[test]
fn ini_without_extension_loads_hosts_groups_and_vars() {
    let (_dir, inv) = load_ok(INI);
    let hosts: Vec<&str> = inv.hosts().collect();
    assert_eq!(
        hosts,
        [
            "bastion", "web01", "web02", "web03", "web04", "web05", "db-a", "db-b"
        ]
    );
    assert_eq!(inv.host_vars("bastion")["ansible_host"], json!("10.0.0.1"));
    let web04 = inv.host_vars("web04");
    assert_eq!(web04["ansible_port"], json!(2222));
    assert_eq!(web04["motd"], json!("hello world"));
    assert_eq!(web04["http_port"], json!(8080));
    assert_eq!(web04["greeting"], json!("hi there"));
    assert_eq!(inv.host_vars("web05")["ansible_port"], json!(2200));
    assert_eq!(sel(&inv, "ungrouped"), ["bastion"]);
    assert_eq!(sel(&inv, "prod").len(), 7);
    assert_eq!(inv.group_names("web01"), ["db", "prod", "web"]);
    assert_eq!(inv.group_names("bastion"), ["ungrouped"]);
}

#[test]
fn ini_host_line_values_are_ints_or_strings() {
    let (_dir, inv) = load_ok("[g]\nh1 a=1 b=yes c=\"2\" d=007\n[g:vars]\ne='3'\nf=4\n");
    let vars = inv.host_vars("h1");
    assert_eq!(vars["a"], json!(1));
    assert_eq!(vars["b"], json!("yes"));
    assert_eq!(vars["c"], json!(2));
    assert_eq!(vars["d"], json!("007"));
    assert_eq!(vars["e"], json!("3"));
    assert_eq!(vars["f"], json!(4));
}

const YAML: &str = "\
all:
  hosts:
    bastion:
      ansible_host: 10.0.0.1
  vars:
    ntp: ntp.example.com
  children:
    web:
      hosts:
        web[1:3]:
          ansible_user: deploy
      vars:
        http_port: 8080
      children:
        canary:
          hosts:
            web1:
    db:
      hosts:
        db1:
dc_east:
  hosts:
    db1:
    web3:
";

#[test]
fn yaml_inventory_loads_nested_groups() {
    let (_dir, inv) = load_ok(YAML);
    let hosts: Vec<&str> = inv.hosts().collect();
    assert_eq!(hosts, ["bastion", "web1", "web2", "web3", "db1"]);
    let web1 = inv.host_vars("web1");
    assert_eq!(web1["ntp"], json!("ntp.example.com"));
    assert_eq!(web1["http_port"], json!(8080));
    assert_eq!(web1["ansible_user"], json!("deploy"));
    assert_eq!(inv.group_names("web1"), ["canary", "web"]);
    assert_eq!(inv.group_names("db1"), ["db", "dc_east"]);
    assert_eq!(sel(&inv, "ungrouped"), ["bastion"]);
    let groups = inv.groups_map();
    assert_eq!(groups["all"].as_array().unwrap().len(), 5);
    assert_eq!(groups["web"], json!(["web1", "web2", "web3"]));
    assert_eq!(groups["ungrouped"], json!(["bastion"]));
    assert_eq!(groups["dc_east"], json!(["web3", "db1"]));
    assert!(inv.contains_host("db1") && !inv.contains_host("db2"));
}

#[test]
fn json_inventory_is_yaml() {
    let (_dir, inv) = load_ok(r#"{"web": {"hosts": {"w1": {"x": 1}}}}"#);
    assert_eq!(sel(&inv, "web"), ["w1"]);
    assert_eq!(inv.host_vars("w1")["x"], json!(1));
}

#[test]
fn deep_children_and_depth() {
    let (_dir, inv) = load_ok(
        "[a:children]\nb\n[b:children]\nc\n[c:children]\nd\n[d]\nh1\n[a:vars]\nv=a\n[c:vars]\nv=c\n[b:vars]\nv=b\n",
    );
    assert_eq!(sel(&inv, "a"), ["h1"]);
    assert_eq!(inv.group_names("h1"), ["a", "b", "c", "d"]);
    assert_eq!(inv.host_vars("h1")["v"], json!("c"));
}

#[test]
fn directory_inventory_merges_sorted_files_and_skips_others() {
    let dir = tempfile::tempdir().unwrap();
    let inv_dir = dir.path().join("inv");
    write(&inv_dir, "01-hosts", "[web]\nw1\n");
    write(&inv_dir, "02-more.yml", "web:\n  hosts:\n    w2:\n");
    write(&inv_dir, "sub/03-ini", "[db]\nd1\n");
    write(&inv_dir, "README.md", "# not an inventory: [\n");
    write(&inv_dir, "notes.txt", "{{{");
    write(&inv_dir, "01-hosts~", "[junk]\nj1\n");
    write(&inv_dir, ".hidden", "[junk]\nj2\n");
    write(&inv_dir, "group_vars/web.yml", "role: web\n");
    let inv = Inventory::load(&[inv_dir]).unwrap();
    assert_eq!(inv.hosts().collect::<Vec<_>>(), ["w1", "w2", "d1"]);
    assert_eq!(inv.host_vars("w2")["role"], json!("web"));
}

#[test]
fn comma_list_and_multiple_sources_merge() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "hosts", "[web]\nw1 x=1\n");
    let second = write(dir.path(), "more", "[web]\nw1 x=2\nw2\n");
    let inv = Inventory::load(&[file, PathBuf::from("h1, h2:2222,"), second]).unwrap();
    assert_eq!(inv.hosts().collect::<Vec<_>>(), ["w1", "h1", "h2", "w2"]);
    assert_eq!(inv.host_vars("h2")["ansible_port"], json!(2222));
    assert_eq!(inv.host_vars("w1")["x"], json!(2));
    assert_eq!(sel(&inv, "ungrouped"), ["h1", "h2"]);
}

#[test]
fn hosts_know_the_file_they_first_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "hosts", "[web]\nw1\nw3 inventory_dir=/mine\n");
    let second = write(dir.path(), "sub/more", "[web]\nw1\nw2\n");
    let inv = Inventory::load(&[file.clone(), second.clone()]).unwrap();
    let var = |h: &str, k: &str| inv.host_vars(h)[k].clone();
    assert_eq!(
        var("w1", "inventory_file"),
        json!(file.display().to_string())
    );
    assert_eq!(
        var("w1", "inventory_dir"),
        json!(dir.path().display().to_string())
    );
    assert_eq!(
        var("w2", "inventory_file"),
        json!(second.display().to_string())
    );
    assert_eq!(var("w3", "inventory_dir"), json!("/mine"));
}

#[test]
fn missing_source_is_an_error() {
    let err = Inventory::load(&[PathBuf::from("/nonexistent/inventory")]).unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[test]
fn a_host_in_several_groups_is_one_host() {
    let (_dir, inv) = load_ok("[a]\nh1\nh2\n[b]\nh1\n[c]\nh1\n");
    assert_eq!(inv.hosts().count(), 2);
    assert_eq!(sel(&inv, "a:b:c"), ["h1", "h2"]);
}

// --- errors ---

#[test]
fn cycles_are_errors_with_a_location() {
    let text = load_err(
        "hosts",
        "[a:children]\nb\n[b:children]\nc\n[c:children]\na\n",
    );
    assert!(text.contains("own descendant"), "{text}");
    assert!(
        text.contains("a -> b -> c -> a")
            || text.contains("c -> a -> b -> c")
            || text.contains("b -> c -> a -> b"),
        "{text}"
    );
    assert!(text.contains("hosts:"), "{text}");

    let text = load_err("inv.yml", "web:\n  children:\n    web:\n");
    assert!(text.contains("web -> web"), "{text}");
    assert!(text.contains("inv.yml:3:5"), "{text}");
}

#[test]
fn malformed_yaml_points_at_the_line() {
    let text = load_err("inv.yml", "all:\n  hosts:\n    web1: {\n    web2:\n");
    assert!(text.contains("inv.yml:"), "{text}");
    assert!(text.contains("invalid YAML inventory"), "{text}");
}

#[test]
fn unknown_group_key_suggests_the_right_one() {
    let text = load_err(
        "inventory",
        "all:\n  children:\n    web:\n      hots:\n        w1:\n",
    );
    assert!(text.contains("inventory:4:7"), "{text}");
    assert!(text.contains("unknown key 'hots' in group 'web'"), "{text}");
    assert!(text.contains("did you mean 'hosts'?"), "{text}");
}

#[test]
fn hosts_as_a_list_shows_the_right_shape() {
    let text = load_err("inv.yaml", "web:\n  hosts:\n    - w1\n    - w2\n");
    assert!(text.contains("inv.yaml:3:5"), "{text}");
    assert!(
        text.contains("must be a mapping of host names, found a list"),
        "{text}"
    );
    assert!(text.contains("ansible_host: 10.0.0.2"), "{text}");
}

#[test]
fn wrong_types_in_yaml_are_errors() {
    for (text, expect) in [
        (
            "web:\n  vars: [1]\n",
            "vars of group 'web' must be a mapping",
        ),
        (
            "web:\n  hosts:\n    w1: 3\n",
            "vars of host 'w1' must be a mapping",
        ),
        (
            "web:\n  children: [db]\n",
            "children of group 'web' must be a mapping",
        ),
        ("web: {}\ndb: w1\n", "group 'db' must be a mapping"),
        ("web:\n  hosts:\n    w[3:1]:\n", "start <= end"),
    ] {
        let err = load_err("inv.yml", text);
        assert!(err.contains(expect), "{text:?} gave {err}");
        assert!(err.contains("inv.yml:"), "{err}");
    }
}

#[test]
fn malformed_ini_points_at_the_line_and_column() {
    for (text, expect, place) in [
        (
            "[web]\nw1 ansible_port\n",
            "expected key=value host variable, got 'ansible_port'",
            "hosts:2:4",
        ),
        (
            "[web]\nw1 a='unclosed\n",
            "no closing quotation",
            "hosts:2:6",
        ),
        ("[web:var]\nx=1\n", "unknown type 'var'", "hosts:1:1"),
        (
            "[web]\n[web:vars]\njust_a_word\n",
            "expected key=value",
            "hosts:3:1",
        ),
        ("[web\n", "invalid section header", "hosts:1:1"),
        ("[web]\n  w[1:2\n", "unclosed '['", "hosts:2:3"),
        ("[a:children]\nb c\n", "expected a group name", "hosts:2:1"),
    ] {
        let err = load_err("hosts", text);
        assert!(err.contains(expect), "{text:?} gave {err}");
        assert!(err.contains(place), "{text:?} gave {err}");
    }
    assert!(load_err("hosts", "[web:var]\n").contains("did you mean 'vars'?"));
}

#[test]
fn vars_file_errors_point_at_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "hosts", "[web]\nw1\n");
    write(dir.path(), "group_vars/web.yml", "a: 1\nb: [\n");
    let err = Inventory::load(std::slice::from_ref(&file))
        .unwrap_err()
        .to_string();
    assert!(err.contains("web.yml:"), "{err}");

    write(dir.path(), "group_vars/web.yml", "- 1\n");
    let err = Inventory::load(&[file]).unwrap_err().to_string();
    assert!(
        err.contains("web.yml:1:1") && err.contains("must hold a mapping"),
        "{err}"
    );
}

// --- group_vars / host_vars ---

#[test]
fn group_and_host_vars_in_every_form() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "hosts",
        "[a]\nh1\n[b]\nh1\n[c]\nh1\n[d]\nh1\n[e]\nh1\nweb1.example.com\n",
    );
    write(dir.path(), "group_vars/a.yml", "from_a: yml\n");
    write(dir.path(), "group_vars/b.yaml", "from_b: yaml\n");
    write(dir.path(), "group_vars/c.json", r#"{"from_c": "json"}"#);
    write(dir.path(), "group_vars/d", "from_d: bare\n");
    write(
        dir.path(),
        "group_vars/e/10-first.yml",
        "from_e: first\ne_only: 1\n",
    );
    write(dir.path(), "group_vars/e/20-second", "from_e: second\n");
    write(
        dir.path(),
        "group_vars/e/30-ignored.txt",
        "from_e: ignored\n",
    );
    write(
        dir.path(),
        "group_vars/e/nested/40-third.yaml",
        "nested: yes\n",
    );
    write(dir.path(), "group_vars/all.yml", "everyone: true\n");
    write(dir.path(), "host_vars/web1.example.com", "dotted: works\n");
    write(dir.path(), "host_vars/h1/main.yml", "host_dir: works\n");
    let inv = Inventory::load(&[file]).unwrap();
    let vars = inv.host_vars("h1");
    assert_eq!(vars["from_a"], json!("yml"));
    assert_eq!(vars["from_b"], json!("yaml"));
    assert_eq!(vars["from_c"], json!("json"));
    assert_eq!(vars["from_d"], json!("bare"));
    assert_eq!(vars["from_e"], json!("second"));
    assert_eq!(vars["e_only"], json!(1));
    assert_eq!(vars["nested"], json!(true));
    assert_eq!(vars["everyone"], json!(true));
    assert_eq!(vars["host_dir"], json!("works"));
    assert_eq!(inv.host_vars("web1.example.com")["dotted"], json!("works"));
}

#[test]
fn playbook_vars_are_added_and_win() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "inventory/hosts", "[web]\nw1\n");
    write(
        dir.path(),
        "inventory/group_vars/web.yml",
        "x: inventory\ny: inventory\n",
    );
    write(dir.path(), "playbooks/group_vars/web.yml", "x: playbook\n");
    write(
        dir.path(),
        "playbooks/host_vars/localhost.yml",
        "z: local\n",
    );
    let mut inv = Inventory::load(&[file]).unwrap();
    inv.load_playbook_vars(&dir.path().join("playbooks"))
        .unwrap();
    let vars = inv.host_vars("w1");
    assert_eq!(vars["x"], json!("playbook"));
    assert_eq!(vars["y"], json!("inventory"));
    assert_eq!(inv.host_vars("localhost")["z"], json!("local"));
}

/// Sets `v` at every layer, then peels layers off from the top: each time
/// the next layer down must show through.
#[test]
fn precedence_each_layer_beats_the_one_below() {
    // Lowest first: (file, text, the value that layer sets).
    let layers = [
        ("inv/hosts", "[all:vars]\nv=inv_file_all\n", "inv_file_all"),
        (
            "inv/hosts",
            "[parent:vars]\nv=inv_file_parent\n",
            "inv_file_parent",
        ),
        (
            "inv/hosts",
            "[child:vars]\nv=inv_file_child\n",
            "inv_file_child",
        ),
        ("inv/group_vars/all.yml", "v: inv_dir_all\n", "inv_dir_all"),
        ("pb/group_vars/all.yml", "v: pb_dir_all\n", "pb_dir_all"),
        (
            "inv/group_vars/parent.yml",
            "v: inv_dir_parent\n",
            "inv_dir_parent",
        ),
        (
            "inv/group_vars/child.yml",
            "v: inv_dir_child\n",
            "inv_dir_child",
        ),
        (
            "pb/group_vars/parent.yml",
            "v: pb_dir_parent\n",
            "pb_dir_parent",
        ),
        (
            "pb/group_vars/child.yml",
            "v: pb_dir_child\n",
            "pb_dir_child",
        ),
        (
            "inv/hosts",
            "[child]\nh1 v=inv_file_host\n",
            "inv_file_host",
        ),
        ("inv/host_vars/h1.yml", "v: inv_dir_host\n", "inv_dir_host"),
        ("pb/host_vars/h1.yml", "v: pb_dir_host\n", "pb_dir_host"),
    ];
    for top in 0..layers.len() {
        let dir = tempfile::tempdir().unwrap();
        let mut hosts_file = String::from("[parent:children]\nchild\n[child]\nh1\n");
        for (file, text, _) in &layers[..=top] {
            if *file == "inv/hosts" {
                hosts_file.push_str(text);
            } else {
                write(dir.path(), file, text);
            }
        }
        let file = write(dir.path(), "inv/hosts", &hosts_file);
        let mut inv = Inventory::load(&[file]).unwrap();
        inv.load_playbook_vars(&dir.path().join("pb")).unwrap();
        assert_eq!(
            inv.host_vars("h1")["v"],
            json!(layers[top].2),
            "top layer {top}"
        );
    }
}

#[test]
fn sibling_groups_order_by_priority_then_name() {
    let (_dir, inv) = load_ok("[a]\nh1\n[b]\nh1\n[a:vars]\nv=a\n[b:vars]\nv=b\n");
    assert_eq!(inv.host_vars("h1")["v"], json!("b"));
    let (_dir, inv) =
        load_ok("[a]\nh1\n[b]\nh1\n[a:vars]\nv=a\nansible_group_priority=10\n[b:vars]\nv=b\n");
    assert_eq!(inv.host_vars("h1")["v"], json!("a"));
}

// --- patterns ---

fn pattern_inventory() -> (TempDir, Inventory) {
    load_ok(
        "[web]\nweb1\nweb2\nweb3\n[db]\ndb1.example.com\ndb2.example.com\n\
         [prod:children]\nweb\n[prod]\ndb1.example.com\n[staging]\nweb3\nstage1\n",
    )
}

#[test]
fn patterns_names_globs_and_regexes() {
    let (_dir, inv) = pattern_inventory();
    let all = [
        "web1",
        "web2",
        "web3",
        "db1.example.com",
        "db2.example.com",
        "stage1",
    ];
    assert_eq!(sel(&inv, "all"), all);
    assert_eq!(sel(&inv, "*"), all);
    assert_eq!(sel(&inv, "web"), ["web1", "web2", "web3"]);
    assert_eq!(sel(&inv, "web2"), ["web2"]);
    assert_eq!(sel(&inv, "web*"), ["web1", "web2", "web3"]);
    assert_eq!(
        sel(&inv, "*.example.com"),
        ["db1.example.com", "db2.example.com"]
    );
    assert_eq!(sel(&inv, "web[1-2]"), ["web1", "web2"]);
    assert_eq!(sel(&inv, "~web\\d+"), ["web1", "web2", "web3"]);
    assert_eq!(sel(&inv, "~(db|stage)1"), ["db1.example.com", "stage1"]);
    assert_eq!(
        sel(&inv, "pro?"),
        ["web1", "web2", "web3", "db1.example.com"]
    );
}

#[test]
fn patterns_combine_like_ansible() {
    let (_dir, inv) = pattern_inventory();
    // The pattern's order, as ansible-playbook 2.19.14 runs it (recorded
    // with forks 1: `db:web` touches the db hosts first).
    assert_eq!(
        sel(&inv, "db:web"),
        ["db1.example.com", "db2.example.com", "web1", "web2", "web3"]
    );
    assert_eq!(sel(&inv, "db,web"), sel(&inv, "db:web"));
    assert_eq!(sel(&inv, "web:&staging"), ["web3"]);
    assert_eq!(sel(&inv, "web:!web3"), ["web1", "web2"]);
    assert_eq!(sel(&inv, "prod:!web2:&web"), ["web1", "web3"]);
    // Order of writing does not matter: unions, then &, then !.
    assert_eq!(
        sel(&inv, "!web1:&prod:web:db"),
        ["web2", "web3", "db1.example.com"]
    );
    assert_eq!(
        sel(&inv, "!web"),
        ["db1.example.com", "db2.example.com", "stage1"]
    );
    assert_eq!(sel(&inv, "web1:web1:web"), ["web1", "web2", "web3"]);
}

#[test]
fn subscripts_are_inclusive_and_may_be_negative() {
    let (_dir, inv) = pattern_inventory();
    assert_eq!(sel(&inv, "web[0]"), ["web1"]);
    assert_eq!(sel(&inv, "web[-1]"), ["web3"]);
    assert_eq!(sel(&inv, "web[0:1]"), ["web1", "web2"]);
    assert_eq!(sel(&inv, "web[1:]"), ["web2", "web3"]);
    assert_eq!(sel(&inv, "web[7]"), Vec::<String>::new());
    assert_eq!(sel(&inv, "web[-9]"), Vec::<String>::new());
    assert_eq!(sel(&inv, "web[0]:db[1]"), ["web1", "db2.example.com"]);
}

#[test]
fn unknown_terms_match_nothing_and_are_reported() {
    let (_dir, inv) = pattern_inventory();
    let found = inv.resolve("web1:nosuch:&nothing").unwrap();
    assert!(found.hosts.is_empty());
    assert_eq!(found.unmatched, ["nosuch", "nothing"]);
    assert_eq!(inv.unmatched_terms("web*:nope*").unwrap(), ["nope*"]);
    assert!(inv.select("~(").is_err());
    assert!(inv.select("web:!").is_err());
}

#[test]
fn implicit_localhost() {
    let (_dir, inv) = load_ok("[all:vars]\nshared=1\n[web]\nw1\n");
    assert_eq!(sel(&inv, "localhost"), ["localhost"]);
    assert_eq!(sel(&inv, "w1:localhost"), ["w1", "localhost"]);
    assert!(sel(&inv, "all").iter().all(|h| h != "localhost"));
    assert!(inv.is_implicit_localhost("localhost"));
    let vars = inv.host_vars("localhost");
    assert_eq!(vars["ansible_connection"], json!("local"));
    assert_eq!(vars["shared"], json!(1));
    assert!(inv.group_names("localhost").is_empty());
    assert!(inv.host_vars("stranger").is_empty());

    let (_dir, inv) = load_ok("[local]\nlocalhost ansible_connection=ssh\n");
    assert!(!inv.is_implicit_localhost("localhost"));
    assert_eq!(
        inv.host_vars("localhost")["ansible_connection"],
        json!("ssh")
    );
}

#[test]
fn limit_filters_with_patterns_and_files() {
    let (dir, inv) = pattern_inventory();
    let hosts = sel(&inv, "all");
    let limited = inv.limit(&hosts, "web:!web2").unwrap();
    assert_eq!(limited.hosts, ["web1", "web3"]);
    let limited = inv.limit(&hosts, "!web").unwrap();
    assert_eq!(
        limited.hosts,
        ["db1.example.com", "db2.example.com", "stage1"]
    );

    let file = write(dir.path(), "retry", "stage1\n\nweb2\n");
    let limited = inv.limit(&hosts, &format!("@{}", file.display())).unwrap();
    assert_eq!(limited.hosts, ["web2", "stage1"]);
    assert!(inv.limit(&hosts, "@/no/such/file").is_err());

    let both = inv.select_limited("prod", Some("web*:ghost")).unwrap();
    assert_eq!(both.hosts, ["web1", "web2", "web3"]);
    assert_eq!(both.unmatched, ["ghost"]);
}

// --- robustness ---

fn yamlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("all:".to_string()),
        Just("hosts:".to_string()),
        Just("children:".to_string()),
        Just("vars:".to_string()),
        Just("\n".to_string()),
        Just("  ".to_string()),
        Just("- ".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(":".to_string()),
        Just("=".to_string()),
        Just("'".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("#".to_string()),
        Just(",".to_string()),
        "[a-z0-9]{1,6}",
        "\\[[a-z0-9]{0,3}:[a-z0-9]{0,3}\\]",
    ];
    proptest::collection::vec(piece, 0..60).prop_map(|p| p.concat())
}

fn exercise(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "inventory", text);
    if let Ok(inv) = Inventory::load(&[path]) {
        let hosts: Vec<String> = inv.hosts().map(str::to_string).collect();
        for host in &hosts {
            inv.host_vars(host);
            inv.group_names(host);
        }
        inv.groups_map();
        let _ = inv.select(text);
        let _ = inv.limit(&hosts, text);
    }
    let _ = Inventory::default().select(text);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn loaders_never_panic(text in ".{0,300}") {
        exercise(&text);
    }

    #[test]
    fn loaders_never_panic_on_yamlish_text(text in yamlish()) {
        exercise(&text);
    }

    #[test]
    fn patterns_never_panic(pattern in "[a-z0-9!&~*?:,\\[\\]\\-\\\\.]{0,40}") {
        let (_dir, inv) = pattern_inventory();
        let _ = inv.select(&pattern);
    }
}
