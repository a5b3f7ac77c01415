//! Command-line definitions (clap). Behaviour lives in [`crate::app`].

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "rollout",
    version,
    about = "Run Ansible-style playbooks over SSH and roll changes through a fleet behind a load balancer"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one or more playbooks against an inventory.
    Play(Box<PlayArgs>),
    /// Show where each host of the last run stands (from its journal).
    Status,
    /// Print the shell completion script for rollout (load it with
    /// `source <(rollout completions bash)`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Encrypt and decrypt Ansible Vault files and strings (as ansible-vault).
    #[command(subcommand)]
    Vault(VaultCommand),
}

/// `rollout play --help` groups options under ansible-playbook's headings;
/// what has none of Ansible's is under "Options" or rollout's own.
pub mod heading {
    pub const CONNECTION: &str = "Connection Options";
    pub const PRIVILEGE: &str = "Privilege Escalation Options";
    pub const ROLLING: &str = "Rolling Options";
}

/// Where vault passwords come from (ansible-playbook's and ansible-vault's
/// options).
#[derive(Debug, Clone, Default, Args)]
pub struct VaultArgs {
    /// A vault identity, `label@source` or `source`; the source is a
    /// password file, an executable printing it, or `prompt` (repeatable).
    #[arg(long = "vault-id", value_name = "ID")]
    pub vault_ids: Vec<String>,

    /// A file holding the vault password (its first line), or an
    /// executable printing it (repeatable).
    #[arg(
        long = "vault-password-file",
        visible_alias = "vault-pass-file",
        value_name = "FILE"
    )]
    pub vault_password_files: Vec<PathBuf>,

    /// Ask for the vault password on the terminal.
    #[arg(
        short = 'J',
        long = "ask-vault-pass",
        visible_alias = "ask-vault-password"
    )]
    pub ask_vault_pass: bool,
}

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Encrypt files in place (or stdin, or to --output).
    Encrypt(VaultFilesArgs),
    /// Decrypt files in place (or stdin, or to --output).
    Decrypt(VaultFilesArgs),
    /// Print decrypted files.
    View(VaultFilesArgs),
    /// Edit a decrypted copy of a vaulted file in $EDITOR, then encrypt it again.
    Edit(VaultFilesArgs),
    /// Encrypt strings as `!vault |` YAML values (arguments, or stdin).
    #[command(name = "encrypt_string", alias = "encrypt-string")]
    EncryptString(VaultStringArgs),
}

