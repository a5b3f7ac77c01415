//! The `hardware` subset: processors, memory and mounts, as Ansible's
//! `hardware/linux.py` computes them.

use super::parser::{Sections, round_half_even};
use super::system::Facts;
use serde_json::{Value as Json, json};
use std::collections::HashMap;

pub fn collect(s: &Sections<'_>, facts: &mut Facts) {
    cpu(s, facts);
    memory(s, facts);
    mounts(s, facts);
}

/// processor, processor_count/_cores/_threads_per_core/_vcpus/_nproc.
fn cpu(s: &Sections<'_>, facts: &mut Facts) {
    let (mut processors, mut i) = (Vec::new(), 0i64);
    let (mut vendor_ids, mut model_names, mut processor_lines) = (0, 0, 0);
    // Keyed by physical id / core id, in first-seen order as Python's dicts.
    let mut sockets: Vec<(String, i64)> = Vec::new();
    let mut cores: Vec<(String, i64)> = Vec::new();
    let (mut physid, mut coreid) = (String::from("0"), String::from("0"));
    let set = |map: &mut Vec<(String, i64)>, key: &str, value: i64| match map
        .iter_mut()
        .find(|(k, _)| k == key)
    {
        Some(entry) => entry.1 = value,
        None => map.push((key.to_string(), value)),
    };
    for line in s.lines("cpuinfo") {
        let (key, val) = line.split_once(':').unwrap_or((line, ""));
        let (key, val) = (key.trim(), val.trim());
        match key {
            "model name" | "Processor" | "vendor_id" | "cpu" | "Vendor" | "processor" => {
                processors.push(json!(val));
                vendor_ids += usize::from(key == "vendor_id");
                model_names += usize::from(key == "model name");
                processor_lines += i64::from(key == "processor");
                i += 1;
            }
            "physical id" => {
                physid = val.to_string();
                if !sockets.iter().any(|(k, _)| *k == physid) {
                    set(&mut sockets, &physid, 1);
                }
            }
            "core id" => {
                coreid = val.to_string();
                if !sockets.iter().any(|(k, _)| *k == coreid) {
                    set(&mut cores, &coreid, 1);
                }
            }
            "cpu cores" => set(&mut sockets, &physid, val.parse().unwrap_or(0)),
            "siblings" => set(&mut cores, &coreid, val.parse().unwrap_or(0)),
            _ => {}
        }
    }
    if vendor_ids > 0 && vendor_ids == model_names {
        i = vendor_ids as i64;
    }
    let arch = facts
        .get("architecture")
        .and_then(Json::as_str)
        .unwrap_or("");
    if arch.starts_with("armv") || arch.starts_with("aarch") || arch.starts_with("ppc") {
        i = processor_lines;
    }
    let count = if sockets.is_empty() {
        i
    } else {
        sockets.len() as i64
    };
    let per_socket = sockets.first().map_or(0, |(_, v)| *v);
    let cores_per_socket = if per_socket > 0 { per_socket } else { 1 };
    let threads = match cores.first() {
        Some((_, siblings)) => round_half_even(*siblings as f64 / cores_per_socket as f64),
        None => round_half_even(1.0 / cores_per_socket as f64),
    };
    facts.insert("processor".into(), Json::Array(processors));
    facts.insert("processor_count".into(), json!(count));
    facts.insert("processor_cores".into(), json!(cores_per_socket));
    facts.insert("processor_threads_per_core".into(), json!(threads));
    facts.insert(
        "processor_vcpus".into(),
        json!(threads * count * cores_per_socket),
    );
    // The CPUs this process may run on (Ansible: sched_getaffinity).
    let nproc = (s.lines("status"))
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map_or(processor_lines, cpu_list_len);
    facts.insert("processor_nproc".into(), json!(nproc));
}

