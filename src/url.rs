//! Connection URLs (`redis://`, `rediss://`, `valkey://`, `unix://` ...) into [`crate::conn::ConnectOptions`].
//!
//! Placeholder: lands with issue 4.
