//! Stalwart's `InMemoryStore` JSON configuration, parsed and validated.
//!
//! Placeholder: lands with issue 6.
