//! Cutting a play's hosts into batches (`serial`) and ordering them (`order`).
//!
//! Pure functions: no I/O, no async, so the planner is tested exhaustively
//! and `--list-hosts` / `--check` show exactly the batches a run would make.

use std::fmt;

/// One entry of `serial`: a host count or a percentage of the play's hosts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SerialStep {
    Count(usize),
    Percent(f64),
}

impl SerialStep {
    /// Parses `3`, `"3"` or `"25%"`; zero and negative values are rejected
    /// because a batch of no hosts would never make progress.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(pct) = text.strip_suffix('%') {
            let value: f64 = pct
                .trim()
                .parse()
                .map_err(|_| format!("'{text}' is not a percentage"))?;
            if !(value > 0.0 && value <= 100.0) {
                return Err(format!(
                    "'{text}': a percentage must be above 0% and at most 100%"
                ));
            }
            return Ok(SerialStep::Percent(value));
        }
        match text.parse::<i64>() {
            Ok(n) if n > 0 => Ok(SerialStep::Count(n as usize)),
            Ok(_) => Err(format!("'{text}': a batch must hold at least one host")),
            Err(_) => Err(format!(
                "'{text}' is neither a host count nor a percentage such as \"25%\""
            )),
        }
    }

    /// The batch size this step gives for `total` hosts: never 0.
    fn size(self, total: usize) -> usize {
        match self {
            SerialStep::Count(n) => n,
            // Ansible truncates, then takes at least one host.
            SerialStep::Percent(p) => ((total as f64 * p / 100.0) as usize).max(1),
        }
    }
}

impl fmt::Display for SerialStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SerialStep::Count(n) => write!(f, "{n}"),
            SerialStep::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// Cuts hosts into batches. An empty `serial` means one batch of all hosts;
/// the last step repeats until every host is placed (Ansible's ramp lists).
pub fn batches<T: Clone>(hosts: &[T], serial: &[SerialStep]) -> Vec<Vec<T>> {
    if serial.is_empty() {
        return if hosts.is_empty() {
            Vec::new()
        } else {
            vec![hosts.to_vec()]
        };
    }
    let total = hosts.len();
    let mut out = Vec::new();
    let mut start = 0;
    let mut step = 0;
    while start < total {
        let size = serial[step.min(serial.len() - 1)].size(total);
        let end = (start + size).min(total);
        out.push(hosts[start..end].to_vec());
        start = end;
        step += 1;
    }
    out
}

/// The play keyword `order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostOrder {
    #[default]
    Inventory,
    ReverseInventory,
    Sorted,
    ReverseSorted,
    Shuffle,
}

impl HostOrder {
    pub const NAMES: [&'static str; 5] = [
        "inventory",
        "reverse_inventory",
        "sorted",
        "reverse_sorted",
        "shuffle",
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "inventory" => HostOrder::Inventory,
            "reverse_inventory" => HostOrder::ReverseInventory,
            "sorted" => HostOrder::Sorted,
            "reverse_sorted" => HostOrder::ReverseSorted,
            "shuffle" => HostOrder::Shuffle,
            _ => return None,
        })
    }

    /// Reorders hosts given in inventory order. `seed` drives `shuffle` so a
    /// run can be reproduced.
    pub fn apply(self, hosts: &mut [String], seed: u64) {
        match self {
            HostOrder::Inventory => {}
            HostOrder::ReverseInventory => hosts.reverse(),
            HostOrder::Sorted => hosts.sort(),
            HostOrder::ReverseSorted => {
                hosts.sort();
                hosts.reverse();
            }
            HostOrder::Shuffle => shuffle(hosts, seed),
        }
    }
}

/// Fisher-Yates with a small xorshift generator: no dependency for one shuffle.
fn shuffle(hosts: &mut [String], seed: u64) {
    let mut state = seed | 1;
    for i in (1..hosts.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        hosts.swap(i, (state % (i as u64 + 1)) as usize);
    }
}

/// Ansible's `max_fail_percentage`: the batch fails when the percentage of
/// failed hosts is *exceeded*, not when it is reached.
pub fn exceeds_max_fail(failed: usize, batch_size: usize, max_fail_percentage: f64) -> bool {
    batch_size > 0 && (failed as f64 * 100.0 / batch_size as f64) > max_fail_percentage
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("h{i}")).collect()
    }

    fn sizes(b: &[Vec<String>]) -> Vec<usize> {
        b.iter().map(Vec::len).collect()
    }

    #[test]
    fn no_serial_is_one_batch() {
        assert_eq!(sizes(&batches(&hosts(5), &[])), vec![5]);
        assert!(batches::<String>(&[], &[]).is_empty());
    }

    #[test]
    fn count_and_remainder() {
        assert_eq!(
            sizes(&batches(&hosts(5), &[SerialStep::Count(2)])),
            vec![2, 2, 1]
        );
        assert_eq!(
            sizes(&batches(&hosts(3), &[SerialStep::Count(10)])),
            vec![3]
        );
    }

    #[test]
    fn percent_truncates_but_never_zero() {
        let p = |v| SerialStep::Percent(v);
        assert_eq!(sizes(&batches(&hosts(10), &[p(25.0)])), vec![2, 2, 2, 2, 2]);
        assert_eq!(sizes(&batches(&hosts(3), &[p(10.0)])), vec![1, 1, 1]);
        assert_eq!(sizes(&batches(&hosts(4), &[p(100.0)])), vec![4]);
    }

    #[test]
    fn ramp_last_entry_repeats() {
        let ramp = [
            SerialStep::Count(1),
            SerialStep::Count(2),
            SerialStep::Percent(50.0),
        ];
        assert_eq!(sizes(&batches(&hosts(12), &ramp)), vec![1, 2, 6, 3]);
        let order: Vec<String> = batches(&hosts(4), &ramp).concat();
        assert_eq!(order, hosts(4), "every host once, in order");
    }

    #[test]
    fn parse_steps() {
        assert_eq!(SerialStep::parse("3"), Ok(SerialStep::Count(3)));
        assert_eq!(SerialStep::parse(" 25% "), Ok(SerialStep::Percent(25.0)));
        assert!(SerialStep::parse("0").is_err());
        assert!(SerialStep::parse("0%").is_err());
        assert!(SerialStep::parse("-1").is_err());
        assert!(SerialStep::parse("150%").is_err());
        assert!(SerialStep::parse("many").unwrap_err().contains("neither"));
    }

    #[test]
    fn max_fail_is_exceeded_not_equalled() {
        assert!(!exceeds_max_fail(1, 4, 25.0));
        assert!(exceeds_max_fail(2, 4, 25.0));
        assert!(exceeds_max_fail(1, 4, 0.0));
        assert!(!exceeds_max_fail(0, 4, 0.0));
    }

    #[test]
    fn orders() {
        let mut h = vec!["b".to_string(), "c".into(), "a".into()];
        HostOrder::Sorted.apply(&mut h, 0);
        assert_eq!(h, ["a", "b", "c"]);
        HostOrder::ReverseSorted.apply(&mut h, 0);
        assert_eq!(h, ["c", "b", "a"]);
        HostOrder::ReverseInventory.apply(&mut h, 0);
        assert_eq!(h, ["a", "b", "c"]);
        let mut s = hosts(20);
        HostOrder::Shuffle.apply(&mut s, 42);
        assert_ne!(s, hosts(20));
        s.sort();
        let mut expected = hosts(20);
        expected.sort();
        assert_eq!(s, expected, "a shuffle keeps every host");
    }
}