/// The passwords, where to write and which id encrypts: every vault
/// command's options.
#[derive(Debug, Args)]
pub struct VaultCommonArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// Where to write (`-` for stdout); one input file at most.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The vault id to encrypt with (needed when several are given).
    #[arg(long, value_name = "ID")]
    pub encrypt_vault_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct VaultFilesArgs {
    #[command(flatten)]
    pub common: VaultCommonArgs,
    /// Files (none, or `-`: stdin).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VaultStringArgs {
    #[command(flatten)]
    pub common: VaultCommonArgs,
    /// Variable names for the strings, in order (repeatable).
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    pub names: Vec<String>,
    /// The variable name for the string read from stdin.
    #[arg(long, value_name = "NAME")]
    pub stdin_name: Option<String>,
    /// Strings to encrypt (`-` or none: read stdin).
    #[arg(value_name = "STRING")]
    pub strings: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PlayArgs {
    /// Playbook files, run in order.
    #[arg(required = true, value_name = "PLAYBOOK")]
    pub playbooks: Vec<PathBuf>,

    /// Inventory file, directory or comma-separated host list (repeatable).
    #[arg(short = 'i', long = "inventory", value_name = "INVENTORY")]
    pub inventory: Vec<String>,

    /// Further limit the hosts to a pattern (`web:!web3`, `@file`).
    #[arg(short = 'l', long, value_name = "SUBSET")]
    pub limit: Option<String>,

    /// Extra variables: `key=value`, YAML/JSON, or `@file` (repeatable; highest precedence).
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,

    /// Only run tasks tagged with these (comma-separated, repeatable).
    #[arg(short = 't', long, value_delimiter = ',')]
    pub tags: Vec<String>,

    /// Skip tasks tagged with these (comma-separated, repeatable).
    #[arg(long, value_delimiter = ',')]
    pub skip_tags: Vec<String>,

    /// Change nothing; report what would change.
    #[arg(short = 'C', long)]
    pub check: bool,

    /// Show the differences of changed files.
    #[arg(short = 'D', long)]
    pub diff: bool,

    /// Hosts worked on at once (default: ANSIBLE_FORKS, ansible.cfg, else 5).
    #[arg(short = 'f', long, value_parser = clap::value_parser!(u32).range(1..))]
    pub forks: Option<u32>,

    /// More output (-v results, -vv task paths, -vvv connection details).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// List the hosts of each play and exit.
    #[arg(long)]
    pub list_hosts: bool,

    /// List the tasks of each play and exit.
    #[arg(long)]
    pub list_tasks: bool,

    /// List the tags of each play (its own and its tasks') and exit.
    #[arg(long)]
    pub list_tags: bool,

    /// Start at the first task whose name matches (exactly, as a glob such
    /// as `Install*`, or as `role : task`); earlier tasks are skipped.
    #[arg(long, value_name = "NAME")]
    pub start_at_task: Option<String>,

    /// One step at a time: confirm each task before it runs
    /// ((N)o/(y)es/(c)ontinue), from the terminal.
    #[arg(long)]
    pub step: bool,

    /// Check the playbooks and exit without running anything.
    #[arg(long)]
    pub syntax_check: bool,

    /// Host key checking: strict (default), accept-new, or off.
    #[arg(help_heading = heading::CONNECTION, long, value_name = "POLICY", value_parser = ["strict", "accept-new", "off"])]
    pub host_key_checking: Option<String>,

    /// OpenSSH client config to read instead of ~/.ssh/config.
    #[arg(help_heading = heading::CONNECTION, long, value_name = "FILE", env = "ROLLOUT_SSH_CONFIG")]
    pub ssh_config: Option<PathBuf>,

    /// Connect as this user where the inventory and the play set none.
    #[arg(help_heading = heading::CONNECTION, short = 'u', long = "user", value_name = "REMOTE_USER")]
    pub user: Option<String>,

    /// Authenticate with this private key where the inventory sets none.
    #[arg(help_heading = heading::CONNECTION, long = "private-key", visible_alias = "key-file", value_name = "FILE")]
    pub private_key: Option<PathBuf>,

    /// Connection type where the inventory sets none: ssh (default) or local.
    #[arg(help_heading = heading::CONNECTION, short = 'c', long, value_name = "CONNECTION")]
    pub connection: Option<String>,

    /// SSH connect timeout in seconds (default: ANSIBLE_TIMEOUT, ansible.cfg, else 10).
    #[arg(help_heading = heading::CONNECTION, short = 'T', long, value_name = "SECONDS")]
    pub timeout: Option<u64>,

    /// Ask for the SSH password (ROLLOUT_SSH_PASS when there is no terminal),
    /// tried after the keys.
    #[arg(help_heading = heading::CONNECTION, short = 'k', long)]
    pub ask_pass: bool,

    /// Accepted for Ansible's sake: rollout keeps no fact cache.
    #[arg(long)]
    pub flush_cache: bool,

    /// Run notified handlers even on hosts that failed (as every play's
    /// `force_handlers: true`).
    #[arg(long)]
    pub force_handlers: bool,

    /// Run every task with privilege escalation (sudo).
    #[arg(help_heading = heading::PRIVILEGE, short = 'b', long = "become")]
    pub become_all: bool,

    /// The user to become (default root).
    #[arg(help_heading = heading::PRIVILEGE, long, value_name = "USER")]
    pub become_user: Option<String>,

    /// How to become: sudo (default) or su.
    #[arg(help_heading = heading::PRIVILEGE, long, value_name = "METHOD")]
    pub become_method: Option<String>,

    /// Ask for the sudo password (sent on stdin, never on a command line).
    #[arg(short = 'K', long)]
    pub ask_become_pass: bool,

    /// The maintenance window's end (06:00, or RFC 3339): no batch starts
    /// that could not finish before it.
    #[arg(help_heading = heading::ROLLING, long, value_name = "TIME")]
    pub window_end: Option<String>,

    /// Continue the last run of these playbooks from its journal: hosts
    /// that completed a play are skipped, the others run it again, starting
    /// from where the load balancer says they are.
    #[arg(help_heading = heading::ROLLING, long)]
    pub resume: bool,

    /// POST a JSON event here when the rollout starts, a host fails, the
    /// rollout stops and when it completes (retried; never blocks the run).
    #[arg(help_heading = heading::ROLLING, long, value_name = "URL")]
    pub notify_webhook: Option<String>,

    /// Also write every event as a JSON line to this file.
    #[arg(help_heading = heading::ROLLING, long, value_name = "FILE")]
    pub events_json: Option<PathBuf>,

    #[command(flatten)]
    pub vault: VaultArgs,
}

impl PlayArgs {
    /// `--list-hosts`, `--list-tasks` or `--list-tags`: list, run nothing.
    pub fn lists(&self) -> bool {
        self.list_hosts || self.list_tasks || self.list_tags
    }
}
