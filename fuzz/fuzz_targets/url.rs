//! Arbitrary text as a connection URL: an options value or a clear error,
//! never a panic, and the error never quotes the password part.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = redwire::url::parse_url(text) {
        let shown = e.to_string();
        // A distinctive password in the user-info position must not be echoed.
        if text.contains(":SECRETpw@") && text.matches("SECRETpw").count() == 1 {
            assert!(!shown.contains("SECRETpw"), "password in error: {shown}");
        }
    }
    let _ = redwire::url::redact_url(text);
});
