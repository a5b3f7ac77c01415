//! `set_fact`: host variables for the rest of the run. The engine merges
//! `ansible_facts` from the result into the host's facts.

use super::{TaskResult, Vars};
use serde_json::Value as Json;

pub fn run(args: &Vars) -> TaskResult {
    let facts: Vars = args
        .iter()
        .filter(|(k, _)| k.as_str() != "cacheable")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if facts.is_empty() {
        return TaskResult::failed(
            "set_fact needs at least one variable, e.g. 'set_fact: version=2.0'",
        );
    }
    TaskResult::ok().with("ansible_facts", Json::Object(facts))
}
