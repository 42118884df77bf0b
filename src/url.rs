//! Connection URLs (`redis://`, `rediss://`, `valkey://`, `unix://` ...) into [`crate::conn::ConnectOptions`].
//!
//! Placeholder: lands with issue 4.

use crate::conn::ConnectOptions;
use crate::error::Error;

/// Placeholder until the URL parser lands.
///
/// # Errors
/// Always [`Error::Url`].
pub fn parse_url(_url: &str) -> Result<ConnectOptions, Error> {
    Err(Error::Url("not yet supported".into()))
}
