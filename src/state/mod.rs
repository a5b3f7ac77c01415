//! What outlives a run, under the state directory: the journal of every
//! lifecycle transition ([`journal`]) with the pointer to the last run, the
//! per-group locks ([`lock`]), and `--resume`'s view of the last run
//! ([`resume`]) with what makes a run the same rollout ([`identity`]). `rollout status` and `--resume` read the last run through
//! one function, [`last_run`].

pub mod identity;
pub mod journal;
pub mod lock;
pub mod resume;

use std::path::{Path, PathBuf};

/// `$ROLLOUT_STATE_DIR`, else `$XDG_STATE_HOME/rollout`, else
/// `~/.local/state/rollout`.
pub fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ROLLOUT_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(dir).join("rollout");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".local/state/rollout")
}

/// The last run's journal under `state_dir` (the one `journal/last`
/// names), read and folded per host; the error says what is missing.
pub fn last_run(state_dir: &Path) -> Result<(PathBuf, journal::RunStatus), String> {
    let dir = state_dir.join("journal");
    let last = std::fs::read_to_string(dir.join("last"))
        .map_err(|_| format!("no run journal in {} yet", dir.display()))?;
    let path = PathBuf::from(last.trim());
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read the journal {}: {e}", path.display()))?;
    let run = journal::read(&path, &text)?;
    Ok((path, run))
}
