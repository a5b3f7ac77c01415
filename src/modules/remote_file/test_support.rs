//! A [`ModuleContext`] over a real `/bin/sh`, for module tests.

use crate::connection::local::LocalConnection;
use crate::connection::{Connection, ConnectionError, ExecOutput, InputStream};
use crate::modules::registry::Module;
use crate::modules::{ModuleContext, TaskResult, Vars};
use crate::template::Templar;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `/bin/sh`, counting round trips (and those that carried stdin).
#[derive(Default)]
pub struct Counting {
    inner: LocalConnection,
    calls: AtomicUsize,
    with_stdin: AtomicUsize,
}

#[async_trait::async_trait]
impl Connection for Counting {
    async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
    ) -> Result<ExecOutput, ConnectionError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if stdin.is_some() {
            self.with_stdin.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.exec(command, stdin).await
    }

    async fn exec_streaming(
        &self,
        command: &str,
        stdin: InputStream,
    ) -> Result<ExecOutput, ConnectionError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.with_stdin.fetch_add(1, Ordering::SeqCst);
        self.inner.exec_streaming(command, stdin).await
    }

    async fn open_tcp(
        &self,
        host: &str,
        port: u16,
    ) -> Result<crate::connection::BoxStream, ConnectionError> {
        self.inner.open_tcp(host, port).await
    }
}

pub struct Harness {
    pub conn: Counting,
    pub templar: Templar,
    pub scope: minijinja::Value,
    pub dir: tempfile::TempDir,
}

impl Harness {
    pub fn new(vars: serde_json::Value) -> Self {
        Harness {
            conn: Counting::default(),
            templar: Templar::new(),
            scope: minijinja::Value::from(minijinja::value::Serde(vars)),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn ctx(&self, check_mode: bool, diff: bool) -> ModuleContext<'_> {
        ModuleContext {
            host: "localhost",
            conn: &self.conn,
            templar: &self.templar,
            scope: &self.scope,
            check_mode,
            diff,
            verbosity: 0,
            base_dir: self.dir.path(),
            role_dir: None,
        }
    }

    /// Round trips since the last call.
    pub fn take_calls(&self) -> usize {
        self.take_calls_and_stdin().0
    }

    /// Round trips since the last call, and how many of them fed stdin
    /// (over SSH: a channel of their own, not the persistent shell).
    pub fn take_calls_and_stdin(&self) -> (usize, usize) {
        let stdin = self.conn.with_stdin.swap(0, Ordering::SeqCst);
        (self.conn.calls.swap(0, Ordering::SeqCst), stdin)
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    pub fn base(&self) -> &Path {
        self.dir.path()
    }

    /// `conf` in the temp dir, holding `text`; its path.
    pub fn conf_file(&self, text: &str) -> String {
        let path = self.path("conf");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs the module on `args` (not in check or diff mode).
    pub async fn run_module(&self, module: &Module, a: serde_json::Value) -> TaskResult {
        (module.run)(&args(a), &self.ctx(false, false)).await
    }
}

pub fn read_text(path: &str) -> String {
    std::fs::read_to_string(path).unwrap()
}

pub fn args(v: serde_json::Value) -> Vars {
    v.as_object().cloned().expect("an object")
}

/// A name no shell may ever run: `$(touch x)` and a quote inside.
pub const NASTY: &str = "we ird'$(touch pwned)`touch pwned2`";

pub fn assert_not_pwned(dir: &Path) {
    assert!(!dir.join("pwned").exists() && !Path::new("pwned").exists());
    assert!(!dir.join("pwned2").exists() && !Path::new("pwned2").exists());
}
