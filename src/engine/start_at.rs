//! `--start-at-task`: the task a run starts at, by Ansible's rules
//! (`PlayIterator`): the first task, in play order, whose raw name or
//! display name (`role : name`, or the module of an unnamed task) equals
//! the pattern or matches it as an `fnmatch` glob. Tasks the tags leave
//! out are not candidates; a block's `rescue` never is (it only runs on a
//! failure), its `always` is. Once found, the rest of the run (the
//! following batches of that play too) runs whole. A play before the one
//! holding the start runs nothing at all, and a rolling play takes no host
//! out of rotation for `tasks` it skips (a start in `post_tasks`).

use crate::core::fnmatch_regex;
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
