//! Public-key authentication: identity files in order, then ssh-agent.
//! Passwords are not supported (see `SshTarget::from_vars`).

use super::client::ClientHandler;
use super::target::SshTarget;
use russh::client::{AuthResult, Handle};
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The environment variable that holds the passphrase of encrypted keys.
pub const PASSPHRASE_ENV: &str = "ROLLOUT_SSH_PASSPHRASE";

/// Decrypted keys, shared by every connection of a run so a passphrase is
/// asked for at most once per key file.
#[derive(Default)]
pub struct KeyStore {
    keys: tokio::sync::Mutex<HashMap<PathBuf, Result<Arc<PrivateKey>, String>>>,
}

impl KeyStore {
    /// Loads (and caches) a key; the error says why it cannot be used.
    pub async fn load(&self, path: &Path) -> Result<Arc<PrivateKey>, String> {
        // Holding the lock across the prompt keeps prompts from interleaving.
        let mut keys = self.keys.lock().await;
        if let Some(found) = keys.get(path) {
            return found.clone();
        }
        let loaded = load_key(path).await;
        keys.insert(path.to_path_buf(), loaded.clone());
        loaded
    }
}

async fn load_key(path: &Path) -> Result<Arc<PrivateKey>, String> {
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "not found".to_string(),
            _ => format!("unreadable: {e}"),
        })?;
    match russh::keys::decode_secret_key(&text, None) {
        Ok(key) => return Ok(Arc::new(key)),
        Err(russh::keys::Error::KeyIsEncrypted) => {}
        Err(e) => return Err(format!("not a usable private key: {e}")),
    }
    let passphrase = match std::env::var(PASSPHRASE_ENV) {
        Ok(p) => p,
        Err(_) if std::io::stdin().is_terminal() => prompt(path).await?,
        Err(_) => {
            return Err(format!(
                "encrypted, and no passphrase: set {PASSPHRASE_ENV} or run from a terminal"
            ));
        }
    };
    russh::keys::decode_secret_key(&text, Some(&passphrase))
        .map(Arc::new)
        .map_err(|_| "encrypted, and the passphrase does not decrypt it".to_string())
}

async fn prompt(path: &Path) -> Result<String, String> {
    let question = format!("Enter passphrase for key '{}': ", path.display());
    tokio::task::spawn_blocking(move || rpassword::prompt_password(question))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot read the passphrase: {e}"))
}

/// Authenticates as `target.user`, trying every identity then the agent.
pub async fn authenticate(
    handle: &mut Handle<ClientHandler>,
    target: &SshTarget,
    keys: &KeyStore,
) -> Result<(), String> {
    let mut tried: Vec<String> = Vec::new();
    for path in &target.identity_files {
        let key = match keys.load(path).await {
            Ok(key) => key,
            Err(why) => {
                tried.push(format!("{} ({why})", path.display()));
                continue;
            }
        };
        // Bounded per exchange, not overall: a passphrase prompt may take long.
        let attempt = async {
            let hash = rsa_hash(handle, key.public_key()).await;
            handle
                .authenticate_publickey(&target.user, PrivateKeyWithHashAlg::new(key, hash))
                .await
        };
        let result = bounded(target, attempt)
            .await?
            .map_err(|e| format!("authentication of {} failed: {e}", target.describe()))?;
        if matches!(result, AuthResult::Success) {
            return Ok(());
        }
        tried.push(format!("{} (refused)", path.display()));
    }
    if std::env::var_os("SSH_AUTH_SOCK").is_some() {
        if bounded(target, try_agent(handle, target, &mut tried)).await?? {
            return Ok(());
        }
    } else {
        tried.push("ssh-agent (SSH_AUTH_SOCK is not set)".into());
    }
    // Last, as OpenSSH orders them: a password (ansible_password, -k).
    if let Some(password) = &target.password {
        let attempt = handle.authenticate_password(&target.user, &password.0);
        let result = bounded(target, attempt)
            .await?
            .map_err(|e| format!("authentication of {} failed: {e}", target.describe()))?;
        if matches!(result, AuthResult::Success) {
            return Ok(());
        }
        tried.push("the password (refused)".into());
    }
    Err(format!(
        "permission denied for {} on {}:{}; tried: {}",
        target.user,
        target.hostname,
        target.port,
        if tried.is_empty() {
            "none".to_string()
        } else {
            tried.join(", ")
        }
    ))
}

/// One authentication exchange, bounded by the target's connect timeout
/// so that a server that stops answering cannot stall the run.
async fn bounded<T>(
    target: &SshTarget,
    exchange: impl std::future::Future<Output = T>,
) -> Result<T, String> {
    tokio::time::timeout(target.connect_timeout, exchange)
        .await
        .map_err(|_| {
            format!(
                "{}:{} stopped answering during authentication (no reply within {}s)",
                target.hostname,
                target.port,
                target.connect_timeout.as_secs()
            )
        })
}

async fn try_agent(
    handle: &mut Handle<ClientHandler>,
    target: &SshTarget,
    tried: &mut Vec<String>,
) -> Result<bool, String> {
    let mut agent = match AgentClient::connect_env().await {
        Ok(agent) => agent,
        Err(e) => {
            tried.push(format!("ssh-agent (unreachable: {e})"));
            return Ok(false);
        }
    };
    let identities = match agent.request_identities().await {
        Ok(ids) => ids,
        Err(e) => {
            tried.push(format!("ssh-agent (cannot list keys: {e})"));
            return Ok(false);
        }
    };
    if identities.is_empty() {
        tried.push("ssh-agent (no keys)".into());
    }
    for identity in identities {
        let key = identity.public_key().into_owned();
        let hash = rsa_hash(handle, &key).await;
        let name = format!("ssh-agent key {}", super::known_hosts::fingerprint(&key));
        match handle
            .authenticate_publickey_with(&target.user, key, hash, &mut agent)
            .await
        {
            Ok(AuthResult::Success) => return Ok(true),
            Ok(_) => tried.push(format!("{name} (refused)")),
            Err(e) => tried.push(format!("{name} ({e})")),
        }
    }
    Ok(false)
}

/// RSA keys sign with SHA-2 (rsa-sha2-512/256): SHA-1 `ssh-rsa` signatures
/// are refused by current OpenSSH. Other key types ignore the choice.
async fn rsa_hash(handle: &Handle<ClientHandler>, key: &PublicKey) -> Option<HashAlg> {
    if !key.algorithm().is_rsa() {
        return None;
    }
    match handle.best_supported_rsa_hash().await {
        Ok(Some(best)) => best,
        // The server did not list its algorithms: assume a modern one.
        _ => Some(HashAlg::Sha256),
    }
}
