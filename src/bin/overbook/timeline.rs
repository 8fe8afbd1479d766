//! The failure timeline of `overbook replay --timeline` lives in the
//! library (`overbook::html::timeline`), where the HTML report reuses it.

pub use overbook::html::timeline::render;
