//! Playbooks: the typed model ([`model`]) and its loader ([`load`], whose
//! scalar readers live in `scalars`, and which expands roles through
//! [`roles`]: search path, layout, dependencies); [`lb_section`] is the
//! `load_balancer:` section, checked at load time and resolved per host at
//! run time.
pub mod kv;
pub mod lb_section;
pub mod load;
pub mod model;
pub mod roles;
mod scalars;
pub mod vars_prompt;

pub use load::{load_playbook, load_playbook_with, read_yaml};
pub use model::*;
pub use roles::LoadOptions;
