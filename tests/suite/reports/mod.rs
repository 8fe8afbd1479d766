//! Reports for CI systems and people: JUnit XML from `run`, `fuzz` and
//! `explore` read back with an XML parser, the time series in `--json`, and
//! `overbook report RUN.json --html` from a saved report.

use crate::cli::overbook;
use quick_xml::events::Event;
use quick_xml::Reader;
use std::path::{Path, PathBuf};

/// A fresh, empty folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("overbook-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What a JUnit file holds, as a parser sees it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct JunitCounts {
    /// `<testcase>` elements.
    pub tests: usize,
    /// `<failure>` elements.
    pub failures: usize,
    /// `<skipped>` elements.
    pub skipped: usize,
    /// `<testsuite>` elements.
    pub suites: usize,
    /// The text of every failure's message attribute and body.
    pub failure_text: String,
}

/// Parses a JUnit file and counts its elements; also checks that the
/// `<testsuites>` totals agree with the elements.
pub fn junit_counts(path: &Path) -> JunitCounts {
    let xml = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = Reader::from_str(&xml);
    let mut counts = JunitCounts::default();
    let mut declared: Option<(usize, usize)> = None;
    let mut in_failure = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let attribute = |name: &[u8]| -> Option<String> {
                    e.attributes()
                        .filter_map(Result::ok)
                        .find(|a| a.key.as_ref() == name)
                        .map(|a| a.unescape_value().unwrap().into_owned())
                };
                match e.name().as_ref() {
                    b"testsuites" => {
                        declared = Some((
                            attribute(b"tests").unwrap().parse().unwrap(),
                            attribute(b"failures").unwrap().parse().unwrap(),
                        ))
                    }
                    b"testsuite" => counts.suites += 1,
                    b"testcase" => counts.tests += 1,
                    b"failure" => {
                        counts.failures += 1;
                        counts.failure_text += &attribute(b"message").unwrap_or_default();
                        counts.failure_text.push('\n');
                        in_failure = true;
                    }
                    b"skipped" => counts.skipped += 1,
                    _ => {}
                }
            }
            Ok(Event::Text(text)) if in_failure => {
                counts.failure_text += &text.decode().unwrap();
            }
            Ok(Event::GeneralRef(entity)) if in_failure => {
                counts.failure_text += match entity.decode().unwrap().as_ref() {
                    "quot" => "\"",
                    "apos" => "'",
                    "lt" => "<",
                    "gt" => ">",
                    "amp" => "&",
                    other => panic!("unexpected entity &{other};"),
                };
            }
            Ok(Event::End(e)) if e.name().as_ref() == b"failure" => in_failure = false,
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(err) => panic!("{}: not well-formed XML: {err}", path.display()),
        }
    }
    assert_eq!(
        declared,
        Some((counts.tests, counts.failures)),
        "declared totals differ from the elements in {}",
        path.display()
    );
    counts
}

