//! Domain types, parsed once from requests: ids, locations, images, listings,
//! times, percent coding, and who may do what.

pub mod access;
pub mod ids;
pub mod image;
pub mod listing;
pub mod location;
pub mod percent;
pub mod range;
pub mod time;

#[cfg(test)]
mod proptests;
