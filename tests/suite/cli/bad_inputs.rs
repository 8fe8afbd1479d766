//! Bad input of every kind the command line reads (flags, `--set` values,
//! scenario files, corpus entries, schedule lines): each exits 2 with a
//! message naming the place, and never panics.

use super::overbook;
use std::path::{Path, PathBuf};

/// A fresh temporary folder for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("overbook-bad-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `args`; asserts exit 2, no panic, no Rust debug text, and that
/// stderr names every one of `places`.
fn rejects(args: &[&str], places: &[&str]) {
    let (code, out, err) = overbook(args);
    assert_eq!(code, 2, "{args:?} should be an input error: {out}{err}");
    assert!(!err.contains("panicked at"), "{args:?} panicked: {err}");
    for debug in ["InputError {", "ReplayError(", "Some(\"", "Err("] {
        assert!(!err.contains(debug), "{args:?} printed debug text: {err}");
    }
    for place in places {
        assert!(
            err.contains(place),
            "{args:?}: the error should name {place:?}: {err}"
        );
    }
}

#[test]
fn bad_flags_are_input_errors_naming_the_flag() {
    let not_a_dir = temp_dir("flags").join("file");
    std::fs::write(&not_a_dir, "").unwrap();
    let save_under_file = not_a_dir.join("corpus");
    let save = save_under_file.to_str().unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (&["run", "units-burst", "--seed", "minus-one"], &["--seed"]),
        (
            &["run", "units-burst", "--variant", "units/typo"],
            &["--variant", "units/typo"],
        ),
        (&["run", "units-burst", "--colour"], &["--colour"]),
        (&["run"], &["<SIM>"]),
        (&["fuzz", "units-burst", "--seeds", "9..3"], &["--seeds"]),
        (
            &["fuzz", "units-burst", "--seeds", "one..two"],
            &["--seeds"],
        ),
        (&["fuzz", "units-burst", "--shard", "8/8"], &["--shard"]),
        (
            &["fuzz", "units-burst", "--time", "99999999999999999h"],
            &["--time"],
        ),
        (&["fuzz", "units-burst", "--time", "3days"], &["--time"]),
        (&["fuzz", "units-burst", "--time", "0s"], &["--time"]),
        (&["fuzz", "units-burst", "--jobs", "0"], &["--jobs"]),
        (
            &["fuzz", "units-burst", "--determinism-fraction", "2"],
            &["--determinism-fraction"],
        ),
        (
            &["fuzz", "units-burst", "--save", save],
            &["--save", "cannot write"],
        ),
        (
            &["explore", "explore-units", "--max-schedules", "0"],
            &["--max-schedules"],
        ),
        (
            &[
                "explore",
                "explore-units",
                "--strategy",
                "pct",
                "--depth",
                "0",
            ],
            &["--depth"],
        ),
        (
            &["explore", "explore-units", "--clients", "0"],
            &["--clients"],
        ),
        (
            &["explore", "explore-units", "--clients", "9"],
            &["--clients"],
        ),
        (&["explore", "explore-units", "--ops", "0"], &["--ops"]),
        (
            &["explore", "explore-units", "--lost-responses", "9"],
            &["--lost-responses"],
        ),
        (
            &["explore", "explore-units", "--strategy", "bfs"],
            &["--strategy", "unknown strategy"],
        ),
        (&["replay"], &["replay", "--sim SIM --seed N"]),
        (
            &[
                "replay",
                "--sim",
                "units-burst",
                "--seed",
                "1",
                "--timeline",
                save,
            ],
            &["--timeline", "cannot write"],
        ),
        (
            &[
                "shrink",
                "seeds/units-burst--units-read-committed--1.toml",
                "--max-attempts",
                "0",
            ],
            &["--max-attempts"],
        ),
        (
            &[
                "shrink",
                "seeds/units-burst--units-read-committed--1.toml",
                "--save",
                save,
            ],
            &["--save", "cannot write"],
        ),
    ];
    for (args, places) in cases {
        rejects(args, places);
    }
    assert_eq!(cases.len(), 24);
    std::fs::remove_dir_all(not_a_dir.parent().unwrap()).unwrap();
}

