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

    /// Check the playbooks and exit without running anything.
    #[arg(long)]
    pub syntax_check: bool,

    /// Host key checking: strict (default), accept-new, or off.
    #[arg(long, value_name = "POLICY", value_parser = ["strict", "accept-new", "off"])]
    pub host_key_checking: Option<String>,

    /// OpenSSH client config to read instead of ~/.ssh/config.
    #[arg(long, value_name = "FILE", env = "ROLLOUT_SSH_CONFIG")]
    pub ssh_config: Option<PathBuf>,

    /// Connect as this user where the inventory and the play set none.
    #[arg(short = 'u', long = "user", value_name = "REMOTE_USER")]
    pub user: Option<String>,

    /// Authenticate with this private key where the inventory sets none.
    #[arg(long = "private-key", visible_alias = "key-file", value_name = "FILE")]
    pub private_key: Option<PathBuf>,

    /// Connection type where the inventory sets none: ssh (default) or local.
    #[arg(short = 'c', long, value_name = "CONNECTION")]
    pub connection: Option<String>,

    /// SSH connect timeout in seconds (default: ANSIBLE_TIMEOUT, ansible.cfg, else 10).
    #[arg(short = 'T', long, value_name = "SECONDS")]
    pub timeout: Option<u64>,

    /// Ask for the SSH password (ROLLOUT_SSH_PASS when there is no terminal),
    /// tried after the keys.
    #[arg(short = 'k', long)]
    pub ask_pass: bool,

    /// Accepted for Ansible's sake: rollout keeps no fact cache.
    #[arg(long)]
    pub flush_cache: bool,

    /// Run notified handlers even on hosts that failed (as every play's
    /// `force_handlers: true`).
    #[arg(long)]
    pub force_handlers: bool,

    /// Run every task with privilege escalation (sudo).
    #[arg(short = 'b', long = "become")]
    pub become_all: bool,

    /// The user to become (default root).
    #[arg(long, value_name = "USER")]
    pub become_user: Option<String>,

    /// How to become: sudo (default) or su.
    #[arg(long, value_name = "METHOD")]
    pub become_method: Option<String>,

    /// Ask for the sudo password (sent on stdin, never on a command line).
    #[arg(short = 'K', long)]
    pub ask_become_pass: bool,

    /// The maintenance window's end (06:00, or RFC 3339): no batch starts
    /// that could not finish before it.
    #[arg(long, value_name = "TIME")]
    pub window_end: Option<String>,

    /// Continue the last run of these playbooks from its journal: hosts
    /// that completed a play are skipped, the others run it again, starting
    /// from where the load balancer says they are.
    #[arg(long)]
    pub resume: bool,

    /// POST a JSON event here when the rollout starts, a host fails, the
    /// rollout stops and when it completes (retried; never blocks the run).
    #[arg(long, value_name = "URL")]
    pub notify_webhook: Option<String>,

    /// Also write every event as a JSON line to this file.
    #[arg(long, value_name = "FILE")]
    pub events_json: Option<PathBuf>,
}
