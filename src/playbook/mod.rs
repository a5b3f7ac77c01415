//! Playbooks: the typed model ([`model`]) and its loader ([`load`]).

pub mod kv;
pub mod load;
pub mod model;

pub use load::{load_playbook, read_yaml};
pub use model::*;
