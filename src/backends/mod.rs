//! Pluggable backends: identity (who the caller is) and object storage (where data lives).

pub mod hash;
pub mod identity;
pub mod store;
