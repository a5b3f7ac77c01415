//! `vars`: the values of variables named by the terms (so the name can be
//! built at run time), `default=` for missing ones.

use super::{Call, Outcome};
use minijinja::Value;

pub fn run(call: &Call<'_>) -> Outcome {
    let default = call.option::<Value>("default")?;
    call.text_terms()?
        .iter()
        .map(|name| {
            call.var(name)
                .or_else(|| default.clone())
                .ok_or_else(|| format!("No variable found with this name: {name}"))
        })
        .collect()
}
