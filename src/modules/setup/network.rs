//! The `network` subset: interfaces (from /sys/class/net and `ip -o
//! addr`), addresses and the default routes (`ip route get`, as Ansible's
//! `network/linux.py`; /proc/net/route and /proc/net/if_inet6 without `ip`).

use super::parser::Sections;
use super::system::Facts;
use serde_json::{Map, Value as Json, json};
use std::net::{Ipv4Addr, Ipv6Addr};

pub fn collect(s: &Sections<'_>, facts: &mut Facts) {
    let mut interfaces: Vec<(String, Facts)> = Vec::new();
    links(s, &mut interfaces);
    addresses(s, &mut interfaces);
    let (mut all_v4, mut all_v6) = (Vec::new(), Vec::new());
    for (_, iface) in &interfaces {
        let v4 = iface.get("ipv4").into_iter().chain(
            iface
                .get("ipv4_secondaries")
                .and_then(Json::as_array)
                .into_iter()
                .flatten(),
        );
        for addr in v4.filter_map(|a| a["address"].as_str()) {
            if !addr.starts_with("127.") {
                all_v4.push(json!(addr));
            }
        }
        let v6 = iface
            .get("ipv6")
            .and_then(Json::as_array)
            .into_iter()
            .flatten();
        for addr in v6.filter_map(|a| a["address"].as_str()) {
            if addr != "::1" {
                all_v6.push(json!(addr));
            }
        }
    }
    let default_v4 = default_route(s, "route4", &interfaces, false);
    let default_v6 = default_route(s, "route6", &interfaces, true);
    facts.insert("default_ipv4".into(), Json::Object(default_v4));
    facts.insert("default_ipv6".into(), Json::Object(default_v6));
    facts.insert("all_ipv4_addresses".into(), Json::Array(all_v4));
    facts.insert("all_ipv6_addresses".into(), Json::Array(all_v6));
    let names = interfaces.iter().map(|(n, _)| json!(n)).collect();
    facts.insert("interfaces".into(), Json::Array(names));
    for (name, iface) in interfaces {
        facts.insert(name.replace(['-', ':'], "_"), Json::Object(iface));
    }
}

fn iface<'a>(list: &'a mut Vec<(String, Facts)>, name: &str) -> &'a mut Facts {
    let index = match list.iter().position(|(n, _)| n == name) {
        Some(i) => i,
        None => {
            let mut new = Facts::new();
            new.insert("device".into(), json!(name));
            list.push((name.to_string(), new));
            list.len() - 1
        }
    };
    &mut list[index].1
}

/// `/sys/class/net/<dev>/<file>:<value>` lines.
fn links(s: &Sections<'_>, list: &mut Vec<(String, Facts)>) {
    for line in s.lines("links") {
        let Some(rest) = line.strip_prefix("/sys/class/net/") else {
            continue;
        };
        let Some((path, value)) = rest.split_once(':') else {
            continue;
        };
        let Some((dev, file)) = path.split_once('/') else {
            continue;
        };
        let entry = iface(list, dev);
        match file {
            "address" if value != "00:00:00:00:00:00" && !value.is_empty() => {
                entry.insert("macaddress".into(), json!(value));
            }
            "mtu" => {
                entry.insert("mtu".into(), json!(value.parse::<i64>().unwrap_or(0)));
            }
            "operstate" => {
                entry.insert("active".into(), json!(value != "down"));
            }
            "type" => {
                let kind = match value {
                    "1" => "ether",
                    "32" => "infiniband",
                    "512" => "ppp",
                    "772" => "loopback",
                    "65534" => "tunnel",
                    _ => "unknown",
                };
                entry.insert("type".into(), json!(kind));
            }
            "flags" => {
                let flags = i64::from_str_radix(value.trim_start_matches("0x"), 16).unwrap_or(0);
                entry.insert("promisc".into(), json!(flags & 0x100 != 0));
            }
            _ => {}
        }
    }
}

