//! Domain types, parsed once from requests: ids, locations, images, listings,
//! times, percent coding, and who may do what.

pub(crate) mod access;
pub(crate) mod changes;
pub(crate) mod ids;
pub(crate) mod image;
pub(crate) mod listing;
pub(crate) mod location;
pub(crate) mod model;
pub(crate) mod object;
pub(crate) mod objects;
pub(crate) mod patch;
pub(crate) mod percent;
pub(crate) mod range;
pub(crate) mod session;
pub(crate) mod text;
pub(crate) mod time;
pub(crate) mod user;
pub(crate) mod v2query;

#[cfg(test)]
pub(crate) mod proptests;
