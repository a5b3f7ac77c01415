//! The playbook loader and the static checks never panic, whatever the input:
//! they load it or return a diagnostic. (The parsers of state and host
//! files are fuzzed in `parser_fuzz.rs`.)

use proptest::prelude::*;
use rollout::inventory::Inventory;
use rollout::playbook::load_playbook;
use rollout::template::Templar;

/// Fragments that make text look like a playbook, so the generator reaches
/// deep into the loader rather than failing at the first character.
fn yamlish() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("- hosts: all\n".to_string()),
        Just("  tasks:\n".to_string()),
        Just("    - name: x\n".to_string()),
        Just("      command: echo {{ x }}\n".to_string()),
        Just("      when: y is defined\n".to_string()),
        Just("      loop: [1, 2]\n".to_string()),
        Just("    - block:\n        - debug: msg=hi\n      rescue: []\n".to_string()),
        Just("  serial: [1, \"50%\"]\n".to_string()),
        Just("  vars: {a: &x [1], b: *x}\n".to_string()),
        Just("    - include_tasks: nowhere.yaml\n".to_string()),
        Just("    - meta: flush_handlers\n".to_string()),
        Just("  handlers:\n    - name: h\n      shell: 'true'\n".to_string()),
        Just(": {[\n".to_string()),
        Just("      {{ }}\n".to_string()),
        "[ -~]{0,20}\n",
    ];
    prop::collection::vec(fragment, 0..12).prop_map(|parts| parts.concat())
}

fn check(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.yaml");
    std::fs::write(&path, text).unwrap();
    match load_playbook(&path) {
        Ok(pb) => {
            let inventory = Inventory::default();
            // Ok or a diagnostic; a panic fails the property.
            let _ = rollout::engine::lint::check_templates(
                &pb,
                &inventory,
                &Default::default(),
                &Templar::new(),
            );
        }
        Err(diag) => {
            let text = diag.to_string();
            assert!(text.starts_with("ERROR! "), "{text}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        check(&text);
    }

    #[test]
    fn playbook_like_text_never_panics(text in yamlish()) {
        check(&text);
    }
}
