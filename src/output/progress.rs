//! The console for a terminal: the same lines as [`Console`], printed above
//! a live view of the rolling lifecycle (indicatif): a line per in-flight
//! host with its phase and the time left before the wait's bound, and a bar
//! for the batches. When stdout is not a terminal, plain [`Console`] lines
//! (with timestamps) are used instead.

use super::console::Console;
use crate::events::{Event, EventSink, Phase};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

pub struct Progress {
    console: Console<std::io::Sink>,
    multi: MultiProgress,
    hosts: Mutex<HashMap<String, ProgressBar>>,
    batches: Mutex<Option<ProgressBar>>,
}

impl Progress {
    /// Prints `console`'s lines (its own output is unused).
    pub fn new(console: Console<std::io::Sink>) -> Progress {
        Progress::with_target(console, ProgressDrawTarget::stdout())
    }

    pub fn with_target(console: Console<std::io::Sink>, target: ProgressDrawTarget) -> Progress {
        Progress {
            console,
            multi: MultiProgress::with_draw_target(target),
            hosts: Mutex::new(HashMap::new()),
            batches: Mutex::new(None),
        }
    }

    /// The live view, to put aside while asking something.
    pub fn multi(&self) -> MultiProgress {
        self.multi.clone()
    }

    fn host_line(&self, host: &str, phase: Phase, detail: &str, remaining: Option<u64>) {
        let Ok(mut hosts) = self.hosts.lock() else {
            return;
        };
        let bar = hosts.entry(host.to_string()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("  {spinner} {prefix:.bold} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(format!("[{host}]"));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let left = remaining
            .map(|s| format!(" ({s}s left)"))
            .unwrap_or_default();
        bar.set_message(format!("{}: {detail}{left}", phase.label()));
        if phase == Phase::InRotation {
            bar.finish_and_clear();
            self.multi.remove(bar);
            hosts.remove(host);
        }
    }

    /// Hosts out of rotation show the task they are at.
    fn deploying(&self, task: &str) {
        let Ok(hosts) = self.hosts.lock() else { return };
        for bar in hosts.values() {
            if bar.message().starts_with(Phase::OutOfRotation.label())
                || bar.message().starts_with(Phase::Deploying.label())
            {
                bar.set_message(format!("{}: {task}", Phase::Deploying.label()));
            }
        }
    }

    fn batch(&self, index: usize, count: usize) {
        let Ok(mut batches) = self.batches.lock() else {
            return;
        };
        let bar = batches.get_or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new(count as u64));
            bar.set_style(
                ProgressStyle::with_template("  batches {bar:30} {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        bar.set_position(index.saturating_sub(1) as u64);
        bar.set_message(format!("(batch {index} running)"));
    }

    fn clear(&self) {
        if let Ok(mut hosts) = self.hosts.lock() {
            for (_, bar) in hosts.drain() {
                bar.finish_and_clear();
            }
        }
        if let Ok(mut batches) = self.batches.lock()
            && let Some(bar) = batches.take()
        {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }

    /// How many host lines are live (for tests).
    pub fn live_hosts(&self) -> usize {
        self.hosts.lock().map(|h| h.len()).unwrap_or(0)
    }
}

impl EventSink for Progress {
    fn emit(&self, event: Event) {
        match &event {
            Event::Lifecycle {
                host,
                phase,
                detail,
                remaining,
            } => return self.host_line(host, *phase, detail, *remaining),
            Event::BatchStart { index, count, .. } => self.batch(*index, *count),
            Event::TaskStart { name, .. } => self.deploying(name),
            Event::Recap { .. } | Event::OutOfRotation { .. } => self.clear(),
            _ => {}
        }
        if let Some(text) = self.console.render(&event) {
            let _ = self.multi.println(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lifecycle(host: &str, phase: Phase) -> Event {
        Event::Lifecycle {
            host: host.into(),
            phase,
            detail: "x".into(),
            remaining: Some(30),
        }
    }

    #[test]
    fn one_line_per_host_in_flight() {
        let console = Console::new(std::io::sink(), 0);
        let p = Progress::with_target(console, ProgressDrawTarget::hidden());
        p.emit(lifecycle("web1", Phase::Draining));
        p.emit(lifecycle("web2", Phase::Draining));
        p.emit(lifecycle("web1", Phase::OutOfRotation));
        assert_eq!(p.live_hosts(), 2);
        p.emit(Event::TaskStart {
            name: "Install".into(),
            location: None,
            handler: false,
        });
        let msg = p.hosts.lock().unwrap()["web1"].message();
        assert_eq!(msg, "deploying: Install");
        p.emit(lifecycle("web1", Phase::InRotation));
        assert_eq!(p.live_hosts(), 1);
        p.emit(Event::Recap { hosts: vec![] });
        assert_eq!(p.live_hosts(), 0);
    }
}
