//! The failure timeline of `replay --timeline` lives in the library
//! ([`crate::html::timeline`]), where the HTML report reuses it.

pub(super) use crate::html::timeline::render;
