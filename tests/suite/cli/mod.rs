//! The command line: exit codes, errors that name the file, line and field,
//! and determinism across processes.

use std::process::Command;

mod bad_inputs;
mod pipes;
mod tour;
pub mod toy;

/// Runs the `overbook` binary from the crate root: exit code, stdout, stderr.
pub fn overbook(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_overbook"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn trace_hash(json: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(json).expect("--json prints JSON");
    value["trace_hash"]
        .as_str()
        .expect("trace_hash")
        .to_string()
}

#[test]
fn same_seed_same_trace_hash_across_processes() {
    let (code_a, out_a, _) = overbook(&["run", "sims/units-burst.toml", "--seed", "11", "--json"]);
    let (code_b, out_b, _) = overbook(&["run", "units-burst", "--seed", "11", "--json"]);
    assert_eq!((code_a, code_b), (0, 0));
    assert_eq!(trace_hash(&out_a), trace_hash(&out_b));
    let system = overbook_clinic::service::Clinic;
    let in_process = overbook::world::run(
        &system,
        &overbook::scenario::Scenario::load_for(&system, "sims/units-burst.toml".as_ref()).unwrap(),
        overbook::seed::Seed(11),
        overbook::system::Variant::CORRECT,
    );
    assert_eq!(trace_hash(&out_a), in_process.trace_hash);
}

