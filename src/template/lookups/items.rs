//! `items` (the terms, lists among them flattened one level) and `list`
//! (the terms as given).

use super::{Call, Outcome};
use minijinja::value::ValueKind;

pub fn flattened(call: &Call<'_>) -> Outcome {
    let mut values = Vec::new();
    for term in &call.terms {
        match term.kind() {
            ValueKind::Seq => values.extend(term.try_iter().map_err(|e| e.to_string())?),
            _ => values.push(term.clone()),
        }
    }
    Ok(values)
}

pub fn as_given(call: &Call<'_>) -> Outcome {
    Ok(call.terms.clone())
}
