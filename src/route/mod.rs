//! Routing: which node a command goes to, and what to do when the server redirects.

pub mod keys;
pub mod redirect;
pub mod slot;
pub mod split;
