//! The integration test binary: one folder per area.

mod cli;
mod check;
mod corpus;
mod explore;
mod store;
mod world;
