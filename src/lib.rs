//! # overbook
//!
//! A deterministic simulation and model-checking harness for booking
//! concurrency: scenario -> seed -> violation -> replay.
#![deny(missing_docs)]

pub mod explore;
pub mod history;
pub mod invariant;
pub mod seed;
pub mod service;
pub mod store;
