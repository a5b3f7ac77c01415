//! How the engine reaches a host: its connection variables (`ansible_*`:
//! inventory < facts < extra vars, rendered) resolved once per host per
//! play into a connection and the host's become defaults. The SSH sessions
//! themselves are cached by the pool; this holds the settings.

use super::Engine;
use crate::connection::r#become::{Become, Method, SudoAsks};
use crate::connection::{Connection, ConnectionError, ExecOutput};
use crate::core::Vars;
use crate::engine::scope::Scope;
use crate::playbook::{Play, Task};
use async_trait::async_trait;
use serde_json::Value as Json;
use std::sync::Arc;

/// What the current play adds to every host's connection variables.
#[derive(Default)]
pub(super) struct PlayAccess {
    /// The play's `vars:` (their `ansible_*` ones count).
    vars: Arc<Vars>,
    remote_user: Option<String>,
    connection: Option<String>,
}

/// One host's connection and become defaults for the current play.
pub(super) struct HostAccess {
    conn: Arc<dyn Connection>,
    /// `ansible_become`, when the host sets it.
    become_enabled: Option<bool>,
    /// `ansible_become_user`.
    become_user: Option<String>,
    /// `ansible_become_method`.
    become_method: Option<String>,
    /// `-K`, else `ansible_become_password` / `ansible_become_pass`.
    become_password: Option<String>,
    /// Whether sudo asks this host for a password, per become user.
    sudo_asks: SudoAsks,
}

impl Engine {
    /// Forgets every host's resolved access: `play` starts, with its own
    /// variables and `remote_user`.
    pub(super) fn forget_access(&mut self, play: &Play) {
        if let Ok(access) = self.access.get_mut() {
            access.clear();
        }
        self.play_access = PlayAccess {
            vars: Arc::new(play.vars.clone()),
            remote_user: play.remote_user.clone(),
            connection: play.connection.clone(),
        };
    }

    /// The host's access for this play, resolved on first use.
    fn access(&self, host: &str) -> Arc<HostAccess> {
        if let Some(found) = self.access.lock().ok().and_then(|a| a.get(host).cloned()) {
            return found;
        }
        let resolved = Arc::new(self.resolve_access(host));
        if let Ok(mut access) = self.access.lock() {
            access.insert(host.to_string(), resolved.clone());
        }
        resolved
    }

    fn resolve_access(&self, host: &str) -> HostAccess {
        let vars = self.connection_vars(host);
        let text = |k: &str| vars.get(k).map(crate::core::display_text);
        let become_enabled = vars.get("ansible_become").map(|v| match v {
            Json::Bool(b) => *b,
            other => crate::core::parse_bool(&crate::core::display_text(other)).unwrap_or(false),
        });
        let become_user = text("ansible_become_user");
        let become_method = text("ansible_become_method");
        let become_password = (self.opts.become_password.as_ref())
            .map(|s| s.0.clone())
            .or_else(|| text("ansible_become_password"))
            .or_else(|| text("ansible_become_pass"));
        let connection = (text("ansible_connection"))
            .or_else(|| self.opts.connection.clone())
            .unwrap_or_else(|| "ssh".into());
        let conn: Arc<dyn Connection> = if connection == "local"
            || (host == "localhost" && !vars.contains_key("ansible_host"))
        {
            self.local.clone()
        } else {
            match (&self.ssh, connection.as_str()) {
                (Some(pool), "ssh" | "smart" | "paramiko") => pool.lazy(host, Arc::new(vars)),
                _ => Arc::new(Refused {
                    reason: format!(
                        "cannot connect to {host}: the '{connection}' connection is not \
                         supported (use ssh or local)"
                    ),
                    unreachable: true,
                }),
            }
        };
        HostAccess {
            conn,
            become_enabled,
            become_user,
            become_method,
            become_password,
            sudo_asks: SudoAsks::default(),
        }
    }

