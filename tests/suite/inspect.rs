//! `overbook replay ENTRY --inspect`: a bundled failing entry replayed to
//! its failing step, its database served on 127.0.0.1, read by
//! tokio-postgres in process and by the real `psql` against the binary.

use overbook::corpus::Entry;
use overbook::inspect::{connection_url, Inspection};
use overbook::seed::Seed;
use overbook::world::{KeptDatabase, Report, RunOptions};
use overbook_clinic::service::Clinic;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Two Repeatable Read bookings of one room, each checking the room free
/// on its own snapshot: the room is booked twice.
const ENTRY: &str = "seeds/rooms-conflict--rooms-check-then-insert-repeatable-read--1.toml";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The two booking ids the violation names ("... booking A [..) ...
/// overlaps booking B [..)").
fn bookings_named(message: &str) -> Vec<i64> {
    message
        .split("booking ")
        .skip(1)
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect()
}

/// Replays corpus entry `path` as `replay --inspect` does, keeping the
/// database of the step it stopped at.
fn replay_keeping(path: &Path) -> (Entry, Report, Option<KeptDatabase>) {
    let entry = Entry::load_for(&Clinic, path).unwrap();
    let scenario = entry.scenario(&Clinic, &root().join("sims")).unwrap();
    let variant = overbook::system::System::variant(&Clinic, &entry.variant).unwrap();
    let (report, kept) = overbook::crash::run_and_keep(
        &Clinic,
        &scenario,
        Seed(entry.seed),
        variant,
        RunOptions::default(),
    );
    (entry, report, kept)
}

#[test]
fn inspect_serves_the_failing_step_to_tokio_postgres() {
    let (entry, report, kept) = replay_keeping(&root().join(ENTRY));
    // Keeping the database changes nothing of the run.
    assert_eq!(report.trace_hash, entry.trace_hash);
    let violation = report.violation.as_ref().expect("the entry fails");
    assert_eq!(Some(&violation.invariant), entry.invariant.as_ref());
    assert_eq!(Some(violation.step), entry.step);
    let bookings = bookings_named(&violation.message);
    assert_eq!(bookings.len(), 2, "{}", violation.message);

    let kept = kept.expect("the run started");
    let open = kept.activity.transactions.len();
    assert!(open > 0, "users were mid-booking at the failing step");
    let inspection = Inspection::new(kept).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = connection_url(listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = async {
            inspection
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
        };
        let client_side = async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            let connection = tokio::spawn(connection);
            // The two rows of the violation: one room, overlapping times.
            let rows = client
                .query(
                    "SELECT booking, room, day, start_min, end_min FROM bookings \
                     WHERE booking = $1 OR booking = $2 ORDER BY booking",
                    &[&bookings[0], &bookings[1]],
                )
                .await
                .unwrap();
            assert_eq!(rows.len(), 2);
            let room: i32 = rows[0].get("room");
            assert_eq!(room, rows[1].get::<_, i32>("room"));
            let (start_a, end_a): (i32, i32) = (rows[0].get("start_min"), rows[0].get("end_min"));
            let (start_b, end_b): (i32, i32) = (rows[1].get("start_min"), rows[1].get("end_min"));
            assert!(start_a < end_b && start_b < end_a, "the bookings overlap");
            assert!(
                violation.message.contains(&format!("room {room} ")),
                "{}",
                violation.message
            );
            // Who held what at that step: each open transaction holds its
            // id, and the bookings being inserted hold their rows.
            let activity: i64 = client
                .query_one("SELECT count(*) FROM pg_stat_activity", &[])
                .await
                .unwrap()
                .get(0);
            assert_eq!(activity, open as i64);
            let own_ids: i64 = client
                .query_one(
                    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                     WHERE l.locktype = 'transactionid' AND l.granted AND l.transactionid = a.pid",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            assert_eq!(own_ids, open as i64);
            let booking_rows = client
                .query(
                    "SELECT key, mode, row_lock FROM pg_locks \
                     WHERE locktype = 'tuple' AND relation = 'bookings' AND granted",
                    &[],
                )
                .await
                .unwrap();
            assert!(!booking_rows.is_empty());
            for row in &booking_rows {
                let key: String = row.get("key");
                assert!(key.starts_with("bookings ("), "{key}");
            }
            // Read-only, as PostgreSQL's views.
            let err = client
                .batch_execute("DELETE FROM pg_locks")
                .await
                .unwrap_err();
            assert_eq!(err.code().map(|c| c.code()), Some("55000"));
            two_sessions_wait_on_each_other_in_real_time(&url, bookings[0]).await;
            // pg_locks stays the failing step's picture.
            let locks: i64 = client
                .query_one("SELECT count(*) FROM pg_locks", &[])
                .await
                .unwrap()
                .get(0);
            assert!(locks > own_ids, "{locks}");
            drop(client);
            let _ = connection.await;
            let _ = stop.send(());
        };
        let (served, ()) = tokio::join!(serving, client_side);
        served.unwrap();
    });
}