/// `ip -o addr show` lines, or /proc/net/if_inet6 without `ip`.
fn addresses(s: &Sections<'_>, list: &mut Vec<(String, Facts)>) {
    for line in s.lines("addrs") {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (Some(dev), Some(family), Some(cidr)) = (words.get(1), words.get(2), words.get(3))
        else {
            continue;
        };
        let dev = dev.split('@').next().unwrap_or(dev).trim_end_matches(':');
        let (address, prefix) = cidr.split_once('/').unwrap_or((cidr, "32"));
        let after = |key: &str| {
            (words.iter().position(|w| *w == key)).and_then(|i| words.get(i + 1).copied())
        };
        let entry = iface(list, dev);
        match *family {
            "inet" => {
                let v4 = ipv4(address, prefix, after("brd").unwrap_or(""));
                if entry.contains_key("ipv4") {
                    let secondaries = entry.entry("ipv4_secondaries").or_insert(json!([]));
                    if let Json::Array(items) = secondaries {
                        items.push(v4);
                    }
                } else {
                    entry.insert("ipv4".into(), v4);
                }
            }
            "inet6" => push_ipv6(entry, address, prefix, after("scope").unwrap_or("")),
            _ => {}
        }
    }
    // /proc/net/if_inet6: address (32 hex digits), index, prefix (hex), scope, flags, device.
    for line in s.lines("if_inet6") {
        let words: Vec<&str> = line.split_whitespace().collect();
        let [hex, _, prefix, scope, _, dev] = words[..] else {
            continue;
        };
        let Ok(bits) = u128::from_str_radix(hex, 16) else {
            continue;
        };
        let address = Ipv6Addr::from(bits).to_string();
        let prefix = u8::from_str_radix(prefix, 16).unwrap_or(0).to_string();
        let scope = match scope {
            "00" => "global",
            "10" => "host",
            "20" => "link",
            "40" => "site",
            other => other,
        };
        push_ipv6(iface(list, dev), &address, &prefix, scope);
    }
}

fn push_ipv6(entry: &mut Facts, address: &str, prefix: &str, scope: &str) {
    let v6 = json!({"address": address, "prefix": prefix, "scope": scope});
    if let Json::Array(items) = entry.entry("ipv6").or_insert(json!([])) {
        items.push(v6);
    }
}

/// Ansible's `ipv4` entry: address, broadcast, netmask, network, prefix.
fn ipv4(address: &str, prefix: &str, broadcast: &str) -> Json {
    let bits: u32 = prefix.parse().unwrap_or(32).min(32);
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    let network = address
        .parse::<Ipv4Addr>()
        .map(|a| Ipv4Addr::from(u32::from(a) & mask).to_string())
        .unwrap_or_default();
    json!({
        "address": address,
        "broadcast": broadcast,
        "netmask": Ipv4Addr::from(mask).to_string(),
        "network": network,
        "prefix": prefix,
    })
}

/// `default_ipv4` / `default_ipv6`: the route's interface, source address
/// and gateway, completed from the interface as Ansible does ({} without
/// a default route).
fn default_route(s: &Sections<'_>, section: &str, list: &[(String, Facts)], v6: bool) -> Facts {
    let mut route = Map::new();
    let mut lines = s.lines(section);
    let Some(first) = lines.next() else {
        return route;
    };
    if first == "proc" {
        // /proc/net/route: Iface Destination Gateway ... (hex, little-endian).
        for line in lines {
            let w: Vec<&str> = line.split_whitespace().collect();
            if w.len() > 2 && w[1] == "00000000" {
                let gateway = u32::from_str_radix(w[2], 16).unwrap_or(0).swap_bytes();
                route.insert("interface".into(), json!(w[0]));
                route.insert("gateway".into(), json!(Ipv4Addr::from(gateway).to_string()));
                break;
            }
        }
    } else {
        let words: Vec<&str> = first.split_whitespace().collect();
        let after = |key: &str| {
            (words.iter().position(|w| *w == key)).and_then(|i| words.get(i + 1).copied())
        };
        for (key, fact) in [("dev", "interface"), ("src", "address"), ("via", "gateway")] {
            if let Some(value) = after(key) {
                route.insert(fact.into(), json!(value));
            }
        }
    }
    let Some(dev) = route
        .get("interface")
        .and_then(Json::as_str)
        .map(String::from)
    else {
        return route;
    };
    let Some((_, iface)) = list.iter().find(|(n, _)| *n == dev) else {
        return route;
    };
    for key in ["macaddress", "mtu", "type"] {
        if let Some(v) = iface.get(key) {
            route.insert(key.into(), v.clone());
        }
    }
    let address = route
        .get("address")
        .and_then(Json::as_str)
        .map(String::from);
    if v6 {
        let entries = iface
            .get("ipv6")
            .and_then(Json::as_array)
            .into_iter()
            .flatten();
        let chosen = entries.filter_map(Json::as_object).find(|e| {
            address.is_none() || e.get("address").and_then(Json::as_str) == address.as_deref()
        });
        if let Some(entry) = chosen {
            for (k, v) in entry {
                route.insert(k.clone(), v.clone());
            }
        }
    } else {
        route.insert("alias".into(), json!(dev));
        if let Some(Json::Object(entry)) = iface.get("ipv4")
            && (address.is_none()
                || entry.get("address").and_then(Json::as_str) == address.as_deref())
        {
            for (k, v) in entry {
                route.insert(k.clone(), v.clone());
            }
        }
    }
    route
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_entry_from_prefix() {
        let v = ipv4("192.0.2.2", "24", "192.0.2.255");
        assert_eq!(v["netmask"], "255.255.255.0");
        assert_eq!(v["network"], "192.0.2.0");
    }
}
