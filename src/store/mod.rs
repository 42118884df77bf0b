//! The store API over the four variants (Default, Redis, RedisCluster, Sharded).
//!
//! Placeholder: lands with issue 6.