#[test]
fn junit_from_run_fuzz_and_explore_counts_tests_and_failures() {
    let dir = scratch("junit");
    let file = |name: &str| dir.join(name).to_str().unwrap().to_string();

    let (code, _, _) = overbook(&[
        "run",
        "units-burst",
        "--variant",
        "units/read-committed",
        "--junit",
        &file("run-fail.xml"),
    ]);
    assert_eq!(code, 1);
    let counts = junit_counts(&dir.join("run-fail.xml"));
    assert_eq!((counts.tests, counts.failures), (1, 1), "{counts:?}");
    assert!(
        counts.failure_text.contains("units_conserved"),
        "{counts:?}"
    );
    assert!(
        counts.failure_text.contains(
            "reproduce: overbook run units-burst --seed 1 --variant units/read-committed"
        ),
        "{counts:?}"
    );
    let (code, _, _) = overbook(&["run", "units-burst", "--junit", &file("run-pass.xml")]);
    assert_eq!(code, 0);
    let counts = junit_counts(&dir.join("run-pass.xml"));
    assert_eq!((counts.tests, counts.failures), (1, 0), "{counts:?}");

    // Two sims, three seeds: six cases in two suites; the planted bug
    // fails on units-burst only.
    let (code, _, _) = overbook(&[
        "fuzz",
        "units-burst",
        "rooms-conflict",
        "--seeds",
        "1..4",
        "--jobs",
        "1",
        "--variant",
        "units/read-committed",
        "--junit",
        &file("fuzz.xml"),
    ]);
    assert_eq!(code, 1);
    let counts = junit_counts(&dir.join("fuzz.xml"));
    assert_eq!(
        (counts.tests, counts.failures, counts.suites),
        (6, 3, 2),
        "{counts:?}"
    );
    assert!(
        counts
            .failure_text
            .contains("overbook replay --sim units-burst --seed 2 --variant units/read-committed"),
        "{counts:?}"
    );

    let (code, _, _) = overbook(&[
        "explore",
        "explore-units",
        "--variant",
        "units/read-committed",
        "--junit",
        &file("explore-fail.xml"),
    ]);
    assert_eq!(code, 1);
    let counts = junit_counts(&dir.join("explore-fail.xml"));
    assert_eq!((counts.tests, counts.failures), (1, 1), "{counts:?}");
    assert!(
        counts.failure_text.contains("--replay 'dfs:2-clients:"),
        "{counts:?}"
    );
    let (code, _, _) = overbook(&["explore", "explore-units", "--junit", &file("explore.xml")]);
    assert_eq!(code, 0);
    let counts = junit_counts(&dir.join("explore.xml"));
    assert_eq!((counts.tests, counts.failures), (1, 0), "{counts:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn json_time_series_adds_up_to_the_totals() {
    let (code, out, _) = overbook(&["run", "units-mixed", "--json"]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let series = &report["series"];
    let buckets = series["buckets"].as_array().unwrap();
    assert!(
        buckets.len() > 100 && buckets.len() <= 240,
        "{}",
        buckets.len()
    );
    let bucket_ms = series["bucket_ms"].as_u64().unwrap();
    assert!(bucket_ms * buckets.len() as u64 >= report["sim_time_ms"].as_u64().unwrap());
    let sum = |pick: &dyn Fn(&serde_json::Value) -> u64| -> u64 { buckets.iter().map(pick).sum() };
    let completed = sum(&|b| {
        b["ops"]
            .as_object()
            .unwrap()
            .values()
            .map(|o| o["completed"].as_u64().unwrap())
            .sum()
    });
    assert_eq!(completed, report["requests"]["total"].as_u64().unwrap());
    let retries = sum(&|b| {
        b["ops"]
            .as_object()
            .unwrap()
            .values()
            .map(|o| o["server_retries"].as_u64().unwrap())
            .sum()
    });
    assert_eq!(retries, report["retries"]["count"].as_u64().unwrap());
    for (field, total) in [
        ("commits", "committed"),
        ("serialization_failures", "serialization_failures"),
        ("lock_waits", "lock_waits"),
    ] {
        assert_eq!(
            sum(&|b| b[field].as_u64().unwrap()),
            report["store"][total].as_u64().unwrap(),
            "{field}"
        );
    }
}

#[test]
fn report_renders_html_from_a_saved_json_and_rejects_bad_input() {
    let dir = scratch("report-json");
    let (code, out, _) = overbook(&[
        "run",
        "units-burst",
        "--variant",
        "units/read-committed",
        "--json",
    ]);
    assert_eq!(code, 1);
    let json = dir.join("run.json");
    std::fs::write(&json, &out).unwrap();
    let html = dir.join("run.html");
    let (code, _, err) = overbook(&[
        "report",
        json.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "a failing run's report exits 1: {err}");
    let page = std::fs::read_to_string(&html).unwrap();
    for part in [
        "id=\"chart-requests\"",
        "id=\"chart-latency-0\"",
        "id=\"chart-statuses\"",
        "id=\"chart-retries\"",
        "id=\"chart-database\"",
        "Violation: units_conserved",
        "Invariants checked",
        "<polyline",
    ] {
        assert!(page.contains(part), "missing {part}");
    }
    // Self-contained: nothing is fetched.
    for outside in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(!page.contains(outside), "the page loads {outside}");
    }
    let (code, out, _) = overbook(&["report", json.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("VIOLATION units_conserved"), "{out}");

    std::fs::write(&json, "{\"sim\": 3}").unwrap();
    let (code, _, err) = overbook(&["report", json.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("not a run report"), "{err}");
    let (code, _, err) = overbook(&["report", dir.join("missing.json").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("missing.json"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_html_draws_the_timeline_of_a_failure_and_merge_rejects_bad_input() {
    let dir = scratch("run-html");
    let html = dir.join("burst.html");
    let (code, _, _) = overbook(&[
        "run",
        "units-burst",
        "--variant",
        "units/read-committed",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("id=chart-timeline"), "a failure's timeline");
    assert!(page.contains(
        "Reproduce: <code>overbook run units-burst --seed 1 --variant units/read-committed</code>"
    ));

    let (code, _, err) = overbook(&[
        "corpus",
        "merge",
        dir.join("no-such-folder").to_str().unwrap(),
        "--into",
        dir.join("merged").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no-such-folder"), "{err}");
    // A file that is not an entry is reported, not merged, and counts
    // against the merge.
    let shard = dir.join("shard");
    std::fs::create_dir_all(&shard).unwrap();
    std::fs::write(shard.join("junk.toml"), "sim = 3\n").unwrap();
    let (code, out, err) = overbook(&[
        "corpus",
        "merge",
        shard.to_str().unwrap(),
        "--into",
        dir.join("merged").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("NOT MERGED:") && out.contains("junk.toml"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corpus_merge_shrinks_at_most_its_budget_per_kind() {
    let dir = scratch("merge-budget");
    let found = dir.join("found");
    let (code, _, _) = overbook(&[
        "fuzz",
        "units-burst",
        "--seeds",
        "1..5",
        "--jobs",
        "1",
        "--variant",
        "units/read-committed",
        "--save",
        found.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    let into = dir.join("merged");
    let (code, out, err) = overbook(&[
        "corpus",
        "merge",
        found.to_str().unwrap(),
        "--into",
        into.to_str().unwrap(),
        "--max-shrinks-per-kind",
        "1",
        "--junit",
        dir.join("merge.xml").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("NEW: units-burst units/read-committed units_conserved: 2 users x 1 op, no faults (seed 1, 4 entries merged, 3 of them not shrunk)"),
        "{out}"
    );
    assert_eq!(overbook::corpus::entries(&into).unwrap().len(), 1);
    let counts = junit_counts(&dir.join("merge.xml"));
    assert_eq!((counts.tests, counts.failures), (1, 1), "{counts:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