#[test]
fn bad_set_values_are_input_errors_naming_the_override_and_field() {
    let cases: &[(&str, &[&str])] = &[
        ("no-equals", &["--set no-equals", "key=value"]),
        (
            "workload.mixx.reserve=1",
            &["--set workload.mixx.reserve=1", "mixx"],
        ),
        (
            "phases.3.arrival_rate=1",
            &["phases.3.arrival_rate", "past the end"],
        ),
        (
            "phases.0.duration_s=18446744073709552",
            &["phases.0.duration_s"],
        ),
        ("phases.0.duration_s=0", &["phases.0.duration_s"]),
        (
            "phases.0.arrival_rate=1000000000000",
            &["phases.0.arrival_rate"],
        ),
        ("phases.0.arrival_rate=-4", &["phases.0.arrival_rate"]),
        (
            "phases.0.burst=140000",
            &["phases.0.burst", "per client host"],
        ),
        ("phases.0.burst=many", &["phases.0.burst"]),
        ("phases.0.max_users=0", &["phases.0.max_users"]),
        ("topology.tcp_capacity=0", &["topology.tcp_capacity"]),
        ("topology.api_servers=two", &["topology.api_servers"]),
        ("topology.api_servers=0", &["topology.api_servers"]),
        ("topology.pool_size=0", &["topology.pool_size"]),
        ("run.tick_ms=0", &["run.tick_ms"]),
        ("run.drain_s=-1", &["run.drain_s"]),
        ("run.drain_s=99999999", &["run.drain_s"]),
        ("run.max_steps=0", &["run.max_steps"]),
        ("client.timeout_ms=0", &["client.timeout_ms"]),
        (
            "client.retries_on_timeout=1000000",
            &["client.retries_on_timeout"],
        ),
        (
            "faults.lost_response_probability=1.5",
            &["faults.lost_response_probability"],
        ),
        (
            "store.latency.max_ms=99999999999",
            &["store.latency.max_ms"],
        ),
        (
            "faults.crashes=[{at_s = 1, server = 7, down_s = 1}]",
            &["faults.crashes.0.server"],
        ),
        ("workload.ops_per_user=lots", &["workload.ops_per_user"]),
    ];
    for (set, places) in cases {
        rejects(&["run", "units-burst", "--set", set], places);
    }
    assert_eq!(cases.len(), 24);
}