/// The served database is a database: a second session's UPDATE of a row
/// the first has updated waits (on the wall clock now, not the run's)
/// until the first commits, then sees its value.
async fn two_sessions_wait_on_each_other_in_real_time(url: &str, booking: i64) {
    let connect = || async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    };
    let (first, second) = (connect().await, connect().await);
    first.batch_execute("BEGIN").await.unwrap();
    first
        .execute(
            "UPDATE bookings SET end_min = end_min + 1 WHERE booking = $1",
            &[&booking],
        )
        .await
        .unwrap();
    let waiting = tokio::spawn(async move {
        second
            .execute(
                "UPDATE bookings SET end_min = end_min + 1 WHERE booking = $1",
                &[&booking],
            )
            .await
            .unwrap();
        second
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(
        !waiting.is_finished(),
        "the second UPDATE waits for the first"
    );
    let before: i32 = first
        .query_one(
            "SELECT end_min FROM bookings WHERE booking = $1",
            &[&booking],
        )
        .await
        .unwrap()
        .get(0);
    first.batch_execute("COMMIT").await.unwrap();
    let second = waiting.await.unwrap();
    let after: i32 = second
        .query_one(
            "SELECT end_min FROM bookings WHERE booking = $1",
            &[&booking],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(after, before + 1);
}

/// Keeping the database touches nothing of a run: every corpus entry,
/// failing or passing, gives its recorded outcome and trace hash, and
/// keeps a database of its last step.
#[test]
fn run_and_keep_gives_every_corpus_entry_its_recorded_hash() {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(root().join("seeds"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    entries.sort();
    assert!(entries.len() >= 15, "{entries:?}");
    for path in &entries {
        let (entry, report, kept) = replay_keeping(path);
        let name = path.display();
        assert_eq!(report.trace_hash, entry.trace_hash, "{name}");
        assert_eq!(
            report.violation.as_ref().map(|v| &v.invariant),
            entry.invariant.as_ref(),
            "{name}"
        );
        let kept = kept.unwrap_or_else(|| panic!("{name}: no database kept"));
        assert_eq!(kept.sim_time_ms, report.sim_time_ms, "{name}");
        // Nothing committed after the report was taken.
        assert_eq!(
            kept.store.stats().committed,
            report.store.committed,
            "{name}"
        );
    }
}

/// The `psql` to test with: PostgreSQL 15's, or the one on PATH. A test
/// that calls it is marked ignored (`needs psql`): run with `-- --ignored`,
/// it fails rather than pass having done nothing when there is none.
fn psql_or_fail(test: &str) -> PathBuf {
    let debian = PathBuf::from("/usr/lib/postgresql/15/bin/psql");
    if debian.exists() {
        return debian;
    }
    let on_path = Command::new("psql").arg("--version").output();
    match on_path {
        Ok(output) if output.status.success() => PathBuf::from("psql"),
        _ => panic!(
            "{test} needs psql (PostgreSQL's client): none at {} or on PATH",
            debian.display()
        ),
    }
}

/// The binary end to end: replay, the line to connect with, psql's
/// answers, and Ctrl-C ending it with the replay's exit code.
#[test]
#[ignore = "needs psql (PostgreSQL's client): cargo test -- --ignored where it is installed (scripts/with-postgres.sh)"]
fn psql_reads_the_failing_step_from_replay_inspect() {
    let psql = psql_or_fail("psql_reads_the_failing_step_from_replay_inspect");
    let mut child = Command::new(env!("CARGO_BIN_EXE_overbook"))
        .args(["replay", ENTRY, "--inspect"])
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    let url = loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            let _ = child.kill();
            panic!("the binary ended before saying how to connect:\n{said}");
        }
        said.push_str(&line);
        if let Some(rest) = line.trim().strip_prefix("psql \"") {
            break rest.trim_end_matches('"').to_string();
        }
    };
    assert!(
        said.contains("trace hash d155518ce3afbd1c matches the entry"),
        "{said}"
    );
    let output = Command::new(&psql)
        .args([
            &url,
            "-X",
            "-At",
            "-c",
            "SELECT room, count(*) FROM bookings GROUP BY room HAVING count(*) > 1",
            "-c",
            "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'tuple' AND relation = 'bookings'",
        ])
        .output()
        .expect("psql runs");
    let answer = String::from_utf8_lossy(&output.stdout).into_owned();
    let errors = String::from_utf8_lossy(&output.stderr).into_owned();
    // Ctrl-C, as a person stops it.
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(interrupted.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(output.status.success(), "psql failed: {errors}");
    assert_eq!(answer, "2|2\nt\n", "{errors}");
    assert_eq!(status.code(), Some(0), "{said}{rest}");
    assert!(rest.contains("inspect: stopped"), "{rest}");
}
