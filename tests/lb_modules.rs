//! The explicit load balancer modules (`haproxy`, `elb_target`) and the
//! ELBv2 faults the lifecycle must survive or report: throttling and 500s
//! (retried with back-off), a target group that does not exist, and an API
//! that cannot be used at all (no credentials, unreachable).

mod common;

use common::fleet::Fleet;
use common::lb::{aws_env, elb_calls, haproxy_transitions};
use std::fs;

#[test]
fn haproxy_module_drains_disables_and_enables() {
    let fleet = Fleet::up_with(2, 45, &["--haproxy"]);
    let pb = fleet.write(
        "hap.yaml",
        r#"
- hosts: host1
  tasks:
    - haproxy: { state: disabled, host: host2, backend: app, socket: "{{ haproxy_socket }}", drain: true, wait: true, wait_interval: 0.2 }
      delegate_to: localhost
      register: disabled
    - haproxy: { state: disabled, host: host2, socket: "{{ haproxy_socket }}" }
      delegate_to: localhost
      register: again
    - haproxy: { state: enabled, host: host2, socket: "{{ haproxy_socket }}", wait: true, wait_interval: 0.2 }
      delegate_to: localhost
      register: enabled
    - assert:
        that:
          - disabled.changed
          - not again.changed
          - enabled.changed
          - enabled.backends == ['app']
    - haproxy: { state: disabled, host: nosuch, socket: "{{ haproxy_socket }}", fail_on_not_found: true }
      delegate_to: localhost
"#,
    );
    let out = fleet.play(&pb, &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("no server 'nosuch'");
    assert_eq!(
        haproxy_transitions(&fleet),
        [
            "host2 enters drain state",
            "host2 is going DOWN for maintenance",
            "host2 is UP/READY (leaving forced maintenance)"
        ]
    );
}

#[test]
fn elb_target_module_and_elbv2_faults() {
    let fleet = Fleet::up_with(
        2,
        46,
        &["--elbv2", "--elb-port", "25092", "--dereg-delay", "2"],
    );
    let env = aws_env(&fleet);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let host2 = fleet.host(1)["instance_id"].as_str().unwrap().to_string();
    let pb = fleet.write(
        "elb.yaml",
        r#"
- hosts: host1
  tasks:
    - elb_target: { target_group_arn: "{{ tg_arn }}", target_id: "{{ target }}", state: absent, target_status: unused, target_status_timeout: 20 }
      register: gone
    - elb_target: { target_group_arn: "{{ tg_arn }}", target_id: "{{ target }}", state: absent }
      register: still_gone
    - elb_target: { target_group_name: web, target_id: "{{ target }}", target_port: "{{ port }}", state: present, target_status: healthy, target_status_timeout: 20 }
      register: back
    - assert:
        that:
          - gone.changed
          - not still_gone.changed
          - back.changed
          - back.target_port == port | int
"#,
    );
    let port = format!("port={}", fleet.host(1)["app_port"]);
    let target = format!("target={host2}");
    let out = fleet.play_env(&pb, &["-e", &target, "-e", &port], &env);
    assert_eq!(out.code, 0, "{}", out.all());
    let mutations: Vec<String> = elb_calls(&fleet)
        .into_iter()
        .filter(|(a, _)| a.ends_with("Targets"))
        .map(|(a, t)| format!("{a} {t}"))
        .collect();
    let app_port = &fleet.host(1)["app_port"];
    assert_eq!(
        mutations,
        [
            format!("DeregisterTargets {host2}:{app_port}"),
            format!("RegisterTargets {host2}:{app_port}")
        ]
    );

    // Throttling and 500s on the way: the rollout backs off and completes.
    fs::write(
        fleet.dir.join("elb-faults.json"),
        r#"{"throttle": 3, "fail": 2}"#,
    )
    .unwrap();
    let site = format!("{}/playbooks/site.yaml", env!("CARGO_MANIFEST_DIR"));
    let out = fleet.play_env(&site, &["-e", "version=2.0"], &env);
    assert_eq!(out.code, 0, "{}", out.all());
    let faults = fs::read_to_string(fleet.dir.join("elb-faults.json")).unwrap();
    assert_eq!(
        faults.replace(' ', ""),
        r#"{"throttle":0,"fail":0}"#,
        "every fault was served"
    );

    // A target group that does not exist: a clear error, nothing touched.
    let before = elb_calls(&fleet).len();
    let bogus = "tg_arn=arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/nope/0123456789abcdef";
    let out = fleet.play_env(&site, &["-e", "version=3.0", "-e", bogus], &env);
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.all().contains("does not exist"), "{}", out.all());
    let after: Vec<_> = elb_calls(&fleet).into_iter().skip(before).collect();
    assert!(
        after.iter().all(|(a, _)| !a.ends_with("Targets")),
        "{after:?}"
    );
    assert!(
        !fleet.root(0).join("app/releases/3.0").exists(),
        "no task ran before the load balancer was known"
    );
}