/// A scenario file that differs from a minimal good one by `extra`.
fn scenario(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn bad_scenario_files_name_the_file_line_and_field() {
    let dir = temp_dir("scenarios");
    let good = "name = \"bad\"\n[[phases]]\nduration_s = 1\narrival_rate = 1\n";
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            scenario(&dir, "unknown", &format!("{good}[workload]\nops_per_usr = 2\n")),
            vec!["unknown.toml:6:", "ops_per_usr"],
        ),
        (
            scenario(&dir, "negative", &good.replace("arrival_rate = 1", "arrival_rate = -4")),
            vec!["negative.toml:4:", "phases.0.arrival_rate"],
        ),
        (
            scenario(&dir, "burst", &format!("{good}burst = \"a\"\n")),
            vec!["burst.toml:5:", "field `phases.0.burst`"],
        ),
        (
            scenario(
                &dir,
                "metric",
                &format!("{good}[thresholds]\n\"requests.reserve.201\" = \"== 5\"\n\"bogus.metric\" = \"== 1\"\n"),
            ),
            vec!["metric.toml:7:", "thresholds.bogus.metric", "unknown metric"],
        ),
        (
            scenario(
                &dir,
                "condition",
                &format!("{good}[thresholds]\n\"requests.reserve.201\" = \"about 5\"\n"),
            ),
            vec!["condition.toml", "thresholds.requests.reserve.201"],
        ),
        (
            scenario(&dir, "nophases", "name = \"bad\"\n"),
            vec!["nophases.toml", "phases"],
        ),
        (
            scenario(&dir, "nottoml", "this is not toml\n"),
            vec!["nottoml.toml:1:"],
        ),
        (
            scenario(&dir, "tick", &format!("{good}[run]\ntick_ms = 0\n")),
            vec!["tick.toml:6:", "run.tick_ms"],
        ),
        (
            scenario(&dir, "pool", &format!("{good}[topology]\npool_size = 0\n")),
            vec!["pool.toml:6:", "topology.pool_size"],
        ),
        (
            scenario(
                &dir,
                "crash",
                &format!("{good}[[faults.crashes]]\nat_s = 1\nserver = 9\ndown_s = 1\n"),
            ),
            vec!["crash.toml:7:", "faults.crashes.0.server"],
        ),
        (
            dir.join("missing.toml").to_str().unwrap().to_string(),
            vec!["missing.toml", "no such scenario file"],
        ),
    ];
    for (path, places) in &cases {
        rejects(&["run", path], places);
    }
    assert_eq!(cases.len(), 11);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_corpus_entries_blame_the_entry() {
    let dir = temp_dir("entries");
    let good = std::fs::read_to_string("seeds/units-burst--units-read-committed--1.toml").unwrap();
    let entry = |name: &str, text: String| {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            entry(
                "sim",
                good.replace("sim = \"units-burst\"", "sim = \"units-nope\""),
            ),
            vec!["sim.toml:2:", "field `sim`", "units-nope"],
        ),
        (
            entry(
                "overrides",
                good.replace("overrides = []", "overrides = [\"workload.nope=1\"]"),
            ),
            vec![
                "overrides.toml:5:",
                "field `overrides`",
                "override `workload.nope=1`",
            ],
        ),
        (
            entry(
                "variant",
                good.replace("units/read-committed", "units/nope"),
            ),
            vec!["variant.toml:4:", "unknown variant `units/nope`"],
        ),
        (
            entry(
                "hash",
                good.replace("trace_hash = \"", "trace_hash = \"xyz"),
            ),
            vec!["hash.toml", "trace_hash"],
        ),
        (
            entry("field", format!("{good}colour = 1\n")),
            vec!["field.toml:11:", "colour"],
        ),
        (
            entry(
                "invariant",
                good.replace("invariant = \"units_conserved\"\n", ""),
            ),
            vec!["invariant.toml", "invariant"],
        ),
        (
            entry("seed", good.replace("seed = 1", "seed = -1")),
            vec!["seed.toml:3:", "seed"],
        ),
        (
            dir.join("missing.toml").to_str().unwrap().to_string(),
            vec!["missing.toml", "cannot read"],
        ),
    ];
    for (path, places) in &cases {
        rejects(&["replay", path], places);
        assert!(
            !overbook(&["replay", path])
                .2
                .contains("--set workload.nope"),
            "an entry's override is not a --set the user typed"
        );
    }
    // A passing entry does not shrink.
    let passing = entry(
        "passing",
        std::fs::read_to_string("seeds/units-burst--correct--1.toml").unwrap(),
    );
    rejects(
        &["shrink", &passing],
        &["passing.toml", "field `invariant`"],
    );
    assert_eq!(cases.len(), 8);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_schedule_lines_are_input_errors_naming_the_flag() {
    let cases: &[(&str, &[&str])] = &[
        ("bogus", &["--replay", "unknown strategy"]),
        ("dfs:2-clients:9", &["--replay", "client 9 cannot step"]),
        ("dfs:3-clients:0,1", &["--replay", "3 clients"]),
        ("dfs:x-clients:0", &["--replay", "no client count"]),
        ("dfs:2-clients:0.zz", &["--replay", "client.alternative"]),
    ];
    for (line, places) in cases {
        rejects(
            &[
                "explore",
                "explore-units",
                "--clients",
                "2",
                "--replay",
                line,
            ],
            places,
        );
    }
    assert_eq!(cases.len(), 5);
}

