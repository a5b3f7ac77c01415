//! Control modules and keywords over real OpenSSH hosts (tests/bed):
//! async jobs started with `poll: 0` and checked with `async_status`, an
//! async timeout that kills the job, `meta: reset_connection` (a new login
//! has a new sshd session process) and `wait_for_connection` while the
//! host's sshd is stopped and started again.

mod common;

use common::fleet::Fleet;
use std::path::Path;
use std::time::{Duration, Instant};

/// The `msg` of each `debug` task, in order.
fn messages(stdout: &str) -> Vec<String> {
    (stdout.lines())
        .filter_map(|l| l.trim().strip_prefix("\"msg\": \""))
        .map(|m| m.trim_end_matches('"').to_string())
        .collect()
}

#[test]
fn a_job_started_with_poll_zero_is_finished_later_through_async_status() {
    let fleet = Fleet::up(1, 130);
    let pb = fleet.write(
        "async_status.yaml",
        r#"- hosts: host1
  gather_facts: false
  tasks:
    - shell: sleep 2; echo "from the job"; echo to-err >&2
      async: 30
      poll: 0
      register: job
    - async_status:
        jid: "{{ job.ansible_job_id }}"
      register: polled
      until: polled is finished
      retries: 20
      delay: 1
    - command: ls -a {{ job.results_file | dirname }}
      register: left
    - async_status:
        jid: "{{ job.ansible_job_id }}"
        mode: cleanup
    - command: ls -a {{ job.results_file | dirname }}
      register: after
    - debug:
        msg: "started={{ job.started }} finished={{ job.finished }} changed={{ job.changed }}"
    - debug:
        msg: "attempts>1={{ polled.attempts > 1 }} out={{ polled.stdout }} err={{ polled.stderr }} rc={{ polled.rc }}"
    - debug:
        msg: "kept={{ job.ansible_job_id in left.stdout_lines }} erased={{ job.ansible_job_id not in after.stdout_lines }}"
"#,
    );
    let out = fleet.play(&pb, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        messages(&out.stdout),
        [
            "started=True finished=False changed=True",
            "attempts>1=True out=from the job err=to-err rc=0",
            "kept=True erased=True",
        ],
        "{}",
        out.stdout
    );
}

#[test]
fn an_async_job_past_its_time_fails_the_task_and_is_killed() {
    let fleet = Fleet::up(1, 131);
    let pid_file = fleet.root(0).join("job.pid");
    let pb = fleet.write(
        "async_timeout.yaml",
        &format!(
            r#"- hosts: host1
  gather_facts: false
  tasks:
    - shell: echo $$ > {pid}; sleep 60; echo late
      async: 2
      poll: 1
      register: slow
      ignore_errors: true
    - debug:
        msg: "failed={{{{ slow.failed }}}} msg={{{{ slow.msg }}}}"
"#,
            pid = pid_file.display()
        ),
    );
    let started = Instant::now();
    let out = fleet.play(&pb, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "waited for the job"
    );
    // Ansible's lines for a polled job.
    out.assert_says("ASYNC POLL on host1: jid=j");
    out.assert_says("ASYNC FAILED on host1: jid=j");
    let msg = messages(&out.stdout).join("\n");
    assert!(
        msg == "failed=True msg=async task did not complete within the requested time - 2s"
            || msg == "failed=True msg=Timeout exceeded",
        "{msg}"
    );
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let proc = Path::new("/proc").join(pid.trim());
    let deadline = Instant::now() + Duration::from_secs(5);
    while proc.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!proc.exists(), "the job's shell {} still runs", pid.trim());
}

#[test]
fn reset_connection_makes_the_next_task_log_in_again() {
    let fleet = Fleet::up(1, 132);
    let pb = fleet.write(
        "reset.yaml",
        r#"- hosts: host1
  gather_facts: false
  tasks:
    - shell: echo $PPID
      register: first
    - shell: echo $PPID
      register: second
    - meta: reset_connection
    - shell: echo $PPID
      register: third
    - meta: reset_connection
      when: false
    - shell: echo $PPID
      register: fourth
    - ping:
      register: pinged
    - debug:
        msg: "pooled={{ first.stdout == second.stdout }} new={{ second.stdout != third.stdout }} when_ignored={{ third.stdout != fourth.stdout }} ping={{ pinged.ping }}"
"#,
    );
    let out = fleet.play(&pb, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.all()
            .contains("reset_connection task does not support when conditional"),
        "{}",
        out.all()
    );
    assert_eq!(
        messages(&out.stdout),
        ["pooled=True new=True when_ignored=True ping=pong"],
        "{}",
        out.stdout
    );
}

#[test]
fn wait_for_connection_reconnects_once_sshd_is_back() {
    let fleet = Fleet::up(1, 133);
    let host = fleet.host(0);
    let (config, log) = (
        host["sshd_config"].as_str().unwrap(),
        host["sshd_log"].as_str().unwrap(),
    );
    let pb = fleet.write(
        "wait.yaml",
        &format!(
            r#"- hosts: host1
  gather_facts: false
  tasks:
    - command: "true"
    - name: stop sshd (the open session stays), start it again in 3s
      shell: kill {pid}; (sleep 3; /usr/sbin/sshd -f {config} -E {log}) >/dev/null 2>&1 &
      delegate_to: localhost
    - wait_for_connection:
        sleep: 1
        timeout: 30
      register: waited
    - command: echo back
      register: back
    - debug:
        msg: "waited={{{{ waited.elapsed >= 2 }}}} back={{{{ back.stdout }}}}"
"#,
            pid = fleet.sshd_pid(0),
        ),
    );
    let out = fleet.play(&pb, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        messages(&out.stdout),
        ["waited=True back=back"],
        "{}",
        out.stdout
    );
}
