//! `env`: the controller's environment variables (the first word of each
//! term), `default=` (else empty) for unset ones.

use super::{Call, Outcome};
use minijinja::Value;

pub fn run(call: &Call<'_>) -> Outcome {
    let default = call.option::<Value>("default")?.unwrap_or(Value::from(""));
    Ok(call
        .text_terms()?
        .iter()
        .map(|term| {
            let name = term.split_whitespace().next().unwrap_or_default();
            std::env::var(name).map_or_else(|_| default.clone(), Value::from)
        })
        .collect())
}
