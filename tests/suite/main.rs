//! The integration test binary: one folder per area.

mod store;
