//! `first_found`: the path of the first file that exists among the terms
//! (strings, lists of them, or `{files, paths, skip}` mappings; `files=`,
//! `paths=` and `skip=` as options too). Names split on `,` and `;`, paths
//! on `,`, `:` and `;`. Relative names resolve from the role's and the
//! playbook's directory (no `files/`, as a lookup in Ansible 2.19; a
//! `with_first_found` loop looks in `templates/`, `vars/` or `files/` first,
//! by its task's module).
//! Nothing found fails, or gives no value with `skip`.

use super::{Call, Outcome};
use minijinja::Value;
use minijinja::value::ValueKind;

pub fn run(call: &Call<'_>) -> Outcome {
    let mut defaults = Spec {
        files: strings(call.option::<Value>("files")?.as_ref(), &[',', ';'])?,
        paths: strings(call.option::<Value>("paths")?.as_ref(), &[',', ':', ';'])?,
        skip: call.option::<bool>("skip")?.unwrap_or(false),
    };
    let mut candidates = Vec::new();
    if call.terms.is_empty() {
        candidates.extend(defaults.candidates(&defaults.files));
    }
    for term in &call.terms {
        collect(term, &mut defaults, &mut candidates)?;
    }
    // As a `with_first_found` loop, the folder the task's module reads
    // from comes first (Ansible looks at the module's name).
    let module = call.var(super::WITH_MODULE).map(|m| m.to_string());
    let subdir = module.map(|m| match m {
        m if m.contains("template") => "templates",
        m if m.contains("var") => "vars",
        _ => "files",
    });
    for name in candidates {
        if let Some(path) = call.find_file(subdir, &name) {
            return Ok(vec![Value::from(path.to_string_lossy())]);
        }
    }
    match defaults.skip {
        true => Ok(Vec::new()),
        false => Err("No file was found when using first_found.".into()),
    }
}

/// The options in effect: those of the call, then of the latest mapping.
struct Spec {
    files: Vec<String>,
    paths: Vec<String>,
    skip: bool,
}

impl Spec {
    /// Each name under each path (the names alone without paths).
    fn candidates(&self, names: &[String]) -> Vec<String> {
        if self.paths.is_empty() {
            return names.to_vec();
        }
        let joined = self.paths.iter().flat_map(|p| {
            names
                .iter()
                .map(move |n| format!("{}/{n}", p.trim_end_matches('/')))
        });
        joined.collect()
    }
}

fn collect(term: &Value, spec: &mut Spec, out: &mut Vec<String>) -> Result<(), String> {
    match term.kind() {
        ValueKind::String => out.extend(spec.candidates(&[term.to_string()])),
        ValueKind::Seq => {
            for item in term.try_iter().map_err(|e| e.to_string())? {
                collect(&item, spec, out)?;
            }
        }
        ValueKind::Map => {
            let get = |key: &str| term.get_attr(key).ok().filter(|v| !v.is_undefined());
            spec.files = strings(get("files").as_ref(), &[',', ';'])?;
            if let Some(paths) = get("paths") {
                spec.paths = strings(Some(&paths), &[',', ':', ';'])?;
            }
            if let Some(skip) = get("skip") {
                spec.skip = skip.is_true();
            }
            out.extend(spec.candidates(&spec.files));
        }
        _ => {
            return Err(format!(
                "Invalid term supplied. A string, dict or list is required, not {term}"
            ));
        }
    }
    Ok(())
}

/// A string or list of strings, each split on `separators`.
fn strings(value: Option<&Value>, separators: &[char]) -> Result<Vec<String>, String> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(Vec::new());
    };
    let items: Vec<Value> = match value.kind() {
        ValueKind::Seq => value.try_iter().map_err(|e| e.to_string())?.collect(),
        _ => vec![value.clone()],
    };
    Ok(items
        .iter()
        .flat_map(|item| {
            let text = item.to_string();
            text.split(separators)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect())
}