/// The `ERROR!` line of a failed run, checked to be a person's sentence
/// rather than the SDK's debug dump.
fn error_line(out: &common::Outcome) -> String {
    assert_ne!(out.code, 0, "{}", out.all());
    for dump in [
        "DispatchFailure",
        "ConnectorError",
        "ServiceError",
        "source:",
    ] {
        assert!(!out.all().contains(dump), "{}", out.all());
    }
    out.stderr
        .lines()
        .find(|l| l.starts_with("ERROR! "))
        .unwrap_or_else(|| panic!("no ERROR! line: {}", out.all()))
        .to_string()
}

#[test]
fn elbv2_that_cannot_be_used_says_what_to_do_in_one_line() {
    let fleet = Fleet::up_with(
        2,
        58,
        &["--elbv2", "--elb-port", "25108", "--dereg-delay", "2"],
    );
    let site = format!("{}/playbooks/site.yaml", env!("CARGO_MANIFEST_DIR"));
    let run = |env: &[(&str, String)], extra: &[&str]| {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut args = vec!["-e", "version=3.0"];
        args.extend_from_slice(extra);
        fleet.play_env(&site, &args, &env)
    };
    let untouched = |what: &str| {
        let mutations: Vec<_> = elb_calls(&fleet)
            .into_iter()
            .filter(|(a, _)| a.ends_with("Targets"))
            .collect();
        assert!(mutations.is_empty(), "{what}: {mutations:?}");
        assert!(
            !fleet.root(0).join("app/releases/3.0").exists(),
            "{what}: a task ran"
        );
    };

    // No credentials anywhere: blank variables count as unset for the
    // SDK, the files are empty, and IMDS is off.
    let empty = fleet.write("empty-aws-file", "");
    let mut env: Vec<(&str, String)> = aws_env(&fleet)
        .into_iter()
        .filter(|(k, _)| !k.contains("KEY") && !k.ends_with("_FILE"))
        .collect();
    env.extend([
        ("AWS_ACCESS_KEY_ID", String::new()),
        ("AWS_SECRET_ACCESS_KEY", String::new()),
        ("AWS_SESSION_TOKEN", String::new()),
        ("AWS_CONFIG_FILE", empty.clone()),
        ("AWS_SHARED_CREDENTIALS_FILE", empty),
    ]);
    let line = error_line(&run(&env, &[]));
    assert!(line.contains("no AWS credentials found"), "{line}");
    assert!(
        line.contains("AWS_ACCESS_KEY_ID") && line.contains("AWS_PROFILE"),
        "{line}"
    );
    untouched("no credentials");

    // An endpoint nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let nowhere = format!("http://{closed}");
    let env: Vec<(&str, String)> = aws_env(&fleet)
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                if k == "AWS_ENDPOINT_URL" {
                    nowhere.clone()
                } else {
                    v
                },
            )
        })
        .collect();
    let line = error_line(&run(&env, &[]));
    assert!(
        line.contains(&format!("cannot reach the ELBv2 API at {nowhere}")),
        "{line}"
    );
    assert!(line.contains("AWS_ENDPOINT_URL"), "{line}");
    untouched("unreachable");

    // A target group name moto does not know.
    let line = error_line(&run(&aws_env(&fleet), &["-e", "tg_arn=no-such-tg"]));
    assert!(
        line.contains("target group no-such-tg does not exist"),
        "{line}"
    );
    assert!(line.contains("check its name or ARN"), "{line}");
    untouched("no such target group");
}
