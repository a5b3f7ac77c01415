//! Consumers of engine events: the console output in ansible-playbook's
//! format ([`console`]) and JSON lines ([`json`]).

pub mod console;
pub mod json;
