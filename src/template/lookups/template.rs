//! `template`: controller templates (under `templates/` first) rendered
//! with the variables of the template that calls the lookup, plus
//! `template_vars=`; the text keeps its trailing newline, as the template
//! module's does.

use super::{Call, Outcome, current_context, file, overlay};
use minijinja::value::Value;
use std::collections::BTreeMap;

pub fn run(call: &Call<'_>) -> Outcome {
    let extra = call.option::<Value>("template_vars")?;
    let mut values = Vec::new();
    for term in call.text_terms()? {
        let path = call
            .find_file(Some("templates"), &term)
            .ok_or_else(|| format!("the template file {term} could not be found for the lookup"))?;
        let source = file::read(&path)?;
        let mut vars = BTreeMap::new();
        if let Some(extra) = &extra {
            for key in extra.try_iter().map_err(|e| e.to_string())? {
                let value = extra.get_item(&key).map_err(|e| e.to_string())?;
                vars.insert(key.to_string(), value);
            }
        }
        vars.insert("template_path".into(), Value::from(path.to_string_lossy()));
        vars.insert(
            "template_fullpath".into(),
            Value::from(path.to_string_lossy()),
        );
        let ctx = overlay(vars, current_context());
        let text = super::super::render_in(call.state.env(), &source, &ctx)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        values.push(Value::from(text));
    }
    Ok(values)
}
