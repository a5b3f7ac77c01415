//! The `min` subset: platform, distribution, user, date and time, service
//! and package managers, Python, FIPS and the environment; and the
//! `virtual` subset. Semantics follow Ansible's collectors in
//! `lib/ansible/module_utils/facts/system/` and `virtual/linux.py`.

use super::parser::{Sections, key_values};
use serde_json::{Map, Value as Json, json};
use std::collections::HashMap;

pub type Facts = Map<String, Json>;

/// hostname, nodename, fqdn, domain, system, kernel, architecture, machine_id...
pub fn platform(s: &Sections<'_>, facts: &mut Facts) {
    // `uname -snrvm`: the kernel version (-v) is the only field with spaces.
    let fields: Vec<&str> = s.first("uname").unwrap_or("").split_whitespace().collect();
    let field = |i: usize| fields.get(i).copied().unwrap_or("").to_string();
    let (system, nodename, kernel) = (field(0), field(1), field(2));
    let machine = match fields.len() {
        n if n >= 5 => field(n - 1),
        _ => String::new(),
    };
    let version = fields
        .get(3..fields.len().saturating_sub(1))
        .unwrap_or_default();
    facts.insert("system".into(), json!(system));
    facts.insert("kernel".into(), json!(kernel));
    facts.insert("kernel_version".into(), json!(version.join(" ")));
    facts.insert("machine".into(), json!(machine));
    facts.insert("architecture".into(), json!(architecture(&machine)));
    facts.insert(
        "userspace_architecture".into(),
        json!(architecture(&machine)),
    );
    let bits = if machine.contains("64") || machine == "s390x" {
        "64"
    } else {
        "32"
    };
    facts.insert("userspace_bits".into(), json!(bits));
    let hostname = nodename.split('.').next().unwrap_or("").to_string();
    // socket.getfqdn(): the first of the address's names holding a dot, else its name.
    let names: Vec<&str> = s
        .first("fqdn")
        .map(|l| l.split_whitespace().skip(1).collect())
        .unwrap_or_default();
    let fqdn = (names.iter().find(|n| n.contains('.')).or(names.first()))
        .map_or(nodename.clone(), |n| n.to_string());
    let domain = fqdn.split_once('.').map_or("", |(_, d)| d).to_string();
    facts.insert("hostname".into(), json!(hostname));
    facts.insert("nodename".into(), json!(nodename));
    facts.insert("fqdn".into(), json!(fqdn));
    facts.insert("domain".into(), json!(domain));
    if let Some(id) = s.first("machine_id") {
        facts.insert("machine_id".into(), json!(id));
    }
}

/// Ansible's `ansible_architecture`: `i386` for the 32-bit x86 machines.
fn architecture(machine: &str) -> String {
    match machine {
        "i386" | "i486" | "i586" | "i686" => "i386".into(),
        other => other.into(),
    }
}

/// Ansible's names for os-release IDs (`distro.id()` and its renames).
const DISTRIBUTION_NAMES: &[(&str, &str)] = &[
    ("debian", "Debian"),
    ("raspbian", "Debian"),
    ("ubuntu", "Ubuntu"),
    ("centos", "CentOS"),
    ("rhel", "RedHat"),
    ("redhat", "RedHat"),
    ("fedora", "Fedora"),
    ("rocky", "Rocky"),
    ("almalinux", "AlmaLinux"),
    ("amzn", "Amazon"),
    ("ol", "OracleLinux"),
    ("alpine", "Alpine"),
    ("arch", "Archlinux"),
    ("manjaro", "Manjaro"),
    ("opensuse-leap", "openSUSE Leap"),
    ("opensuse-tumbleweed", "openSUSE Tumbleweed"),
    ("opensuse", "openSUSE"),
    ("sles", "SLES"),
    ("sles_sap", "SLES_SAP"),
    ("gentoo", "Gentoo"),
    ("linuxmint", "Linux Mint"),
    ("pop", "Pop!_OS"),
    ("kali", "Kali"),
    ("devuan", "Devuan"),
    ("clear-linux-os", "Clear Linux OS"),
    ("slackware", "Slackware"),
    ("void", "Void"),
    ("nixos", "NixOS"),
];

