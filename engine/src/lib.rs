//! Orbita's engine: the product catalogue, feed parsing and recommenders, as pure functions.
//!
//! Nothing here does IO. The collector loads rows from storage, calls these functions and
//! stores or serves what they return, so everything here is testable natively and fast.

pub mod catalogue;
pub mod enrich;
pub mod eval;
pub mod experiment_report;
pub mod feed;
pub mod identity;
pub mod key_index;
pub mod models;
pub mod profile;
pub mod recommend;
pub mod recommend_placement;
pub mod recommenders;
pub mod segments;
pub mod synthetic;
pub mod web_push;
