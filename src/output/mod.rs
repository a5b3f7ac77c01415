//! Consumers of engine events: the console output in ansible-playbook's
//! format ([`console`]), the same with a live view of the rolling lifecycle
//! on a terminal ([`progress`]), JSON lines ([`json`]) and alerts to a webhook
//! ([`webhook`]); `--step`'s prompt on the terminal ([`step`]) and the
//! colours of it all ([`palette`]). The durable journal is [`crate::state::journal`].

pub mod console;
pub mod json;
pub mod palette;
pub mod progress;
pub mod step;
pub mod webhook;
