//! The integration test binary: one folder per area.

mod browser;
mod check;
mod cli;
mod conform;
mod corpus;
mod explore;
mod inspect;
mod nightly;
mod reports;
mod scenario;
mod servers;
mod sql;
mod store;
mod world;
