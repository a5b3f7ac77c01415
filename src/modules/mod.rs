//! Modules: what each accepts ([`spec`]) and how each runs.

pub mod spec;
