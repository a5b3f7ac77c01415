//! Consumers of engine events: the console output in ansible-playbook's
//! format ([`console`]), the same with a live view of the rolling lifecycle
//! on a terminal ([`progress`]), JSON lines ([`json`]), the durable
//! [`journal`] of lifecycle transitions, and alerts to a webhook ([`webhook`]).

pub mod console;
pub mod journal;
pub mod json;
pub mod progress;
pub mod webhook;
