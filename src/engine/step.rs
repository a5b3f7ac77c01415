//! `--step`: the operator confirms each task before it runs, as Ansible's
//! `_take_step` asks: `(N)o/(y)es/(c)ontinue`. The engine asks a
//! [`StepGate`] (the terminal's is `output::step`); "continue" stops asking
//! until the next batch (Ansible's strategy, which holds the flag, is made
//! anew for each).

/// The operator's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Skip this task (the default).
    No,
    /// Run this task.
    Yes,
    /// Run this task and stop asking.
    Continue,
}

impl Answer {
    /// Ansible's reading: `y`/`yes`, `c`/`continue` (any case); anything
    /// else, an empty line included, is no.
    pub fn parse(line: &str) -> Answer {
        match line.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => Answer::Yes,
            "c" | "continue" => Answer::Continue,
            _ => Answer::No,
        }
    }
}

/// Asks whether a task runs; `what` is Ansible's `TASK: name` or
/// `HANDLER: name`. Called off the async runtime (it may block on input).
pub trait StepGate: Send + Sync {
    fn ask(&self, what: &str) -> Answer;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_as_ansible_reads_them() {
        assert_eq!(Answer::parse("y\n"), Answer::Yes);
        assert_eq!(Answer::parse("YES"), Answer::Yes);
        assert_eq!(Answer::parse("c"), Answer::Continue);
        assert_eq!(Answer::parse("Continue\n"), Answer::Continue);
        assert_eq!(Answer::parse("\n"), Answer::No);
        assert_eq!(Answer::parse("n"), Answer::No);
        assert_eq!(Answer::parse("yep"), Answer::No);
    }
}