/// Ansible's OS_FAMILY_MAP (distribution → family); others are their own family.
const OS_FAMILIES: &[(&str, &[&str])] = &[
    (
        "RedHat",
        &[
            "RedHat",
            "RHEL",
            "Fedora",
            "CentOS",
            "Scientific",
            "SLC",
            "Ascendos",
            "CloudLinux",
            "PSBM",
            "OracleLinux",
            "OVS",
            "OEL",
            "Amazon",
            "Amzn",
            "Virtuozzo",
            "XenServer",
            "Alibaba",
            "EulerOS",
            "openEuler",
            "AlmaLinux",
            "Rocky",
            "TencentOS",
            "EuroLinux",
            "Kylin Linux Advanced Server",
            "MIRACLE",
        ],
    ),
    (
        "Debian",
        &[
            "Debian",
            "Ubuntu",
            "Raspbian",
            "Neon",
            "KDE neon",
            "Linux Mint",
            "SteamOS",
            "Devuan",
            "Kali",
            "Cumulus Linux",
            "Pop!_OS",
            "Parrot",
            "Pardus GNU/Linux",
            "Uos",
            "Deepin",
            "OSMC",
        ],
    ),
    (
        "Suse",
        &[
            "SuSE",
            "SLES",
            "SLED",
            "openSUSE",
            "openSUSE Tumbleweed",
            "SLES_SAP",
            "SUSE_LINUX",
            "openSUSE Leap",
            "ALP-Dolomite",
            "SL-Micro",
        ],
    ),
    ("Archlinux", &["Archlinux", "Antergos", "Manjaro"]),
    ("Mandrake", &["Mandrake", "Mandriva"]),
    (
        "Solaris",
        &["Solaris", "Nexenta", "OmniOS", "OpenIndiana", "SmartOS"],
    ),
    ("Gentoo", &["Gentoo", "Funtoo"]),
    ("Darwin", &["MacOSX"]),
    ("FreeBSD", &["FreeBSD", "TrueOS"]),
    ("ClearLinux", &["Clear Linux OS", "Clear Linux Mix"]),
];

pub fn os_family(distribution: &str) -> String {
    (OS_FAMILIES.iter())
        .find(|(_, members)| members.contains(&distribution))
        .map_or(distribution, |(family, _)| family)
        .to_string()
}

/// distribution, its version, major version, release and os_family; lsb.
pub fn distribution(s: &Sections<'_>, facts: &mut Facts) {
    let system = facts.get("system").and_then(Json::as_str).unwrap_or("");
    let os = key_values(s.get("os_release"));
    let get = |k: &str| os.get(k).cloned().unwrap_or_default();
    let (name, mut version, mut release) = if system != "Linux" || os.is_empty() {
        (system.to_string(), String::new(), "NA".to_string())
    } else {
        let id = get("ID");
        let name = (DISTRIBUTION_NAMES.iter())
            .find(|(k, _)| *k == id)
            .map_or_else(|| capitalize(&id), |(_, v)| v.to_string());
        let codename = [get("VERSION_CODENAME"), get("UBUNTU_CODENAME")]
            .into_iter()
            .find(|c| !c.is_empty())
            .unwrap_or_else(|| "NA".into());
        (name, get("VERSION_ID"), codename)
    };
    let mut minor = version.split('.').nth(1).map(String::from);
    if name == "Debian" {
        // Debian's point release is in /etc/debian_version ("12.11").
        let point = s.first("debian_version").unwrap_or("");
        if point
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            version = point.to_string();
            minor = point.split('.').nth(1).map(String::from);
        }
        if release == "NA"
            && let Some(codename) = get("PRETTY_NAME")
                .split_once('(')
                .and_then(|(_, r)| r.split_once(')'))
        {
            release = codename.0.to_string();
        }
    }
    let major = version.split('.').next().unwrap_or("").to_string();
    facts.insert("distribution".into(), json!(name));
    facts.insert("distribution_version".into(), json!(version));
    facts.insert("distribution_major_version".into(), json!(major));
    if let Some(minor) = minor {
        facts.insert("distribution_minor_version".into(), json!(minor));
    }
    facts.insert("distribution_release".into(), json!(release));
    facts.insert("os_family".into(), json!(os_family(&name)));
    if let Some(lsb) = lsb(s, &os, &name) {
        facts.insert("lsb".into(), Json::Object(lsb));
    }
}