#[test]
fn json_report_has_the_documented_fields() {
    let (code, out, _) = overbook(&["run", "rooms-storm", "--seed", "1", "--json"]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    for field in [
        "sim",
        "seed",
        "variant",
        "passed",
        "violation",
        "trace_hash",
        "requests",
        "latency_ms",
        "retries",
        "sim_time_ms",
        "wall_ms",
    ] {
        assert!(report.get(field).is_some(), "missing {field}");
    }
    assert!(report["requests"]["total"].as_u64().unwrap() > 0);
    assert!(report["requests"]["by_status"].is_object());
    assert!(report["latency_ms"]["book"]["p95"].is_u64());
    assert!(report["retries"]["exhausted"].is_u64());
}

#[test]
fn the_history_checker_is_on_by_default_and_its_flags_work() {
    let json = |out: &str| -> serde_json::Value { serde_json::from_str(out).unwrap() };
    let (code, out, err) = overbook(&["run", "units-burst", "--seed", "3", "--json"]);
    assert_eq!(code, 0, "{err}");
    let on = json(&out);
    assert_eq!(on["history"]["checked"], true);
    assert!(on["history"]["transactions"].as_u64().unwrap() > 0);
    assert!(
        on["invariants_checked"]["serializable_history"]
            .as_u64()
            .unwrap()
            > 0
    );
    let (code, out, err) = overbook(&[
        "run",
        "units-burst",
        "--seed",
        "3",
        "--json",
        "--no-history-check",
    ]);
    assert_eq!(code, 0, "{err}");
    let off = json(&out);
    assert_eq!(off["history"]["checked"], false);
    assert_eq!(
        on["trace_hash"], off["trace_hash"],
        "the checker only reads"
    );
    let (code, out, _) = overbook(&["run", "units-burst", "--no-history-check"]);
    assert_eq!(code, 0);
    assert!(out.contains("history: not checked"), "{out}");
    let (code, _, err) = overbook(&["run", "units-burst", "--history-anomalies", "loud"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("run.history_anomalies") && err.contains("loud"),
        "{err}"
    );
    let (code, out, err) = overbook(&[
        "fuzz",
        "units-burst",
        "--seeds",
        "1..3",
        "--history-anomalies",
        "fatal",
    ]);
    assert_eq!(code, 0, "the correct service shows no anomaly: {out}{err}");
}

#[test]
fn a_violation_exits_1_with_the_replay_line() {
    let (code, out, _) = overbook(&[
        "run",
        "rooms-conflict",
        "--seed",
        "1",
        "--variant",
        "rooms/check-then-insert-repeatable-read",
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("VIOLATION no_room_double_booking"), "{out}");
    assert!(out.contains("reproduce: overbook run rooms-conflict --seed 1 --variant rooms/check-then-insert-repeatable-read"), "{out}");
}

#[test]
fn bad_scenario_files_name_file_line_and_field() {
    let dir = std::env::temp_dir().join(format!("overbook-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, "name = \"bad\"\n[[phases]]\nduration_s = 1\narrival_rate = 1\n[workload]\nops_per_usr = 2\n").unwrap();
    let (code, _, err) = overbook(&["run", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.toml:6:"), "{err}");
    assert!(err.contains("ops_per_usr"), "{err}");
    std::fs::write(
        &path,
        "name = \"bad\"\n[[phases]]\nduration_s = 1\narrival_rate = -4\n",
    )
    .unwrap();
    let (code, _, err) = overbook(&["run", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("phases.0.arrival_rate"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_arguments_exit_2_with_a_clear_message() {
    let (code, _, err) = overbook(&["run", "sims/nope.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("sims/nope.toml"), "{err}");
    let (code, _, err) = overbook(&["run", "units-burst", "--variant", "units/typo"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown variant `units/typo`"), "{err}");
    let (code, _, err) = overbook(&["run", "units-burst", "--set", "workload.mixx.reserve=1"]);
    assert_eq!(code, 2);
    assert!(err.contains("--set workload.mixx.reserve=1"), "{err}");
    let (code, _, _) = overbook(&["run", "units-burst", "--seed", "minus-one"]);
    assert_eq!(code, 2);
    let (code, _, err) = overbook(&["fuzz", "units-burst", "--seeds", "9..3"]);
    assert_eq!(code, 2);
    assert!(err.contains("--seeds"), "{err}");
}

#[test]
fn isolation_prints_the_matrix_and_json() {
    let (code, out, _) = overbook(&["isolation"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("matches PostgreSQL's documented behaviour: yes"),
        "{out}"
    );
    let (code, out, _) = overbook(&["isolation", "--json"]);
    assert_eq!(code, 0);
    let cells: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(cells.len(), 33);
    let lost_update_rr = cells
        .iter()
        .find(|c| c["anomaly"] == "lost-update" && c["level"] == "repeatable-read")
        .unwrap();
    assert_eq!(lost_update_rr["outcome"], "prevented");
    assert_eq!(lost_update_rr["error"], "40001");
    let write_skew_rr = cells
        .iter()
        .find(|c| c["anomaly"] == "write-skew" && c["level"] == "repeatable-read")
        .unwrap();
    assert_eq!(write_skew_rr["outcome"], "allowed");
    assert!(write_skew_rr["error"].is_null());
}

#[test]
fn list_shows_services_variants_invariants_and_sims() {
    let (code, out, _) = overbook(&["list"]);
    assert_eq!(code, 0);
    for needle in [
        "units/read-committed",
        "no_room_double_booking",
        "units-contention",
        "rooms",
        "liveness",
    ] {
        assert!(out.contains(needle), "missing {needle} in {out}");
    }
}

#[test]
fn fuzz_finds_saves_and_replays_a_planted_bug() {
    let dir = std::env::temp_dir().join(format!("overbook-fuzz-{}", std::process::id()));
    let (code, out, _) = overbook(&[
        "fuzz",
        "rooms-conflict",
        "--seeds",
        "1..3",
        "--variant",
        "rooms/check-then-insert-repeatable-read",
        "--jobs",
        "2",
        "--save",
        dir.to_str().unwrap(),
        "--check-determinism",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("2 failing"), "{out}");
    assert!(out.contains("determinism 2/2 ok"), "{out}");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    assert_eq!(entries.len(), 2, "one entry per failing seed");
    let (code, _, err) = overbook(&["replay", entries[0].to_str().unwrap()]);
    assert_eq!(code, 0, "the replayed bug still fails as recorded: {err}");
    assert!(
        err.contains("reproduced: fails with no_room_double_booking as recorded, trace hash"),
        "{err}"
    );
    // An entry whose run no longer matches is "not reproduced" (3), not a
    // finding (1) nor an input error (2).
    let text = std::fs::read_to_string(&entries[0]).unwrap();
    let stale = dir.join("stale.toml");
    let hash = text.lines().find(|l| l.starts_with("trace_hash")).unwrap();
    std::fs::write(
        &stale,
        text.replace(hash, "trace_hash = \"0000000000000000\""),
    )
    .unwrap();
    let (code, _, err) = overbook(&["replay", stale.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("NOT reproduced: trace hash"), "{err}");
    let step = text.lines().find(|l| l.starts_with("step")).unwrap();
    std::fs::write(&stale, text.replace(step, "step = 1")).unwrap();
    let (code, _, err) = overbook(&["replay", stale.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("recorded at step 1, now at step"), "{err}");
    std::fs::write(
        &stale,
        text.replace("expect = \"fail\"", "expect = \"pass\""),
    )
    .unwrap();
    let (code, _, err) = overbook(&["replay", stale.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("expected a pass, but the run fails with no_room_double_booking"),
        "{err}"
    );
    std::fs::remove_file(&stale).unwrap();
    let (code, out, _) = overbook(&[
        "shrink",
        entries[0].to_str().unwrap(),
        "--save",
        dir.to_str().unwrap(),
        "--max-attempts",
        "40",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("users 50 ->"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn explore_finds_a_planted_bug_and_replays_its_schedule() {
    let (code, out, _) = overbook(&["explore", "explore-units", "--clients", "2"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("exhausted"), "{out}");
    let (code, out, _) = overbook(&[
        "explore",
        "explore-units",
        "--clients",
        "2",
        "--variant",
        "units/read-committed",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("violation of no_overbooking"), "{out}");
    let line = out
        .lines()
        .find_map(|l| l.split("--replay '").nth(1))
        .map(|rest| rest.trim_end_matches('\'').to_string())
        .expect("a replay line");
    let (code, replayed, _) = overbook(&[
        "explore",
        "explore-units",
        "--clients",
        "2",
        "--variant",
        "units/read-committed",
        "--replay",
        &line,
    ]);
    assert_eq!(code, 1, "{replayed}");
    assert!(replayed.contains("VIOLATION no_overbooking"), "{replayed}");
    let (code, out, _) = overbook(&[
        "explore",
        "explore-board",
        "--clients",
        "2",
        "--ops",
        "2",
        "--variant",
        "board/no-version-check",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no_lost_update"), "{out}");
    // A timed-out request, resent with the same key while the original
    // runs on, is a branch of its own: the replay line names it as
    // client.alternative, and the original runs as a daemon task.
    let lost = [
        "explore",
        "explore-units-lost",
        "--clients",
        "1",
        "--ops",
        "2",
        "--variant",
        "units/no-idempotency",
    ];
    let (code, out, _) = overbook(&lost);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("violation of exactly_once_reservation"),
        "{out}"
    );
    assert!(out.contains("--replay 'dfs:2-clients:0.1,0,"), "{out}");
    assert!(out.contains("times out and resends"), "{out}");
    assert!(out.contains("client 0's timed-out original"), "{out}");
    let (code, out, _) = overbook(&[&lost[..], &["--lost-responses", "0"]].concat());
    assert_eq!(code, 0, "without losses the bug cannot show: {out}");
    let (code, _, err) = overbook(&["explore", "explore-units", "--lost-responses", "9"]);
    assert_eq!(code, 2);
    assert!(err.contains("--lost-responses"), "{err}");
    let (code, _, err) = overbook(&["explore", "explore-units", "--strategy", "bfs"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown strategy"), "{err}");
}

#[test]
fn an_installed_binary_runs_the_bundled_sims_from_any_folder() {
    let dir = std::env::temp_dir().join(format!("overbook-installed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let in_dir = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_overbook"))
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("the binary runs");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, out, err) = in_dir(&["list"]);
    assert_eq!(code, 0, "{out}{err}");
    // Every sim in the repository is built in.
    for path in overbook::corpus::entries(std::path::Path::new("sims")).unwrap() {
        let name = path.file_stem().unwrap().to_str().unwrap();
        assert!(
            out.contains(&format!("  {name} ")),
            "{name} is not embedded: {out}"
        );
    }
    let (code, out, err) = in_dir(&["run", "units-burst", "--seed", "3"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("PASS units-burst seed=3"), "{out}");
    let (code, out, _) = in_dir(&["run", "sims/units-burst.toml", "--seed", "3"]);
    assert_eq!(code, 0, "{out}");
    // A file on disk with the same name wins.
    std::fs::create_dir_all(dir.join("sims")).unwrap();
    let text = std::fs::read_to_string("sims/units-burst.toml").unwrap();
    let description = text.lines().find(|l| l.starts_with("description")).unwrap();
    std::fs::write(
        dir.join("sims/units-burst.toml"),
        text.replace(description, "description = \"the local copy\""),
    )
    .unwrap();
    let (code, out, _) = in_dir(&["list"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the local copy"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_interrupted_fuzz_sweep_exits_130_even_with_nothing_found() {
    let child = Command::new(env!("CARGO_BIN_EXE_overbook"))
        .args(["fuzz", "units-burst", "--seeds", "1..100000", "--jobs", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(130), "{out}");
    assert!(out.contains("0 failing"), "{out}");
    assert!(out.contains("(interrupted: results so far kept)"), "{out}");
}

/// rooms-conflict counts its outcomes exactly (`requests.book.409 == 40`);
/// swarm's seed 21 draws a fault that loses one of those answers. The
/// correct service broke nothing, so the sweep passes and says so.
#[test]
fn a_threshold_missed_under_swarms_faults_is_reported_not_failed() {
    let (code, out, err) = overbook(&["fuzz", "rooms-conflict", "--seeds", "21..22", "--swarm"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("threshold rooms-conflict seed 21: requests.book.409 == 40 failed"),
        "{out}"
    );
    assert!(
        out.contains("thresholds: 1 swarm run(s) held every invariant"),
        "{out}"
    );
    let (code, out, err) = overbook(&["fuzz", "rooms-conflict", "--seeds", "21..22"]);
    assert_eq!(code, 0, "without swarm the counts hold: {out}{err}");
}
