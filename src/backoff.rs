//! Exponential backoff with jitter, as a pure function of the attempt number.
//!
//! Placeholder: lands with the cluster router (issue 5).
