//! `apt` on a disposable Debian root (tests/common/debian_root.rs) with a
//! local repository of rollout-hello and rollout-lib, versions 1.0 and 1.1.
//! Run under the fleet lock: `flock /tmp/rollout-fleet.lock cargo test --test apt`.

mod common;

use common::debian_root::DebianRoot;

/// Loopback ports 25400-25419 belong to these tests, one per test.
fn root(n: u8) -> Option<DebianRoot> {
    DebianRoot::up(160 + n, 25400 + u16::from(n))
}

#[test]
fn the_root_is_disposable_and_reached_over_ssh() {
    let Some(root) = root(0) else { return };
    assert_eq!(
        root.sh("echo written > /etc/rollout-marker; cat /etc/rollout-marker"),
        "written\n"
    );
    assert!(!std::path::Path::new("/etc/rollout-marker").exists());
    // Its own PID namespace: sshd is PID 1 there.
    assert_eq!(root.sh("cat /proc/1/comm").trim(), "sshd");
    let target = format!("{}:{}", root.address, root.port);
    drop(root);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        std::net::TcpStream::connect(&target).is_err(),
        "sshd outlived its root"
    );
}
