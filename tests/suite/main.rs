//! The integration test binary: one folder per area.

mod cli;
mod corpus;
mod explore;
mod sql;
mod store;
mod world;
