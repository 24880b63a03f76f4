//! Pluggable backends: identity (who the caller is) and object storage (where data lives).

pub mod astakos;
pub mod hash;
pub mod http;
pub mod identity;
pub mod pithos;
pub mod store;
mod stream;
