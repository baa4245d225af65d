//! Orbita's wire schema, defined once and used by both the browser tracker and the collector.
//!
//! The format is a superset of Segment's HTTP Tracking API: a `POST /v1/batch` body is
//! `{"batch": [event, ...], "sentAt": ..., "writeKey": ...}` and every event carries Segment's
//! field names (`type`, `event`, `messageId`, `anonymousId`, `userId`, `properties`, `traits`,
//! `context`, `timestamp`, `sentAt`). Ecommerce event names follow Segment's Ecommerce V2 spec.
//!
//! This crate does no IO. Without the `validate` feature it is only names, limits and time
//! helpers, which is all the size-sensitive browser tracker needs.
#![no_std]

extern crate alloc;

pub mod auth;
pub mod ecommerce;
pub mod experiment;
pub mod ids;
pub mod limits;
pub mod names;
pub mod push;
pub mod recommendation;
pub mod site_config;
pub mod time;

#[cfg(feature = "validate")]
pub mod batch;
#[cfg(feature = "validate")]
pub mod click_token;
#[cfg(feature = "validate")]
pub mod event;
#[cfg(feature = "validate")]
pub mod verdict;
#[cfg(feature = "validate")]
pub mod yespo;
