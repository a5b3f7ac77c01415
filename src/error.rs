//! The one error type that ends a run, and the exit code each kind gives.
//!
//! Lower layers keep their own error types (or `String`s at the leaves);
//! where such an error stops the run it becomes one of these variants,
//! carrying a [`Diagnostic`] (with a source location where there is one).
//! `main` prints it and exits with [`Error::exit_code`].

use crate::diag::Diagnostic;
use std::fmt;

/// Exit codes: Ansible's where it has one, then rollout's own.
pub mod exit {
    pub const OK: i32 = 0;
    /// Something went wrong that is not the input's fault.
    pub const INTERNAL: i32 = 1;
    /// A host failed.
    pub const HOST_FAILED: i32 = 2;
    /// A host could not be reached (even if another failed), as Ansible's
    /// HOST_UNREACHABLE: the same code as a load error.
    pub const UNREACHABLE: i32 = 4;
    /// The playbook, inventory or a variable file is wrong; nothing ran.
    pub const LOAD: i32 = 4;
    /// The command line is wrong; nothing ran.
    pub const OPTIONS: i32 = 5;
    /// Another rollout holds the lock of a target group or backend.
    pub const LOCKED: i32 = 6;
    /// The load balancer's API cannot be used: unreachable endpoint, no
    /// credentials or region, access denied.
    pub const LOAD_BALANCER: i32 = 7;
    /// Stopped early: interrupted, or the maintenance window closes.
    pub const INTERRUPTED: i32 = 99;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Input that cannot be loaded or checked (exit 4).
    Load(Diagnostic),
    /// A bad command-line option (exit 5).
    Options(Diagnostic),
    /// Another rollout holds a group's lock (exit 6).
    Locked(Diagnostic),
    /// The load balancer's API cannot be used (exit 7).
    LoadBalancer(Diagnostic),
    /// Anything else (exit 1).
    Internal(Diagnostic),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Load(_) => exit::LOAD,
            Error::Options(_) => exit::OPTIONS,
            Error::Locked(_) => exit::LOCKED,
            Error::LoadBalancer(_) => exit::LOAD_BALANCER,
            Error::Internal(_) => exit::INTERNAL,
        }
    }

    pub fn diagnostic(&self) -> &Diagnostic {
        match self {
            Error::Load(d)
            | Error::Options(d)
            | Error::Locked(d)
            | Error::LoadBalancer(d)
            | Error::Internal(d) => d,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.diagnostic().fmt(f)
    }
}

impl std::error::Error for Error {}

/// Input errors are the most common kind: `?` on a [`Diagnostic`] makes
/// one.
impl From<Diagnostic> for Error {
    fn from(d: Diagnostic) -> Error {
        Error::Load(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_own_exit_code() {
        let d = || Diagnostic::new("x");
        let codes: Vec<i32> = [
            Error::Load(d()),
            Error::Options(d()),
            Error::Locked(d()),
            Error::LoadBalancer(d()),
            Error::Internal(d()),
        ]
        .iter()
        .map(Error::exit_code)
        .collect();
        assert_eq!(codes, vec![4, 5, 6, 7, 1]);
        let mut all = codes.clone();
        all.extend([exit::OK, exit::HOST_FAILED, exit::INTERRUPTED]);
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 8, "no two kinds share a code");
        // Ansible's: unreachable hosts and load errors both exit 4.
        assert_eq!(exit::UNREACHABLE, exit::LOAD);
        assert_eq!(Error::from(d()).exit_code(), exit::LOAD);
    }
}