/// The `lsb` fact: /etc/lsb-release when present, else (when the
/// `lsb_release` command exists, which reads os-release) from os-release.
fn lsb(s: &Sections<'_>, os: &HashMap<String, String>, name: &str) -> Option<Facts> {
    let file = key_values(s.get("lsb_release"));
    let (id, release, codename, description) = if !file.is_empty() {
        let f = |k: &str| file.get(k).cloned();
        (
            f("DISTRIB_ID"),
            f("DISTRIB_RELEASE"),
            f("DISTRIB_CODENAME"),
            f("DISTRIB_DESCRIPTION"),
        )
    } else if s.first("lsb_command").is_some() && !os.is_empty() {
        let f = |k: &str| os.get(k).cloned();
        (
            Some(name.to_string()),
            f("VERSION_ID"),
            f("VERSION_CODENAME"),
            f("PRETTY_NAME"),
        )
    } else {
        return None;
    };
    let mut lsb = Facts::new();
    for (key, value) in [
        ("id", id),
        ("codename", codename),
        ("description", description),
    ] {
        if let Some(v) = value {
            lsb.insert(key.into(), json!(v));
        }
    }
    if let Some(release) = release {
        let major = release.split('.').next().unwrap_or("").to_string();
        lsb.insert("release".into(), json!(release));
        lsb.insert("major_release".into(), json!(major));
    }
    Some(lsb)
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect()
    })
}

