//! The store against the history checker: random concurrent transaction
//! programs under random interleavings.

mod properties;