    /// A host's connection variables (`ansible_*`), rendered: inventory <
    /// play vars < facts < extra vars; the play's `remote_user` and
    /// `connection` keywords where no variable says.
    fn connection_vars(&self, host: &str) -> Vars {
        let inventory = self
            .inventory_vars
            .get(host)
            .cloned()
            .unwrap_or_else(|| Arc::new(self.inventory.host_vars(host)));
        let facts = (self.hosts.get(host))
            .map(|s| s.facts.clone())
            .unwrap_or_default();
        let mut magic = Vars::new();
        magic.insert("inventory_hostname".into(), Json::String(host.to_string()));
        let play = self.play_access.vars.clone();
        let scope = Scope::new(
            self.templar.clone(),
            [inventory.clone().into(), play.clone().into()]
                .into_iter()
                .chain(facts.layers())
                .chain([self.extra.clone().into()])
                .collect(),
            magic,
            None,
        );
        let value = scope.clone().into_value();
        let mut vars = (*inventory).clone();
        for layer in [
            &play,
            &facts.included,
            &facts.user,
            &facts.data,
            &self.extra,
        ] {
            vars.extend(
                layer
                    .iter()
                    .filter(|(k, _)| k.starts_with("ansible_"))
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
        for (keyword, var) in [
            (&self.play_access.remote_user, "ansible_user"),
            (&self.play_access.connection, "ansible_connection"),
        ] {
            if let Some(value) = keyword {
                vars.entry(var)
                    .or_insert_with(|| Json::String(value.clone()));
            }
        }
        for (k, v) in vars.iter_mut() {
            // What a host returned is used as it is, never rendered.
            let data = facts.data.contains_key(k) && !self.extra.contains_key(k);
            if !data && let Ok(rendered) = self.templar.render_value(v, &value) {
                *v = rendered;
            }
        }
        vars
    }

    /// The connection a host's commands go through: one per host, reused.
    pub(super) fn connection_for(&self, host: &str) -> Arc<dyn Connection> {
        self.access(host).conn.clone()
    }

    /// The connection `task` uses on `host`: `conn`, wrapped in sudo when
    /// the task (or the host's `ansible_become`, or `-b`) asks for
    /// privilege; `host` gives the become defaults.
    pub(super) fn with_become(
        &self,
        host: &str,
        task: &Task,
        conn: Arc<dyn Connection>,
    ) -> Arc<dyn Connection> {
        let access = self.access(host);
        let enabled = (task.become_enabled)
            .or(access.become_enabled)
            .unwrap_or(self.opts.become_all);
        if !enabled {
            return conn;
        }
        let method = (task.become_method.clone())
            .or_else(|| access.become_method.clone())
            .or_else(|| self.opts.become_method.clone())
            .unwrap_or_else(|| "sudo".into());
        let Some(method) = Method::parse(&method) else {
            return Arc::new(Refused {
                reason: format!(
                    "become_method '{method}' is not supported: rollout becomes with sudo or su"
                ),
                unreachable: false,
            });
        };
        let user = (task.become_user.clone())
            .or_else(|| access.become_user.clone())
            .or_else(|| self.opts.become_user.clone())
            .unwrap_or_else(|| "root".into());
        Arc::new(
            Become::new(
                conn,
                user,
                access.become_password.clone(),
                access.sudo_asks.clone(),
            )
            .with_method(method),
        )
    }
}

/// A connection that cannot be used: every command ends with the reason,
/// the host unreachable (an unknown connection type) or the task failed
/// (privilege that cannot be had the way the host asks).
struct Refused {
    reason: String,
    unreachable: bool,
}

#[async_trait]
impl Connection for Refused {
    async fn exec(
        &self,
        _command: &str,
        _stdin: Option<&[u8]>,
    ) -> Result<ExecOutput, ConnectionError> {
        let reason = self.reason.clone();
        Err(if self.unreachable {
            ConnectionError::Unreachable(reason)
        } else {
            ConnectionError::Failed(reason)
        })
    }
}
