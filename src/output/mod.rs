//! Consumers of engine events: the console output in ansible-playbook's
//! format ([`console`]), the same with a live view of the rolling lifecycle
//! on a terminal ([`progress`]), and JSON lines ([`json`]).

pub mod console;
pub mod json;
pub mod progress;
