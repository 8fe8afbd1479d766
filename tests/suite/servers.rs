//! Tests that need a server (PostgreSQL, Chromium, psql) are counted as ignored
//! by a plain `cargo test`, with why, rather than passing having done
//! nothing; `.ci/run` runs them (`-- --ignored`), and under `CI=true` a
//! missing server fails even a plain `cargo test`.

use std::path::{Path, PathBuf};

/// The mark a test that calls `needs` must carry, and what it is for.
const MARKS: [(&str, &str); 3] = [
    ("pg_url(", "#[ignore = \"needs PostgreSQL"),
    ("browser_or_skip(", "#[ignore = \"needs Chromium"),
    ("psql_or_fail(", "#[ignore = \"needs psql"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a folder of the suite") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("servers.rs") {
            out.push(path);
        }
    }
}

/// Every `#[test]` function in `text`: its attributes and its body.
fn tests_in(text: &str) -> Vec<(String, String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        if lines[at].trim() != "#[test]" {
            at += 1;
            continue;
        }
        let indent = &lines[at][..lines[at].len() - lines[at].trim_start().len()];
        let mut attributes = String::new();
        while at < lines.len() && !lines[at].trim_start().starts_with("fn ") {
            attributes.push_str(lines[at]);
            attributes.push('\n');
            at += 1;
        }
        let Some(signature) = lines.get(at) else {
            break;
        };
        let name = signature.trim_start()["fn ".len()..]
            .split('(')
            .next()
            .unwrap_or_default()
            .to_string();
        let end = format!("{indent}}}");
        let mut body = String::new();
        while at < lines.len() && lines[at] != end {
            body.push_str(lines[at]);
            body.push('\n');
            at += 1;
        }
        found.push((name, attributes, body));
    }
    found
}

#[test]
fn every_test_that_needs_a_server_is_marked_ignored_with_why() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/suite"),
        &mut files,
    );
    files.sort();
    let (mut marked, mut unmarked) = (Vec::new(), Vec::new());
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a source file");
        for (name, attributes, body) in tests_in(&text) {
            for (call, mark) in MARKS {
                if !body.contains(call) {
                    continue;
                }
                // The older mark of the slow rooms test names PostgreSQL too.
                let server = &mark["#[ignore = \"needs ".len()..];
                if attributes.contains("#[ignore") && attributes.contains(server) {
                    marked.push(name.clone());
                } else {
                    unmarked.push(format!(
                        "{}: {name} (wants `{mark} ...\"]`)",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(
        unmarked.is_empty(),
        "tests that need a server but would pass without one in a plain cargo test:\n{}",
        unmarked.join("\n")
    );
    // The scan sees the suite's server tests (it cannot pass by finding none).
    for known in [
        "scripts_give_the_recorded_transcripts_on_postgres",
        "conform_finds_nothing_unsound_in_30_programs_per_level",
        "a_planted_script_error_is_caught",
        "psql_reads_the_failing_step_from_replay_inspect",
    ] {
        assert!(
            marked.iter().any(|n| n == known),
            "{known} not found: {marked:?}"
        );
    }
    assert!(marked.len() >= 17, "{marked:?}");
}

/// Under `CI=true` the servers are there: a plain `cargo test` in CI fails
/// here rather than count the tests that need them as ignored.
#[test]
fn ci_has_postgres_and_chromium() {
    if std::env::var("CI").as_deref() != Ok("true") {
        return;
    }
    let pg = std::env::var("OVERBOOK_PG_URL").unwrap_or_default();
    assert!(
        !pg.is_empty(),
        "CI=true and OVERBOOK_PG_URL is not set: run the tests through scripts/with-postgres.sh"
    );
    assert!(
        crate::browser::browser().is_some(),
        "CI=true and no chromium on PATH: .ci/run installs it (apt-get install chromium)"
    );
}

#[test]
fn the_scan_finds_tests_their_marks_and_bodies() {
    let text = "#[test]\n#[ignore = \"needs PostgreSQL: x\"]\nfn a() {\n    pg_url(\"a\");\n}\n\nmod m {\n    #[test]\n    fn b() {\n        browser_or_skip(\"b\");\n    }\n}\n";
    let found = tests_in(text);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].0, "a");
    assert!(found[0].1.contains("needs PostgreSQL") && found[0].2.contains("pg_url("));
    assert_eq!(found[1].0, "b");
    assert!(!found[1].1.contains("#[ignore") && found[1].2.contains("browser_or_skip("));
}
