//! The integration test binary: one folder per area.

mod check;
mod cli;
mod corpus;
mod explore;
mod store;
mod world;
