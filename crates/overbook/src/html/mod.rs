//! HTML pages of a run, self-contained (inline CSS and SVG, no network):
//! the run report with charts over simulated time ([`report`]) and the
//! failure timeline ([`timeline`]).
//!
//! ```no_run
//! use overbook::{html, scenario::Scenario, seed::Seed, system::{System, Variant}, world};
//!
//! /// The report page of one run of `service` on a sim of its own.
//! fn report_page<S: System>(service: &S) {
//!     let scenario = Scenario::load_for(service, "sims/units-mixed.toml".as_ref()).unwrap();
//!     let report = world::run(service, &scenario, Seed(1), Variant::CORRECT);
//!     let page = html::report::render(&report, &html::report::ReportPage::default());
//!     std::fs::write("units-mixed.html", page).unwrap();
//! }
//! ```

pub mod chart;
pub mod report;
pub mod timeline;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
