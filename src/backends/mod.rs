//! Pluggable backends: identity (who the caller is) and object storage (where
//! data lives), each an enum chosen once from the settings.

pub(crate) mod hash;
pub(crate) mod http;
pub(crate) mod identity;
pub(crate) mod md5;
pub(crate) mod store;
mod stream;
