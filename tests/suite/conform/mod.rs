//! `overbook conform`: the simulated store against a real PostgreSQL,
//! program by program. It needs `OVERBOOK_PG_URL`, so a plain `cargo test`
//! ignores it: `scripts/with-postgres.sh cargo test -- --ignored` runs it.

use crate::cli::overbook;
use crate::sql::pg_url;

fn count(level: &serde_json::Value, class: &str) -> u64 {
    level["classes"][class].as_u64().expect("a class count")
}

#[test]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
fn conform_finds_nothing_unsound_in_30_programs_per_level() {
    let Some(url) = pg_url("conform_finds_nothing_unsound_in_30_programs_per_level") else {
        return;
    };
    let (code, out, err) = overbook(&[
        "conform",
        "--pg",
        &url,
        "--programs",
        "30",
        "--seed",
        "3",
        "--examples",
        "1",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).expect("--json prints JSON");
    let levels = report["levels"].as_array().expect("levels");
    assert_eq!(levels.len(), 3);
    let anomalies = 11;
    for level in levels {
        assert_eq!(level["programs"].as_u64(), Some(30 + anomalies), "{level}");
        assert_eq!(count(level, "unsound"), 0, "{}", level["examples"]);
        assert_eq!(count(level, "unsupported"), 0, "{}", level["findings"]);
        let agree = count(level, "agree");
        assert!(
            agree > 0,
            "no program agreed at {}: {}",
            level["level"],
            level["findings"]
        );
        // Every program is counted in exactly one class.
        let total: u64 = [
            "agree",
            "unsupported",
            "unsound",
            "stricter",
            "looser",
            "different",
        ]
        .iter()
        .map(|c| count(level, c))
        .sum();
        assert_eq!(total, 30 + anomalies);
    }
    assert_eq!(code, 0, "{err}");
}

#[test]
fn conform_refuses_bad_arguments_before_connecting() {
    for (args, says) in [
        (
            &["--level", "snapshot"][..],
            "--level snapshot: unknown level",
        ),
        (
            &["--feature", "time-travel"][..],
            "--feature time-travel: unknown feature",
        ),
        (
            &["--programs", "2000000"][..],
            "--programs 2000000: at most",
        ),
        (&["--jobs", "0"][..], "--jobs 0: between 1 and 16"),
        (&["--jobs", "100000"][..], "--jobs 100000: between 1 and 16"),
        (&["--jobs", "many"][..], "--jobs <N>"),
    ] {
        let mut all = vec!["conform", "--pg", "postgresql://nobody@127.0.0.1:1/none"];
        all.extend_from_slice(args);
        let (code, _, err) = overbook(&all);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let (code, _, err) = overbook(&["conform", "--pg", "postgresql://nobody@127.0.0.1:1/none"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("error: PostgreSQL at postgresql://nobody@127.0.0.1:1/none"),
        "{err}"
    );
}
