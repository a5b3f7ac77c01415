//! `--start-at-task`: the task a run starts at, by Ansible's rules
//! (`PlayIterator`): the first task, in play order, whose raw name or
//! display name (`role : name`, or the module of an unnamed task) equals
//! the pattern or matches it as an `fnmatch` glob. Tasks the tags leave
//! out are not candidates; a block's `rescue` never is (it only runs on a
//! failure), its `always` is. Once found, the rest of the run (the
//! following batches of that play too) runs whole. A play before the one
//! holding the start runs nothing at all, and a rolling play takes no host
//! out of rotation for `tasks` it skips (a start in `post_tasks`).

use crate::playbook::{Action, Play, Section, Task};
use regex::Regex;

#[derive(Debug, Clone)]
pub struct StartAt {
    pattern: String,
    glob: Option<Regex>,
}

impl StartAt {
    pub fn new(pattern: &str) -> StartAt {
        StartAt {
            pattern: pattern.to_string(),
            glob: fnmatch_regex(pattern),
        }
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether `task` is where the run starts.
    pub fn matches(&self, task: &Task) -> bool {
        let hits = |name: &str| {
            name == self.pattern || self.glob.as_ref().is_some_and(|g| g.is_match(name))
        };
        task.name.as_deref().is_some_and(hits) || hits(&task.display_name())
    }

    /// Whether any task of `plays` (as loaded: a dynamic include is a task
    /// itself) is where the run would start.
    pub fn found_in(&self, plays: &[&Play], tags: &[String], skip_tags: &[String]) -> bool {
        plays.iter().any(|play| {
            (Section::ALL.iter()).any(|s| self.found_in_tasks(play.section(*s), tags, skip_tags))
        })
    }

    /// Whether the start is among `tasks` (blocks opened, not their rescue).
    pub fn found_in_tasks(&self, tasks: &[Task], tags: &[String], skip_tags: &[String]) -> bool {
        tasks.iter().any(|task| match &task.action {
            Action::Block { block, always, .. } => {
                self.found_in_tasks(block, tags, skip_tags)
                    || self.found_in_tasks(always, tags, skip_tags)
            }
            _ => task.selected_by(tags, skip_tags) && self.matches(task),
        })
    }
}

/// Python's `fnmatch.translate`: `*`, `?`, `[seq]` and `[!seq]`, no
/// escapes, an unclosed `[` taken literally, matched whole and
/// case-sensitively (POSIX). `None` when the pattern has no wildcard.
fn fnmatch_regex(pattern: &str) -> Option<Regex> {
    if !pattern.contains(['*', '?', '[']) {
        return None;
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut re = String::from("(?s)^");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                // The class ends at the first `]` after an optional `!` and
                // a leading `]` (which is literal), as in Python.
                let mut j = i;
                if chars.get(j) == Some(&'!') {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    re.push_str("\\[");
                    continue;
                }
                let mut class: String = chars[i..j].iter().collect();
                i = j + 1;
                let negated = class.starts_with('!');
                if negated {
                    class.remove(0);
                }
                let body: String = class
                    .chars()
                    .map(|ch| match ch {
                        '\\' | '[' | ']' | '^' | '&' | '~' => format!("\\{ch}"),
                        _ => ch.to_string(),
                    })
                    .collect();
                re.push('[');
                if negated {
                    re.push('^');
                }
                re.push_str(&body);
                re.push(']');
            }
            _ => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    Regex::new(&re).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str, name: &str) -> bool {
        fnmatch_regex(pattern).is_some_and(|g| g.is_match(name))
    }

    #[test]
    fn fnmatch_as_python() {
        assert!(glob("inst*", "install thing"));
        assert!(!glob("inst*", "reinstall"), "anchored at the start");
        assert!(glob("*thing", "install thing"));
        assert!(glob("step ?", "step b"));
        assert!(!glob("step ?", "step bb"));
        assert!(glob("step [a-c]", "step b"));
        assert!(!glob("step [!a-c]", "step b"));
        assert!(glob("step [!a-c]", "step d"));
        assert!(glob("a[]]b", "a]b"), "a leading ] is literal");
        assert!(glob("x[", "x["), "an unclosed [ is literal");
        assert!(glob("web : *", "web : restart"));
        assert!(!glob("Inst*", "install"), "case-sensitive");
        assert!(
            glob("a.b*", "a.bc") && !glob("a.b*", "axbc"),
            "dots are literal"
        );
        assert!(fnmatch_regex("plain name").is_none());
    }
}
