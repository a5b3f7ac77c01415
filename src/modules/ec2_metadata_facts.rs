//! `ec2_metadata_facts`: the instance's metadata as `ansible_ec2_*` facts,
//! read with IMDSv2 from the host's side (see [`crate::imds`]). The endpoint
//! is the host var `imds_endpoint` (default `http://169.254.169.254`).

use super::registry::Module;
use super::spec::{Kind, ModuleSpec, p};
use super::{ModuleContext, TaskResult, Vars, host_var_str};
use crate::imds::{DEFAULT_ENDPOINT, Imds};
use serde_json::{Map, Value as Json};

/// `ec2_metadata_facts`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "ec2_metadata_facts",
        &[p("metadata_token_ttl_seconds", Kind::Int)],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

/// Bounds the crawl: real metadata trees hold a few dozen entries.
const MAX_ENTRIES: usize = 500;
const IDENTITY_DOCUMENT: &str = "dynamic/instance-identity/document";

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let endpoint = host_var_str(ctx, "imds_endpoint").unwrap_or_else(|| DEFAULT_ENDPOINT.into());
    let ttl = args
        .get("metadata_token_ttl_seconds")
        .and_then(Json::as_u64)
        .unwrap_or(60);
    if !(1..=21600).contains(&ttl) {
        return TaskResult::failed("metadata_token_ttl_seconds must be between 1 and 21600");
    }
    match gather(ctx, &endpoint, ttl as u32).await {
        Ok(facts) => TaskResult::ok().with("ansible_facts", Json::Object(facts)),
        Err(e) => TaskResult::from_connection(e),
    }
}

async fn gather(
    ctx: &ModuleContext<'_>,
    endpoint: &str,
    ttl: u32,
) -> Result<Map<String, Json>, crate::connection::ConnectionError> {
    let imds = Imds::open(ctx.conn, endpoint, ttl).await?;
    let mut facts = Map::new();
    let mut pending = vec!["meta-data/".to_string()];
    while let Some(dir) = pending.pop() {
        let Some(listing) = imds.get(&dir).await? else {
            continue;
        };
        for entry in listing.lines().map(str::trim).filter(|e| !e.is_empty()) {
            if facts.len() + pending.len() >= MAX_ENTRIES {
                break;
            }
            let path = format!("{dir}{entry}");
            if entry.ends_with('/') {
                pending.push(path);
            } else if let Some(value) = imds.get(&path).await? {
                facts.insert(fact_name(&path), Json::String(value));
            }
        }
    }
    if let Some(doc) = imds.get(IDENTITY_DOCUMENT).await?
        && let Ok(Json::Object(fields)) = serde_json::from_str::<Json>(&doc)
    {
        for (key, value) in fields {
            let name = fact_name(&format!("instance-identity/document/{key}"));
            facts.insert(name, value);
        }
    }
    Ok(facts)
}

/// `meta-data/placement/availability-zone` → `ansible_ec2_placement_availability_zone`,
/// as Ansible's module names them.
fn fact_name(path: &str) -> String {
    let path = path.strip_prefix("meta-data/").unwrap_or(path);
    let cleaned: String = path
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("ansible_ec2_{}", cleaned.trim_matches('_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_ansible() {
        assert_eq!(
            fact_name("meta-data/instance-id"),
            "ansible_ec2_instance_id"
        );
        assert_eq!(
            fact_name("meta-data/placement/availability-zone"),
            "ansible_ec2_placement_availability_zone"
        );
        assert_eq!(
            fact_name("instance-identity/document/accountId"),
            "ansible_ec2_instance_identity_document_accountid"
        );
    }
}
