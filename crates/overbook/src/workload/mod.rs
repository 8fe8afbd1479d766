//! When virtual users arrive: Artillery-style phases of arrival rates,
//! ramps and bursts. What each user then does is its service's
//! ([`crate::system::System::user`]).

pub mod arrivals;

pub use arrivals::{arrival_times_ms, jittered_arrival_times_ms};