/// user_id, user_uid, user_gid, user_gecos, user_dir, user_shell (the
/// login user's passwd entry) and the real/effective ids (the shell's
/// /proc/self/status), as Ansible's user collector.
pub fn user(s: &Sections<'_>, facts: &mut Facts) {
    for (key, real, effective) in [
        ("Uid:", "real_user_id", "effective_user_id"),
        ("Gid:", "real_group_id", "effective_group_id"),
    ] {
        let ids: Vec<i64> = (s.lines("status"))
            .find_map(|l| l.strip_prefix(key))
            .map(|rest| {
                rest.split_whitespace()
                    .filter_map(|n| n.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        if let [r, e, ..] = ids[..] {
            facts.insert(real.into(), json!(r));
            facts.insert(effective.into(), json!(e));
        }
    }
    let passwd: Vec<&str> = s.first("user").unwrap_or("").split(':').collect();
    if let [name, _, uid, gid, gecos, dir, shell, ..] = passwd[..] {
        facts.insert("user_id".into(), json!(name));
        for (fact, value) in [("user_uid", uid), ("user_gid", gid)] {
            if let Ok(n) = value.parse::<i64>() {
                facts.insert(fact.into(), json!(n));
            }
        }
        facts.insert("user_gecos".into(), json!(gecos));
        facts.insert("user_dir".into(), json!(dir));
        facts.insert("user_shell".into(), json!(shell));
    }
}

/// The `date_time` fact, from `date '+%s %N %z %Z'` on the host.
pub fn date_time(s: &Sections<'_>, facts: &mut Facts) {
    let fields: Vec<&str> = s.first("date").unwrap_or("").split_whitespace().collect();
    let (Some(epoch), Some(nanos), Some(offset)) = (
        fields.first().and_then(|e| e.parse::<i64>().ok()),
        fields
            .get(1)
            .and_then(|n| n.parse::<u32>().ok())
            .or(Some(0)),
        fields.get(2).and_then(|o| parse_offset(o)),
    ) else {
        return;
    };
    let tz = fields.get(3).copied().unwrap_or("");
    let Some(utc) = chrono::DateTime::from_timestamp(epoch, nanos) else {
        return;
    };
    let local = utc.with_timezone(&offset);
    let micro = format!("{:06}", nanos / 1000);
    let f = |fmt: &str| local.format(fmt).to_string();
    let value = json!({
        "date": f("%Y-%m-%d"),
        "day": f("%d"),
        "epoch": epoch.to_string(),
        "epoch_int": epoch.to_string(),
        "hour": f("%H"),
        "iso8601": utc.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "iso8601_basic": format!("{}{micro}", f("%Y%m%dT%H%M%S")),
        "iso8601_basic_short": f("%Y%m%dT%H%M%S"),
        "iso8601_micro": format!("{}.{micro}Z", utc.format("%Y-%m-%dT%H:%M:%S")),
        "minute": f("%M"),
        "month": f("%m"),
        "second": f("%S"),
        "time": f("%H:%M:%S"),
        "tz": tz,
        "tz_dst": tz,
        "tz_offset": f("%z"),
        "weekday": f("%A"),
        "weekday_number": f("%w"),
        "weeknumber": f("%W"),
        "year": f("%Y"),
    });
    facts.insert("date_time".into(), value);
}

fn parse_offset(text: &str) -> Option<chrono::FixedOffset> {
    let (sign, digits) = match text.split_at_checked(1)? {
        ("+", d) => (1, d),
        ("-", d) => (-1, d),
        _ => return None,
    };
    let hours: i32 = digits.get(..2)?.parse().ok()?;
    let minutes: i32 = digits.get(2..4)?.parse().ok()?;
    chrono::FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// Ansible's service manager detection: PID 1's name (unless `init` or a
/// shell), else the markers systemd, upstart, openrc or sysvinit leave.
pub fn service_mgr(s: &Sections<'_>, facts: &mut Facts) {
    let proc_1 = (s.first("init").or(s.first("init_link")))
        .map(|p| p.rsplit('/').next().unwrap_or(p).trim())
        .filter(|p| *p != "init" && !p.ends_with("sh"));
    let paths: Vec<&str> = s.lines("init_paths").collect();
    let has = |p: &str| paths.contains(&p);
    let system = facts.get("system").and_then(Json::as_str).unwrap_or("");
    let offline_systemd = s
        .first("init_link")
        .is_some_and(|l| l.rsplit('/').next() == Some("systemd"));
    let name = match proc_1 {
        Some(p) => match p {
            "procd" => "openwrt_init",
            "runit-init" => "runit",
            "svscan" => "svc",
            "openrc-init" => "openrc",
            other => other,
        }
        .to_string(),
        None if system.contains("BSD") => "bsdinit".into(),
        None if system == "Linux" => {
            let systemd = has("systemctl")
                && ["/run/systemd/system", "/dev/.run/systemd", "/dev/.systemd"]
                    .iter()
                    .any(|p| has(p));
            if systemd {
                "systemd"
            } else if has("initctl") && has("/etc/init") {
                "upstart"
            } else if has("/sbin/openrc") {
                "openrc"
            } else if offline_systemd {
                "systemd"
            } else if has("/etc/init.d") {
                "sysvinit"
            } else if has("/etc/dinit.d") {
                "dinit"
            } else {
                "service"
            }
            .into()
        }
        None => "service".into(),
    };
    facts.insert("service_mgr".into(), json!(name));
}

/// Ansible's PKG_MGRS, in its order: the last that exists wins.
const PKG_MGRS: &[(&str, &str)] = &[
    ("/usr/bin/rpm-ostree", "atomic_container"),
    ("/usr/bin/yum", "dnf"),
    ("/usr/bin/dnf-3", "dnf"),
    ("/usr/bin/dnf5", "dnf5"),
    ("/usr/bin/apt-get", "apt"),
    ("/usr/bin/zypper", "zypper"),
    ("/usr/sbin/urpmi", "urpmi"),
    ("/usr/bin/pacman", "pacman"),
    ("/bin/opkg", "opkg"),
    ("/usr/pkg/bin/pkgin", "pkgin"),
    ("/opt/local/bin/pkgin", "pkgin"),
    ("/opt/tools/bin/pkgin", "pkgin"),
    ("/opt/local/bin/port", "macports"),
    ("/usr/local/bin/brew", "homebrew"),
    ("/opt/homebrew/bin/brew", "homebrew"),
    ("/sbin/apk", "apk"),
    ("/usr/sbin/pkg", "pkgng"),
    ("/usr/sbin/swlist", "swdepot"),
    ("/usr/bin/emerge", "portage"),
    ("/usr/sbin/pkgadd", "svr4pkg"),
    ("/usr/bin/pkg", "pkg5"),
    ("/usr/bin/xbps-install", "xbps"),
    ("/usr/local/sbin/pkg", "pkgng"),
    ("/usr/bin/swupd", "swupd"),
    ("/usr/sbin/sorcery", "sorcery"),
    ("/usr/bin/installp", "installp"),
];

pub fn pkg_mgr(s: &Sections<'_>, facts: &mut Facts) {
    let found: Vec<&str> = s.lines("pkg_paths").collect();
    let mut name = (PKG_MGRS.iter())
        .filter(|(path, _)| found.contains(path))
        .map(|(_, name)| *name)
        .next_back()
        .unwrap_or("unknown");
    let family = facts.get("os_family").and_then(Json::as_str).unwrap_or("");
    if family == "RedHat" {
        name = if found.contains(&"/run/ostree-booted") {
            "atomic_container"
        } else if found.contains(&"/usr/bin/dnf") || found.contains(&"/usr/bin/microdnf") {
            match s.first("dnf_target") {
                Some("/usr/bin/dnf5") => "dnf5",
                _ => "dnf",
            }
        } else {
            name
        };
    } else if family == "Debian" {
        name = "apt";
    } else if family == "Altlinux" && name == "apt" {
        name = "apt_rpm";
    }
    facts.insert("pkg_mgr".into(), json!(name));
}

/// `python` when the host has one: its path and the version its name
/// tells (`python3.11`); rollout never runs it to ask (so no micro version).
pub fn python(s: &Sections<'_>, facts: &mut Facts) {
    let mut lines = s.lines("python");
    let Some(found) = lines.next() else {
        return;
    };
    // The interpreter itself (`/usr/bin/python3.11`), as Ansible's
    // discovery names it, not the `python3` link.
    let real = lines.next().unwrap_or(found);
    let base = real.rsplit('/').next().unwrap_or(real);
    let numbers: Vec<i64> = (base.strip_prefix("python").unwrap_or(""))
        .split('.')
        .map_while(|n| n.parse().ok())
        .collect();
    let mut version = Facts::new();
    for (key, value) in ["major", "minor"].iter().zip(&numbers) {
        version.insert(key.to_string(), json!(value));
    }
    facts.insert(
        "python".into(),
        json!({"executable": real, "type": "cpython", "version": version}),
    );
}

pub fn fips(s: &Sections<'_>, facts: &mut Facts) {
    facts.insert("fips".into(), json!(s.first("fips") == Some("1")));
}

/// The environment the gathering shell started with.
pub fn env(s: &Sections<'_>, facts: &mut Facts) {
    let text = s.get("env");
    let separator = if text.contains('\0') { '\0' } else { '\n' };
    let env: Facts = (text.split(separator))
        .filter_map(|entry| entry.split_once('='))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    facts.insert("env".into(), Json::Object(env));
}

/// virtualization_type and _role: containers (cgroup, PID 1's
/// `container=`, systemd's marker, /.dockerenv), then DMI names.
pub fn virtual_facts(s: &Sections<'_>, facts: &mut Facts) {
    let cgroup = s.first("virt_cgroup").unwrap_or("");
    let environ = s
        .first("virt_environ")
        .and_then(|l| l.strip_prefix("container="));
    let files: Vec<&str> = s.lines("virt_files").collect();
    let dmi: Vec<&str> = s.lines("virt_dmi").collect();
    let container = if cgroup.contains("/docker") {
        Some("docker".to_string())
    } else if cgroup.contains("lxc") {
        Some("lxc".into())
    } else if cgroup.contains("containerd") {
        Some("containerd".into())
    } else if let Some(kind) = environ {
        Some(match kind {
            "lxc" | "podman" => kind.to_string(),
            _ => "container".into(),
        })
    } else if let Some(kind) = s.first("virt_systemd") {
        Some(kind.to_string())
    } else if files.contains(&"/.dockerenv") || files.contains(&"/.dockerinit") {
        Some("docker".into())
    } else if files.contains(&"/run/.containerenv") {
        Some("podman".into())
    } else {
        None
    };
    let hypervisor = || -> Option<&str> {
        let product = dmi.first().copied().unwrap_or("");
        let vendor = dmi.get(1).copied().unwrap_or("");
        Some(match () {
            _ if product.contains("KVM") || product.contains("Bochs") => "kvm",
            _ if vendor.contains("QEMU") || vendor.contains("Amazon EC2") => "kvm",
            _ if product.contains("VMware") => "VMware",
            _ if product.contains("VirtualBox") => "virtualbox",
            _ if product.contains("HVM domU") || files.contains(&"/proc/xen") => "xen",
            _ if vendor.contains("Microsoft") && product.contains("Virtual Machine") => "VirtualPC",
            _ if vendor.contains("Google") => "kvm",
            _ => return None,
        })
    };
    let (kind, role) = match container {
        Some(kind) => (kind, "guest"),
        None => match hypervisor() {
            Some(kind) => (kind.to_string(), "guest"),
            None => ("NA".to_string(), "NA"),
        },
    };
    facts.insert("virtualization_type".into(), json!(kind));
    facts.insert("virtualization_role".into(), json!(role));
}
