//! Routing: which node a command goes to, and what to do when the server redirects.
//!
//! Placeholder: lands with the cluster router (issue 5).