#[test]
fn bad_confirm_inputs_are_input_errors_naming_the_flag() {
    // Port 1 refuses connections: an unreachable server, without one.
    let nowhere = "postgresql://postgres@127.0.0.1:1/postgres";
    let line = "dfs:2-clients:0,0,1,1,1,1,1,0,0,0";
    let cases: &[(&[&str], &[&str])] = &[
        (
            &[
                "--variant",
                "units/read-committed",
                "--replay",
                "bogus",
                "--pg",
                nowhere,
            ],
            &["--replay", "unknown strategy"],
        ),
        (
            &[
                "--variant",
                "units/read-committed",
                "--replay",
                "dfs:2-clients:0,0",
                "--pg",
                nowhere,
            ],
            &["--replay", "truncated"],
        ),
        (
            &["--variant", "nope", "--replay", line, "--pg", nowhere],
            &["--variant", "unknown variant `nope`"],
        ),
        (
            &[
                "--variant",
                "units/read-committed",
                "--replay",
                line,
                "--pg",
                nowhere,
            ],
            &[
                "--pg",
                "cannot connect to postgresql://postgres@127.0.0.1:1/postgres",
            ],
        ),
        (
            &[
                "--variant",
                "units/read-committed",
                "--replay",
                line,
                "--pg",
                "localhost",
            ],
            &["--pg", "not a PostgreSQL URL"],
        ),
    ];
    for (args, places) in cases {
        let mut all = vec!["confirm", "explore-units"];
        all.extend_from_slice(args);
        rejects(&all, places);
    }
    assert_eq!(cases.len(), 5);
}

/// The bundled services bound their own sections as overbook bounds its
/// own: sizes that would abort on allocation or build for hours are input
/// errors naming the override and field, at once.
#[test]
fn out_of_reach_service_settings_are_refused_at_once_naming_the_field() {
    for (set, field) in [
        ("data.appointments=4000000000", "data.appointments"),
        ("data.days=4000000000", "data.days"),
        ("workload.ops_per_user=4000000000", "workload.ops_per_user"),
        ("service.retry.attempts=0", "service.retry.attempts"),
    ] {
        for sim in ["board-moves", "rooms-rules"] {
            let started = std::time::Instant::now();
            rejects(
                &["run", sim, "--set", set],
                &[&format!("--set {set}"), &format!("field `{field}`")],
            );
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "{sim} --set {set}: {:?}",
                started.elapsed()
            );
        }
    }
    // Within the bounds, but over the memory budget the run sets.
    rejects(
        &[
            "run",
            "board-moves",
            "--set",
            "data.appointments=1000000",
            "--set",
            "run.max_memory_mb=64",
        ],
        &["field `run.max_memory_mb`", "MiB"],
    );
}

/// Every `--set` is applied before the result is checked, so their order
/// does not matter, and every problem is reported at once.
#[test]
fn overrides_are_checked_as_a_whole_and_every_problem_is_reported() {
    let burst = "phases.0.burst=100000";
    let hosts = "topology.client_hosts=10";
    let bad_days = "data.days=0";
    for order in [[burst, hosts], [hosts, burst]] {
        let (code, out, err) = overbook(&[
            "run",
            "units-burst",
            "--set",
            order[0],
            "--set",
            order[1],
            "--set",
            bad_days,
        ]);
        assert_eq!(code, 2, "{out}{err}");
        // Only the real problem: the burst fits the hosts, in either order.
        assert!(!err.contains("phases.0.burst"), "{order:?}: {err}");
        assert!(err.contains("--set data.days=0"), "{order:?}: {err}");
    }
    let (code, _, err) = overbook(&[
        "run",
        "units-burst",
        "--set",
        burst,
        "--set",
        bad_days,
        "--set",
        "run.tick_ms=0",
    ]);
    assert_eq!(code, 2, "{err}");
    for place in [
        "field `phases.0.burst`",
        "field `data.days`",
        "field `run.tick_ms`",
    ] {
        assert!(err.contains(place), "every problem, {place} too: {err}");
    }
    assert_eq!(err.matches("error: ").count(), 3, "{err}");
}