/// The number of CPUs in a list such as `0-3,8,10-11`.
fn cpu_list_len(list: &str) -> i64 {
    (list.split(','))
        .filter_map(|part| match part.trim().split_once('-') {
            Some((a, b)) => Some(b.parse::<i64>().ok()? - a.parse::<i64>().ok()? + 1),
            None => part.trim().parse::<i64>().ok().map(|_| 1),
        })
        .sum()
}

/// memtotal_mb, memfree_mb, swaptotal_mb, swapfree_mb (MiB, rounded down).
fn memory(s: &Sections<'_>, facts: &mut Facts) {
    for line in s.lines("meminfo") {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let kib: i64 = (rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let name = match key {
            "MemTotal" => "memtotal_mb",
            "MemFree" => "memfree_mb",
            "SwapTotal" => "swaptotal_mb",
            "SwapFree" => "swapfree_mb",
            _ => continue,
        };
        facts.insert(name.into(), json!(kib / 1024));
    }
}

/// `mounts`: the mount table's block-device and network mounts (as
/// Ansible filters them), each with its statvfs sizes and UUID.
fn mounts(s: &Sections<'_>, facts: &mut Facts) {
    let sizes: HashMap<&str, Vec<u64>> = s
        .lines("statfs")
        .filter_map(|line| {
            let mut fields = line.rsplitn(8, '|');
            let numbers: Vec<u64> = fields
                .by_ref()
                .take(7)
                .map(|n| n.parse().unwrap_or(0))
                .collect();
            Some((fields.next()?, numbers.into_iter().rev().collect()))
        })
        .collect();
    let uuids: HashMap<String, &str> = s
        .lines("uuids")
        .filter_map(|line| {
            let (left, target) = line.split_once(" -> ")?;
            let uuid = left.split_whitespace().last()?;
            let device = format!("/dev/{}", target.rsplit('/').next()?);
            Some((device, uuid))
        })
        .collect();
    let mut mounts = Vec::new();
    for line in s.lines("mounts") {
        let fields: Vec<String> = line.split_whitespace().map(unescape_octal).collect();
        let [device, mount, fstype, options, dump, passno] = match &fields[..] {
            [a, b, c, d, e, f, ..] => [a, b, c, d, e, f],
            _ => continue,
        };
        if !device.starts_with(['/', '\\']) && !device.contains(":/") || fstype == "none" {
            continue;
        }
        let mut entry = json!({
            "mount": mount,
            "device": device,
            "fstype": fstype,
            "options": options,
            "dump": dump.parse::<i64>().unwrap_or(0),
            "passno": passno.parse::<i64>().unwrap_or(0),
            "uuid": uuids.get(device.as_str()).copied().unwrap_or("N/A"),
        });
        // %S fragment size, %s block size, %b blocks, %f free, %a available,
        // %c inodes, %d free inodes (stat -f).
        if let Some([frsize, bsize, blocks, _free, avail, files, ffree]) = sizes
            .get(mount.as_str())
            .and_then(|v| <[u64; 7]>::try_from(v.clone()).ok())
            && let Json::Object(map) = &mut entry
        {
            for (key, value) in [
                ("size_total", frsize * blocks),
                ("size_available", frsize * avail),
                ("block_size", bsize),
                ("block_total", blocks),
                ("block_available", avail),
                ("block_used", blocks.saturating_sub(avail)),
                ("inode_total", files),
                ("inode_available", ffree),
                ("inode_used", files.saturating_sub(ffree)),
            ] {
                map.insert(key.into(), json!(value));
            }
        }
        mounts.push(entry);
    }
    facts.insert("mounts".into(), Json::Array(mounts));
}

/// The mount table's `\040`-style escapes.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(cpu_list_len("0-1"), 2);
        assert_eq!(cpu_list_len("0-3,8,10-11"), 7);
    }

    #[test]
    fn mount_escapes() {
        assert_eq!(unescape_octal("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape_octal("/plain"), "/plain");
    }
}
