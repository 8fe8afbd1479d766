//! Multi-session scripts with PostgreSQL's recorded transcripts: each
//! pins one rule of PostgreSQL's concurrency control that the simulated
//! store follows. [`run_script`] runs one on any
//! [`Backend`] with the shared step runner of [`super::script`]. The
//! transcripts were recorded from PostgreSQL 15 with
//! `scripts/with-postgres.sh cargo test --test suite sql::scripts`, which
//! checks them again on every run with a server.
//!
//! Tables (from [`super::anomaly::SETUP`]): `kv (k text PRIMARY KEY, v
//! integer)`, `emp (id, dept)` indexed on `dept`, `booking (id, room)`
//! indexed on `room`, `stay (id, room, span int4range)` with `EXCLUDE
//! USING gist (room WITH =, span WITH &&)`, and `kv_ref (id, k REFERENCES
//! kv)`, `heap (id, v)` without a primary key, and `hold (id, seat,
//! status)` with the partial unique index `hold_one_active ON hold (seat)
//! WHERE status = 'active'`.

use super::script::{Backend, Runner, Stmt};
use super::{Rows, Session};
use crate::pgspecs::spec::{Spec, SpecError};
use crate::pgspecs::split::split;
use crate::store::DbError;

/// A script in the manner of PostgreSQL's isolationtester: sessions
/// (each on its own connection) run `steps` in order; a step that blocks
/// stays pending while the others go on, and its result is shown where it
/// completes. Its [`Transcript`] on the simulated store must equal the one
/// recorded from PostgreSQL 15 (`expected`), statement for statement.
/// Read from its files by [`Script::from_files`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// A kebab-case name (its files' name).
    pub name: String,
    /// What it shows, in a sentence.
    pub about: String,
    /// Statements run one by one before the sessions start (on the suite's
    /// tables), autocommit.
    pub setup: Vec<String>,
    /// How many sessions.
    pub sessions: usize,
    /// `(session, statement)` in the order they are issued.
    pub steps: Vec<(usize, String)>,
    /// Queries an observer runs once every session is done.
    pub check: Vec<String>,
    /// The transcript PostgreSQL 15 gives, one line per event.
    pub expected: String,
}

/// (temporary, for the round trip) A script in the manner of PostgreSQL's isolationtester: sessions
/// (each on its own connection) run `steps` in order; a step that blocks
/// stays pending while the others go on, and its result is shown where it
/// completes. Its [`Transcript`] on the simulated store must equal the one
/// recorded from PostgreSQL 15 (`expected`), statement for statement.
#[derive(Clone, Copy, Debug)]
#[allow(dead_code)]
pub struct LiteralScript {
    /// A kebab-case name.
    pub name: &'static str,
    /// What it shows, in a sentence.
    pub about: &'static str,
    /// Rows loaded before the sessions start (on the suite's tables).
    pub setup: &'static [&'static str],
    /// How many sessions.
    pub sessions: usize,
    /// `(session, statement)` in the order they are issued.
    pub steps: &'static [(usize, &'static str)],
    /// Queries an observer runs once every session is done.
    pub check: &'static [&'static str],
    /// The transcript PostgreSQL 15 gives, one line per event.
    pub expected: &'static str,
}

impl LiteralScript {
    fn owned(&self) -> Script {
        Script {
            name: self.name.to_string(),
            about: self.about.to_string(),
            setup: self.setup.iter().map(|s| s.to_string()).collect(),
            sessions: self.sessions,
            steps: self
                .steps
                .iter()
                .map(|&(n, s)| (n, s.to_string()))
                .collect(),
            check: self.check.iter().map(|s| s.to_string()).collect(),
            expected: self.expected.to_string(),
        }
    }
}

/// What a script did, one line per event: each step as it is issued with
/// its outcome (`ok`, the rows, `affected n`, `error SQLSTATE`, or
/// `waiting`), a waiting step's outcome where it completes (`sN <- ...`),
/// then the checks' rows.
pub type Transcript = Vec<String>;

fn outcome(result: &Result<Rows, DbError>) -> String {
    match result {
        Err(e) => format!("error {}", e.code.code()),
        Ok(rows) if !rows.columns.is_empty() => {
            let rows: Vec<String> = rows
                .rows
                .iter()
                .map(|row| {
                    let values: Vec<String> = row.iter().map(|v| v.to_string()).collect();
                    format!("({})", values.join(", "))
                })
                .collect();
            format!("[{}]", rows.join(" "))
        }
        Ok(rows) if rows.affected > 0 => format!("affected {}", rows.affected),
        Ok(_) => "ok".to_string(),
    }
}

/// The `sN <- ...` lines of the statements in `finished` other than `except`.
fn released<S: Session + 'static>(
    run: &Runner<S>,
    finished: &[usize],
    except: Option<usize>,
) -> Vec<String> {
    finished
        .iter()
        .filter(|&&done| Some(done) != except)
        .map(|&done| {
            let record = &run.records()[done];
            let result = record.result.as_ref().expect("finished");
            format!("s{} <- {}", record.session + 1, outcome(result))
        })
        .collect()
}

/// Runs `script` on `backend` (on [`super::anomaly::SETUP`]'s tables) and
/// returns its transcript.
pub async fn run_script<B: Backend>(
    backend: &mut B,
    script: &Script,
) -> Result<Transcript, DbError> {
    let mut conns = backend
        .open(&super::anomaly::SETUP, script.sessions)
        .await?;
    let mut observer = conns.pop().expect("an observer");
    for stmt in &script.setup {
        observer.execute(stmt, &[]).await?;
    }
    let mut run = Runner::new(conns, observer);
    let mut lines = Vec::new();
    let mut reported = 0;
    for (session, sql) in &script.steps {
        let session = *session;
        assert!(
            session < script.sessions,
            "{}: no session {session}",
            script.name
        );
        let index = run.issue(backend, session, &Stmt::sql(sql)).await;
        let result = run.records()[index].result.as_ref();
        let shown = result.map_or_else(|| "waiting".to_string(), outcome);
        lines.push(format!("s{}: {sql} -> {shown}", session + 1));
        let finished = run.finished()[reported..].to_vec();
        lines.extend(released(&run, &finished, Some(index)));
        reported = run.finished().len();
    }
    while run.any_busy() && run.drive(backend).await {}
    let finished = run.finished()[reported..].to_vec();
    lines.extend(released(&run, &finished, None));
    for session in 0..script.sessions {
        if run.busy(session) {
            lines.push(format!("s{} still waiting at the end", session + 1));
        }
    }
    for query in &script.check {
        let result = run.observer().execute(query, &[]).await;
        lines.push(format!("check: {query} -> {}", outcome(&result)));
    }
    let (sessions, _) = run.into_parts();
    backend.close(sessions).await;
    Ok(lines)
}

/// The expected transcript of `script` as lines.
pub fn expected_lines(script: &Script) -> Transcript {
    script
        .expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// One transcript's two files, embedded in the binary.
struct TranscriptFiles {
    name: &'static str,
    spec: &'static str,
    out: &'static str,
}

/// Embeds `transcripts/NAME.spec` and `transcripts/NAME.out` for each
/// name, in order: the binary and the tests read no file at run time, and
/// a name whose files are missing does not compile.
macro_rules! transcript_files {
    ($($name:literal),* $(,)?) => {
        &[$(TranscriptFiles {
            name: $name,
            spec: include_str!(concat!("../../transcripts/", $name, ".spec")),
            out: include_str!(concat!("../../transcripts/", $name, ".out")),
        }),*]
    };
}

/// Every transcript, in the order `overbook isolation` prints them: a new
/// one is appended at the end (the test `every_transcript_file_is_listed`
/// fails on a file left out).
const FILES: &[TranscriptFiles] = transcript_files![
    "write-skew-one-victim",
    "pivot-out-conflict-commits-last",
    "pivot-out-conflict-commits-first",
    "pivot-writes-after-out-conflict-committed",
    "read-only-reader-before-out-conflict",
    "read-write-reader-before-out-conflict",
    "unique-violation-after-read-is-40001",
    "unique-violation-without-read-is-23505",
    "exclusion-violation-after-read-waits-then-23p01",
    "exclusion-violation-without-read-is-23p01",
    "exclusion-violation-with-a-committed-reader-is-40001",
    "unique-violation-with-a-committed-reader-is-40001",
    "read-committed-update-follows-a-moved-row",
    "read-committed-locking-read-follows-a-moved-row",
    "read-committed-upsert-does-not-follow-a-moved-row",
    "insert-of-a-locked-row-fails-at-once",
    "exclusion-conflict-with-a-row-being-updated-waits",
    "key-share-lets-a-no-key-update-through-but-not-a-delete",
    "share-locks-coexist-and-hold-off-updates",
    "referencing-inserts-share-the-parent-and-hold-off-its-delete",
    "key-share-at-repeatable-read-passes-a-no-key-update",
    "key-share-at-repeatable-read-fails-after-a-key-change",
    "key-share-holders-deadlock-when-both-delete",
    "rollback-to-savepoint-releases-later-locks",
    "an-error-after-a-savepoint-undoes-only-what-came-after",
    "rollback-to-savepoint-restores-a-weaker-row-lock",
    "read-committed-writers-skip-a-row-replaced-in-one-transaction",
    "locking-reads-do-not-wait-for-an-uncommitted-insert",
    "lock-timeout-cancels-a-long-lock-wait",
    "lock-wait-shorter-than-lock-timeout-succeeds",
    "set-local-and-rolled-back-set-end-with-their-transaction",
    "session-lock-timeout-lasts-until-reset",
    "statement-timeout-cancels-a-lock-wait",
    "advisory-lock-waits-until-commit",
    "advisory-shared-locks-and-try-locks",
    "advisory-and-row-lock-deadlock",
    "deferrable-read-only-waits-for-a-safe-snapshot",
    "read-only-without-deferrable-fails-the-writer",
    "deferrable-read-only-with-no-writer-running-does-not-wait",
    "exclusion-mutual-wait-deadlocks-read-committed",
    "exclusion-mutual-wait-deadlocks-serializable",
    "exclusion-conflict-with-a-committed-stay-fails-at-once",
    "exclusion-conflict-with-a-stay-rolled-back-succeeds",
    "exclusion-waiter-finds-the-committed-stay-before-a-later-entry",
    "exclusion-waits-for-an-older-uncommitted-entry-first",
    "exclusion-fails-on-an-older-committed-entry-first",
    "exclusion-update-onto-a-span-being-vacated-waits",
    "exclusion-update-onto-a-waiting-insert-deadlocks",
    "read-committed-key-share-returns-the-version-it-found",
    "an-upgrading-holder-goes-ahead-of-a-queued-waiter",
    "an-upgrade-released-by-rollback-to-savepoint-goes-on",
    "set-transaction-before-the-first-query-sets-the-level",
    "session-characteristics-set-the-level-of-later-transactions",
    "deadlock-check-runs-on-the-waiters-own-timeout",
    "deadlock-found-by-the-waiter-with-the-short-timeout",
    "planner-switches-turn-a-keyed-read-into-a-table-lock",
    "heap-update-waits-then-read-committed-rechecks-the-newest-version",
    "heap-delete-waits-then-read-committed-finds-nothing",
    "heap-repeatable-read-update-of-a-row-updated-since-fails",
    "heap-sequential-scans-lock-the-relation-at-serializable",
    "heap-sequential-scan-returns-updated-rows-last",
    "partial-unique-index-waits-then-23505",
    "partial-unique-index-goes-on-after-rollback",
    "partial-unique-index-ignores-rows-outside-its-predicate",
    "lock-table-share-blocks-writers-and-nowait-sees-the-queue",
    "lock-table-only-in-transaction-blocks",
    "lock-table-upgrade-deadlock-fails-at-once",
    "access-exclusive-queues-readers-behind-it",
    "truncate-waits-for-readers-and-empties-older-snapshots",
    "session-advisory-locks-outlive-transactions-and-count",
    "advisory-lock-in-where-waits-after-the-snapshot",
    "rollback-to-savepoint-releases-locks-and-settings-after-it",
    "subquery-read-write-skew-serializable",
    "subquery-read-write-skew-read-committed",
    "not-exists-insert-select-phantom-serializable",
    "insert-select-waits-for-uncommitted-duplicate",
    "with-for-update-skip-locked-sweeper",
    "with-data-modifying-parts-share-one-snapshot",
    "update-from-read-committed-rechecks-with-same-joined-rows",
    "delete-using-repeatable-read-fails-on-changed-target",
    "on-conflict-where-waits-on-partial-unique-index",
    "left-join-empty-inner-side-is-predicate-locked",
    "cascade-delete-waits-on-locked-child",
    "cascade-rechecks-a-child-moved-meanwhile",
    "cascade-deletes-a-child-inserted-concurrently",
    "cascade-repeatable-read-fails-on-a-newer-child",
    "cascade-serializable-fails-on-a-changed-child",
    "cascade-deadlock",
    "set-null-on-update-waits-on-locked-child",
    "alter-table-waits-for-a-reader-and-queues-later-readers",
    "alter-table-lock-levels-of-storage-parameters-and-foreign-keys",
    "fk-check-waits-for-a-referencing-rows-delete",
    "fk-check-after-a-concurrent-referencing-delete-is-40001-at-repeatable-read",
    "first-statement-waiting-on-a-table-lock-keeps-its-earlier-snapshot",
    "update-after-for-update-is-a-key-update-to-key-share",
    "fk-check-on-a-row-updated-after-for-update-is-40001-at-repeatable-read",
    "expression-unique-index-waits-then-23505",
    "expression-unique-index-goes-on-after-rollback",
    "expression-unique-index-after-a-serializable-read-is-40001",
    "expression-lookup-not-exists-write-skew-serializable",
    "expression-upsert-waits-then-does-nothing",
    "nextval-neither-waits-nor-rolls-back",
    "currval-before-nextval-in-a-session",
    "serial-insert-rolled-back-leaves-a-gap",
    "nextval-takes-no-serializable-conflict",
    "no-action-after-waiting-finds-a-row-updated-to-refer",
    "fk-check-again-on-an-update-of-an-own-version",
    "epq-projects-a-newer-version-again-even-with-equal-values",
    "fk-trigger-locks-the-child-table-only-when-it-fires",
    "fk-check-of-an-inserted-row-locks-the-parent-table-even-for-null",
    "deferred-fk-check-at-commit-fails-after-a-parent-delete",
    "deferred-fk-check-at-commit-passes-when-the-delete-rolls-back",
    "deferred-fk-check-at-repeatable-read-commit-after-a-parent-delete",
    "deferred-no-action-check-at-commit-misses-an-uncommitted-child",
    "set-constraints-immediate-locks-the-parent-then",
    "set-constraints-immediate-waits-for-a-parent-delete",
    "generated-column-recomputed-from-the-rechecked-row",
    "create-table-as-reads-with-its-own-snapshot",
    "create-table-as-waits-for-an-access-exclusive-lock",
    "partition-move-fails-a-read-committed-updater",
    "partition-move-fails-a-read-committed-locking-read",
    "partition-move-lets-an-upsert-insert",
    "partition-move-at-repeatable-read-is-a-serialization-failure",
    "partition-a-statement-on-the-table-locks-its-partitions",
    "partition-vacuum-skip-locked-passes-a-locked-partition",
    "trigger-function-statements-take-their-own-snapshot",
    "create-trigger-waits-for-a-writer-of-the-table",
    "truncate-without-the-privilege-fails-without-waiting",
    "vacuum-by-a-non-owner-skips-the-table-without-waiting",
    "reindex-waits-for-a-reader-and-holds-back-readers",
    "unique-violation-after-a-read-elsewhere-in-the-index-is-40001",
    "index-insert-conflicts-with-a-read-of-another-key-of-the-index",
    "primary-key-insert-conflicts-with-a-read-of-another-key",
    "exclusion-index-read-locks-only-the-rows-it-returns",
    "exclusion-index-insert-conflicts-with-a-read-of-another-room",
    "partition-statement-on-a-partition-waits-for-a-writer-through-the-parent",
    "partition-move-fires-the-source-partitions-delete-trigger-on-the-newest-version",
    "statement-triggers-fire-around-a-wait-and-disable-trigger-waits-for-a-writer",
    "alter-table-in-a-block-holds-back-readers-until-commit",
    "rolled-back-drop-table-frees-a-waiting-reader",
    "reader-waiting-for-a-committed-drop-table-finds-no-table",
    "create-index-in-a-block-lets-readers-on-and-holds-back-writers",
    "table-created-in-a-block-is-not-there-for-others-until-commit",
    "nextval-waits-for-a-block-that-alters-the-sequence",
    "rolled-back-alter-sequence-restart-leaves-the-sequence-as-it-was",
    "foreign-key-added-in-a-block-holds-back-writers-of-both-tables",
    "trigger-created-in-a-block-fires-for-an-update-that-waited",
];

/// Every script, parsed once from [`FILES`], in their order.
pub fn scripts() -> &'static [Script] {
    static SCRIPTS: std::sync::OnceLock<Vec<Script>> = std::sync::OnceLock::new();
    SCRIPTS.get_or_init(|| {
        FILES
            .iter()
            .map(|f| {
                Script::from_files(f.name, f.spec, f.out)
                    .unwrap_or_else(|e| panic!("transcript {e}"))
            })
            .collect()
    })
}

/// The statements every transcript's first `setup` block holds: the
/// anomaly suite's tables ([`super::anomaly::SETUP`]), with the extension
/// PostgreSQL needs for `stay`'s exclusion constraint (the store needs
/// none), so that the file runs as it is on an empty database.
pub fn table_statements() -> Vec<&'static str> {
    std::iter::once("CREATE EXTENSION IF NOT EXISTS btree_gist")
        .chain(super::anomaly::SETUP.ddl.iter().copied())
        .collect()
}

/// [`table_statements`] as the first `setup` block of a transcript's
/// `.spec` file, with its comment.
pub fn tables_block() -> String {
    let mut out = String::from(
        "# The anomaly suite's tables (sql::anomaly::SETUP), as every transcript\n\
         # starts: the runner creates them itself and checks this block names them.\n\
         setup\n{\n",
    );
    for stmt in table_statements() {
        out.push_str(&format!("  {stmt};\n"));
    }
    out.push_str("}\n");
    out
}

/// The `# about:` comment of a `.spec` file: its first line's text and
/// the lines right after it that start with `#` and three spaces, joined
/// by a space.
fn about(spec_text: &str) -> Option<String> {
    let mut lines = spec_text.lines();
    let first = lines.find_map(|l| l.strip_prefix("# about:"))?;
    let mut about = first.trim().to_string();
    for line in lines {
        let Some(more) = line.strip_prefix("#   ") else {
            break;
        };
        about.push(' ');
        about.push_str(more.trim());
    }
    Some(about)
}

/// The statements of a block or step, as [`split`] cuts them.
fn statements(sql: &str) -> Vec<String> {
    split(sql).into_iter().map(|s| s.sql).collect()
}

/// The one statement of step `name`.
fn one_statement(name: &str, sql: &str) -> Result<String, String> {
    match statements(sql).as_slice() {
        [only] => Ok(only.clone()),
        other => Err(format!(
            "step {name} holds {} statements: a transcript step is one statement (its line shows its outcome)",
            other.len()
        )),
    }
}

impl Script {
    /// A transcript from its files: `spec_text`, an isolationtester spec
    /// (see the module docs for what a transcript's spec holds), and
    /// `out`, the transcript lines PostgreSQL gave.
    pub fn from_files(name: &str, spec_text: &str, out: &str) -> Result<Script, SpecError> {
        let file = format!("{name}.spec");
        let spec = Spec::parse(&file, spec_text)?;
        let about = about(spec_text).unwrap_or_default();
        Script::from_spec(&spec, about, out).map_err(|message| SpecError {
            file,
            line: 0,
            message,
        })
    }

    /// A transcript from a parsed spec, what it shows and its `.out` text:
    /// the first `setup` block must be [`tables_block`]'s, the others are
    /// the setup statements; sessions are `sN` in increasing order (session
    /// N of the transcript; one without steps is left out), then an
    /// optional `check` whose steps are the final queries; one
    /// permutation, without markers, gives the order of the steps, the
    /// checks last.
    pub fn from_spec(spec: &Spec, about: String, out: &str) -> Result<Script, String> {
        let (tables, setup_blocks) = spec
            .setup
            .split_first()
            .ok_or("no setup block: the first one creates the suite's tables")?;
        if statements(tables) != table_statements() {
            return Err(format!(
                "the first setup block is not the suite's tables; it must read:\n{}",
                tables_block()
            ));
        }
        if spec.teardown.is_some() {
            return Err("a teardown block: the transcript runner has none".into());
        }
        let setup = setup_blocks.iter().flat_map(|b| statements(b)).collect();
        // The spec's sessions by index: the transcript's session number
        // (`sN` is session N, lines `sN: ...`), or `None` for `check`.
        let mut numbers: Vec<Option<usize>> = Vec::new();
        for (i, session) in spec.sessions.iter().enumerate() {
            if session.setup.is_some() || session.teardown.is_some() {
                return Err(format!(
                    "session {}: per-session setup and teardown are not run by the transcript runner",
                    session.name
                ));
            }
            let number = session
                .name
                .strip_prefix('s')
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&n| n > numbers.iter().flatten().max().copied().unwrap_or(0));
            match number {
                Some(n) => numbers.push(Some(n)),
                None if session.name == "check" && i + 1 == spec.sessions.len() => {
                    numbers.push(None)
                }
                None => {
                    return Err(format!(
                        "session {}: sessions are s1, s2, ... in increasing order (the lines name them), then check last",
                        session.name
                    ))
                }
            }
        }
        let sessions = numbers.iter().flatten().max().copied().unwrap_or(0);
        if spec.permutations.len() != 1 {
            return Err("a transcript lists its steps in exactly one permutation line".into());
        }
        let permutation = spec.plan().swap_remove(0);
        let mut steps = Vec::new();
        let mut check = Vec::new();
        for planned in &permutation {
            let step = spec.step(planned.session, planned.step);
            if !planned.blockers.is_empty() {
                return Err(format!(
                    "step {}: markers are not for transcripts",
                    step.name
                ));
            }
            let sql = one_statement(&step.name, &step.sql)?;
            match numbers[planned.session] {
                None => check.push(sql),
                Some(_) if !check.is_empty() => {
                    return Err(format!("step {} comes after a check step", step.name))
                }
                Some(n) => steps.push((n - 1, sql)),
            }
        }
        Ok(Script {
            name: spec.name.clone(),
            about,
            setup,
            sessions,
            steps,
            check,
            expected: out.to_string(),
        })
    }
}

/// Whether `text` is a transcript (the lines [`run_script`] prints), not
/// isolationtester's output: how `pgspecs` tells a transcript's `.out`.
pub fn is_transcript(text: &str) -> bool {
    let session_line = |l: &str| {
        let Some(rest) = l.strip_prefix('s') else {
            return false;
        };
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let rest = &rest[digits..];
        digits > 0
            && (rest.starts_with(": ")
                || rest.starts_with(" <- ")
                || rest == " still waiting at the end")
    };
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut any = false;
    let all = lines.all(|l| {
        any = true;
        session_line(l) || l.starts_with("check: ")
    });
    any && all
}

/// Runs every script of [`scripts`] on `backend`.
pub async fn run_scripts<B: Backend>(
    backend: &mut B,
) -> Result<Vec<(&'static Script, Transcript)>, DbError> {
    let mut out = Vec::new();
    for script in scripts() {
        out.push((script, run_script(backend, script).await?));
    }
    Ok(out)
}

const SER: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE";
const SER_RO: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY";
const RC: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";
const RR: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ";

/// Every script, in the order `overbook isolation` prints them.
pub const SCRIPTS: &[LiteralScript] = &[
    LiteralScript {
        name: "write-skew-one-victim",
        about: "a write skew aborts one transaction, at the second commit: \
                the first committer wins and the same rw edge does not fail \
                the other at its statement",
        setup: &["INSERT INTO kv VALUES ('x', 1), ('y', 1)"],
        sessions: 2,
        steps: &[
            (0, SER),
            (1, SER),
            (0, "SELECT v FROM kv WHERE k = 'x'"),
            (0, "SELECT v FROM kv WHERE k = 'y'"),
            (1, "SELECT v FROM kv WHERE k = 'x'"),
            (1, "SELECT v FROM kv WHERE k = 'y'"),
            (0, "UPDATE kv SET v = 0 WHERE k = 'x'"),
            (1, "UPDATE kv SET v = 0 WHERE k = 'y'"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SELECT v FROM kv WHERE k = 'x' -> [(1)]
            s1: SELECT v FROM kv WHERE k = 'y' -> [(1)]
            s2: SELECT v FROM kv WHERE k = 'x' -> [(1)]
            s2: SELECT v FROM kv WHERE k = 'y' -> [(1)]
            s1: UPDATE kv SET v = 0 WHERE k = 'x' -> affected 1
            s2: UPDATE kv SET v = 0 WHERE k = 'y' -> affected 1
            s1: COMMIT -> ok
            s2: COMMIT -> error 40001
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 0) (y, 1)]
        ",
    },
    LiteralScript {
        name: "pivot-out-conflict-commits-last",
        about: "T1 -rw-> T2 -rw-> T3 is no anomaly when T3 does not commit \
                first: all three commit",
        setup: &["INSERT INTO kv VALUES ('x', 1), ('y', 1)"],
        sessions: 3,
        steps: &[
            (1, SER),
            (1, "SELECT v FROM kv WHERE k = 'x'"),
            (2, SER),
            (2, "UPDATE kv SET v = 2 WHERE k = 'x'"),
            (0, SER),
            (0, "SELECT v FROM kv WHERE k = 'y'"),
            (1, "UPDATE kv SET v = 2 WHERE k = 'y'"),
            (0, "COMMIT"),
            (1, "COMMIT"),
            (2, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: SELECT v FROM kv WHERE k = 'x' -> [(1)]
            s3: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s3: UPDATE kv SET v = 2 WHERE k = 'x' -> affected 1
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SELECT v FROM kv WHERE k = 'y' -> [(1)]
            s2: UPDATE kv SET v = 2 WHERE k = 'y' -> affected 1
            s1: COMMIT -> ok
            s2: COMMIT -> ok
            s3: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 2) (y, 2)]
        ",
    },
    LiteralScript {
        name: "pivot-out-conflict-commits-first",
        about: "T1 -rw-> T2 -rw-> T3 with T3 committing first dooms the \
                pivot T2 alone, at T3's commit",
        setup: &["INSERT INTO kv VALUES ('x', 1), ('y', 1)"],
        sessions: 3,
        steps: &[
            (1, SER),
            (1, "SELECT v FROM kv WHERE k = 'x'"),
            (2, SER),
            (2, "UPDATE kv SET v = 2 WHERE k = 'x'"),
            (0, SER),
            (0, "SELECT v FROM kv WHERE k = 'y'"),
            (1, "UPDATE kv SET v = 2 WHERE k = 'y'"),
            (2, "COMMIT"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: SELECT v FROM kv WHERE k = 'x' -> [(1)]
            s3: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s3: UPDATE kv SET v = 2 WHERE k = 'x' -> affected 1
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SELECT v FROM kv WHERE k = 'y' -> [(1)]
            s2: UPDATE kv SET v = 2 WHERE k = 'y' -> affected 1
            s3: COMMIT -> ok
            s1: COMMIT -> ok
            s2: COMMIT -> error 40001
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 2) (y, 1)]
        ",
    },
    LiteralScript {
        name: "pivot-writes-after-out-conflict-committed",
        about: "the pivot's write that completes T1 -rw-> T2 -rw-> T3 after \
                T3 committed fails at once, and only the pivot",
        setup: &["INSERT INTO kv VALUES ('x', 1), ('y', 1)"],
        sessions: 3,
        steps: &[
            (1, SER),
            (1, "SELECT v FROM kv WHERE k = 'x'"),
            (2, SER),
            (2, "UPDATE kv SET v = 2 WHERE k = 'x'"),
            (2, "COMMIT"),
            (0, SER),
            (0, "SELECT v FROM kv WHERE k = 'y'"),
            (1, "UPDATE kv SET v = 2 WHERE k = 'y'"),
            (1, "ROLLBACK"),
            (0, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: SELECT v FROM kv WHERE k = 'x' -> [(1)]
            s3: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s3: UPDATE kv SET v = 2 WHERE k = 'x' -> affected 1
            s3: COMMIT -> ok
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SELECT v FROM kv WHERE k = 'y' -> [(1)]
            s2: UPDATE kv SET v = 2 WHERE k = 'y' -> error 40001
            s2: ROLLBACK -> ok
            s1: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 2) (y, 1)]
        ",
    },
    LiteralScript {
        name: "read-only-reader-before-out-conflict",
        about: "a READ ONLY T1 in T1 -rw-> T2 -rw-> T3 whose snapshot \
                precedes T3's commit cannot be part of a cycle: nothing aborts",
        setup: &["INSERT INTO kv VALUES ('x', 1), ('y', 1)"],
        sessions: 3,
        steps: &[
            (0, SER_RO),
            (0, "SELECT v FROM kv WHERE k = 'x'"),
            (1, SER),
            (1, "SELECT v FROM kv WHERE k = 'y'"),
            (2, SER),
            (2, "UPDATE kv SET v = 2 WHERE k = 'y'"),
            (2, "COMMIT"),
            (1, "UPDATE kv SET v = 2 WHERE k = 'x'"),
            (1, "COMMIT"),
            (0, "SELECT v FROM kv WHERE k = 'y'"),
            (0, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY -> ok
            s1: SELECT v FROM kv WHERE k = 'x' -> [(1)]
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: SELECT v FROM kv WHERE k = 'y' -> [(1)]
            s3: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s3: UPDATE kv SET v = 2 WHERE k = 'y' -> affected 1
            s3: COMMIT -> ok
            s2: UPDATE kv SET v = 2 WHERE k = 'x' -> affected 1
            s2: COMMIT -> ok
            s1: SELECT v FROM kv WHERE k = 'y' -> [(1)]
            s1: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 2) (y, 2)]
        ",
    },
    LiteralScript {
        name: "read-write-reader-before-out-conflict",
        about: "the same as read-only-reader-before-out-conflict with T1 not \
                declared READ ONLY: the pivot's write fails",
        setup: &["INSERT INTO kv VALUES ('x', 1), ('y', 1)"],
        sessions: 3,
        steps: &[
            (0, SER),
            (0, "SELECT v FROM kv WHERE k = 'x'"),
            (1, SER),
            (1, "SELECT v FROM kv WHERE k = 'y'"),
            (2, SER),
            (2, "UPDATE kv SET v = 2 WHERE k = 'y'"),
            (2, "COMMIT"),
            (1, "UPDATE kv SET v = 2 WHERE k = 'x'"),
            (1, "ROLLBACK"),
            (0, "SELECT v FROM kv WHERE k = 'y'"),
            (0, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SELECT v FROM kv WHERE k = 'x' -> [(1)]
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: SELECT v FROM kv WHERE k = 'y' -> [(1)]
            s3: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s3: UPDATE kv SET v = 2 WHERE k = 'y' -> affected 1
            s3: COMMIT -> ok
            s2: UPDATE kv SET v = 2 WHERE k = 'x' -> error 40001
            s2: ROLLBACK -> ok
            s1: SELECT v FROM kv WHERE k = 'y' -> [(1)]
            s1: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 1) (y, 2)]
        ",
    },
    LiteralScript {
        name: "unique-violation-after-read-is-40001",
        about: "two Serializable transactions check that a key is free and \
                insert it: the second gets 40001 (retryable), not 23505",
        setup: &[],
        sessions: 2,
        steps: &[
            (0, SER),
            (1, SER),
            (0, "SELECT v FROM kv WHERE k = 'z'"),
            (1, "SELECT v FROM kv WHERE k = 'z'"),
            (0, "INSERT INTO kv VALUES ('z', 1)"),
            (1, "INSERT INTO kv VALUES ('z', 2)"),
            (0, "COMMIT"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SELECT v FROM kv WHERE k = 'z' -> []
            s2: SELECT v FROM kv WHERE k = 'z' -> []
            s1: INSERT INTO kv VALUES ('z', 1) -> affected 1
            s2: INSERT INTO kv VALUES ('z', 2) -> waiting
            s1: COMMIT -> ok
            s2 <- error 40001
            s2: ROLLBACK -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(z, 1)]
        ",
    },
    LiteralScript {
        name: "unique-violation-without-read-is-23505",
        about: "without the read, the same inserts are a plain unique \
                violation at Serializable too",
        setup: &[],
        sessions: 2,
        steps: &[
            (0, SER),
            (1, SER),
            (0, "INSERT INTO kv VALUES ('z', 1)"),
            (1, "INSERT INTO kv VALUES ('z', 2)"),
            (0, "COMMIT"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: INSERT INTO kv VALUES ('z', 1) -> affected 1
            s2: INSERT INTO kv VALUES ('z', 2) -> waiting
            s1: COMMIT -> ok
            s2 <- error 23505
            s2: ROLLBACK -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(z, 1)]
        ",
    },
    LiteralScript {
        name: "exclusion-violation-after-read-waits-then-23p01",
        about: "unlike a unique violation, an exclusion violation after a \
                wait stays 23P01 at Serializable: PostgreSQL's exclusion check \
                makes no SSI check of its own",
        setup: &[],
        sessions: 2,
        steps: &[
            (0, SER),
            (1, SER),
            (0, "SELECT count(*) FROM stay WHERE room = 1"),
            (1, "SELECT count(*) FROM stay WHERE room = 1"),
            (0, "INSERT INTO stay VALUES (1, 1, '[1,5)')"),
            (1, "INSERT INTO stay VALUES (2, 1, '[3,7)')"),
            (0, "COMMIT"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT id, room FROM stay ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SELECT count(*) FROM stay WHERE room = 1 -> [(0)]
            s2: SELECT count(*) FROM stay WHERE room = 1 -> [(0)]
            s1: INSERT INTO stay VALUES (1, 1, '[1,5)') -> affected 1
            s2: INSERT INTO stay VALUES (2, 1, '[3,7)') -> waiting
            s1: COMMIT -> ok
            s2 <- error 23P01
            s2: ROLLBACK -> ok
            check: SELECT id, room FROM stay ORDER BY id -> [(1, 1)]
        ",
    },
    LiteralScript {
        name: "exclusion-violation-without-read-is-23p01",
        about: "without the read, overlapping bookings are a plain exclusion \
                violation at Serializable too",
        setup: &[],
        sessions: 2,
        steps: &[
            (0, SER),
            (1, SER),
            (0, "INSERT INTO stay VALUES (1, 1, '[1,5)')"),
            (1, "INSERT INTO stay VALUES (2, 1, '[3,7)')"),
            (0, "COMMIT"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT id, room FROM stay ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: INSERT INTO stay VALUES (1, 1, '[1,5)') -> affected 1
            s2: INSERT INTO stay VALUES (2, 1, '[3,7)') -> waiting
            s1: COMMIT -> ok
            s2 <- error 23P01
            s2: ROLLBACK -> ok
            check: SELECT id, room FROM stay ORDER BY id -> [(1, 1)]
        ",
    },
    LiteralScript {
        name: "exclusion-violation-with-a-committed-reader-is-40001",
        about: "an overlapping booking after a concurrent reader-writer of \
                the room committed fails with 40001: the index insert's SSI \
                check comes before the exclusion check",
        setup: &[],
        sessions: 2,
        steps: &[
            (0, SER),
            (1, SER),
            (0, "SELECT count(*) FROM stay WHERE room = 1"),
            (1, "SELECT count(*) FROM stay WHERE room = 1"),
            (0, "INSERT INTO stay VALUES (1, 1, '[1,5)')"),
            (0, "COMMIT"),
            (1, "INSERT INTO stay VALUES (2, 1, '[3,7)')"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT id, room FROM stay ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SELECT count(*) FROM stay WHERE room = 1 -> [(0)]
            s2: SELECT count(*) FROM stay WHERE room = 1 -> [(0)]
            s1: INSERT INTO stay VALUES (1, 1, '[1,5)') -> affected 1
            s1: COMMIT -> ok
            s2: INSERT INTO stay VALUES (2, 1, '[3,7)') -> error 40001
            s2: ROLLBACK -> ok
            check: SELECT id, room FROM stay ORDER BY id -> [(1, 1)]
        ",
    },
    LiteralScript {
        name: "unique-violation-with-a-committed-reader-is-40001",
        about: "the same with a key: the insert after the other committed \
                fails with 40001",
        setup: &[],
        sessions: 2,
        steps: &[
            (0, SER),
            (1, SER),
            (0, "SELECT v FROM kv WHERE k = 'z'"),
            (1, "SELECT v FROM kv WHERE k = 'z'"),
            (0, "INSERT INTO kv VALUES ('z', 1)"),
            (0, "COMMIT"),
            (1, "INSERT INTO kv VALUES ('z', 2)"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SELECT v FROM kv WHERE k = 'z' -> []
            s2: SELECT v FROM kv WHERE k = 'z' -> []
            s1: INSERT INTO kv VALUES ('z', 1) -> affected 1
            s1: COMMIT -> ok
            s2: INSERT INTO kv VALUES ('z', 2) -> error 40001
            s2: ROLLBACK -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(z, 1)]
        ",
    },
    LiteralScript {
        name: "read-committed-update-follows-a-moved-row",
        about: "at Read Committed an UPDATE that waited on a row whose \
                primary key a concurrent UPDATE changed follows the row to \
                its new key and updates it there (the update chain)",
        setup: &["INSERT INTO emp VALUES (1, 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "UPDATE emp SET id = 2 WHERE id = 1"),
            (1, "UPDATE emp SET dept = 5 WHERE dept = 1"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, dept FROM emp ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE emp SET id = 2 WHERE id = 1 -> affected 1
            s2: UPDATE emp SET dept = 5 WHERE dept = 1 -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            s2: COMMIT -> ok
            check: SELECT id, dept FROM emp ORDER BY id -> [(2, 5)]
        ",
    },
    LiteralScript {
        name: "read-committed-locking-read-follows-a-moved-row",
        about: "a FOR UPDATE read follows the chain too, and rechecks its \
                filter on the new version",
        setup: &["INSERT INTO emp VALUES (1, 1), (3, 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "UPDATE emp SET id = 2 WHERE id = 1"),
            (0, "UPDATE emp SET id = 4, dept = 2 WHERE id = 3"),
            (
                1,
                "SELECT id, dept FROM emp WHERE dept = 1 ORDER BY id FOR UPDATE",
            ),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, dept FROM emp ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE emp SET id = 2 WHERE id = 1 -> affected 1
            s1: UPDATE emp SET id = 4, dept = 2 WHERE id = 3 -> affected 1
            s2: SELECT id, dept FROM emp WHERE dept = 1 ORDER BY id FOR UPDATE -> waiting
            s1: COMMIT -> ok
            s2 <- [(2, 1)]
            s2: COMMIT -> ok
            check: SELECT id, dept FROM emp ORDER BY id -> [(2, 1) (4, 2)]
        ",
    },
    LiteralScript {
        name: "read-committed-upsert-does-not-follow-a-moved-row",
        about: "ON CONFLICT DO UPDATE whose conflicting row moved away \
                meanwhile inserts instead: the key is free again",
        setup: &["INSERT INTO emp VALUES (1, 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "UPDATE emp SET id = 2 WHERE id = 1"),
            (
                1,
                "INSERT INTO emp VALUES (1, 7) ON CONFLICT (id) DO UPDATE SET dept = 9",
            ),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, dept FROM emp ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE emp SET id = 2 WHERE id = 1 -> affected 1
            s2: INSERT INTO emp VALUES (1, 7) ON CONFLICT (id) DO UPDATE SET dept = 9 -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            s2: COMMIT -> ok
            check: SELECT id, dept FROM emp ORDER BY id -> [(1, 7) (2, 1)]
        ",
    },
    LiteralScript {
        name: "insert-of-a-locked-row-fails-at-once",
        about: "an INSERT of a committed key that another transaction only \
                locked FOR UPDATE does not wait: the unique check waits for \
                uncommitted writers, not for lockers",
        setup: &["INSERT INTO emp VALUES (1, 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "SELECT id FROM emp WHERE id = 1 FOR UPDATE"),
            (1, "INSERT INTO emp VALUES (1, 2) ON CONFLICT DO NOTHING"),
            (1, "INSERT INTO emp VALUES (1, 2)"),
            (1, "ROLLBACK"),
            (0, "COMMIT"),
        ],
        check: &["SELECT id, dept FROM emp ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: SELECT id FROM emp WHERE id = 1 FOR UPDATE -> [(1)]
            s2: INSERT INTO emp VALUES (1, 2) ON CONFLICT DO NOTHING -> ok
            s2: INSERT INTO emp VALUES (1, 2) -> error 23505
            s2: ROLLBACK -> ok
            s1: COMMIT -> ok
            check: SELECT id, dept FROM emp ORDER BY id -> [(1, 1)]
        ",
    },
    LiteralScript {
        name: "exclusion-conflict-with-a-row-being-updated-waits",
        about: "an exclusion conflict with a committed row that another \
                transaction is updating waits for it, and succeeds when the \
                update moved the span away",
        setup: &["INSERT INTO stay VALUES (1, 1, '[3,5)')"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "UPDATE stay SET span = '[7,9)' WHERE id = 1"),
            (1, "INSERT INTO stay VALUES (2, 1, '[4,5)')"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, span FROM stay ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE stay SET span = '[7,9)' WHERE id = 1 -> affected 1
            s2: INSERT INTO stay VALUES (2, 1, '[4,5)') -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            s2: COMMIT -> ok
            check: SELECT id, span FROM stay ORDER BY id -> [(1, [7,9)) (2, [4,5))]
        ",
    },
    LiteralScript {
        name: "key-share-lets-a-no-key-update-through-but-not-a-delete",
        about: "FOR KEY SHARE conflicts only with FOR UPDATE strength: an \
                UPDATE of a non-key column goes on, a DELETE waits for both",
        setup: &["INSERT INTO kv VALUES ('a', 1)"],
        sessions: 3,
        steps: &[
            (0, RC),
            (1, RC),
            (2, RC),
            (0, "SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE"),
            (1, "UPDATE kv SET v = 2 WHERE k = 'a'"),
            (2, "DELETE FROM kv WHERE k = 'a'"),
            (0, "COMMIT"),
            (1, "COMMIT"),
            (2, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s3: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE -> [(1)]
            s2: UPDATE kv SET v = 2 WHERE k = 'a' -> affected 1
            s3: DELETE FROM kv WHERE k = 'a' -> waiting
            s1: COMMIT -> ok
            s2: COMMIT -> ok
            s3 <- affected 1
            s3: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> []
        ",
    },
    LiteralScript {
        name: "share-locks-coexist-and-hold-off-updates",
        about: "two FOR SHARE locks coexist; an UPDATE waits until both end, \
                and NOWAIT fails at once",
        setup: &["INSERT INTO kv VALUES ('a', 1)"],
        sessions: 3,
        steps: &[
            (0, RC),
            (1, RC),
            (2, RC),
            (0, "SELECT v FROM kv WHERE k = 'a' FOR SHARE"),
            (1, "SELECT v FROM kv WHERE k = 'a' FOR SHARE"),
            (2, "SELECT v FROM kv WHERE k = 'a' FOR NO KEY UPDATE NOWAIT"),
            (2, "ROLLBACK"),
            (2, RC),
            (2, "SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE NOWAIT"),
            (2, "UPDATE kv SET v = 3 WHERE k = 'a'"),
            (0, "COMMIT"),
            (1, "COMMIT"),
            (2, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s3: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: SELECT v FROM kv WHERE k = 'a' FOR SHARE -> [(1)]
            s2: SELECT v FROM kv WHERE k = 'a' FOR SHARE -> [(1)]
            s3: SELECT v FROM kv WHERE k = 'a' FOR NO KEY UPDATE NOWAIT -> error 55P03
            s3: ROLLBACK -> ok
            s3: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s3: SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE NOWAIT -> [(1)]
            s3: UPDATE kv SET v = 3 WHERE k = 'a' -> waiting
            s1: COMMIT -> ok
            s2: COMMIT -> ok
            s3 <- affected 1
            s3: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(a, 3)]
        ",
    },
    LiteralScript {
        name: "referencing-inserts-share-the-parent-and-hold-off-its-delete",
        about: "foreign-key checks lock the parent FOR KEY SHARE: two \
                referencing inserts and an update of the parent's other \
                column go on together; the parent's DELETE waits and then \
                finds the references",
        setup: &["INSERT INTO kv VALUES ('a', 1)"],
        sessions: 3,
        steps: &[
            (0, RC),
            (1, RC),
            (2, RC),
            (0, "INSERT INTO kv_ref VALUES (1, 'a')"),
            (1, "INSERT INTO kv_ref VALUES (2, 'a')"),
            (2, "UPDATE kv SET v = 5 WHERE k = 'a'"),
            (2, "COMMIT"),
            (2, RC),
            (2, "DELETE FROM kv WHERE k = 'a'"),
            (0, "COMMIT"),
            (1, "ROLLBACK"),
            (2, "ROLLBACK"),
        ],
        check: &[
            "SELECT k, v FROM kv ORDER BY k",
            "SELECT id, k FROM kv_ref ORDER BY id",
        ],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s3: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO kv_ref VALUES (1, 'a') -> affected 1
            s2: INSERT INTO kv_ref VALUES (2, 'a') -> affected 1
            s3: UPDATE kv SET v = 5 WHERE k = 'a' -> affected 1
            s3: COMMIT -> ok
            s3: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s3: DELETE FROM kv WHERE k = 'a' -> waiting
            s1: COMMIT -> ok
            s2: ROLLBACK -> ok
            s3 <- error 23503
            s3: ROLLBACK -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(a, 5)]
            check: SELECT id, k FROM kv_ref ORDER BY id -> [(1, a)]
        ",
    },
    LiteralScript {
        name: "key-share-at-repeatable-read-passes-a-no-key-update",
        about: "at Repeatable Read a row updated since the snapshot can still \
                be locked FOR KEY SHARE (and referenced) when its key did not \
                change, but not FOR SHARE",
        setup: &["INSERT INTO kv VALUES ('a', 1)"],
        sessions: 2,
        steps: &[
            (0, RR),
            (0, "SELECT v FROM kv WHERE k = 'a'"),
            (1, RC),
            (1, "UPDATE kv SET v = 2 WHERE k = 'a'"),
            (1, "COMMIT"),
            (0, "INSERT INTO kv_ref VALUES (1, 'a')"),
            (0, "SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE"),
            (0, "SELECT v FROM kv WHERE k = 'a' FOR SHARE"),
            (0, "ROLLBACK"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL REPEATABLE READ -> ok
            s1: SELECT v FROM kv WHERE k = 'a' -> [(1)]
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: UPDATE kv SET v = 2 WHERE k = 'a' -> affected 1
            s2: COMMIT -> ok
            s1: INSERT INTO kv_ref VALUES (1, 'a') -> affected 1
            s1: SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE -> [(1)]
            s1: SELECT v FROM kv WHERE k = 'a' FOR SHARE -> error 40001
            s1: ROLLBACK -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(a, 2)]
        ",
    },
    LiteralScript {
        name: "key-share-at-repeatable-read-fails-after-a-key-change",
        about: "at Repeatable Read FOR KEY SHARE of a row whose key changed \
                since the snapshot fails with 40001",
        setup: &["INSERT INTO kv VALUES ('a', 1), ('b', 1)"],
        sessions: 2,
        steps: &[
            (0, RR),
            (0, "SELECT count(*) FROM kv"),
            (1, RC),
            (1, "UPDATE kv SET k = 'c' WHERE k = 'a'"),
            (1, "DELETE FROM kv WHERE k = 'b'"),
            (1, "COMMIT"),
            (0, "SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE"),
            (0, "ROLLBACK"),
            (0, RR),
            (0, "SELECT count(*) FROM kv_ref"),
            (1, RC),
            (1, "INSERT INTO kv VALUES ('b', 2)"),
            (1, "COMMIT"),
            (0, "INSERT INTO kv_ref VALUES (1, 'b')"),
            (0, "ROLLBACK"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL REPEATABLE READ -> ok
            s1: SELECT count(*) FROM kv -> [(2)]
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: UPDATE kv SET k = 'c' WHERE k = 'a' -> affected 1
            s2: DELETE FROM kv WHERE k = 'b' -> affected 1
            s2: COMMIT -> ok
            s1: SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE -> error 40001
            s1: ROLLBACK -> ok
            s1: BEGIN ISOLATION LEVEL REPEATABLE READ -> ok
            s1: SELECT count(*) FROM kv_ref -> [(0)]
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: INSERT INTO kv VALUES ('b', 2) -> affected 1
            s2: COMMIT -> ok
            s1: INSERT INTO kv_ref VALUES (1, 'b') -> error 23503
            s1: ROLLBACK -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(b, 2) (c, 1)]
        ",
    },
    LiteralScript {
        name: "key-share-holders-deadlock-when-both-delete",
        about: "two transactions that both reference a parent and then both \
                delete it wait for each other's KEY SHARE: one gets 40P01",
        setup: &["INSERT INTO kv VALUES ('a', 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE"),
            (1, "SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE"),
            (0, "DELETE FROM kv WHERE k = 'a'"),
            (1, "DELETE FROM kv WHERE k = 'a'"),
            (0, "COMMIT"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE -> [(1)]
            s2: SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE -> [(1)]
            s1: DELETE FROM kv WHERE k = 'a' -> waiting
            s2: DELETE FROM kv WHERE k = 'a' -> error 40P01
            s1 <- affected 1
            s1: COMMIT -> ok
            s2: ROLLBACK -> ok
            check: SELECT k, v FROM kv ORDER BY k -> []
        ",
    },
    LiteralScript {
        name: "rollback-to-savepoint-releases-later-locks",
        about: "ROLLBACK TO SAVEPOINT undoes the writes after it and hands \
                their row locks to the waiters; the locks from before it stay",
        setup: &["INSERT INTO kv VALUES ('a', 1), ('b', 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "UPDATE kv SET v = 2 WHERE k = 'a'"),
            (0, "SAVEPOINT sp"),
            (0, "UPDATE kv SET v = 3 WHERE k = 'b'"),
            (1, "UPDATE kv SET v = 10 WHERE k = 'b'"),
            (0, "ROLLBACK TO SAVEPOINT sp"),
            (1, "UPDATE kv SET v = 20 WHERE k = 'a'"),
            (0, "SELECT k, v FROM kv ORDER BY k"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE kv SET v = 2 WHERE k = 'a' -> affected 1
            s1: SAVEPOINT sp -> ok
            s1: UPDATE kv SET v = 3 WHERE k = 'b' -> affected 1
            s2: UPDATE kv SET v = 10 WHERE k = 'b' -> waiting
            s1: ROLLBACK TO SAVEPOINT sp -> ok
            s2 <- affected 1
            s2: UPDATE kv SET v = 20 WHERE k = 'a' -> waiting
            s1: SELECT k, v FROM kv ORDER BY k -> [(a, 2) (b, 1)]
            s1: COMMIT -> ok
            s2 <- affected 1
            s2: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(a, 20) (b, 10)]
        ",
    },
    LiteralScript {
        name: "an-error-after-a-savepoint-undoes-only-what-came-after",
        about: "an error inside a savepoint releases that savepoint's locks at \
                once; ROLLBACK TO revives the transaction with its earlier \
                work; a missing savepoint is 3B001",
        setup: &["INSERT INTO kv VALUES ('a', 1), ('b', 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "INSERT INTO kv VALUES ('c', 1)"),
            (0, "SAVEPOINT sp"),
            (0, "SELECT v FROM kv WHERE k = 'b' FOR UPDATE"),
            (1, "SELECT v FROM kv WHERE k = 'b' FOR UPDATE"),
            (0, "INSERT INTO kv VALUES ('a', 1)"),
            (0, "SELECT count(*) FROM kv"),
            (0, "RELEASE SAVEPOINT sp"),
            (0, "ROLLBACK TO SAVEPOINT sp"),
            (0, "SELECT count(*) FROM kv"),
            (0, "RELEASE SAVEPOINT sp"),
            (0, "ROLLBACK TO SAVEPOINT sp"),
            (0, "SELECT count(*) FROM kv"),
            (0, "ROLLBACK"),
            (0, RC),
            (0, "SAVEPOINT a"),
            (0, "SAVEPOINT b"),
            (0, "INSERT INTO kv VALUES ('d', 1)"),
            (0, "RELEASE SAVEPOINT a"),
            (0, "ROLLBACK TO SAVEPOINT b"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO kv VALUES ('c', 1) -> affected 1
            s1: SAVEPOINT sp -> ok
            s1: SELECT v FROM kv WHERE k = 'b' FOR UPDATE -> [(1)]
            s2: SELECT v FROM kv WHERE k = 'b' FOR UPDATE -> waiting
            s1: INSERT INTO kv VALUES ('a', 1) -> error 23505
            s2 <- [(1)]
            s1: SELECT count(*) FROM kv -> error 25P02
            s1: RELEASE SAVEPOINT sp -> error 25P02
            s1: ROLLBACK TO SAVEPOINT sp -> ok
            s1: SELECT count(*) FROM kv -> [(3)]
            s1: RELEASE SAVEPOINT sp -> ok
            s1: ROLLBACK TO SAVEPOINT sp -> error 3B001
            s1: SELECT count(*) FROM kv -> error 25P02
            s1: ROLLBACK -> ok
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: SAVEPOINT a -> ok
            s1: SAVEPOINT b -> ok
            s1: INSERT INTO kv VALUES ('d', 1) -> affected 1
            s1: RELEASE SAVEPOINT a -> ok
            s1: ROLLBACK TO SAVEPOINT b -> error 3B001
            s1: COMMIT -> ok
            s2: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(a, 1) (b, 1)]
        ",
    },
    LiteralScript {
        name: "rollback-to-savepoint-restores-a-weaker-row-lock",
        about: "a row locked FOR KEY SHARE before a savepoint and FOR UPDATE \
                after it keeps only the KEY SHARE after ROLLBACK TO, which \
                lets a waiting non-key UPDATE through",
        setup: &["INSERT INTO kv VALUES ('a', 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE"),
            (0, "SAVEPOINT sp"),
            (0, "SELECT v FROM kv WHERE k = 'a' FOR UPDATE"),
            (1, "UPDATE kv SET v = 5 WHERE k = 'a'"),
            (0, "ROLLBACK TO SAVEPOINT sp"),
            (1, "COMMIT"),
            (0, "DELETE FROM kv WHERE k = 'a'"),
            (0, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE -> [(1)]
            s1: SAVEPOINT sp -> ok
            s1: SELECT v FROM kv WHERE k = 'a' FOR UPDATE -> [(1)]
            s2: UPDATE kv SET v = 5 WHERE k = 'a' -> waiting
            s1: ROLLBACK TO SAVEPOINT sp -> ok
            s2 <- affected 1
            s2: COMMIT -> ok
            s1: DELETE FROM kv WHERE k = 'a' -> affected 1
            s1: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> []
        ",
    },
    LiteralScript {
        name: "read-committed-writers-skip-a-row-replaced-in-one-transaction",
        about: "a row deleted and inserted again by one transaction is a new \
                tuple: Read Committed writers that waited on the old one find \
                it deleted and leave the new one alone",
        setup: &["INSERT INTO kv VALUES ('a', 1)"],
        sessions: 3,
        steps: &[
            (0, RC),
            (1, RC),
            (2, RC),
            (0, "DELETE FROM kv WHERE k = 'a'"),
            (1, "DELETE FROM kv WHERE k = 'a'"),
            (2, "UPDATE kv SET v = 9 WHERE k = 'a'"),
            (0, "INSERT INTO kv VALUES ('a', 2)"),
            (0, "COMMIT"),
            (1, "COMMIT"),
            (2, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s3: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: DELETE FROM kv WHERE k = 'a' -> affected 1
            s2: DELETE FROM kv WHERE k = 'a' -> waiting
            s3: UPDATE kv SET v = 9 WHERE k = 'a' -> waiting
            s1: INSERT INTO kv VALUES ('a', 2) -> affected 1
            s1: COMMIT -> ok
            s2 <- ok
            s3 <- ok
            s2: COMMIT -> ok
            s3: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(a, 2)]
        ",
    },
    LiteralScript {
        name: "locking-reads-do-not-wait-for-an-uncommitted-insert",
        about: "a row another transaction is inserting is invisible: a \
                foreign-key check on it fails with 23503 and FOR UPDATE finds \
                nothing, both without waiting",
        setup: &[],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "INSERT INTO kv VALUES ('z', 1)"),
            (1, "SELECT v FROM kv WHERE k = 'z' FOR UPDATE"),
            (1, "INSERT INTO kv_ref VALUES (1, 'z')"),
            (1, "ROLLBACK"),
            (0, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO kv VALUES ('z', 1) -> affected 1
            s2: SELECT v FROM kv WHERE k = 'z' FOR UPDATE -> []
            s2: INSERT INTO kv_ref VALUES (1, 'z') -> error 23503
            s2: ROLLBACK -> ok
            s1: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(z, 1)]
        ",
    },
    LiteralScript {
        name: "lock-timeout-cancels-a-long-lock-wait",
        about: "a lock wait longer than SET LOCAL lock_timeout fails with \
                55P03 and fails the transaction",
        setup: &["INSERT INTO kv VALUES ('x', 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "UPDATE kv SET v = 2 WHERE k = 'x'"),
            (1, RC),
            (1, "SET LOCAL lock_timeout = '1ms'"),
            (1, "UPDATE kv SET v = 3 WHERE k = 'x'"),
            (1, "SELECT v FROM kv WHERE k = 'x'"),
            (1, "ROLLBACK"),
            (0, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE kv SET v = 2 WHERE k = 'x' -> affected 1
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: SET LOCAL lock_timeout = '1ms' -> ok
            s2: UPDATE kv SET v = 3 WHERE k = 'x' -> error 55P03
            s2: SELECT v FROM kv WHERE k = 'x' -> error 25P02
            s2: ROLLBACK -> ok
            s1: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 2)]
        ",
    },
    LiteralScript {
        name: "lock-wait-shorter-than-lock-timeout-succeeds",
        about: "a lock wait that ends before lock_timeout is an ordinary wait",
        setup: &["INSERT INTO kv VALUES ('x', 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "UPDATE kv SET v = 2 WHERE k = 'x'"),
            (1, RC),
            (1, "SET LOCAL lock_timeout = '1min'"),
            (1, "UPDATE kv SET v = v + 1 WHERE k = 'x'"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE kv SET v = 2 WHERE k = 'x' -> affected 1
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: SET LOCAL lock_timeout = '1min' -> ok
            s2: UPDATE kv SET v = v + 1 WHERE k = 'x' -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            s2: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 3)]
        ",
    },
    LiteralScript {
        name: "set-local-and-rolled-back-set-end-with-their-transaction",
        about: "SET LOCAL lasts to the end of its transaction, and a plain \
                SET in a transaction that rolls back is undone: the next \
                wait has no lock_timeout",
        setup: &["INSERT INTO kv VALUES ('x', 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "UPDATE kv SET v = 2 WHERE k = 'x'"),
            (1, RC),
            (1, "SET LOCAL lock_timeout = '1ms'"),
            (1, "COMMIT"),
            (1, RC),
            (1, "SET lock_timeout = '1ms'"),
            (1, "ROLLBACK"),
            (1, "UPDATE kv SET v = v + 1 WHERE k = 'x'"),
            (0, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE kv SET v = 2 WHERE k = 'x' -> affected 1
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: SET LOCAL lock_timeout = '1ms' -> ok
            s2: COMMIT -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: SET lock_timeout = '1ms' -> ok
            s2: ROLLBACK -> ok
            s2: UPDATE kv SET v = v + 1 WHERE k = 'x' -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 3)]
        ",
    },
    LiteralScript {
        name: "session-lock-timeout-lasts-until-reset",
        about: "a plain SET lock_timeout holds for the session's later \
                statements, in and out of transaction blocks, until RESET",
        setup: &["INSERT INTO kv VALUES ('x', 1)"],
        sessions: 2,
        steps: &[
            (1, "SET lock_timeout = '1ms'"),
            (0, RC),
            (0, "UPDATE kv SET v = 2 WHERE k = 'x'"),
            (1, "UPDATE kv SET v = 3 WHERE k = 'x'"),
            (1, RC),
            (1, "UPDATE kv SET v = 4 WHERE k = 'x'"),
            (1, "ROLLBACK"),
            (1, "RESET lock_timeout"),
            (1, "UPDATE kv SET v = v + 1 WHERE k = 'x'"),
            (0, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s2: SET lock_timeout = '1ms' -> ok
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE kv SET v = 2 WHERE k = 'x' -> affected 1
            s2: UPDATE kv SET v = 3 WHERE k = 'x' -> error 55P03
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: UPDATE kv SET v = 4 WHERE k = 'x' -> error 55P03
            s2: ROLLBACK -> ok
            s2: RESET lock_timeout -> ok
            s2: UPDATE kv SET v = v + 1 WHERE k = 'x' -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 3)]
        ",
    },
    LiteralScript {
        name: "statement-timeout-cancels-a-lock-wait",
        about: "a statement that waits longer than statement_timeout fails \
                with 57014, before a longer lock_timeout",
        setup: &["INSERT INTO kv VALUES ('x', 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "UPDATE kv SET v = 2 WHERE k = 'x'"),
            (1, RC),
            (1, "SET LOCAL lock_timeout = '1min'"),
            (1, "SET LOCAL statement_timeout = '1ms'"),
            (1, "UPDATE kv SET v = 3 WHERE k = 'x'"),
            (1, "ROLLBACK"),
            (0, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE kv SET v = 2 WHERE k = 'x' -> affected 1
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: SET LOCAL lock_timeout = '1min' -> ok
            s2: SET LOCAL statement_timeout = '1ms' -> ok
            s2: UPDATE kv SET v = 3 WHERE k = 'x' -> error 57014
            s2: ROLLBACK -> ok
            s1: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 2)]
        ",
    },
    LiteralScript {
        name: "advisory-lock-waits-until-commit",
        about: "pg_advisory_xact_lock waits for the holder's commit, and \
                under lock_timeout the wait fails with 55P03",
        setup: &[],
        sessions: 3,
        steps: &[
            (0, RC),
            (0, "SELECT pg_advisory_xact_lock(1)"),
            (1, RC),
            (1, "SELECT pg_advisory_xact_lock(1)"),
            (2, RC),
            (2, "SET LOCAL lock_timeout = '1ms'"),
            (2, "SELECT pg_advisory_xact_lock(1)"),
            (2, "ROLLBACK"),
            (0, "COMMIT"),
            (1, "SELECT pg_try_advisory_xact_lock(1, 1) AS pair, 2 AS two"),
            (1, "COMMIT"),
        ],
        check: &[],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: SELECT pg_advisory_xact_lock(1) -> [()]
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: SELECT pg_advisory_xact_lock(1) -> waiting
            s3: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s3: SET LOCAL lock_timeout = '1ms' -> ok
            s3: SELECT pg_advisory_xact_lock(1) -> error 55P03
            s3: ROLLBACK -> ok
            s1: COMMIT -> ok
            s2 <- [()]
            s2: SELECT pg_try_advisory_xact_lock(1, 1) AS pair, 2 AS two -> [(t, 2)]
            s2: COMMIT -> ok
        ",
    },
    LiteralScript {
        name: "advisory-shared-locks-and-try-locks",
        about: "shared advisory locks share; a try-lock returns false \
                instead of waiting, also behind a queued exclusive waiter, \
                which gets the lock when the last shared holder ends",
        setup: &[],
        sessions: 4,
        steps: &[
            (0, RC),
            (0, "SELECT pg_advisory_xact_lock_shared(1)"),
            (1, RC),
            (1, "SELECT pg_try_advisory_xact_lock_shared(1) AS shared, pg_try_advisory_xact_lock(1) AS exclusive, pg_try_advisory_xact_lock(2) AS other"),
            (2, RC),
            (2, "SELECT pg_advisory_xact_lock(1)"),
            (3, RC),
            (3, "SELECT pg_try_advisory_xact_lock_shared(1)"),
            (0, "SELECT pg_try_advisory_xact_lock_shared(1)"),
            (0, "COMMIT"),
            (1, "COMMIT"),
            (3, "SELECT pg_try_advisory_xact_lock_shared(1)"),
            (2, "COMMIT"),
            (3, "COMMIT"),
        ],
        check: &[],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: SELECT pg_advisory_xact_lock_shared(1) -> [()]
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: SELECT pg_try_advisory_xact_lock_shared(1) AS shared, pg_try_advisory_xact_lock(1) AS exclusive, pg_try_advisory_xact_lock(2) AS other -> [(t, f, t)]
            s3: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s3: SELECT pg_advisory_xact_lock(1) -> waiting
            s4: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s4: SELECT pg_try_advisory_xact_lock_shared(1) -> [(f)]
            s1: SELECT pg_try_advisory_xact_lock_shared(1) -> [(t)]
            s1: COMMIT -> ok
            s2: COMMIT -> ok
            s3 <- [()]
            s4: SELECT pg_try_advisory_xact_lock_shared(1) -> [(f)]
            s3: COMMIT -> ok
            s4: COMMIT -> ok
        ",
    },
    LiteralScript {
        name: "advisory-and-row-lock-deadlock",
        about: "a wait for an advisory lock and a wait for a row lock close \
                a cycle: the second waiter fails with 40P01",
        setup: &["INSERT INTO kv VALUES ('x', 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "SELECT pg_advisory_xact_lock(7)"),
            (1, RC),
            (1, "UPDATE kv SET v = 2 WHERE k = 'x'"),
            (0, "UPDATE kv SET v = 3 WHERE k = 'x'"),
            (1, "SELECT pg_advisory_xact_lock(7)"),
            (1, "ROLLBACK"),
            (0, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: SELECT pg_advisory_xact_lock(7) -> [()]
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: UPDATE kv SET v = 2 WHERE k = 'x' -> affected 1
            s1: UPDATE kv SET v = 3 WHERE k = 'x' -> waiting
            s2: SELECT pg_advisory_xact_lock(7) -> error 40P01
            s1 <- affected 1
            s2: ROLLBACK -> ok
            s1: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 3)]
        ",
    },
    LiteralScript {
        name: "deferrable-read-only-waits-for-a-safe-snapshot",
        about: "a SERIALIZABLE READ ONLY DEFERRABLE reader waits for the \
                read-write transaction running at its snapshot; that one \
                commits with a conflict out to a transaction committed \
                before the snapshot, so the reader takes a new snapshot, \
                which is safe: it sees both commits and nothing fails \
                (PostgreSQL's read-only-anomaly-3)",
        setup: &["INSERT INTO kv VALUES ('x', 0), ('y', 0)"],
        sessions: 3,
        steps: &[
            (1, SER),
            (1, "SELECT v FROM kv WHERE k = 'x'"),
            (1, "SELECT v FROM kv WHERE k = 'y'"),
            (0, SER),
            (0, "SELECT v FROM kv WHERE k = 'y'"),
            (0, "UPDATE kv SET v = 20 WHERE k = 'y'"),
            (0, "COMMIT"),
            (2, "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE"),
            (2, "SELECT k, v FROM kv ORDER BY k"),
            (1, "UPDATE kv SET v = -11 WHERE k = 'x'"),
            (1, "COMMIT"),
            (2, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: SELECT v FROM kv WHERE k = 'x' -> [(0)]
            s2: SELECT v FROM kv WHERE k = 'y' -> [(0)]
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SELECT v FROM kv WHERE k = 'y' -> [(0)]
            s1: UPDATE kv SET v = 20 WHERE k = 'y' -> affected 1
            s1: COMMIT -> ok
            s3: BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE -> ok
            s3: SELECT k, v FROM kv ORDER BY k -> waiting
            s2: UPDATE kv SET v = -11 WHERE k = 'x' -> affected 1
            s2: COMMIT -> ok
            s3 <- [(x, -11) (y, 20)]
            s3: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(x, -11) (y, 20)]
        ",
    },
    LiteralScript {
        name: "read-only-without-deferrable-fails-the-writer",
        about: "the same schedule with a READ ONLY reader that does not \
                wait: it reads a state no serial order explains unless the \
                writer fails, and the writer does, with 40001 \
                (PostgreSQL's read-only-anomaly-2)",
        setup: &["INSERT INTO kv VALUES ('x', 0), ('y', 0)"],
        sessions: 3,
        steps: &[
            (1, SER),
            (1, "SELECT v FROM kv WHERE k = 'x'"),
            (1, "SELECT v FROM kv WHERE k = 'y'"),
            (0, SER),
            (0, "SELECT v FROM kv WHERE k = 'y'"),
            (0, "UPDATE kv SET v = 20 WHERE k = 'y'"),
            (0, "COMMIT"),
            (2, SER_RO),
            (2, "SELECT k, v FROM kv ORDER BY k"),
            (1, "UPDATE kv SET v = -11 WHERE k = 'x'"),
            (1, "COMMIT"),
            (2, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: SELECT v FROM kv WHERE k = 'x' -> [(0)]
            s2: SELECT v FROM kv WHERE k = 'y' -> [(0)]
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SELECT v FROM kv WHERE k = 'y' -> [(0)]
            s1: UPDATE kv SET v = 20 WHERE k = 'y' -> affected 1
            s1: COMMIT -> ok
            s3: BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY -> ok
            s3: SELECT k, v FROM kv ORDER BY k -> [(x, 0) (y, 20)]
            s2: UPDATE kv SET v = -11 WHERE k = 'x' -> error 40001
            s2: COMMIT -> ok
            s3: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 0) (y, 20)]
        ",
    },
    LiteralScript {
        name: "deferrable-read-only-with-no-writer-running-does-not-wait",
        about: "DEFERRABLE waits only for read-write serializable \
                transactions: with only a Read Committed writer running its \
                snapshot is safe at once; without READ ONLY it has no effect",
        setup: &["INSERT INTO kv VALUES ('x', 0)"],
        sessions: 3,
        steps: &[
            (0, RC),
            (0, "UPDATE kv SET v = 1 WHERE k = 'x'"),
            (1, "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE"),
            (1, "SELECT v FROM kv WHERE k = 'x'"),
            (2, "BEGIN ISOLATION LEVEL SERIALIZABLE DEFERRABLE"),
            (2, "SELECT v FROM kv WHERE k = 'x'"),
            (0, "COMMIT"),
            (1, "COMMIT"),
            (2, "COMMIT"),
        ],
        check: &[],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE kv SET v = 1 WHERE k = 'x' -> affected 1
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE -> ok
            s2: SELECT v FROM kv WHERE k = 'x' -> [(0)]
            s3: BEGIN ISOLATION LEVEL SERIALIZABLE DEFERRABLE -> ok
            s3: SELECT v FROM kv WHERE k = 'x' -> [(0)]
            s1: COMMIT -> ok
            s2: COMMIT -> ok
            s3: COMMIT -> ok
        ",
    },
    LiteralScript {
        name: "exclusion-mutual-wait-deadlocks-read-committed",
        about: "an insert that waits for an overlapping uncommitted stay has \
                its own index entry in place already: a later insert of the \
                first transaction over it waits back, and the deadlock kills \
                the one closing the cycle; the other then succeeds",
        setup: &[],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "INSERT INTO stay VALUES (1, 1, '[1,5)')"),
            (1, "INSERT INTO stay VALUES (2, 1, '[3,7)')"),
            (0, "INSERT INTO stay VALUES (3, 1, '[6,9)')"),
            (0, "ROLLBACK"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, room, span FROM stay ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO stay VALUES (1, 1, '[1,5)') -> affected 1
            s2: INSERT INTO stay VALUES (2, 1, '[3,7)') -> waiting
            s1: INSERT INTO stay VALUES (3, 1, '[6,9)') -> error 40P01
            s2 <- affected 1
            s1: ROLLBACK -> ok
            s2: COMMIT -> ok
            check: SELECT id, room, span FROM stay ORDER BY id -> [(2, 1, [3,7))]
        ",
    },
    LiteralScript {
        name: "exclusion-mutual-wait-deadlocks-serializable",
        about: "the same at Serializable after both read the room: the \
                deadlock comes first, and the survivor commits since its \
                rw partner is gone",
        setup: &[],
        sessions: 2,
        steps: &[
            (0, SER),
            (1, SER),
            (0, "SELECT count(*) FROM stay WHERE room = 1"),
            (1, "SELECT count(*) FROM stay WHERE room = 1"),
            (0, "INSERT INTO stay VALUES (1, 1, '[1,5)')"),
            (1, "INSERT INTO stay VALUES (2, 1, '[3,7)')"),
            (0, "INSERT INTO stay VALUES (3, 1, '[6,9)')"),
            (0, "ROLLBACK"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, room, span FROM stay ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SELECT count(*) FROM stay WHERE room = 1 -> [(0)]
            s2: SELECT count(*) FROM stay WHERE room = 1 -> [(0)]
            s1: INSERT INTO stay VALUES (1, 1, '[1,5)') -> affected 1
            s2: INSERT INTO stay VALUES (2, 1, '[3,7)') -> waiting
            s1: INSERT INTO stay VALUES (3, 1, '[6,9)') -> error 40P01
            s2 <- affected 1
            s1: ROLLBACK -> ok
            s2: COMMIT -> ok
            check: SELECT id, room, span FROM stay ORDER BY id -> [(2, 1, [3,7))]
        ",
    },
    LiteralScript {
        name: "exclusion-conflict-with-a-committed-stay-fails-at-once",
        about: "an overlap with a committed stay is 23P01 without a wait",
        setup: &["INSERT INTO stay VALUES (1, 1, '[1,5)')"],
        sessions: 1,
        steps: &[
            (0, RC),
            (0, "INSERT INTO stay VALUES (2, 1, '[3,7)')"),
            (0, "ROLLBACK"),
        ],
        check: &["SELECT id, room, span FROM stay ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO stay VALUES (2, 1, '[3,7)') -> error 23P01
            s1: ROLLBACK -> ok
            check: SELECT id, room, span FROM stay ORDER BY id -> [(1, 1, [1,5))]
        ",
    },
    LiteralScript {
        name: "exclusion-conflict-with-a-stay-rolled-back-succeeds",
        about: "an overlap with an uncommitted stay waits for its \
                transaction, and succeeds when it rolls back",
        setup: &[],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "INSERT INTO stay VALUES (1, 1, '[1,5)')"),
            (1, "INSERT INTO stay VALUES (2, 1, '[3,7)')"),
            (0, "ROLLBACK"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, room, span FROM stay ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO stay VALUES (1, 1, '[1,5)') -> affected 1
            s2: INSERT INTO stay VALUES (2, 1, '[3,7)') -> waiting
            s1: ROLLBACK -> ok
            s2 <- affected 1
            s2: COMMIT -> ok
            check: SELECT id, room, span FROM stay ORDER BY id -> [(2, 1, [3,7))]
        ",
    },
    LiteralScript {
        name: "exclusion-waiter-finds-the-committed-stay-before-a-later-entry",
        about: "when the stay an insert waited for commits, the insert fails \
                with 23P01 on it, the oldest entry, rather than waiting for \
                the transaction of a later entry that overlaps it too",
        setup: &[],
        sessions: 3,
        steps: &[
            (0, RC),
            (1, RC),
            (2, RC),
            (0, "INSERT INTO stay VALUES (1, 1, '[1,5)')"),
            (2, "INSERT INTO stay VALUES (3, 1, '[6,8)')"),
            (1, "INSERT INTO stay VALUES (2, 1, '[3,7)')"),
            (0, "COMMIT"),
            (1, "ROLLBACK"),
            (2, "COMMIT"),
        ],
        check: &["SELECT id, room, span FROM stay ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s3: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO stay VALUES (1, 1, '[1,5)') -> affected 1
            s3: INSERT INTO stay VALUES (3, 1, '[6,8)') -> affected 1
            s2: INSERT INTO stay VALUES (2, 1, '[3,7)') -> waiting
            s1: COMMIT -> ok
            s2 <- error 23P01
            s2: ROLLBACK -> ok
            s3: COMMIT -> ok
            check: SELECT id, room, span FROM stay ORDER BY id -> [(1, 1, [1,5)) (3, 1, [6,8))]
        ",
    },
    LiteralScript {
        name: "exclusion-waits-for-an-older-uncommitted-entry-first",
        about: "a stay overlapping both an uncommitted stay and a committed \
                one inserted after it waits for the uncommitted one first",
        setup: &[],
        sessions: 3,
        steps: &[
            (0, RC),
            (1, RC),
            (2, RC),
            (0, "INSERT INTO stay VALUES (1, 1, '[1,3)')"),
            (1, "INSERT INTO stay VALUES (2, 1, '[3,5)')"),
            (1, "COMMIT"),
            (2, "INSERT INTO stay VALUES (3, 1, '[2,4)')"),
            (0, "ROLLBACK"),
            (2, "ROLLBACK"),
        ],
        check: &["SELECT id, room, span FROM stay ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s3: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO stay VALUES (1, 1, '[1,3)') -> affected 1
            s2: INSERT INTO stay VALUES (2, 1, '[3,5)') -> affected 1
            s2: COMMIT -> ok
            s3: INSERT INTO stay VALUES (3, 1, '[2,4)') -> waiting
            s1: ROLLBACK -> ok
            s3 <- error 23P01
            s3: ROLLBACK -> ok
            check: SELECT id, room, span FROM stay ORDER BY id -> [(2, 1, [3,5))]
        ",
    },
    LiteralScript {
        name: "exclusion-fails-on-an-older-committed-entry-first",
        about: "a stay overlapping both a committed stay and an uncommitted \
                one inserted after it fails at once",
        setup: &["INSERT INTO stay VALUES (2, 1, '[3,5)')"],
        sessions: 3,
        steps: &[
            (0, RC),
            (2, RC),
            (0, "INSERT INTO stay VALUES (1, 1, '[1,3)')"),
            (2, "INSERT INTO stay VALUES (3, 1, '[2,4)')"),
            (0, "ROLLBACK"),
            (2, "ROLLBACK"),
        ],
        check: &["SELECT id, room, span FROM stay ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s3: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO stay VALUES (1, 1, '[1,3)') -> affected 1
            s3: INSERT INTO stay VALUES (3, 1, '[2,4)') -> error 23P01
            s1: ROLLBACK -> ok
            s3: ROLLBACK -> ok
            check: SELECT id, room, span FROM stay ORDER BY id -> [(2, 1, [3,5))]
        ",
    },
    LiteralScript {
        name: "exclusion-update-onto-a-span-being-vacated-waits",
        about: "an UPDATE moving a stay onto the span of one another \
                transaction is moving away waits for it: it succeeds when \
                that commits, and fails with 23P01 when it rolls back",
        setup: &["INSERT INTO stay VALUES (1, 1, '[1,3)'), (2, 1, '[5,7)'), (3, 2, '[1,3)'), (4, 2, '[5,7)')"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "UPDATE stay SET span = '[8,9)' WHERE id = 2"),
            (1, "UPDATE stay SET span = '[5,7)' WHERE id = 1"),
            (0, "COMMIT"),
            (1, "COMMIT"),
            (0, RC),
            (1, RC),
            (0, "UPDATE stay SET span = '[8,9)' WHERE id = 4"),
            (1, "UPDATE stay SET span = '[5,7)' WHERE id = 3"),
            (0, "ROLLBACK"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT id, room, span FROM stay ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE stay SET span = '[8,9)' WHERE id = 2 -> affected 1
            s2: UPDATE stay SET span = '[5,7)' WHERE id = 1 -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            s2: COMMIT -> ok
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE stay SET span = '[8,9)' WHERE id = 4 -> affected 1
            s2: UPDATE stay SET span = '[5,7)' WHERE id = 3 -> waiting
            s1: ROLLBACK -> ok
            s2 <- error 23P01
            s2: ROLLBACK -> ok
            check: SELECT id, room, span FROM stay ORDER BY id -> [(1, 1, [5,7)) (2, 1, [8,9)) (3, 2, [1,3)) (4, 2, [5,7))]
        ",
    },
    LiteralScript {
        name: "exclusion-update-onto-a-waiting-insert-deadlocks",
        about: "an UPDATE whose new span overlaps the entry of an insert \
                waiting for it waits back: a deadlock",
        setup: &["INSERT INTO stay VALUES (1, 1, '[1,3)'), (2, 1, '[5,7)')"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "UPDATE stay SET span = '[3,4)' WHERE id = 1"),
            (1, "INSERT INTO stay VALUES (3, 1, '[3,5)')"),
            (0, "UPDATE stay SET span = '[4,7)' WHERE id = 2"),
            (0, "ROLLBACK"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, room, span FROM stay ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE stay SET span = '[3,4)' WHERE id = 1 -> affected 1
            s2: INSERT INTO stay VALUES (3, 1, '[3,5)') -> waiting
            s1: UPDATE stay SET span = '[4,7)' WHERE id = 2 -> error 40P01
            s2 <- affected 1
            s1: ROLLBACK -> ok
            s2: COMMIT -> ok
            check: SELECT id, room, span FROM stay ORDER BY id -> [(1, 1, [1,3)) (2, 1, [5,7)) (3, 1, [3,5))]
        ",
    },
    LiteralScript {
        name: "read-committed-key-share-returns-the-version-it-found",
        about: "at Read Committed FOR KEY SHARE of a row updated (without a \
                key change) and locked by another transaction waits, then \
                returns the version its statement found, not the newest",
        setup: &["INSERT INTO kv VALUES ('a', 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "UPDATE kv SET v = 2 WHERE k = 'a'"),
            (0, "SELECT v FROM kv WHERE k = 'a' FOR UPDATE"),
            (1, "SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE kv SET v = 2 WHERE k = 'a' -> affected 1
            s1: SELECT v FROM kv WHERE k = 'a' FOR UPDATE -> [(2)]
            s2: SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE -> waiting
            s1: COMMIT -> ok
            s2 <- [(1)]
            s2: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(a, 2)]
        ",
    },
    LiteralScript {
        name: "an-upgrading-holder-goes-ahead-of-a-queued-waiter",
        about: "a transaction that holds KEY SHARE and upgrades (an UPDATE) \
                waits only for the holders it conflicts with, not behind a \
                FOR UPDATE queued for the row, so the two do not deadlock \
                (PostgreSQL's tuplelock-upgrade-no-deadlock)",
        setup: &["INSERT INTO kv VALUES ('a', 1)"],
        sessions: 3,
        steps: &[
            (0, RC),
            (1, RC),
            (2, RC),
            (0, "SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE"),
            (1, "SELECT v FROM kv WHERE k = 'a' FOR UPDATE"),
            (2, "SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE"),
            (0, "UPDATE kv SET v = 2 WHERE k = 'a'"),
            (2, "UPDATE kv SET v = 3 WHERE k = 'a'"),
            (0, "ROLLBACK"),
            (2, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s3: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE -> [(1)]
            s2: SELECT v FROM kv WHERE k = 'a' FOR UPDATE -> waiting
            s3: SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE -> [(1)]
            s1: UPDATE kv SET v = 2 WHERE k = 'a' -> affected 1
            s3: UPDATE kv SET v = 3 WHERE k = 'a' -> waiting
            s1: ROLLBACK -> ok
            s3 <- affected 1
            s3: COMMIT -> ok
            s2 <- [(3)]
            s2: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(a, 3)]
        ",
    },
    LiteralScript {
        name: "an-upgrade-released-by-rollback-to-savepoint-goes-on",
        about: "an upgrading holder waiting for another holder's stronger lock \
                goes on when ROLLBACK TO SAVEPOINT weakens that lock, ahead of \
                a FOR UPDATE queued before it",
        setup: &["INSERT INTO kv VALUES ('a', 1)"],
        sessions: 3,
        steps: &[
            (0, RC),
            (1, RC),
            (2, RC),
            (0, "SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE"),
            (2, "SELECT v FROM kv WHERE k = 'a' FOR UPDATE"),
            (1, "SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE"),
            (0, "SAVEPOINT e"),
            (0, "SELECT v FROM kv WHERE k = 'a' FOR NO KEY UPDATE"),
            (1, "SELECT v FROM kv WHERE k = 'a' FOR NO KEY UPDATE"),
            (0, "ROLLBACK TO SAVEPOINT e"),
            (0, "ROLLBACK"),
            (1, "ROLLBACK"),
            (2, "ROLLBACK"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s3: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE -> [(1)]
            s3: SELECT v FROM kv WHERE k = 'a' FOR UPDATE -> waiting
            s2: SELECT v FROM kv WHERE k = 'a' FOR KEY SHARE -> [(1)]
            s1: SAVEPOINT e -> ok
            s1: SELECT v FROM kv WHERE k = 'a' FOR NO KEY UPDATE -> [(1)]
            s2: SELECT v FROM kv WHERE k = 'a' FOR NO KEY UPDATE -> waiting
            s1: ROLLBACK TO SAVEPOINT e -> ok
            s2 <- [(1)]
            s1: ROLLBACK -> ok
            s2: ROLLBACK -> ok
            s3 <- [(1)]
            s3: ROLLBACK -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(a, 1)]
        ",
    },
    LiteralScript {
        name: "set-transaction-before-the-first-query-sets-the-level",
        about: "SET TRANSACTION right after BEGIN changes the level of the \
                transaction (its snapshot is taken at the first query); \
                after a query a change is refused with 25001",
        setup: &["INSERT INTO kv VALUES ('a', 1)"],
        sessions: 2,
        steps: &[
            (0, "BEGIN"),
            (0, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"),
            (0, "SELECT v FROM kv WHERE k = 'a'"),
            (1, "UPDATE kv SET v = 2 WHERE k = 'a'"),
            (0, "SELECT v FROM kv WHERE k = 'a'"),
            (0, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"),
            (0, "ABORT"),
            (0, "START TRANSACTION"),
            (0, "SELECT v FROM kv WHERE k = 'a'"),
            (1, "UPDATE kv SET v = 3 WHERE k = 'a'"),
            (0, "SELECT v FROM kv WHERE k = 'a'"),
            (0, "END"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN -> ok
            s1: SET TRANSACTION ISOLATION LEVEL REPEATABLE READ -> ok
            s1: SELECT v FROM kv WHERE k = 'a' -> [(1)]
            s2: UPDATE kv SET v = 2 WHERE k = 'a' -> affected 1
            s1: SELECT v FROM kv WHERE k = 'a' -> [(1)]
            s1: SET TRANSACTION ISOLATION LEVEL READ COMMITTED -> error 25001
            s1: ABORT -> ok
            s1: START TRANSACTION -> ok
            s1: SELECT v FROM kv WHERE k = 'a' -> [(2)]
            s2: UPDATE kv SET v = 3 WHERE k = 'a' -> affected 1
            s1: SELECT v FROM kv WHERE k = 'a' -> [(3)]
            s1: END -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(a, 3)]
        ",
    },
    LiteralScript {
        name: "session-characteristics-set-the-level-of-later-transactions",
        about: "SET SESSION CHARACTERISTICS and default_transaction_isolation \
                give later BEGINs their level: a repeatable read block keeps \
                its snapshot and its update of a row changed since fails \
                with 40001",
        setup: &["INSERT INTO kv VALUES ('a', 1)"],
        sessions: 2,
        steps: &[
            (0, "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ"),
            (0, "BEGIN"),
            (0, "SELECT v FROM kv WHERE k = 'a'"),
            (1, "UPDATE kv SET v = 2 WHERE k = 'a'"),
            (0, "SELECT v FROM kv WHERE k = 'a'"),
            (0, "UPDATE kv SET v = 10 WHERE k = 'a'"),
            (0, "ROLLBACK"),
            (0, "SET default_transaction_isolation = 'read committed'"),
            (0, "BEGIN"),
            (0, "SELECT v FROM kv WHERE k = 'a'"),
            (1, "UPDATE kv SET v = 3 WHERE k = 'a'"),
            (0, "UPDATE kv SET v = v + 10 WHERE k = 'a'"),
            (0, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ -> ok
            s1: BEGIN -> ok
            s1: SELECT v FROM kv WHERE k = 'a' -> [(1)]
            s2: UPDATE kv SET v = 2 WHERE k = 'a' -> affected 1
            s1: SELECT v FROM kv WHERE k = 'a' -> [(1)]
            s1: UPDATE kv SET v = 10 WHERE k = 'a' -> error 40001
            s1: ROLLBACK -> ok
            s1: SET default_transaction_isolation = 'read committed' -> ok
            s1: BEGIN -> ok
            s1: SELECT v FROM kv WHERE k = 'a' -> [(2)]
            s2: UPDATE kv SET v = 3 WHERE k = 'a' -> affected 1
            s1: UPDATE kv SET v = v + 10 WHERE k = 'a' -> affected 1
            s1: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(a, 13)]
        ",
    },
    LiteralScript {
        name: "deadlock-check-runs-on-the-waiters-own-timeout",
        about: "the deadlock check runs in each waiter after its own \
                deadlock_timeout, once per wait: a cycle closed by a \
                transaction whose timeout is long, after the other waiter \
                checked and found none, stays until that timeout",
        setup: &["INSERT INTO kv VALUES ('a', 1), ('b', 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "SET deadlock_timeout = '100s'"),
            (0, "UPDATE kv SET v = 2 WHERE k = 'a'"),
            (1, "UPDATE kv SET v = 3 WHERE k = 'b'"),
            (1, "UPDATE kv SET v = 3 WHERE k = 'a'"),
            (0, "UPDATE kv SET v = 2 WHERE k = 'b'"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: SET deadlock_timeout = '100s' -> ok
            s1: UPDATE kv SET v = 2 WHERE k = 'a' -> affected 1
            s2: UPDATE kv SET v = 3 WHERE k = 'b' -> affected 1
            s2: UPDATE kv SET v = 3 WHERE k = 'a' -> waiting
            s1: UPDATE kv SET v = 2 WHERE k = 'b' -> waiting
            s1 still waiting at the end
            s2 still waiting at the end
            check: SELECT k, v FROM kv ORDER BY k -> [(a, 1) (b, 1)]
        ",
    },
    LiteralScript {
        name: "deadlock-found-by-the-waiter-with-the-short-timeout",
        about: "of two transactions in a deadlock, the one whose own \
                deadlock_timeout expires first runs the check and fails \
                with 40P01, whichever closed the cycle",
        setup: &["INSERT INTO kv VALUES ('a', 1), ('b', 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "SET deadlock_timeout = '100s'"),
            (0, "UPDATE kv SET v = 2 WHERE k = 'a'"),
            (1, "UPDATE kv SET v = 3 WHERE k = 'b'"),
            (0, "UPDATE kv SET v = 2 WHERE k = 'b'"),
            (1, "UPDATE kv SET v = 3 WHERE k = 'a'"),
            (0, "COMMIT"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: SET deadlock_timeout = '100s' -> ok
            s1: UPDATE kv SET v = 2 WHERE k = 'a' -> affected 1
            s2: UPDATE kv SET v = 3 WHERE k = 'b' -> affected 1
            s1: UPDATE kv SET v = 2 WHERE k = 'b' -> waiting
            s2: UPDATE kv SET v = 3 WHERE k = 'a' -> error 40P01
            s1 <- affected 1
            s1: COMMIT -> ok
            s2: ROLLBACK -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(a, 2) (b, 2)]
        ",
    },
    LiteralScript {
        name: "planner-switches-turn-a-keyed-read-into-a-table-lock",
        about: "with enable_indexscan and enable_bitmapscan off a read by \
                key is a sequential scan, whose SSI predicate lock covers \
                the whole table: an update of another row then closes a \
                write skew that the index scan's lock does not",
        setup: &["INSERT INTO kv VALUES ('a', 1), ('b', 1)"],
        sessions: 2,
        steps: &[
            (0, SER),
            (1, SER),
            // Pinned to a plain index scan: left to itself, PostgreSQL may
            // pick a bitmap heap scan, whose page-level lock also covers
            // 'b' (seen on a fresh server: 40001 where this expects ok).
            (0, "SET LOCAL enable_seqscan = off"),
            (0, "SET LOCAL enable_bitmapscan = off"),
            (0, "SELECT v FROM kv WHERE k = 'a'"),
            (1, "SELECT v FROM kv WHERE k = 'a'"),
            (1, "UPDATE kv SET v = 2 WHERE k = 'b'"),
            (0, "UPDATE kv SET v = 2 WHERE k = 'a'"),
            (0, "COMMIT"),
            (1, "COMMIT"),
            (0, SER),
            (1, SER),
            (0, "SET LOCAL enable_indexscan = off"),
            (0, "SET LOCAL enable_bitmapscan = off"),
            (0, "SELECT v FROM kv WHERE k = 'a'"),
            (1, "SELECT v FROM kv WHERE k = 'a'"),
            (1, "UPDATE kv SET v = 3 WHERE k = 'b'"),
            (0, "UPDATE kv SET v = 3 WHERE k = 'a'"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SET LOCAL enable_seqscan = off -> ok
            s1: SET LOCAL enable_bitmapscan = off -> ok
            s1: SELECT v FROM kv WHERE k = 'a' -> [(1)]
            s2: SELECT v FROM kv WHERE k = 'a' -> [(1)]
            s2: UPDATE kv SET v = 2 WHERE k = 'b' -> affected 1
            s1: UPDATE kv SET v = 2 WHERE k = 'a' -> affected 1
            s1: COMMIT -> ok
            s2: COMMIT -> ok
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SET LOCAL enable_indexscan = off -> ok
            s1: SET LOCAL enable_bitmapscan = off -> ok
            s1: SELECT v FROM kv WHERE k = 'a' -> [(2)]
            s2: SELECT v FROM kv WHERE k = 'a' -> [(2)]
            s2: UPDATE kv SET v = 3 WHERE k = 'b' -> affected 1
            s1: UPDATE kv SET v = 3 WHERE k = 'a' -> affected 1
            s1: COMMIT -> ok
            s2: COMMIT -> error 40001
            check: SELECT k, v FROM kv ORDER BY k -> [(a, 3) (b, 2)]
        ",
    },
    LiteralScript {
        name: "heap-update-waits-then-read-committed-rechecks-the-newest-version",
        about: "on a table without a primary key an UPDATE of a row another \
                transaction updated waits for it, then at Read Committed \
                re-checks its WHERE on the newest version (EvalPlanQual) and \
                skips the row that no longer matches",
        setup: &["INSERT INTO heap VALUES (1, 0), (2, 0)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "UPDATE heap SET v = 5 WHERE id = 1"),
            (1, "UPDATE heap SET v = v + 100 WHERE v = 0"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, v FROM heap ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE heap SET v = 5 WHERE id = 1 -> affected 1
            s2: UPDATE heap SET v = v + 100 WHERE v = 0 -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            s2: COMMIT -> ok
            check: SELECT id, v FROM heap ORDER BY id -> [(1, 5) (2, 100)]
        ",
    },
    LiteralScript {
        name: "heap-delete-waits-then-read-committed-finds-nothing",
        about: "on a table without a primary key a DELETE of a row another \
                transaction deleted waits for it and at Read Committed then \
                deletes nothing; a second DELETE of a row being updated \
                deletes the updated version",
        setup: &["INSERT INTO heap VALUES (1, 0), (2, 0)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "DELETE FROM heap WHERE id = 1"),
            (0, "UPDATE heap SET v = 7 WHERE id = 2"),
            (1, "DELETE FROM heap WHERE id = 1 RETURNING v"),
            (0, "COMMIT"),
            (1, "DELETE FROM heap WHERE id = 2 RETURNING v"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, v FROM heap ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: DELETE FROM heap WHERE id = 1 -> affected 1
            s1: UPDATE heap SET v = 7 WHERE id = 2 -> affected 1
            s2: DELETE FROM heap WHERE id = 1 RETURNING v -> waiting
            s1: COMMIT -> ok
            s2 <- []
            s2: DELETE FROM heap WHERE id = 2 RETURNING v -> [(7)]
            s2: COMMIT -> ok
            check: SELECT id, v FROM heap ORDER BY id -> []
        ",
    },
    LiteralScript {
        name: "heap-repeatable-read-update-of-a-row-updated-since-fails",
        about: "on a table without a primary key a Repeatable Read UPDATE of a \
                row a concurrent transaction updated waits for it and fails \
                with 40001 when it commits",
        setup: &["INSERT INTO heap VALUES (1, 0)"],
        sessions: 2,
        steps: &[
            (0, RR),
            (1, RR),
            (1, "SELECT id, v FROM heap"),
            (0, "UPDATE heap SET v = 1 WHERE id = 1"),
            (1, "UPDATE heap SET v = 2 WHERE id = 1"),
            (0, "COMMIT"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT id, v FROM heap ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL REPEATABLE READ -> ok
            s2: BEGIN ISOLATION LEVEL REPEATABLE READ -> ok
            s2: SELECT id, v FROM heap -> [(1, 0)]
            s1: UPDATE heap SET v = 1 WHERE id = 1 -> affected 1
            s2: UPDATE heap SET v = 2 WHERE id = 1 -> waiting
            s1: COMMIT -> ok
            s2 <- error 40001
            s2: ROLLBACK -> ok
            check: SELECT id, v FROM heap ORDER BY id -> [(1, 1)]
        ",
    },
    LiteralScript {
        name: "heap-sequential-scans-lock-the-relation-at-serializable",
        about: "at Serializable a sequential scan of a table without a primary \
                key takes a predicate lock on the whole relation, so two \
                transactions that each read one value and insert another \
                conflict even though their rows differ",
        setup: &[],
        sessions: 2,
        steps: &[
            (0, SER),
            (1, SER),
            (0, "SELECT count(*) FROM heap WHERE v = 1"),
            (1, "SELECT count(*) FROM heap WHERE v = 2"),
            (0, "INSERT INTO heap VALUES (1, 2)"),
            (1, "INSERT INTO heap VALUES (2, 1)"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, v FROM heap ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SELECT count(*) FROM heap WHERE v = 1 -> [(0)]
            s2: SELECT count(*) FROM heap WHERE v = 2 -> [(0)]
            s1: INSERT INTO heap VALUES (1, 2) -> affected 1
            s2: INSERT INTO heap VALUES (2, 1) -> affected 1
            s1: COMMIT -> ok
            s2: COMMIT -> error 40001
            check: SELECT id, v FROM heap ORDER BY id -> [(1, 2)]
        ",
    },
    LiteralScript {
        name: "heap-sequential-scan-returns-updated-rows-last",
        about: "a sequential scan without ORDER BY returns a table's rows in \
                heap order: an updated row's new version comes after the rows \
                that were not updated, and duplicates are kept",
        setup: &["INSERT INTO heap VALUES (1, 0), (2, 0), (3, 0), (3, 0)"],
        sessions: 1,
        steps: &[
            (0, "UPDATE heap SET v = 1 WHERE id = 1"),
            (0, "SELECT * FROM heap"),
            (0, "UPDATE heap SET v = 2 WHERE id = 3"),
            (0, "SELECT id, v FROM heap"),
        ],
        check: &["SELECT * FROM heap"],
        expected: "
            s1: UPDATE heap SET v = 1 WHERE id = 1 -> affected 1
            s1: SELECT * FROM heap -> [(2, 0) (3, 0) (3, 0) (1, 1)]
            s1: UPDATE heap SET v = 2 WHERE id = 3 -> affected 2
            s1: SELECT id, v FROM heap -> [(2, 0) (1, 1) (3, 2) (3, 2)]
            check: SELECT * FROM heap -> [(2, 0) (1, 1) (3, 2) (3, 2)]
        ",
    },
    LiteralScript {
        name: "partial-unique-index-waits-then-23505",
        about: "two transactions each insert an active hold for one seat: \
                the second waits for the first's uncommitted entry in the \
                partial unique index and fails with 23505 once it commits",
        setup: &[],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "INSERT INTO hold VALUES (1, 7, 'active')"),
            (1, "INSERT INTO hold VALUES (2, 7, 'active')"),
            (0, "COMMIT"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT id, seat, status FROM hold ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO hold VALUES (1, 7, 'active') -> affected 1
            s2: INSERT INTO hold VALUES (2, 7, 'active') -> waiting
            s1: COMMIT -> ok
            s2 <- error 23505
            s2: ROLLBACK -> ok
            check: SELECT id, seat, status FROM hold ORDER BY id -> [(1, 7, active)]
        ",
    },
    LiteralScript {
        name: "partial-unique-index-goes-on-after-rollback",
        about: "the second active hold for a seat waits for the first and \
                goes on when the first rolls back",
        setup: &[],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "INSERT INTO hold VALUES (1, 7, 'active')"),
            (1, "INSERT INTO hold VALUES (2, 7, 'active')"),
            (0, "ROLLBACK"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, seat, status FROM hold ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO hold VALUES (1, 7, 'active') -> affected 1
            s2: INSERT INTO hold VALUES (2, 7, 'active') -> waiting
            s1: ROLLBACK -> ok
            s2 <- affected 1
            s2: COMMIT -> ok
            check: SELECT id, seat, status FROM hold ORDER BY id -> [(2, 7, active)]
        ",
    },
    LiteralScript {
        name: "partial-unique-index-ignores-rows-outside-its-predicate",
        about: "a released hold has no entry in the partial unique index: \
                an active hold for the same seat neither waits nor fails, \
                while releasing and re-activating moves rows in and out",
        setup: &[],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "INSERT INTO hold VALUES (1, 7, 'released')"),
            (1, "INSERT INTO hold VALUES (2, 7, 'active')"),
            (0, "COMMIT"),
            (1, "COMMIT"),
            (0, "UPDATE hold SET status = 'active' WHERE id = 1"),
            (1, "UPDATE hold SET status = 'released' WHERE id = 2"),
            (0, "UPDATE hold SET status = 'active' WHERE id = 1"),
        ],
        check: &["SELECT id, seat, status FROM hold ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO hold VALUES (1, 7, 'released') -> affected 1
            s2: INSERT INTO hold VALUES (2, 7, 'active') -> affected 1
            s1: COMMIT -> ok
            s2: COMMIT -> ok
            s1: UPDATE hold SET status = 'active' WHERE id = 1 -> error 23505
            s2: UPDATE hold SET status = 'released' WHERE id = 2 -> affected 1
            s1: UPDATE hold SET status = 'active' WHERE id = 1 -> affected 1
            check: SELECT id, seat, status FROM hold ORDER BY id -> [(1, 7, active) (2, 7, released)]
        ",
    },
    LiteralScript {
        name: "lock-table-share-blocks-writers-and-nowait-sees-the-queue",
        about: "LOCK TABLE ... IN SHARE MODE lets readers and other SHARE \
                lockers in and makes writers wait to its commit; a NOWAIT \
                request that conflicts only with a queued writer fails too, \
                as PostgreSQL's lock manager checks the waiters",
        setup: &["INSERT INTO kv VALUES ('x', 1)"],
        sessions: 3,
        steps: &[
            (0, "BEGIN"),
            (0, "LOCK TABLE kv IN SHARE MODE"),
            (1, "SELECT k, v FROM kv"),
            (2, "BEGIN"),
            (2, "LOCK TABLE kv IN SHARE MODE NOWAIT"),
            (2, "COMMIT"),
            (1, "UPDATE kv SET v = 2 WHERE k = 'x'"),
            (2, "BEGIN"),
            (2, "LOCK TABLE kv IN SHARE MODE NOWAIT"),
            (2, "ROLLBACK"),
            (0, "COMMIT"),
            (1, "SELECT k, v FROM kv"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN -> ok
            s1: LOCK TABLE kv IN SHARE MODE -> ok
            s2: SELECT k, v FROM kv -> [(x, 1)]
            s3: BEGIN -> ok
            s3: LOCK TABLE kv IN SHARE MODE NOWAIT -> ok
            s3: COMMIT -> ok
            s2: UPDATE kv SET v = 2 WHERE k = 'x' -> waiting
            s3: BEGIN -> ok
            s3: LOCK TABLE kv IN SHARE MODE NOWAIT -> error 55P03
            s3: ROLLBACK -> ok
            s1: COMMIT -> ok
            s2 <- affected 1
            s2: SELECT k, v FROM kv -> [(x, 2)]
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 2)]
        ",
    },
    LiteralScript {
        name: "lock-table-only-in-transaction-blocks",
        about: "LOCK TABLE outside a transaction block is 25P01 and on a \
                missing table 42P01; a READ ONLY block may take any mode \
                (PostgreSQL refuses the strong ones only on a standby)",
        setup: &[],
        sessions: 1,
        steps: &[
            (0, "LOCK TABLE kv"),
            (0, "BEGIN"),
            (0, "LOCK TABLE nosuch IN ACCESS SHARE MODE"),
            (0, "ROLLBACK"),
            (0, "BEGIN READ ONLY"),
            (0, "LOCK TABLE kv IN ROW EXCLUSIVE MODE"),
            (0, "LOCK TABLE kv IN SHARE MODE"),
            (0, "ROLLBACK"),
            (0, "BEGIN"),
            (0, "LOCK TABLE kv, emp IN ACCESS EXCLUSIVE MODE NOWAIT"),
            (0, "SELECT count(*) AS n FROM kv"),
            (0, "COMMIT"),
        ],
        check: &[],
        expected: "
            s1: LOCK TABLE kv -> error 25P01
            s1: BEGIN -> ok
            s1: LOCK TABLE nosuch IN ACCESS SHARE MODE -> error 42P01
            s1: ROLLBACK -> ok
            s1: BEGIN READ ONLY -> ok
            s1: LOCK TABLE kv IN ROW EXCLUSIVE MODE -> ok
            s1: LOCK TABLE kv IN SHARE MODE -> ok
            s1: ROLLBACK -> ok
            s1: BEGIN -> ok
            s1: LOCK TABLE kv, emp IN ACCESS EXCLUSIVE MODE NOWAIT -> ok
            s1: SELECT count(*) AS n FROM kv -> [(0)]
            s1: COMMIT -> ok
        ",
    },
    LiteralScript {
        name: "lock-table-upgrade-deadlock-fails-at-once",
        about: "two holders of ACCESS SHARE both asking for ACCESS \
                EXCLUSIVE: the second fails with 40P01 at once (the lock \
                manager sees it would wait for a waiter that waits for it), \
                and the first gets its lock",
        setup: &[],
        sessions: 2,
        steps: &[
            (0, "BEGIN"),
            (1, "BEGIN"),
            (0, "LOCK TABLE kv IN ACCESS SHARE MODE"),
            (1, "LOCK TABLE kv IN ACCESS SHARE MODE"),
            (0, "LOCK TABLE kv IN ACCESS EXCLUSIVE MODE"),
            (1, "LOCK TABLE kv IN ACCESS EXCLUSIVE MODE"),
            (1, "ROLLBACK"),
            (0, "COMMIT"),
        ],
        check: &[],
        expected: "
            s1: BEGIN -> ok
            s2: BEGIN -> ok
            s1: LOCK TABLE kv IN ACCESS SHARE MODE -> ok
            s2: LOCK TABLE kv IN ACCESS SHARE MODE -> ok
            s1: LOCK TABLE kv IN ACCESS EXCLUSIVE MODE -> waiting
            s2: LOCK TABLE kv IN ACCESS EXCLUSIVE MODE -> error 40P01
            s1 <- ok
            s2: ROLLBACK -> ok
            s1: COMMIT -> ok
        ",
    },
    LiteralScript {
        name: "access-exclusive-queues-readers-behind-it",
        about: "a LOCK TABLE waiting for a reader's ACCESS SHARE makes later \
                readers wait behind it, and a statement that waited for a \
                table lock reads what the holder committed",
        setup: &["INSERT INTO kv VALUES ('x', 1)"],
        sessions: 3,
        steps: &[
            (0, "BEGIN"),
            (0, "SELECT k, v FROM kv"),
            (1, "BEGIN"),
            (1, "LOCK TABLE kv"),
            (2, "SELECT k, v FROM kv"),
            (0, "COMMIT"),
            (1, "UPDATE kv SET v = 5 WHERE k = 'x'"),
            (1, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN -> ok
            s1: SELECT k, v FROM kv -> [(x, 1)]
            s2: BEGIN -> ok
            s2: LOCK TABLE kv -> waiting
            s3: SELECT k, v FROM kv -> waiting
            s1: COMMIT -> ok
            s2 <- ok
            s2: UPDATE kv SET v = 5 WHERE k = 'x' -> affected 1
            s2: COMMIT -> ok
            s3 <- [(x, 5)]
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 5)]
        ",
    },
    LiteralScript {
        name: "truncate-waits-for-readers-and-empties-older-snapshots",
        about: "TRUNCATE takes ACCESS EXCLUSIVE (it waits for a reader's \
                transaction), and a Repeatable Read snapshot taken before it \
                committed sees the table empty afterwards: TRUNCATE is not \
                MVCC-safe; a table another one refers to is truncated only \
                with it (0A000 otherwise, after the wait)",
        setup: &[
            "INSERT INTO booking VALUES (1, 1), (2, 1)",
            "INSERT INTO emp VALUES (1, 10)",
            "INSERT INTO kv VALUES ('x', 1)",
            "INSERT INTO kv_ref VALUES (1, 'x')",
        ],
        sessions: 3,
        steps: &[
            (0, RR),
            (0, "SELECT id FROM emp"),
            (1, "BEGIN"),
            (1, "SELECT id FROM booking WHERE id = 1"),
            (2, "TRUNCATE booking"),
            (1, "COMMIT"),
            (0, "SELECT id, room FROM booking"),
            (0, "COMMIT"),
            (2, "INSERT INTO booking VALUES (3, 2)"),
            (2, "BEGIN"),
            (2, "TRUNCATE TABLE booking, emp"),
            (2, "ROLLBACK"),
            (1, "BEGIN"),
            (1, "SELECT k FROM kv"),
            (2, "TRUNCATE kv"),
            (1, "COMMIT"),
            (2, "TRUNCATE kv, kv_ref"),
        ],
        check: &[
            "SELECT id, room FROM booking ORDER BY id",
            "SELECT count(*) AS n FROM emp",
            "SELECT count(*) AS n FROM kv",
        ],
        expected: "
            s1: BEGIN ISOLATION LEVEL REPEATABLE READ -> ok
            s1: SELECT id FROM emp -> [(1)]
            s2: BEGIN -> ok
            s2: SELECT id FROM booking WHERE id = 1 -> [(1)]
            s3: TRUNCATE booking -> waiting
            s2: COMMIT -> ok
            s3 <- ok
            s1: SELECT id, room FROM booking -> []
            s1: COMMIT -> ok
            s3: INSERT INTO booking VALUES (3, 2) -> affected 1
            s3: BEGIN -> ok
            s3: TRUNCATE TABLE booking, emp -> ok
            s3: ROLLBACK -> ok
            s2: BEGIN -> ok
            s2: SELECT k FROM kv -> [(x)]
            s3: TRUNCATE kv -> waiting
            s2: COMMIT -> ok
            s3 <- error 0A000
            s3: TRUNCATE kv, kv_ref -> ok
            check: SELECT id, room FROM booking ORDER BY id -> [(3, 2)]
            check: SELECT count(*) AS n FROM emp -> [(1)]
            check: SELECT count(*) AS n FROM kv -> [(0)]
        ",
    },
    LiteralScript {
        name: "session-advisory-locks-outlive-transactions-and-count",
        about: "pg_advisory_lock is the session's: held across \
                transactions and a rollback, re-entrant (one unlock per \
                lock), false from pg_advisory_unlock when not held, and \
                pg_advisory_unlock_all lets a waiter in",
        setup: &[],
        sessions: 2,
        steps: &[
            (0, "SELECT pg_advisory_lock(7)"),
            (1, "SELECT pg_try_advisory_lock(7) AS got"),
            (1, "BEGIN"),
            (1, "SELECT pg_advisory_lock(7)"),
            (0, "SELECT pg_advisory_lock(7)"),
            (0, "SELECT pg_advisory_unlock(7) AS released"),
            (0, "SELECT pg_advisory_unlock(7) AS released"),
            (0, "SELECT pg_advisory_unlock(7) AS released"),
            (1, "ROLLBACK"),
            (0, "SELECT pg_try_advisory_lock_shared(7) AS got"),
            (1, "SELECT pg_advisory_lock_shared(8)"),
            (0, "SELECT pg_try_advisory_lock_shared(8) AS shared, pg_try_advisory_lock(8) AS exclusive"),
            (1, "SELECT pg_advisory_unlock_all()"),
            (0, "SELECT pg_try_advisory_lock(7) AS got, pg_advisory_unlock_shared(8) AS released"),
        ],
        check: &[],
        expected: "
            s1: SELECT pg_advisory_lock(7) -> [()]
            s2: SELECT pg_try_advisory_lock(7) AS got -> [(f)]
            s2: BEGIN -> ok
            s2: SELECT pg_advisory_lock(7) -> waiting
            s1: SELECT pg_advisory_lock(7) -> [()]
            s1: SELECT pg_advisory_unlock(7) AS released -> [(t)]
            s1: SELECT pg_advisory_unlock(7) AS released -> [(t)]
            s2 <- [()]
            s1: SELECT pg_advisory_unlock(7) AS released -> [(f)]
            s2: ROLLBACK -> ok
            s1: SELECT pg_try_advisory_lock_shared(7) AS got -> [(f)]
            s2: SELECT pg_advisory_lock_shared(8) -> [()]
            s1: SELECT pg_try_advisory_lock_shared(8) AS shared, pg_try_advisory_lock(8) AS exclusive -> [(t, f)]
            s2: SELECT pg_advisory_unlock_all() -> [()]
            s1: SELECT pg_try_advisory_lock(7) AS got, pg_advisory_unlock_shared(8) AS released -> [(t, t)]
        ",
    },
    LiteralScript {
        name: "advisory-lock-in-where-waits-after-the-snapshot",
        about: "an advisory lock call in a WHERE clause waits in the scan, \
                after the statement's snapshot: a Read Committed SELECT \
                that waited reads the row as of before the holder's commit, \
                while FOR UPDATE locks and returns the newest version",
        setup: &["INSERT INTO kv VALUES ('x', 1)"],
        sessions: 3,
        steps: &[
            (0, "BEGIN"),
            (0, "SELECT pg_advisory_lock(5)"),
            (0, "UPDATE kv SET v = 2 WHERE k = 'x'"),
            (1, "SELECT v FROM kv WHERE pg_advisory_lock(5) IS NOT NULL AND k = 'x'"),
            (2, "BEGIN"),
            (2, "SELECT v FROM kv WHERE pg_advisory_xact_lock_shared(5) IS NOT NULL AND k = 'x' FOR UPDATE"),
            (0, "COMMIT"),
            (0, "SELECT pg_advisory_unlock(5) AS released"),
            (1, "SELECT pg_advisory_unlock(5) AS released"),
            (2, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN -> ok
            s1: SELECT pg_advisory_lock(5) -> [()]
            s1: UPDATE kv SET v = 2 WHERE k = 'x' -> affected 1
            s2: SELECT v FROM kv WHERE pg_advisory_lock(5) IS NOT NULL AND k = 'x' -> waiting
            s3: BEGIN -> ok
            s3: SELECT v FROM kv WHERE pg_advisory_xact_lock_shared(5) IS NOT NULL AND k = 'x' FOR UPDATE -> waiting
            s1: COMMIT -> ok
            s1: SELECT pg_advisory_unlock(5) AS released -> [(t)]
            s2 <- [(1)]
            s2: SELECT pg_advisory_unlock(5) AS released -> [(t)]
            s3 <- [(2)]
            s3: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 2)]
        ",
    },
    LiteralScript {
        name: "rollback-to-savepoint-releases-locks-and-settings-after-it",
        about: "ROLLBACK TO releases the advisory transaction locks and \
                table locks taken after the savepoint and undoes its SET \
                LOCAL and SET, while a session-level advisory lock taken \
                after it stays",
        setup: &[],
        sessions: 2,
        steps: &[
            (0, "BEGIN"),
            (0, "SET LOCAL lock_timeout = '5s'"),
            (0, "SAVEPOINT a"),
            (0, "SELECT pg_advisory_xact_lock(3)"),
            (0, "SELECT pg_advisory_lock(4)"),
            (0, "LOCK TABLE kv IN EXCLUSIVE MODE"),
            (0, "SET LOCAL lock_timeout = '7s'"),
            (0, "SET statement_timeout = '3s'"),
            (1, "SELECT pg_try_advisory_xact_lock(3) AS got"),
            (0, "ROLLBACK TO a"),
            (1, "SELECT pg_try_advisory_xact_lock(3) AS got, pg_try_advisory_lock(4) AS session"),
            (1, "INSERT INTO kv VALUES ('x', 1)"),
            (0, "SHOW lock_timeout"),
            (0, "SHOW statement_timeout"),
            (0, "COMMIT"),
            (0, "SHOW lock_timeout"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN -> ok
            s1: SET LOCAL lock_timeout = '5s' -> ok
            s1: SAVEPOINT a -> ok
            s1: SELECT pg_advisory_xact_lock(3) -> [()]
            s1: SELECT pg_advisory_lock(4) -> [()]
            s1: LOCK TABLE kv IN EXCLUSIVE MODE -> ok
            s1: SET LOCAL lock_timeout = '7s' -> ok
            s1: SET statement_timeout = '3s' -> ok
            s2: SELECT pg_try_advisory_xact_lock(3) AS got -> [(f)]
            s1: ROLLBACK TO a -> ok
            s2: SELECT pg_try_advisory_xact_lock(3) AS got, pg_try_advisory_lock(4) AS session -> [(t, f)]
            s2: INSERT INTO kv VALUES ('x', 1) -> affected 1
            s1: SHOW lock_timeout -> [(5s)]
            s1: SHOW statement_timeout -> [(0)]
            s1: COMMIT -> ok
            s1: SHOW lock_timeout -> [(0)]
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 1)]
        ",
    },
    LiteralScript {
        name: "subquery-read-write-skew-serializable",
        about: "a scalar subquery's read is a read like any: two updates \
                each guarded by a subquery on the other's row make a write \
                skew, which SERIALIZABLE fails at the second commit",
        setup: &["INSERT INTO kv VALUES ('x', 1), ('y', 1)"],
        sessions: 2,
        steps: &[
            (0, SER),
            (1, SER),
            (0, "UPDATE kv SET v = 0 WHERE k = 'x' AND (SELECT v FROM kv WHERE k = 'y') = 1"),
            (1, "UPDATE kv SET v = 0 WHERE k = 'y' AND (SELECT v FROM kv WHERE k = 'x') = 1"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: UPDATE kv SET v = 0 WHERE k = 'x' AND (SELECT v FROM kv WHERE k = 'y') = 1 -> affected 1
            s2: UPDATE kv SET v = 0 WHERE k = 'y' AND (SELECT v FROM kv WHERE k = 'x') = 1 -> affected 1
            s1: COMMIT -> ok
            s2: COMMIT -> error 40001
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 0) (y, 1)]
        ",
    },
    LiteralScript {
        name: "subquery-read-write-skew-read-committed",
        about: "the same subquery-guarded updates at READ COMMITTED: each \
                subquery reads the statement's snapshot, both commit and \
                the skew stays",
        setup: &["INSERT INTO kv VALUES ('x', 1), ('y', 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "UPDATE kv SET v = 0 WHERE k = 'x' AND (SELECT v FROM kv WHERE k = 'y') = 1"),
            (1, "UPDATE kv SET v = 0 WHERE k = 'y' AND (SELECT v FROM kv WHERE k = 'x') = 1"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE kv SET v = 0 WHERE k = 'x' AND (SELECT v FROM kv WHERE k = 'y') = 1 -> affected 1
            s2: UPDATE kv SET v = 0 WHERE k = 'y' AND (SELECT v FROM kv WHERE k = 'x') = 1 -> affected 1
            s1: COMMIT -> ok
            s2: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 0) (y, 0)]
        ",
    },
    LiteralScript {
        name: "not-exists-insert-select-phantom-serializable",
        about: "INSERT ... SELECT ... WHERE NOT EXISTS on an empty room: \
                the subquery's index-range read is a predicate lock, so two \
                such inserts are a write skew SERIALIZABLE fails",
        setup: &[],
        sessions: 2,
        steps: &[
            (0, SER),
            (1, SER),
            (0, "INSERT INTO booking SELECT 10, 5 WHERE NOT EXISTS (SELECT 1 FROM booking WHERE room = 5)"),
            (1, "INSERT INTO booking SELECT 11, 5 WHERE NOT EXISTS (SELECT 1 FROM booking WHERE room = 5)"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, room FROM booking ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: INSERT INTO booking SELECT 10, 5 WHERE NOT EXISTS (SELECT 1 FROM booking WHERE room = 5) -> affected 1
            s2: INSERT INTO booking SELECT 11, 5 WHERE NOT EXISTS (SELECT 1 FROM booking WHERE room = 5) -> affected 1
            s1: COMMIT -> ok
            s2: COMMIT -> error 40001
            check: SELECT id, room FROM booking ORDER BY id -> [(10, 5)]
        ",
    },
    LiteralScript {
        name: "insert-select-waits-for-uncommitted-duplicate",
        about: "INSERT ... SELECT reads the statement's snapshot and then \
                inserts like INSERT ... VALUES: a duplicate of an uncommitted \
                key waits and fails with 23505 once it commits",
        setup: &["INSERT INTO booking VALUES (1, 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "INSERT INTO booking SELECT id + 1, room FROM booking WHERE id = 1"),
            (1, "INSERT INTO booking SELECT id + 1, room + 1 FROM booking WHERE id = 1"),
            (0, "COMMIT"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT id, room FROM booking ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO booking SELECT id + 1, room FROM booking WHERE id = 1 -> affected 1
            s2: INSERT INTO booking SELECT id + 1, room + 1 FROM booking WHERE id = 1 -> waiting
            s1: COMMIT -> ok
            s2 <- error 23505
            s2: ROLLBACK -> ok
            check: SELECT id, room FROM booking ORDER BY id -> [(1, 1) (2, 1)]
        ",
    },
    LiteralScript {
        name: "with-for-update-skip-locked-sweeper",
        about: "two sweepers expire holds with a WITH query that locks a \
                batch FOR UPDATE SKIP LOCKED and an UPDATE ... FROM it: the \
                second skips the first's batch and takes the next",
        setup: &["INSERT INTO hold VALUES (1, 1, 'active'), (2, 2, 'active'), (3, 3, 'active'), (4, 4, 'active')"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "WITH batch AS (SELECT id FROM hold WHERE status = 'active' ORDER BY id LIMIT 2 FOR UPDATE SKIP LOCKED) UPDATE hold SET status = 'expired' FROM batch WHERE hold.id = batch.id RETURNING hold.id"),
            (1, "WITH batch AS (SELECT id FROM hold WHERE status = 'active' ORDER BY id LIMIT 2 FOR UPDATE SKIP LOCKED) UPDATE hold SET status = 'expired' FROM batch WHERE hold.id = batch.id RETURNING hold.id"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, status FROM hold ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: WITH batch AS (SELECT id FROM hold WHERE status = 'active' ORDER BY id LIMIT 2 FOR UPDATE SKIP LOCKED) UPDATE hold SET status = 'expired' FROM batch WHERE hold.id = batch.id RETURNING hold.id -> [(1) (2)]
            s2: WITH batch AS (SELECT id FROM hold WHERE status = 'active' ORDER BY id LIMIT 2 FOR UPDATE SKIP LOCKED) UPDATE hold SET status = 'expired' FROM batch WHERE hold.id = batch.id RETURNING hold.id -> [(3) (4)]
            s1: COMMIT -> ok
            s2: COMMIT -> ok
            check: SELECT id, status FROM hold ORDER BY id -> [(1, expired) (2, expired) (3, expired) (4, expired)]
        ",
    },
    LiteralScript {
        name: "with-data-modifying-parts-share-one-snapshot",
        about: "a data-modifying WITH query's writes are not seen by the \
                statement's other parts, which read its snapshot; it runs \
                once even when nothing reads it; others wait for its rows",
        setup: &["INSERT INTO kv VALUES ('x', 1), ('y', 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "WITH u AS (UPDATE kv SET v = v + 1 WHERE k = 'x' RETURNING v) SELECT (SELECT v FROM kv WHERE k = 'x') AS seen, (SELECT v FROM u) AS updated"),
            (0, "WITH d AS (DELETE FROM kv WHERE k = 'y') SELECT 1 AS one"),
            (1, "SELECT k, v FROM kv ORDER BY k"),
            (1, "UPDATE kv SET v = 10 WHERE k = 'x'"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: WITH u AS (UPDATE kv SET v = v + 1 WHERE k = 'x' RETURNING v) SELECT (SELECT v FROM kv WHERE k = 'x') AS seen, (SELECT v FROM u) AS updated -> [(1, 2)]
            s1: WITH d AS (DELETE FROM kv WHERE k = 'y') SELECT 1 AS one -> [(1)]
            s2: SELECT k, v FROM kv ORDER BY k -> [(x, 1) (y, 1)]
            s2: UPDATE kv SET v = 10 WHERE k = 'x' -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            s2: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(x, 10)]
        ",
    },
    LiteralScript {
        name: "update-from-read-committed-rechecks-with-same-joined-rows",
        about: "UPDATE ... FROM at READ COMMITTED waits for a locked target \
                row, then re-checks its newest version with the rows it \
                joined (EvalPlanQual) and skips it when it no longer matches",
        setup: &[
            "INSERT INTO booking VALUES (1, 1), (2, 2)",
            "INSERT INTO hold VALUES (1, 1, 'active'), (2, 2, 'active')",
        ],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "UPDATE hold SET status = 'released' WHERE id = 1"),
            (1, "UPDATE hold SET status = 'confirmed' FROM booking WHERE booking.room = hold.seat AND hold.status = 'active' RETURNING hold.id, booking.id"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, seat, status FROM hold ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE hold SET status = 'released' WHERE id = 1 -> affected 1
            s2: UPDATE hold SET status = 'confirmed' FROM booking WHERE booking.room = hold.seat AND hold.status = 'active' RETURNING hold.id, booking.id -> waiting
            s1: COMMIT -> ok
            s2 <- [(2, 2)]
            s2: COMMIT -> ok
            check: SELECT id, seat, status FROM hold ORDER BY id -> [(1, 1, released) (2, 2, confirmed)]
        ",
    },
    LiteralScript {
        name: "delete-using-repeatable-read-fails-on-changed-target",
        about: "DELETE ... USING at REPEATABLE READ waits for a locked target \
                row and fails with 40001 once its writer commits",
        setup: &[
            "INSERT INTO booking VALUES (1, 1), (2, 2)",
            "INSERT INTO hold VALUES (1, 1, 'active'), (2, 2, 'active')",
        ],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RR),
            (1, "SELECT count(*) FROM hold"),
            (0, "UPDATE hold SET status = 'released' WHERE id = 1"),
            (1, "DELETE FROM hold USING booking WHERE booking.room = hold.seat AND hold.id = 1"),
            (0, "COMMIT"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT id, seat, status FROM hold ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL REPEATABLE READ -> ok
            s2: SELECT count(*) FROM hold -> [(2)]
            s1: UPDATE hold SET status = 'released' WHERE id = 1 -> affected 1
            s2: DELETE FROM hold USING booking WHERE booking.room = hold.seat AND hold.id = 1 -> waiting
            s1: COMMIT -> ok
            s2 <- error 40001
            s2: ROLLBACK -> ok
            check: SELECT id, seat, status FROM hold ORDER BY id -> [(1, 1, released) (2, 2, active)]
        ",
    },
    LiteralScript {
        name: "on-conflict-where-waits-on-partial-unique-index",
        about: "ON CONFLICT (seat) WHERE status = 'active' infers the partial \
                unique index: a concurrent uncommitted active hold of the \
                seat makes it wait, and its commit makes it do nothing",
        setup: &[],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "INSERT INTO hold VALUES (1, 7, 'active')"),
            (1, "INSERT INTO hold VALUES (2, 7, 'active') ON CONFLICT (seat) WHERE status = 'active' DO NOTHING"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, seat, status FROM hold ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO hold VALUES (1, 7, 'active') -> affected 1
            s2: INSERT INTO hold VALUES (2, 7, 'active') ON CONFLICT (seat) WHERE status = 'active' DO NOTHING -> waiting
            s1: COMMIT -> ok
            s2 <- ok
            s2: COMMIT -> ok
            check: SELECT id, seat, status FROM hold ORDER BY id -> [(1, 7, active)]
        ",
    },
    LiteralScript {
        name: "left-join-empty-inner-side-is-predicate-locked",
        about: "two SERIALIZABLE transactions each count a room's bookings \
                with a LEFT JOIN that finds none (the room comes out \
                NULL-extended, count 0) and then book it: the read of the \
                empty inner side is an SSI predicate lock, so the second \
                commit fails with 40001 as on PostgreSQL",
        setup: &["INSERT INTO emp VALUES (1, 10), (2, 20)"],
        sessions: 2,
        steps: &[
            (0, SER),
            (1, SER),
            (0, "SELECT e.id, count(b.id) FROM emp e LEFT JOIN booking b ON b.room = e.dept WHERE e.id = 1 GROUP BY e.id"),
            (1, "SELECT e.id, count(b.id) FROM emp e LEFT JOIN booking b ON b.room = e.dept WHERE e.id = 1 GROUP BY e.id"),
            (0, "INSERT INTO booking VALUES (1, 10)"),
            (1, "INSERT INTO booking VALUES (2, 10)"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, room FROM booking ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SELECT e.id, count(b.id) FROM emp e LEFT JOIN booking b ON b.room = e.dept WHERE e.id = 1 GROUP BY e.id -> [(1, 0)]
            s2: SELECT e.id, count(b.id) FROM emp e LEFT JOIN booking b ON b.room = e.dept WHERE e.id = 1 GROUP BY e.id -> [(1, 0)]
            s1: INSERT INTO booking VALUES (1, 10) -> affected 1
            s2: INSERT INTO booking VALUES (2, 10) -> affected 1
            s1: COMMIT -> ok
            s2: COMMIT -> error 40001
            check: SELECT id, room FROM booking ORDER BY id -> [(1, 10)]
        ",
    },
    LiteralScript {
        name: "cascade-delete-waits-on-locked-child",
        about: "a DELETE of a parent row whose ON DELETE CASCADE reaches a \
                child row another transaction is updating waits for it (the \
                cascade's DELETE takes the child's FOR UPDATE lock at the \
                end of the statement) and then deletes it",
        setup: RI_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "UPDATE ri_child SET note = 'busy' WHERE id = 1"),
            (1, "DELETE FROM ri_parent WHERE id = 1"),
            (0, "COMMIT"),
        ],
        check: &["SELECT id, p, note FROM ri_child ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE ri_child SET note = 'busy' WHERE id = 1 -> affected 1
            s2: DELETE FROM ri_parent WHERE id = 1 -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            check: SELECT id, p, note FROM ri_child ORDER BY id -> [(2, 2, y)]
        ",
    },
    LiteralScript {
        name: "cascade-rechecks-a-child-moved-meanwhile",
        about: "Read Committed: the cascade waits for a child row's updater, \
                which moved it to another parent, and then leaves it alone \
                (the action's WHERE is re-checked on the newest version)",
        setup: RI_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "UPDATE ri_child SET p = 2 WHERE id = 1"),
            (1, "DELETE FROM ri_parent WHERE id = 1"),
            (0, "COMMIT"),
        ],
        check: &["SELECT id, p, note FROM ri_child ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE ri_child SET p = 2 WHERE id = 1 -> affected 1
            s2: DELETE FROM ri_parent WHERE id = 1 -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            check: SELECT id, p, note FROM ri_child ORDER BY id -> [(1, 2, x) (2, 2, y)]
        ",
    },
    LiteralScript {
        name: "cascade-deletes-a-child-inserted-concurrently",
        about: "a parent's DELETE waits for the KEY SHARE lock of a \
                concurrent child INSERT; at Read Committed its cascade then \
                finds the new child with a fresh snapshot and deletes it",
        setup: RI_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "INSERT INTO ri_child VALUES (3, 1, 'late')"),
            (1, "DELETE FROM ri_parent WHERE id = 1"),
            (0, "COMMIT"),
        ],
        check: &["SELECT id, p, note FROM ri_child ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO ri_child VALUES (3, 1, 'late') -> affected 1
            s2: DELETE FROM ri_parent WHERE id = 1 -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            check: SELECT id, p, note FROM ri_child ORDER BY id -> [(2, 2, y)]
        ",
    },
    LiteralScript {
        name: "cascade-repeatable-read-fails-on-a-newer-child",
        about: "Repeatable Read: a child inserted and committed after the \
                deleting transaction's snapshot is found by the cascade's \
                fresh snapshot but not by the transaction's: 40001 \
                (PostgreSQL's crosscheck snapshot)",
        setup: RI_SETUP,
        sessions: 2,
        steps: &[
            (1, RR),
            (1, "SELECT count(*) FROM ri_parent"),
            (0, "INSERT INTO ri_child VALUES (3, 1, 'late')"),
            (1, "DELETE FROM ri_parent WHERE id = 1"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT id, p, note FROM ri_child ORDER BY id"],
        expected: "
            s2: BEGIN ISOLATION LEVEL REPEATABLE READ -> ok
            s2: SELECT count(*) FROM ri_parent -> [(2)]
            s1: INSERT INTO ri_child VALUES (3, 1, 'late') -> affected 1
            s2: DELETE FROM ri_parent WHERE id = 1 -> error 40001
            s2: ROLLBACK -> ok
            check: SELECT id, p, note FROM ri_child ORDER BY id -> [(1, 1, x) (2, 2, y) (3, 1, late)]
        ",
    },
    LiteralScript {
        name: "cascade-serializable-fails-on-a-changed-child",
        about: "Serializable: a child row updated and committed after the \
                snapshot cannot be deleted by the cascade (first updater \
                wins): 40001",
        setup: RI_SETUP,
        sessions: 2,
        steps: &[
            (1, SER),
            (1, "SELECT count(*) FROM ri_parent"),
            (0, "UPDATE ri_child SET note = 'changed' WHERE id = 1"),
            (1, "DELETE FROM ri_parent WHERE id = 1"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT id, p, note FROM ri_child ORDER BY id"],
        expected: "
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: SELECT count(*) FROM ri_parent -> [(2)]
            s1: UPDATE ri_child SET note = 'changed' WHERE id = 1 -> affected 1
            s2: DELETE FROM ri_parent WHERE id = 1 -> error 40001
            s2: ROLLBACK -> ok
            check: SELECT id, p, note FROM ri_child ORDER BY id -> [(1, 1, changed) (2, 2, y)]
        ",
    },
    LiteralScript {
        name: "cascade-deadlock",
        about: "s1 updates a child row, s2 deletes its parent (the cascade \
                waits for the child), s1 then updates the parent (waits for \
                s2's delete): a deadlock, 40P01",
        setup: RI_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "UPDATE ri_child SET note = 'a' WHERE id = 1"),
            (1, "DELETE FROM ri_parent WHERE id = 1"),
            (0, "UPDATE ri_parent SET v = 5 WHERE id = 1"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &[
            "SELECT id, v FROM ri_parent ORDER BY id",
            "SELECT id, p, note FROM ri_child ORDER BY id",
        ],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE ri_child SET note = 'a' WHERE id = 1 -> affected 1
            s2: DELETE FROM ri_parent WHERE id = 1 -> waiting
            s1: UPDATE ri_parent SET v = 5 WHERE id = 1 -> error 40P01
            s2 <- affected 1
            s1: COMMIT -> ok
            s2: COMMIT -> ok
            check: SELECT id, v FROM ri_parent ORDER BY id -> [(2, 0)]
            check: SELECT id, p, note FROM ri_child ORDER BY id -> [(2, 2, y)]
        ",
    },
    LiteralScript {
        name: "set-null-on-update-waits-on-locked-child",
        about: "ON UPDATE SET NULL: changing a parent's key sets the child's \
                reference to NULL, waiting for a concurrent FOR UPDATE lock \
                on the child",
        setup: RI_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "SELECT id FROM ri_nullable WHERE id = 1 FOR UPDATE"),
            (1, "UPDATE ri_parent SET id = 20 WHERE id = 2"),
            (0, "COMMIT"),
        ],
        check: &[
            "SELECT id, p FROM ri_nullable ORDER BY id",
            "SELECT id, p, note FROM ri_child ORDER BY id",
        ],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: SELECT id FROM ri_nullable WHERE id = 1 FOR UPDATE -> [(1)]
            s2: UPDATE ri_parent SET id = 20 WHERE id = 2 -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            check: SELECT id, p FROM ri_nullable ORDER BY id -> [(1, NULL)]
            check: SELECT id, p, note FROM ri_child ORDER BY id -> [(1, 1, x) (2, 20, y)]
        ",
    },
    LiteralScript {
        name: "alter-table-waits-for-a-reader-and-queues-later-readers",
        about: "ALTER TABLE ... ADD COLUMN takes ACCESS EXCLUSIVE: it waits \
                for a transaction that read the table, and a later plain \
                SELECT queues behind it until the ALTER's transaction ends \
                (the ALTER runs in a block, so one commit frees one waiter \
                and the order of completions is fixed); existing rows take \
                the DEFAULT",
        setup: &["INSERT INTO emp VALUES (1, 10)"],
        sessions: 3,
        steps: &[
            (0, RC),
            (0, "SELECT id, dept FROM emp WHERE id = 1"),
            (1, RC),
            (1, "ALTER TABLE emp ADD COLUMN note text DEFAULT 'x'"),
            (2, "SELECT id FROM emp WHERE id = 1"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, dept, note FROM emp ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: SELECT id, dept FROM emp WHERE id = 1 -> [(1, 10)]
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: ALTER TABLE emp ADD COLUMN note text DEFAULT 'x' -> waiting
            s3: SELECT id FROM emp WHERE id = 1 -> waiting
            s1: COMMIT -> ok
            s2 <- ok
            s2: COMMIT -> ok
            s3 <- [(1)]
            check: SELECT id, dept, note FROM emp ORDER BY id -> [(1, 10, x)]
        ",
    },
    LiteralScript {
        name: "alter-table-lock-levels-of-storage-parameters-and-foreign-keys",
        about: "SET (fillfactor) takes SHARE UPDATE EXCLUSIVE and goes past \
                an open writer of the table; ADD FOREIGN KEY takes SHARE ROW \
                EXCLUSIVE on the referenced table too, so it waits for that \
                writer; VALIDATE CONSTRAINT goes past a writer of the table",
        setup: &["INSERT INTO emp VALUES (1, 10)", "INSERT INTO booking VALUES (1, 1)"],
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "INSERT INTO emp VALUES (2, 20)"),
            (1, "ALTER TABLE emp SET (fillfactor = 90)"),
            (1, "ALTER TABLE booking ADD CONSTRAINT booking_room_fkey FOREIGN KEY (room) REFERENCES emp (id) NOT VALID"),
            (0, "COMMIT"),
            (0, RC),
            (0, "INSERT INTO booking VALUES (2, 2)"),
            (1, "ALTER TABLE booking VALIDATE CONSTRAINT booking_room_fkey"),
            (0, "COMMIT"),
        ],
        check: &["SELECT id, room FROM booking ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO emp VALUES (2, 20) -> affected 1
            s2: ALTER TABLE emp SET (fillfactor = 90) -> ok
            s2: ALTER TABLE booking ADD CONSTRAINT booking_room_fkey FOREIGN KEY (room) REFERENCES emp (id) NOT VALID -> waiting
            s1: COMMIT -> ok
            s2 <- ok
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO booking VALUES (2, 2) -> affected 1
            s2: ALTER TABLE booking VALIDATE CONSTRAINT booking_room_fkey -> ok
            s1: COMMIT -> ok
            check: SELECT id, room FROM booking ORDER BY id -> [(1, 1) (2, 2)]
        ",
    },
    LiteralScript {
        name: "fk-check-waits-for-a-referencing-rows-delete",
        about: "a parent row's DELETE finds a referencing row another \
                READ COMMITTED transaction has deleted and not yet \
                committed: the foreign-key check locks that row FOR KEY \
                SHARE, so it waits for the deleter, and after its commit \
                the row refers no more and the DELETE goes on (recorded \
                from PostgreSQL 15)",
        setup: &["INSERT INTO kv VALUES ('a', 1)", "INSERT INTO kv_ref VALUES (1, 'a')"],
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "DELETE FROM kv_ref WHERE id = 1"),
            (1, "DELETE FROM kv WHERE k = 'a'"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: DELETE FROM kv_ref WHERE id = 1 -> affected 1
            s2: DELETE FROM kv WHERE k = 'a' -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            s2: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> []
        ",
    },
    LiteralScript {
        name: "fk-check-after-a-concurrent-referencing-delete-is-40001-at-repeatable-read",
        about: "the same at REPEATABLE READ: after the deleter commits, the \
                foreign-key check's lock finds the referencing row changed \
                since the snapshot and fails with 40001 (PostgreSQL 15: \
                could not serialize access due to concurrent update)",
        setup: &["INSERT INTO kv VALUES ('a', 1)", "INSERT INTO kv_ref VALUES (1, 'a')"],
        sessions: 2,
        steps: &[
            (0, RR),
            (1, RR),
            (1, "SELECT k, v FROM kv ORDER BY k"),
            (0, "DELETE FROM kv_ref WHERE id = 1"),
            (1, "DELETE FROM kv WHERE k = 'a'"),
            (0, "COMMIT"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN ISOLATION LEVEL REPEATABLE READ -> ok
            s2: BEGIN ISOLATION LEVEL REPEATABLE READ -> ok
            s2: SELECT k, v FROM kv ORDER BY k -> [(a, 1)]
            s1: DELETE FROM kv_ref WHERE id = 1 -> affected 1
            s2: DELETE FROM kv WHERE k = 'a' -> waiting
            s1: COMMIT -> ok
            s2 <- error 40001
            s2: ROLLBACK -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(a, 1)]
        ",
    },
    LiteralScript {
        name: "first-statement-waiting-on-a-table-lock-keeps-its-earlier-snapshot",
        about: "a REPEATABLE READ transaction's first statement, an UPDATE, \
                waits for another session's EXCLUSIVE table lock; that \
                session inserts a row and commits. PostgreSQL took the \
                UPDATE's snapshot before its table lock (a query asks for \
                one before it is parsed), so the UPDATE and the next \
                SELECT do not see the new row (recorded from PostgreSQL 15)",
        setup: &["INSERT INTO kv VALUES ('a', 1)"],
        sessions: 2,
        steps: &[
            (0, "BEGIN"),
            (0, "LOCK TABLE kv IN EXCLUSIVE MODE"),
            (0, "INSERT INTO kv VALUES ('b', 2)"),
            (1, RR),
            (1, "UPDATE kv SET v = v + 10 WHERE v > 0"),
            (0, "COMMIT"),
            (1, "SELECT k, v FROM kv ORDER BY k"),
            (1, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN -> ok
            s1: LOCK TABLE kv IN EXCLUSIVE MODE -> ok
            s1: INSERT INTO kv VALUES ('b', 2) -> affected 1
            s2: BEGIN ISOLATION LEVEL REPEATABLE READ -> ok
            s2: UPDATE kv SET v = v + 10 WHERE v > 0 -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            s2: SELECT k, v FROM kv ORDER BY k -> [(a, 11)]
            s2: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(a, 11) (b, 2)]
        ",
    },
    LiteralScript {
        name: "update-after-for-update-is-a-key-update-to-key-share",
        about: "s1 locks a row FOR UPDATE, then updates a column no unique \
                index covers: PostgreSQL keeps the stronger lock for the \
                update and marks it as changing the key. s2's FOR KEY SHARE \
                waits, and at Read Committed re-reads the newest version \
                after s1 commits (a plain UPDATE would have let it lock \
                the old version without waiting) (recorded from PostgreSQL 15)",
        setup: &["INSERT INTO kv VALUES ('a', 1)"],
        sessions: 2,
        steps: &[
            (0, "BEGIN"),
            (0, "SELECT k, v FROM kv WHERE k = 'a' FOR UPDATE"),
            (0, "UPDATE kv SET v = v + 1 WHERE k = 'a'"),
            (1, RC),
            (1, "SELECT k, v FROM kv WHERE k = 'a' FOR KEY SHARE"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k"],
        expected: "
            s1: BEGIN -> ok
            s1: SELECT k, v FROM kv WHERE k = 'a' FOR UPDATE -> [(a, 1)]
            s1: UPDATE kv SET v = v + 1 WHERE k = 'a' -> affected 1
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: SELECT k, v FROM kv WHERE k = 'a' FOR KEY SHARE -> waiting
            s1: COMMIT -> ok
            s2 <- [(a, 2)]
            s2: COMMIT -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(a, 2)]
        ",
    },
    LiteralScript {
        name: "fk-check-on-a-row-updated-after-for-update-is-40001-at-repeatable-read",
        about: "s2 (REPEATABLE READ) has its snapshot when s1 locks a kv row \
                FOR UPDATE, updates its value and commits. s2's insert of a \
                row referencing it fails with 40001: the foreign-key check's \
                KEY SHARE lock finds a version newer than the snapshot that \
                PostgreSQL marked as changing the key (recorded from \
                PostgreSQL 15)",
        setup: &["INSERT INTO kv VALUES ('a', 1)"],
        sessions: 2,
        steps: &[
            (1, RR),
            (1, "SELECT count(*) FROM kv_ref"),
            (0, "BEGIN"),
            (0, "SELECT k, v FROM kv WHERE k = 'a' FOR UPDATE"),
            (0, "UPDATE kv SET v = v + 1 WHERE k = 'a'"),
            (0, "COMMIT"),
            (1, "INSERT INTO kv_ref VALUES (1, 'a')"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT k, v FROM kv ORDER BY k", "SELECT count(*) FROM kv_ref"],
        expected: "
            s2: BEGIN ISOLATION LEVEL REPEATABLE READ -> ok
            s2: SELECT count(*) FROM kv_ref -> [(0)]
            s1: BEGIN -> ok
            s1: SELECT k, v FROM kv WHERE k = 'a' FOR UPDATE -> [(a, 1)]
            s1: UPDATE kv SET v = v + 1 WHERE k = 'a' -> affected 1
            s1: COMMIT -> ok
            s2: INSERT INTO kv_ref VALUES (1, 'a') -> error 40001
            s2: ROLLBACK -> ok
            check: SELECT k, v FROM kv ORDER BY k -> [(a, 2)]
            check: SELECT count(*) FROM kv_ref -> [(0)]
        ",
    },
    LiteralScript {
        name: "expression-unique-index-waits-then-23505",
        about: "two transactions insert emails equal but for case under a \
                unique index on lower(email): the second waits for the \
                first's uncommitted entry and fails with 23505 once it \
                commits",
        setup: CUSTOMER_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "INSERT INTO customer VALUES (1, 'Ann@x.com')"),
            (1, "INSERT INTO customer VALUES (2, 'ANN@X.COM')"),
            (0, "COMMIT"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT id, email FROM customer ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO customer VALUES (1, 'Ann@x.com') -> affected 1
            s2: INSERT INTO customer VALUES (2, 'ANN@X.COM') -> waiting
            s1: COMMIT -> ok
            s2 <- error 23505
            s2: ROLLBACK -> ok
            check: SELECT id, email FROM customer ORDER BY id -> [(1, Ann@x.com)]
        ",
    },
    LiteralScript {
        name: "expression-unique-index-goes-on-after-rollback",
        about: "the second insert of an email equal but for case waits for \
                the first and goes on when the first rolls back",
        setup: CUSTOMER_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "INSERT INTO customer VALUES (1, 'Ann@x.com')"),
            (1, "INSERT INTO customer VALUES (2, 'ANN@X.COM')"),
            (0, "ROLLBACK"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, email FROM customer ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO customer VALUES (1, 'Ann@x.com') -> affected 1
            s2: INSERT INTO customer VALUES (2, 'ANN@X.COM') -> waiting
            s1: ROLLBACK -> ok
            s2 <- affected 1
            s2: COMMIT -> ok
            check: SELECT id, email FROM customer ORDER BY id -> [(2, ANN@X.COM)]
        ",
    },
    LiteralScript {
        name: "expression-unique-index-after-a-serializable-read-is-40001",
        about: "two serializable transactions look an email up by \
                lower(email), find none, and insert it in different case: \
                the second waits for the first's entry and, having read \
                the value, fails with 40001 rather than 23505",
        setup: CUSTOMER_SETUP,
        sessions: 2,
        steps: &[
            (0, SER),
            (1, SER),
            (0, "SELECT id FROM customer WHERE lower(email) = 'ann@x.com'"),
            (1, "SELECT id FROM customer WHERE lower(email) = 'ann@x.com'"),
            (0, "INSERT INTO customer VALUES (1, 'Ann@x.com')"),
            (1, "INSERT INTO customer VALUES (2, 'ann@X.com')"),
            (0, "COMMIT"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT id, email FROM customer ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SELECT id FROM customer WHERE lower(email) = 'ann@x.com' -> []
            s2: SELECT id FROM customer WHERE lower(email) = 'ann@x.com' -> []
            s1: INSERT INTO customer VALUES (1, 'Ann@x.com') -> affected 1
            s2: INSERT INTO customer VALUES (2, 'ann@X.com') -> waiting
            s1: COMMIT -> ok
            s2 <- error 40001
            s2: ROLLBACK -> ok
            check: SELECT id, email FROM customer ORDER BY id -> [(1, Ann@x.com)]
        ",
    },
    LiteralScript {
        name: "expression-lookup-not-exists-write-skew-serializable",
        about: "each transaction inserts one email if another is absent, \
                looked up by lower(email): the lookups' index reads are \
                predicate locks the other's insert meets, a write skew \
                SERIALIZABLE fails",
        setup: CUSTOMER_SETUP,
        sessions: 2,
        steps: &[
            (0, SER),
            (1, SER),
            (
                0,
                "INSERT INTO customer SELECT 1, 'b@x.com' WHERE NOT EXISTS \
                 (SELECT 1 FROM customer WHERE lower(email) = 'a@x.com')",
            ),
            (
                1,
                "INSERT INTO customer SELECT 2, 'a@x.com' WHERE NOT EXISTS \
                 (SELECT 1 FROM customer WHERE lower(email) = 'b@x.com')",
            ),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, email FROM customer ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: INSERT INTO customer SELECT 1, 'b@x.com' WHERE NOT EXISTS (SELECT 1 FROM customer WHERE lower(email) = 'a@x.com') -> affected 1
            s2: INSERT INTO customer SELECT 2, 'a@x.com' WHERE NOT EXISTS (SELECT 1 FROM customer WHERE lower(email) = 'b@x.com') -> affected 1
            s1: COMMIT -> ok
            s2: COMMIT -> error 40001
            check: SELECT id, email FROM customer ORDER BY id -> [(1, b@x.com)]
        ",
    },
    LiteralScript {
        name: "expression-upsert-waits-then-does-nothing",
        about: "INSERT ... ON CONFLICT (lower(email)) DO NOTHING waits for \
                an uncommitted insert of the same email in other case and \
                does nothing once it commits",
        setup: CUSTOMER_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (0, "INSERT INTO customer VALUES (1, 'Ann@x.com')"),
            (
                1,
                "INSERT INTO customer VALUES (2, 'ann@x.com') ON CONFLICT (lower(email)) DO NOTHING",
            ),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, email FROM customer ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO customer VALUES (1, 'Ann@x.com') -> affected 1
            s2: INSERT INTO customer VALUES (2, 'ann@x.com') ON CONFLICT (lower(email)) DO NOTHING -> waiting
            s1: COMMIT -> ok
            s2 <- ok
            s2: COMMIT -> ok
            check: SELECT id, email FROM customer ORDER BY id -> [(1, Ann@x.com)]
        ",
    },
    LiteralScript {
        name: "nextval-neither-waits-nor-rolls-back",
        about: "nextval is not transactional: a session's nextval does not \
                wait for another's uncommitted one, a rolled-back \
                transaction's value is not given out again, and currval and \
                lastval are each session's own (recorded from PostgreSQL 15)",
        setup: SEQ_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "SELECT nextval('seq_ticket')"),
            (1, RC),
            (1, "SELECT nextval('seq_ticket')"),
            (0, "ROLLBACK"),
            (0, "SELECT nextval('seq_ticket'), currval('seq_ticket')"),
            (1, "SELECT currval('seq_ticket'), lastval()"),
            (1, "COMMIT"),
        ],
        check: &["SELECT nextval('seq_ticket')"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: SELECT nextval('seq_ticket') -> [(1)]
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: SELECT nextval('seq_ticket') -> [(2)]
            s1: ROLLBACK -> ok
            s1: SELECT nextval('seq_ticket'), currval('seq_ticket') -> [(3, 3)]
            s2: SELECT currval('seq_ticket'), lastval() -> [(2, 2)]
            s2: COMMIT -> ok
            check: SELECT nextval('seq_ticket') -> [(4)]
        ",
    },
    LiteralScript {
        name: "currval-before-nextval-in-a-session",
        about: "currval and lastval are 55000 in a session that has not \
                called nextval, whatever other sessions drew; setval with \
                is_called false sets no currval, and the next nextval \
                returns its value (recorded from PostgreSQL 15)",
        setup: SEQ_SETUP,
        sessions: 2,
        steps: &[
            (0, "SELECT nextval('seq_ticket')"),
            (1, "SELECT currval('seq_ticket')"),
            (1, "SELECT lastval()"),
            (1, "SELECT setval('seq_ticket', 10, false)"),
            (1, "SELECT currval('seq_ticket')"),
            (0, "SELECT currval('seq_ticket'), nextval('seq_ticket')"),
            (1, "SELECT nextval('seq_ticket'), lastval()"),
        ],
        check: &[],
        expected: "
            s1: SELECT nextval('seq_ticket') -> [(1)]
            s2: SELECT currval('seq_ticket') -> error 55000
            s2: SELECT lastval() -> error 55000
            s2: SELECT setval('seq_ticket', 10, false) -> [(10)]
            s2: SELECT currval('seq_ticket') -> error 55000
            s1: SELECT currval('seq_ticket'), nextval('seq_ticket') -> [(1, 10)]
            s2: SELECT nextval('seq_ticket'), lastval() -> [(11, 11)]
        ",
    },
    LiteralScript {
        name: "serial-insert-rolled-back-leaves-a-gap",
        about: "a serial column and a DEFAULT nextval column draw when the \
                row is inserted: a concurrent insert takes the next values \
                without waiting, and the rolled-back insert's values stay a \
                gap (recorded from PostgreSQL 15)",
        setup: SEQ_SETUP,
        sessions: 2,
        steps: &[
            (0, RR),
            (0, "INSERT INTO seq_orders (note) VALUES ('a') RETURNING id, ticket"),
            (1, "INSERT INTO seq_orders (note) VALUES ('b') RETURNING id, ticket"),
            (0, "ROLLBACK"),
            (0, "INSERT INTO seq_orders (note) VALUES ('c') RETURNING id, ticket"),
            (1, "SELECT currval('seq_orders_id_seq'), lastval()"),
        ],
        check: &["SELECT id, ticket, note FROM seq_orders ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL REPEATABLE READ -> ok
            s1: INSERT INTO seq_orders (note) VALUES ('a') RETURNING id, ticket -> [(1, 1)]
            s2: INSERT INTO seq_orders (note) VALUES ('b') RETURNING id, ticket -> [(2, 2)]
            s1: ROLLBACK -> ok
            s1: INSERT INTO seq_orders (note) VALUES ('c') RETURNING id, ticket -> [(3, 3)]
            s2: SELECT currval('seq_orders_id_seq'), lastval() -> [(2, 2)]
            check: SELECT id, ticket, note FROM seq_orders ORDER BY id -> [(2, 2, b) (3, 3, c)]
        ",
    },
    LiteralScript {
        name: "nextval-takes-no-serializable-conflict",
        about: "Serializable: two transactions that each draw from the same \
                sequence and insert a row both commit: nextval reads and \
                writes no row, so SSI sees no rw-conflict between them \
                (recorded from PostgreSQL 15)",
        setup: SEQ_SETUP,
        sessions: 2,
        steps: &[
            (0, SER),
            (0, "SELECT nextval('seq_ticket')"),
            (1, SER),
            (1, "SELECT nextval('seq_ticket')"),
            (0, "INSERT INTO seq_orders (note) VALUES ('x')"),
            (1, "INSERT INTO seq_orders (note) VALUES ('y')"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, ticket, note FROM seq_orders ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SELECT nextval('seq_ticket') -> [(1)]
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: SELECT nextval('seq_ticket') -> [(2)]
            s1: INSERT INTO seq_orders (note) VALUES ('x') -> affected 1
            s2: INSERT INTO seq_orders (note) VALUES ('y') -> affected 1
            s1: COMMIT -> ok
            s2: COMMIT -> ok
            check: SELECT id, ticket, note FROM seq_orders ORDER BY id -> [(1, 3, x) (2, 4, y)]
        ",
    },
    LiteralScript {
        name: "no-action-after-waiting-finds-a-row-updated-to-refer",
        about: "Read Committed: s1 points an existing child row at parent 1 \
                (its check holds parent 1 FOR KEY SHARE); s2's DELETE of \
                parent 1 waits, and once s1 commits its NO ACTION check \
                finds the updated row and fails with 23503 (conform RC \
                program 1367 of seed 1 left an orphan) (recorded from \
                PostgreSQL 15)",
        setup: RI_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "UPDATE ri_nullable SET p = 1 WHERE id = 1"),
            (1, "DELETE FROM ri_parent WHERE id = 1"),
            (0, "COMMIT"),
        ],
        check: &[
            "SELECT id FROM ri_parent ORDER BY id",
            "SELECT id, p FROM ri_nullable ORDER BY id",
        ],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE ri_nullable SET p = 1 WHERE id = 1 -> affected 1
            s2: DELETE FROM ri_parent WHERE id = 1 -> waiting
            s1: COMMIT -> ok
            s2 <- error 23503
            check: SELECT id FROM ri_parent ORDER BY id -> [(1) (2)]
            check: SELECT id, p FROM ri_nullable ORDER BY id -> [(1, 1)]
        ",
    },
    LiteralScript {
        name: "fk-check-again-on-an-update-of-an-own-version",
        about: "an UPDATE of a child row's other columns fires no foreign-key \
                check, unless the version it updates is the transaction's \
                own: then the check runs and locks the parent FOR KEY SHARE, \
                which a FOR UPDATE SKIP LOCKED then skips (conform program \
                9240 of seed 1) (recorded from PostgreSQL 15)",
        setup: RI_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "UPDATE ri_child SET note = 'a' WHERE id = 1"),
            (1, "SELECT id FROM ri_parent ORDER BY id FOR UPDATE SKIP LOCKED"),
            (0, "UPDATE ri_child SET note = 'b' WHERE id = 1"),
            (1, "SELECT id FROM ri_parent ORDER BY id FOR UPDATE SKIP LOCKED"),
            (0, "COMMIT"),
        ],
        check: &["SELECT id, p, note FROM ri_child ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE ri_child SET note = 'a' WHERE id = 1 -> affected 1
            s2: SELECT id FROM ri_parent ORDER BY id FOR UPDATE SKIP LOCKED -> [(1) (2)]
            s1: UPDATE ri_child SET note = 'b' WHERE id = 1 -> affected 1
            s2: SELECT id FROM ri_parent ORDER BY id FOR UPDATE SKIP LOCKED -> [(2)]
            s1: COMMIT -> ok
            check: SELECT id, p, note FROM ri_child ORDER BY id -> [(1, 1, b) (2, 2, y)]
        ",
    },
    LiteralScript {
        name: "epq-projects-a-newer-version-again-even-with-equal-values",
        about: "Read Committed: s2's UPDATE waits for s1's update of the row, \
                which leaves its values as they were; once s1 commits, \
                EvalPlanQual projects the newer version again, so a nextval \
                in SET is called twice (conform RC program 4346 of seed 1) \
                (recorded from PostgreSQL 15)",
        setup: &[
            "DROP TABLE IF EXISTS seq_orders",
            "DROP SEQUENCE IF EXISTS seq_ticket",
            "CREATE SEQUENCE seq_ticket",
            "CREATE TABLE seq_orders (id serial PRIMARY KEY, ticket bigint DEFAULT nextval('seq_ticket'), note text)",
            "INSERT INTO seq_orders (note) VALUES ('x')",
        ],
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "UPDATE seq_orders SET note = 'x' WHERE id = 1"),
            (1, "UPDATE seq_orders SET ticket = nextval('seq_ticket') WHERE id = 1 RETURNING ticket"),
            (0, "COMMIT"),
        ],
        check: &["SELECT id, ticket, note FROM seq_orders ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE seq_orders SET note = 'x' WHERE id = 1 -> affected 1
            s2: UPDATE seq_orders SET ticket = nextval('seq_ticket') WHERE id = 1 RETURNING ticket -> waiting
            s1: COMMIT -> ok
            s2 <- [(3)]
            check: SELECT id, ticket, note FROM seq_orders ORDER BY id -> [(1, 3, x)]
        ",
    },
    LiteralScript {
        name: "fk-trigger-locks-the-child-table-only-when-it-fires",
        about: "a foreign key's trigger opens the child table when it \
                fires, not when the parent's statement starts: an update \
                of a parent's other columns fires none and passes a \
                LOCK TABLE of the child; a delete of the parent waits for \
                it (ROW EXCLUSIVE for ON DELETE CASCADE) (recorded from \
                PostgreSQL 15)",
        setup: RI_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "LOCK TABLE ri_child IN ACCESS EXCLUSIVE MODE"),
            (1, "UPDATE ri_parent SET v = 5 WHERE id = 1"),
            (1, "DELETE FROM ri_parent WHERE id = 1"),
            (0, "COMMIT"),
        ],
        check: &["SELECT id, p FROM ri_child ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: LOCK TABLE ri_child IN ACCESS EXCLUSIVE MODE -> ok
            s2: UPDATE ri_parent SET v = 5 WHERE id = 1 -> affected 1
            s2: DELETE FROM ri_parent WHERE id = 1 -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            check: SELECT id, p FROM ri_child ORDER BY id -> [(2, 2)]
        ",
    },
    LiteralScript {
        name: "fk-check-of-an-inserted-row-locks-the-parent-table-even-for-null",
        about: "the foreign-key check of an inserted row opens the parent \
                with ROW SHARE before it looks at the reference, so an \
                insert of a NULL reference waits for a LOCK TABLE of the \
                parent, while an update of a reference to NULL fires no \
                check and does not (recorded from PostgreSQL 15)",
        setup: RI_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "LOCK TABLE ri_parent IN ACCESS EXCLUSIVE MODE"),
            (1, "UPDATE ri_nullable SET p = NULL WHERE id = 1"),
            (1, "INSERT INTO ri_nullable VALUES (5, NULL)"),
            (0, "COMMIT"),
        ],
        check: &["SELECT id, p FROM ri_nullable ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: LOCK TABLE ri_parent IN ACCESS EXCLUSIVE MODE -> ok
            s2: UPDATE ri_nullable SET p = NULL WHERE id = 1 -> affected 1
            s2: INSERT INTO ri_nullable VALUES (5, NULL) -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            check: SELECT id, p FROM ri_nullable ORDER BY id -> [(1, NULL) (5, NULL)]
        ",
    },
    LiteralScript {
        name: "deferred-fk-check-at-commit-fails-after-a-parent-delete",
        about: "Read Committed: a deferred foreign key locks no parent at the \
                INSERT, so another transaction deletes the parent without \
                waiting (its own NO ACTION check is deferred too and sees no \
                committed child); the check at the first one's COMMIT waits \
                for that delete and fails the commit with 23503 (recorded \
                from PostgreSQL 15)",
        setup: DEFERRED_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "INSERT INTO df_child VALUES (1, 1)"),
            (1, RC),
            (1, "DELETE FROM df_parent WHERE id = 1"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &[
            "SELECT id FROM df_parent ORDER BY id",
            "SELECT id, p FROM df_child ORDER BY id",
        ],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO df_child VALUES (1, 1) -> affected 1
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: DELETE FROM df_parent WHERE id = 1 -> affected 1
            s1: COMMIT -> waiting
            s2: COMMIT -> ok
            s1 <- error 23503
            check: SELECT id FROM df_parent ORDER BY id -> [(2)]
            check: SELECT id, p FROM df_child ORDER BY id -> []
        ",
    },
    LiteralScript {
        name: "deferred-fk-check-at-commit-passes-when-the-delete-rolls-back",
        about: "Read Committed: the deferred check at COMMIT waits for a \
                concurrent uncommitted delete of the parent and commits once \
                it rolls back (recorded from PostgreSQL 15)",
        setup: DEFERRED_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "INSERT INTO df_child VALUES (1, 1)"),
            (1, RC),
            (1, "DELETE FROM df_parent WHERE id = 1"),
            (0, "COMMIT"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT id, p FROM df_child ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO df_child VALUES (1, 1) -> affected 1
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: DELETE FROM df_parent WHERE id = 1 -> affected 1
            s1: COMMIT -> waiting
            s2: ROLLBACK -> ok
            s1 <- ok
            check: SELECT id, p FROM df_child ORDER BY id -> [(1, 1)]
        ",
    },
    LiteralScript {
        name: "deferred-fk-check-at-repeatable-read-commit-after-a-parent-delete",
        about: "Repeatable Read: the deferred check at COMMIT locks the parent \
                its snapshot sees, which a later transaction deleted and \
                committed: 40001, as a FOR KEY SHARE of it would be \
                (recorded from PostgreSQL 15)",
        setup: DEFERRED_SETUP,
        sessions: 2,
        steps: &[
            (0, RR),
            (0, "INSERT INTO df_child VALUES (1, 1)"),
            (1, "DELETE FROM df_parent WHERE id = 1"),
            (0, "COMMIT"),
        ],
        check: &[
            "SELECT id FROM df_parent ORDER BY id",
            "SELECT id, p FROM df_child ORDER BY id",
        ],
        expected: "
            s1: BEGIN ISOLATION LEVEL REPEATABLE READ -> ok
            s1: INSERT INTO df_child VALUES (1, 1) -> affected 1
            s2: DELETE FROM df_parent WHERE id = 1 -> affected 1
            s1: COMMIT -> error 40001
            check: SELECT id FROM df_parent ORDER BY id -> [(2)]
            check: SELECT id, p FROM df_child ORDER BY id -> []
        ",
    },
    LiteralScript {
        name: "deferred-no-action-check-at-commit-misses-an-uncommitted-child",
        about: "Read Committed: a parent delete whose NO ACTION check is \
                deferred commits while a child referring to it is uncommitted \
                (the check's fresh snapshot does not see it); that child's \
                own deferred check, at its commit, waits for the delete and \
                fails with 23503 (recorded from PostgreSQL 15)",
        setup: DEFERRED_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "DELETE FROM df_parent WHERE id = 1"),
            (1, "INSERT INTO df_child VALUES (1, 1)"),
            (0, "COMMIT"),
        ],
        check: &[
            "SELECT id FROM df_parent ORDER BY id",
            "SELECT id, p FROM df_child ORDER BY id",
        ],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: DELETE FROM df_parent WHERE id = 1 -> affected 1
            s2: INSERT INTO df_child VALUES (1, 1) -> waiting
            s1: COMMIT -> ok
            s2 <- error 23503
            check: SELECT id FROM df_parent ORDER BY id -> [(2)]
            check: SELECT id, p FROM df_child ORDER BY id -> []
        ",
    },
    LiteralScript {
        name: "set-constraints-immediate-locks-the-parent-then",
        about: "SET CONSTRAINTS ALL IMMEDIATE runs the pending check there and \
                then: it takes the parent's FOR KEY SHARE lock, so a \
                concurrent delete of the parent waits for the commit and its \
                own deferred NO ACTION check then fails with 23503 \
                (recorded from PostgreSQL 15)",
        setup: DEFERRED_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "INSERT INTO df_child VALUES (1, 1)"),
            (0, "SET CONSTRAINTS ALL IMMEDIATE"),
            (1, "DELETE FROM df_parent WHERE id = 1"),
            (0, "COMMIT"),
        ],
        check: &[
            "SELECT id FROM df_parent ORDER BY id",
            "SELECT id, p FROM df_child ORDER BY id",
        ],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO df_child VALUES (1, 1) -> affected 1
            s1: SET CONSTRAINTS ALL IMMEDIATE -> ok
            s2: DELETE FROM df_parent WHERE id = 1 -> waiting
            s1: COMMIT -> ok
            s2 <- error 23503
            check: SELECT id FROM df_parent ORDER BY id -> [(1) (2)]
            check: SELECT id, p FROM df_child ORDER BY id -> [(1, 1)]
        ",
    },
    LiteralScript {
        name: "set-constraints-immediate-waits-for-a-parent-delete",
        about: "SET CONSTRAINTS ALL IMMEDIATE runs the pending check, which \
                waits for a concurrent uncommitted delete of the parent and \
                passes once it rolls back (recorded from PostgreSQL 15)",
        setup: DEFERRED_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "INSERT INTO df_child VALUES (1, 1)"),
            (1, RC),
            (1, "DELETE FROM df_parent WHERE id = 1"),
            (0, "SET CONSTRAINTS ALL IMMEDIATE"),
            (1, "ROLLBACK"),
            (0, "COMMIT"),
        ],
        check: &["SELECT id, p FROM df_child ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO df_child VALUES (1, 1) -> affected 1
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: DELETE FROM df_parent WHERE id = 1 -> affected 1
            s1: SET CONSTRAINTS ALL IMMEDIATE -> waiting
            s2: ROLLBACK -> ok
            s1 <- ok
            s1: COMMIT -> ok
            check: SELECT id, p FROM df_child ORDER BY id -> [(1, 1)]
        ",
    },
    LiteralScript {
        name: "generated-column-recomputed-from-the-rechecked-row",
        about: "Read Committed: an UPDATE that waits for a concurrent update \
                of the same row re-reads its newer version and computes the \
                generated column from it (the other's qty, its own price); \
                RETURNING shows the recomputed value (recorded from \
                PostgreSQL 15)",
        setup: GEN_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "UPDATE gen_lines SET qty = 5 WHERE id = 1"),
            (1, RC),
            (1, "UPDATE gen_lines SET price = 3 WHERE id = 1 RETURNING total"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, price, qty, total FROM gen_lines ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE gen_lines SET qty = 5 WHERE id = 1 -> affected 1
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: UPDATE gen_lines SET price = 3 WHERE id = 1 RETURNING total -> waiting
            s1: COMMIT -> ok
            s2 <- [(15)]
            s2: COMMIT -> ok
            check: SELECT id, price, qty, total FROM gen_lines ORDER BY id -> [(1, 3, 5, 15)]
        ",
    },
    LiteralScript {
        name: "create-table-as-reads-with-its-own-snapshot",
        about: "CREATE TABLE ... AS runs its query with the statement's \
                snapshot: a row another transaction has inserted but not \
                committed is not copied, and the new table does not gain it \
                when that transaction commits (recorded from PostgreSQL 15)",
        setup: GEN_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "INSERT INTO gen_lines VALUES (2, 1, 1)"),
            (1, "CREATE TABLE gen_copy AS SELECT id, total FROM gen_lines"),
            (0, "COMMIT"),
        ],
        check: &[
            "SELECT id, total FROM gen_copy ORDER BY id",
            "SELECT count(*) FROM gen_lines",
        ],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO gen_lines VALUES (2, 1, 1) -> affected 1
            s2: CREATE TABLE gen_copy AS SELECT id, total FROM gen_lines -> affected 1
            s1: COMMIT -> ok
            check: SELECT id, total FROM gen_copy ORDER BY id -> [(1, 2)]
            check: SELECT count(*) FROM gen_lines -> [(2)]
        ",
    },
    LiteralScript {
        name: "create-table-as-waits-for-an-access-exclusive-lock",
        about: "CREATE TABLE ... AS takes ACCESS SHARE on the tables its \
                query reads before its snapshot: it waits for a LOCK TABLE \
                in ACCESS EXCLUSIVE mode and then copies the rows the locker \
                committed (recorded from PostgreSQL 15)",
        setup: GEN_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "LOCK TABLE gen_lines IN ACCESS EXCLUSIVE MODE"),
            (0, "UPDATE gen_lines SET qty = 10 WHERE id = 1"),
            (1, "CREATE TABLE gen_copy AS SELECT id, total FROM gen_lines"),
            (0, "COMMIT"),
        ],
        check: &["SELECT id, total FROM gen_copy ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: LOCK TABLE gen_lines IN ACCESS EXCLUSIVE MODE -> ok
            s1: UPDATE gen_lines SET qty = 10 WHERE id = 1 -> affected 1
            s2: CREATE TABLE gen_copy AS SELECT id, total FROM gen_lines -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            check: SELECT id, total FROM gen_copy ORDER BY id -> [(1, 20)]
        ",
    },
    LiteralScript {
        name: "partition-move-fails-a-read-committed-updater",
        about: "an UPDATE that changes a row's partition deletes it there and \
                inserts it in the other: a Read Committed UPDATE that waited \
                for the row does not follow it but fails with 40001 (tuple to \
                be locked was already moved to another partition due to \
                concurrent update) (recorded from PostgreSQL 15)",
        setup: PART_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "UPDATE pt SET a = 2 WHERE a = 1"),
            (1, RC),
            (1, "UPDATE pt SET b = 'y' WHERE a = 1"),
            (0, "COMMIT"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT a, b FROM pt ORDER BY a"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE pt SET a = 2 WHERE a = 1 -> affected 1
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: UPDATE pt SET b = 'y' WHERE a = 1 -> waiting
            s1: COMMIT -> ok
            s2 <- error 40001
            s2: ROLLBACK -> ok
            check: SELECT a, b FROM pt ORDER BY a -> [(2, x)]
        ",
    },
    LiteralScript {
        name: "partition-move-fails-a-read-committed-locking-read",
        about: "a SELECT ... FOR UPDATE that waited for a row another \
                transaction moved to another partition fails with 40001 at \
                Read Committed, and so does a DELETE of a heap table's row \
                (one after the other: two waiters freed by one commit \
                finish in either order; recorded from PostgreSQL 15)",
        setup: PART_SETUP,
        sessions: 3,
        steps: &[
            (0, RC),
            (0, "UPDATE pt SET a = 2 WHERE a = 1"),
            (1, RC),
            (1, "SELECT a, b FROM pt WHERE a = 1 FOR UPDATE"),
            (0, "COMMIT"),
            (1, "ROLLBACK"),
            (0, RC),
            (0, "UPDATE ph SET a = 2 WHERE a = 1"),
            (2, RC),
            (2, "DELETE FROM ph WHERE a = 1"),
            (0, "COMMIT"),
            (2, "ROLLBACK"),
        ],
        check: &["SELECT a, b FROM pt ORDER BY a", "SELECT a, b FROM ph ORDER BY a"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE pt SET a = 2 WHERE a = 1 -> affected 1
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: SELECT a, b FROM pt WHERE a = 1 FOR UPDATE -> waiting
            s1: COMMIT -> ok
            s2 <- error 40001
            s2: ROLLBACK -> ok
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE ph SET a = 2 WHERE a = 1 -> affected 1
            s3: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s3: DELETE FROM ph WHERE a = 1 -> waiting
            s1: COMMIT -> ok
            s3 <- error 40001
            s3: ROLLBACK -> ok
            check: SELECT a, b FROM pt ORDER BY a -> [(2, x)]
            check: SELECT a, b FROM ph ORDER BY a -> [(2, x)]
        ",
    },
    LiteralScript {
        name: "partition-move-lets-an-upsert-insert",
        about: "INSERT ... ON CONFLICT DO UPDATE that waited for the \
                conflicting row's writer retries its insert when the row \
                moved to another partition: no error, and its row goes in \
                (recorded from PostgreSQL 15)",
        setup: PART_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "UPDATE pt SET a = 2 WHERE a = 1"),
            (1, RC),
            (1, "INSERT INTO pt VALUES (1, 'n') ON CONFLICT (a) DO UPDATE SET b = 'u'"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT a, b FROM pt ORDER BY a"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE pt SET a = 2 WHERE a = 1 -> affected 1
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: INSERT INTO pt VALUES (1, 'n') ON CONFLICT (a) DO UPDATE SET b = 'u' -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            s2: COMMIT -> ok
            check: SELECT a, b FROM pt ORDER BY a -> [(1, n) (2, x)]
        ",
    },
    LiteralScript {
        name: "partition-move-at-repeatable-read-is-a-serialization-failure",
        about: "at Repeatable Read an UPDATE of a row that a concurrent \
                transaction moved to another partition fails with 40001 \
                (could not serialize access due to concurrent update) \
                (recorded from PostgreSQL 15)",
        setup: PART_SETUP,
        sessions: 2,
        steps: &[
            (1, RR),
            (1, "SELECT count(*) FROM pt"),
            (0, RC),
            (0, "UPDATE pt SET a = 2 WHERE a = 1"),
            (1, "UPDATE pt SET b = 'y' WHERE a = 1"),
            (0, "COMMIT"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT a, b FROM pt ORDER BY a"],
        expected: "
            s2: BEGIN ISOLATION LEVEL REPEATABLE READ -> ok
            s2: SELECT count(*) FROM pt -> [(1)]
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE pt SET a = 2 WHERE a = 1 -> affected 1
            s2: UPDATE pt SET b = 'y' WHERE a = 1 -> waiting
            s1: COMMIT -> ok
            s2 <- error 40001
            s2: ROLLBACK -> ok
            check: SELECT a, b FROM pt ORDER BY a -> [(2, x)]
        ",
    },
    LiteralScript {
        name: "partition-a-statement-on-the-table-locks-its-partitions",
        about: "a query of a partitioned table locks its partitions too \
                (none pruned here): it waits for a LOCK TABLE of one \
                partition in ACCESS EXCLUSIVE mode, and LOCK TABLE of the \
                partitioned table locks its partitions (recorded from \
                PostgreSQL 15)",
        setup: PART_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "LOCK TABLE pt1 IN ACCESS EXCLUSIVE MODE"),
            (1, "SELECT count(*) FROM pt"),
            (0, "COMMIT"),
            (0, RC),
            (0, "LOCK TABLE pt IN EXCLUSIVE MODE"),
            (1, RC),
            (1, "LOCK TABLE pt2 IN SHARE MODE NOWAIT"),
            (1, "ROLLBACK"),
            (0, "COMMIT"),
        ],
        check: &[],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: LOCK TABLE pt1 IN ACCESS EXCLUSIVE MODE -> ok
            s2: SELECT count(*) FROM pt -> waiting
            s1: COMMIT -> ok
            s2 <- [(1)]
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: LOCK TABLE pt IN EXCLUSIVE MODE -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: LOCK TABLE pt2 IN SHARE MODE NOWAIT -> error 55P03
            s2: ROLLBACK -> ok
            s1: COMMIT -> ok
        ",
    },
    LiteralScript {
        name: "partition-vacuum-skip-locked-passes-a-locked-partition",
        about: "VACUUM (SKIP_LOCKED) of a partitioned table skips a \
                partition whose lock is taken, without waiting; ANALYZE of \
                the partitioned table reads every partition under ACCESS \
                SHARE and waits for an ACCESS EXCLUSIVE lock even with \
                SKIP_LOCKED (recorded from PostgreSQL 15)",
        setup: PART_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "LOCK TABLE pt1 IN ACCESS EXCLUSIVE MODE"),
            (1, "VACUUM (SKIP_LOCKED) pt"),
            (1, "ANALYZE (SKIP_LOCKED) pt"),
            (0, "COMMIT"),
        ],
        check: &[],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: LOCK TABLE pt1 IN ACCESS EXCLUSIVE MODE -> ok
            s2: VACUUM (SKIP_LOCKED) pt -> ok
            s2: ANALYZE (SKIP_LOCKED) pt -> waiting
            s1: COMMIT -> ok
            s2 <- ok
        ",
    },
    LiteralScript {
        name: "trigger-function-statements-take-their-own-snapshot",
        about: "At Read Committed a BEFORE UPDATE trigger's query runs \
                with a snapshot of its own, taken after the UPDATE waited \
                for the row's writer: it counts the row that writer \
                inserted in the same transaction (recorded from PostgreSQL \
                15)",
        setup: TRIGGER_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "UPDATE trg_bookings SET v = 1 WHERE id = 1"),
            (0, "INSERT INTO trg_rooms VALUES (2)"),
            (1, "UPDATE trg_bookings SET v = v + 10 WHERE id = 1"),
            (0, "COMMIT"),
        ],
        check: &["SELECT v, seen FROM trg_bookings"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE trg_bookings SET v = 1 WHERE id = 1 -> affected 1
            s1: INSERT INTO trg_rooms VALUES (2) -> affected 1
            s2: UPDATE trg_bookings SET v = v + 10 WHERE id = 1 -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            check: SELECT v, seen FROM trg_bookings -> [(11, 2)]
        ",
    },
    LiteralScript {
        name: "create-trigger-waits-for-a-writer-of-the-table",
        about: "CREATE TRIGGER takes SHARE ROW EXCLUSIVE on its table: it \
                waits for a transaction that has inserted into it, and the \
                trigger then fires for later updates (recorded from \
                PostgreSQL 15)",
        setup: TRIGGER_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "INSERT INTO trg_bookings VALUES (2, 0, NULL)"),
            (1, "CREATE TRIGGER trg_bookings_again BEFORE UPDATE ON trg_bookings FOR EACH ROW EXECUTE FUNCTION trg_count()"),
            (0, "COMMIT"),
            (1, "UPDATE trg_bookings SET v = 5 WHERE id = 2"),
        ],
        check: &["SELECT id, v, seen FROM trg_bookings ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: INSERT INTO trg_bookings VALUES (2, 0, NULL) -> affected 1
            s2: CREATE TRIGGER trg_bookings_again BEFORE UPDATE ON trg_bookings FOR EACH ROW EXECUTE FUNCTION trg_count() -> waiting
            s1: COMMIT -> ok
            s2 <- ok
            s2: UPDATE trg_bookings SET v = 5 WHERE id = 2 -> affected 1
            check: SELECT id, v, seen FROM trg_bookings ORDER BY id -> [(1, 0, NULL) (2, 5, 1)]
        ",
    },
    LiteralScript {
        name: "truncate-without-the-privilege-fails-without-waiting",
        about: "TRUNCATE by a role without the TRUNCATE privilege fails with \
                42501 at once, before it would wait for the ACCESS SHARE \
                lock a reader holds; once granted, it waits for the reader \
                (recorded from PostgreSQL 15, as its truncate-conflict spec)",
        setup: ROLE_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "SELECT count(*) FROM public.role_tab"),
            (1, "SET ROLE regress_role_tab"),
            (1, "TRUNCATE public.role_tab"),
            (1, "RESET ROLE"),
            (1, "GRANT TRUNCATE ON public.role_tab TO regress_role_tab"),
            (1, "SET ROLE regress_role_tab"),
            (1, "TRUNCATE public.role_tab"),
            (0, "COMMIT"),
            (1, "RESET ROLE"),
        ],
        check: &["SELECT count(*) FROM public.role_tab"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: SELECT count(*) FROM public.role_tab -> [(1)]
            s2: SET ROLE regress_role_tab -> ok
            s2: TRUNCATE public.role_tab -> error 42501
            s2: RESET ROLE -> ok
            s2: GRANT TRUNCATE ON public.role_tab TO regress_role_tab -> ok
            s2: SET ROLE regress_role_tab -> ok
            s2: TRUNCATE public.role_tab -> waiting
            s1: COMMIT -> ok
            s2 <- ok
            s2: RESET ROLE -> ok
            check: SELECT count(*) FROM public.role_tab -> [(0)]
        ",
    },
    LiteralScript {
        name: "vacuum-by-a-non-owner-skips-the-table-without-waiting",
        about: "VACUUM by a role that does not own the table skips it (a \
                warning) without waiting for the SHARE UPDATE EXCLUSIVE \
                lock another transaction holds; once the role owns the \
                table, VACUUM waits for that lock (recorded from PostgreSQL \
                15, as its vacuum-conflict spec)",
        setup: ROLE_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "LOCK TABLE public.role_tab IN SHARE UPDATE EXCLUSIVE MODE"),
            (1, "SET ROLE regress_role_tab"),
            (1, "VACUUM public.role_tab"),
            (1, "ANALYZE public.role_tab"),
            (0, "COMMIT"),
            (1, "RESET ROLE"),
            (1, "ALTER TABLE public.role_tab OWNER TO regress_role_tab"),
            (0, RC),
            (0, "LOCK TABLE public.role_tab IN SHARE UPDATE EXCLUSIVE MODE"),
            (1, "SET ROLE regress_role_tab"),
            (1, "VACUUM public.role_tab"),
            (0, "COMMIT"),
            (1, "RESET ROLE"),
        ],
        check: &["SELECT count(*) FROM public.role_tab"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: LOCK TABLE public.role_tab IN SHARE UPDATE EXCLUSIVE MODE -> ok
            s2: SET ROLE regress_role_tab -> ok
            s2: VACUUM public.role_tab -> ok
            s2: ANALYZE public.role_tab -> ok
            s1: COMMIT -> ok
            s2: RESET ROLE -> ok
            s2: ALTER TABLE public.role_tab OWNER TO regress_role_tab -> ok
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: LOCK TABLE public.role_tab IN SHARE UPDATE EXCLUSIVE MODE -> ok
            s2: SET ROLE regress_role_tab -> ok
            s2: VACUUM public.role_tab -> waiting
            s1: COMMIT -> ok
            s2 <- ok
            s2: RESET ROLE -> ok
            check: SELECT count(*) FROM public.role_tab -> [(1)]
        ",
    },
    LiteralScript {
        name: "reindex-waits-for-a-reader-and-holds-back-readers",
        about: "REINDEX TABLE takes SHARE on the table and ACCESS EXCLUSIVE \
                on its indexes: it waits for an open reader (which holds \
                ACCESS SHARE on the index its query opened), and a reader \
                arriving meanwhile queues behind it; the REINDEX goes on \
                when the first reader commits, the queued reader when the \
                REINDEX's block commits (in a block, so that the order of \
                the two is fixed; recorded from PostgreSQL 15)",
        setup: REINDEX_SETUP,
        sessions: 3,
        steps: &[
            (0, RC),
            (0, "SELECT v FROM rx_tab WHERE id = 1"),
            (1, RC),
            (1, "REINDEX TABLE rx_tab"),
            (2, "SELECT v FROM rx_tab WHERE id = 1"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT count(*) FROM rx_tab"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: SELECT v FROM rx_tab WHERE id = 1 -> [(1)]
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: REINDEX TABLE rx_tab -> waiting
            s3: SELECT v FROM rx_tab WHERE id = 1 -> waiting
            s1: COMMIT -> ok
            s2 <- ok
            s2: COMMIT -> ok
            s3 <- [(1)]
            check: SELECT count(*) FROM rx_tab -> [(1)]
        ",
    },
    LiteralScript {
        name: "unique-violation-after-a-read-elsewhere-in-the-index-is-40001",
        about: "two serializable transactions read different absent names \
                through a unique index; the second inserts one of them and \
                commits; the first then inserts the same name: PostgreSQL's \
                check before the violation looks at the whole index page, \
                where the committed one read, so with the first's own read \
                of the name this is a cycle and 40001, not 23505 (recorded \
                from PostgreSQL 15)",
        setup: UNIQUE_PAGE_SETUP,
        sessions: 2,
        steps: &[
            (0, SER),
            (1, SER),
            (0, "SELECT count(*) FROM up_acct WHERE name = 'x'"),
            (1, "SELECT count(*) FROM up_acct WHERE name = 'y'"),
            (1, "INSERT INTO up_acct VALUES (2, 'x')"),
            (1, "COMMIT"),
            (0, "INSERT INTO up_acct VALUES (3, 'x')"),
            (0, "ROLLBACK"),
        ],
        check: &["SELECT id, name FROM up_acct ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SELECT count(*) FROM up_acct WHERE name = 'x' -> [(0)]
            s2: SELECT count(*) FROM up_acct WHERE name = 'y' -> [(0)]
            s2: INSERT INTO up_acct VALUES (2, 'x') -> affected 1
            s2: COMMIT -> ok
            s1: INSERT INTO up_acct VALUES (3, 'x') -> error 40001
            s1: ROLLBACK -> ok
            check: SELECT id, name FROM up_acct ORDER BY id -> [(1, a) (2, x)]
        ",
    },
    LiteralScript {
        name: "index-insert-conflicts-with-a-read-of-another-key-of-the-index",
        about: "two serializable transactions count one floor's shifts each \
                through an index and insert into that floor: a small \
                table's index is one page, which each read locks and the \
                other's insert goes into, so the second to commit fails \
                with 40001 although the floors differ (recorded from \
                PostgreSQL 15 with enable_seqscan off)",
        setup: SHIFTS_SETUP,
        sessions: 2,
        steps: &[
            (0, SER),
            (1, SER),
            (0, "SET enable_seqscan = off"),
            (1, "SET enable_seqscan = off"),
            (0, "SELECT count(*) FROM shifts WHERE floor = 1"),
            (1, "SELECT count(*) FROM shifts WHERE floor = 2"),
            (0, "INSERT INTO shifts VALUES (1, 1, 'ann')"),
            (1, "INSERT INTO shifts VALUES (2, 2, 'bob')"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, floor FROM shifts ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SET enable_seqscan = off -> ok
            s2: SET enable_seqscan = off -> ok
            s1: SELECT count(*) FROM shifts WHERE floor = 1 -> [(0)]
            s2: SELECT count(*) FROM shifts WHERE floor = 2 -> [(0)]
            s1: INSERT INTO shifts VALUES (1, 1, 'ann') -> affected 1
            s2: INSERT INTO shifts VALUES (2, 2, 'bob') -> affected 1
            s1: COMMIT -> ok
            s2: COMMIT -> error 40001
            check: SELECT id, floor FROM shifts ORDER BY id -> [(1, 1)]
        ",
    },
    LiteralScript {
        name: "primary-key-insert-conflicts-with-a-read-of-another-key",
        about: "a serializable transaction looks up a missing key of one \
                table through its primary key; another reads a row of a \
                second table and inserts a different key into the first; \
                the first then updates the row the second read. The \
                primary key's one leaf page, which the lookup locked, takes \
                the insert, so the two form a cycle and the first fails at \
                COMMIT (recorded from PostgreSQL 15)",
        setup: PK_PAGE_SETUP,
        sessions: 2,
        steps: &[
            (0, SER),
            (1, SER),
            (0, "SELECT v FROM pk_a WHERE id = 5"),
            (1, "SELECT v FROM pk_b WHERE id = 1"),
            (1, "INSERT INTO pk_a VALUES (2, 0)"),
            (0, "UPDATE pk_b SET v = 1 WHERE id = 1"),
            (1, "COMMIT"),
            (0, "COMMIT"),
        ],
        check: &["SELECT id, v FROM pk_a ORDER BY id", "SELECT id, v FROM pk_b ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SELECT v FROM pk_a WHERE id = 5 -> []
            s2: SELECT v FROM pk_b WHERE id = 1 -> [(0)]
            s2: INSERT INTO pk_a VALUES (2, 0) -> affected 1
            s1: UPDATE pk_b SET v = 1 WHERE id = 1 -> affected 1
            s2: COMMIT -> ok
            s1: COMMIT -> error 40001
            check: SELECT id, v FROM pk_a ORDER BY id -> [(1, 0) (2, 0)]
            check: SELECT id, v FROM pk_b ORDER BY id -> [(1, 0)]
        ",
    },
    LiteralScript {
        name: "exclusion-index-read-locks-only-the-rows-it-returns",
        about: "a serializable transaction deletes room 2's hold; another \
                adds a hold in room 2 (into the exclusion constraint's GiST \
                index, whose page the delete's scan locked) and reads room \
                1 through that index, which returns nothing: the deleted \
                row is not among what it read, so there is one rw edge, no \
                cycle, and both commit (recorded from PostgreSQL 15)",
        setup: GIST_PAGE_SETUP,
        sessions: 2,
        steps: &[
            (1, SER),
            (1, "DELETE FROM gx_hold WHERE room = 2"),
            (0, SER),
            (0, "INSERT INTO gx_hold VALUES (4, 2, '[8,11)')"),
            (0, "SELECT id FROM gx_hold WHERE room = 1"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, room FROM gx_hold ORDER BY id"],
        expected: "
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: DELETE FROM gx_hold WHERE room = 2 -> affected 1
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: INSERT INTO gx_hold VALUES (4, 2, '[8,11)') -> affected 1
            s1: SELECT id FROM gx_hold WHERE room = 1 -> []
            s1: COMMIT -> ok
            s2: COMMIT -> ok
            check: SELECT id, room FROM gx_hold ORDER BY id -> [(4, 2)]
        ",
    },
    LiteralScript {
        name: "exclusion-index-insert-conflicts-with-a-read-of-another-room",
        about: "two serializable transactions each count one room's holds \
                through the exclusion constraint's GiST index and add a \
                hold in the room the other counted: the index's one page \
                is locked by both reads and takes both inserts, so the \
                second to commit fails with 40001 (recorded from \
                PostgreSQL 15)",
        setup: GIST_PAGE_SETUP,
        sessions: 2,
        steps: &[
            (0, SER),
            (1, SER),
            (0, "SELECT count(*) FROM gx_hold WHERE room = 1 AND span && '[0,5)'"),
            (1, "SELECT count(*) FROM gx_hold WHERE room = 3 AND span && '[0,5)'"),
            (0, "INSERT INTO gx_hold VALUES (5, 3, '[0,5)')"),
            (1, "INSERT INTO gx_hold VALUES (6, 1, '[0,5)')"),
            (0, "COMMIT"),
            (1, "COMMIT"),
        ],
        check: &["SELECT id, room FROM gx_hold ORDER BY id"],
        expected: "
            s1: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s2: BEGIN ISOLATION LEVEL SERIALIZABLE -> ok
            s1: SELECT count(*) FROM gx_hold WHERE room = 1 AND span && '[0,5)' -> [(0)]
            s2: SELECT count(*) FROM gx_hold WHERE room = 3 AND span && '[0,5)' -> [(0)]
            s1: INSERT INTO gx_hold VALUES (5, 3, '[0,5)') -> affected 1
            s2: INSERT INTO gx_hold VALUES (6, 1, '[0,5)') -> affected 1
            s1: COMMIT -> ok
            s2: COMMIT -> error 40001
            check: SELECT id, room FROM gx_hold ORDER BY id -> [(2, 2) (5, 3)]
        ",
    },
    LiteralScript {
        name: "partition-statement-on-a-partition-waits-for-a-writer-through-the-parent",
        about: "an UPDATE naming the partition itself waits for a row \
                updated through the partitioned table and then updates the \
                newest version; an UPDATE of the other partition does not \
                see the row and does not wait; an INSERT of a row outside \
                the partition's bound fails with 23514 (recorded from \
                PostgreSQL 15)",
        setup: PART_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "UPDATE pt SET b = 'y' WHERE a = 1"),
            (1, RC),
            (1, "UPDATE pt2 SET b = 'w'"),
            (1, "UPDATE pt1 SET b = b || 'z' WHERE a = 1"),
            (0, "COMMIT"),
            (1, "SELECT a, b FROM pt1"),
            (1, "INSERT INTO pt2 VALUES (1, 'v')"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT a, b FROM pt ORDER BY a"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE pt SET b = 'y' WHERE a = 1 -> affected 1
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: UPDATE pt2 SET b = 'w' -> ok
            s2: UPDATE pt1 SET b = b || 'z' WHERE a = 1 -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            s2: SELECT a, b FROM pt1 -> [(1, yz)]
            s2: INSERT INTO pt2 VALUES (1, 'v') -> error 23514
            s2: ROLLBACK -> ok
            check: SELECT a, b FROM pt ORDER BY a -> [(1, y)]
        ",
    },
    LiteralScript {
        name: "partition-move-fires-the-source-partitions-delete-trigger-on-the-newest-version",
        about: "a Read Committed UPDATE that moves a row to another \
                partition waits for a concurrent update of the row, then \
                moves its newest version: the source partition's BEFORE \
                DELETE trigger sees that version as OLD (PostgreSQL's \
                partition-key-update-4; recorded from PostgreSQL 15)",
        setup: TRG_PART_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (1, RC),
            (1, "UPDATE trg_t SET b = b || ' update2' WHERE a = 1"),
            (0, "UPDATE trg_t SET a = a + 1, b = b || ' update1' WHERE b LIKE '%ABC%'"),
            (1, "COMMIT"),
            (0, "COMMIT"),
        ],
        check: &[
            "SELECT a, b FROM trg_t2",
            "SELECT a, b FROM trg_log",
        ],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: UPDATE trg_t SET b = b || ' update2' WHERE a = 1 -> affected 1
            s1: UPDATE trg_t SET a = a + 1, b = b || ' update1' WHERE b LIKE '%ABC%' -> waiting
            s2: COMMIT -> ok
            s1 <- affected 1
            s1: COMMIT -> ok
            check: SELECT a, b FROM trg_t2 -> [(2, ABC update2 update1)]
            check: SELECT a, b FROM trg_log -> [(1, ABC update2 trigger)]
        ",
    },
    LiteralScript {
        name: "statement-triggers-fire-around-a-wait-and-disable-trigger-waits-for-a-writer",
        about: "an UPDATE's BEFORE STATEMENT trigger fires before it waits \
                for a row lock and its AFTER STATEMENT trigger after; \
                ALTER TABLE ... DISABLE TRIGGER takes SHARE ROW EXCLUSIVE, \
                so it waits for a writer's ROW EXCLUSIVE lock (recorded \
                from PostgreSQL 15)",
        setup: TRG_STMT_SETUP,
        sessions: 3,
        steps: &[
            (0, RC),
            (0, "UPDATE trg_s SET v = v + 1 WHERE id = 1"),
            (1, RC),
            (1, "UPDATE trg_s SET v = v + 10"),
            (0, "SELECT w FROM trg_slog"),
            (0, "COMMIT"),
            (1, "SELECT w FROM trg_slog"),
            (2, "ALTER TABLE trg_s DISABLE TRIGGER trg_s_after"),
            (1, "COMMIT"),
            (0, "UPDATE trg_s SET v = 0 WHERE false"),
        ],
        check: &[
            "SELECT id, v FROM trg_s ORDER BY id",
            "SELECT w FROM trg_slog",
        ],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: UPDATE trg_s SET v = v + 1 WHERE id = 1 -> affected 1
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: UPDATE trg_s SET v = v + 10 -> waiting
            s1: SELECT w FROM trg_slog -> [(BEFORE UPDATE STATEMENT trg_s) (AFTER UPDATE STATEMENT trg_s)]
            s1: COMMIT -> ok
            s2 <- affected 2
            s2: SELECT w FROM trg_slog -> [(BEFORE UPDATE STATEMENT trg_s) (AFTER UPDATE STATEMENT trg_s) (BEFORE UPDATE STATEMENT trg_s) (AFTER UPDATE STATEMENT trg_s)]
            s3: ALTER TABLE trg_s DISABLE TRIGGER trg_s_after -> waiting
            s2: COMMIT -> ok
            s3 <- ok
            s1: UPDATE trg_s SET v = 0 WHERE false -> ok
            check: SELECT id, v FROM trg_s ORDER BY id -> [(1, 11) (2, 10)]
            check: SELECT w FROM trg_slog -> [(BEFORE UPDATE STATEMENT trg_s) (AFTER UPDATE STATEMENT trg_s) (BEFORE UPDATE STATEMENT trg_s) (AFTER UPDATE STATEMENT trg_s) (BEFORE UPDATE STATEMENT trg_s)]
        ",
    },
    LiteralScript {
        name: "alter-table-in-a-block-holds-back-readers-until-commit",
        about: "ALTER TABLE ... ADD COLUMN in a block takes ACCESS EXCLUSIVE \
                and holds it to COMMIT: a reader waits, then sees the new \
                column (its query is planned again once it holds its lock; \
                recorded from PostgreSQL 15)",
        setup: DDL_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "ALTER TABLE dd_a ADD COLUMN note text DEFAULT 'n'"),
            (0, "SELECT i, note FROM dd_a"),
            (1, "SELECT * FROM dd_a"),
            (0, "COMMIT"),
        ],
        check: &["SELECT i, v, note FROM dd_a"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: ALTER TABLE dd_a ADD COLUMN note text DEFAULT 'n' -> ok
            s1: SELECT i, note FROM dd_a -> [(1, n)]
            s2: SELECT * FROM dd_a -> waiting
            s1: COMMIT -> ok
            s2 <- [(1, 1, n)]
            check: SELECT i, v, note FROM dd_a -> [(1, 1, n)]
        ",
    },
    LiteralScript {
        name: "rolled-back-drop-table-frees-a-waiting-reader",
        about: "DROP TABLE in a block holds ACCESS EXCLUSIVE: a reader waits; \
                the block rolls back and the reader goes on with the table \
                as it was (recorded from PostgreSQL 15)",
        setup: DDL_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "DROP TABLE dd_b"),
            (1, "SELECT a_id FROM dd_b"),
            (0, "ROLLBACK"),
        ],
        check: &["SELECT count(*) FROM dd_b"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: DROP TABLE dd_b -> ok
            s2: SELECT a_id FROM dd_b -> waiting
            s1: ROLLBACK -> ok
            s2 <- [(1)]
            check: SELECT count(*) FROM dd_b -> [(1)]
        ",
    },
    LiteralScript {
        name: "reader-waiting-for-a-committed-drop-table-finds-no-table",
        about: "a reader waits for a block's DROP TABLE; the block commits \
                and the reader fails with 42P01, the table gone (recorded \
                from PostgreSQL 15)",
        setup: DDL_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "DROP TABLE dd_b"),
            (1, "SELECT a_id FROM dd_b"),
            (0, "COMMIT"),
        ],
        check: &["SELECT count(*) FROM dd_a"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: DROP TABLE dd_b -> ok
            s2: SELECT a_id FROM dd_b -> waiting
            s1: COMMIT -> ok
            s2 <- error 42P01
            check: SELECT count(*) FROM dd_a -> [(1)]
        ",
    },
    LiteralScript {
        name: "create-index-in-a-block-lets-readers-on-and-holds-back-writers",
        about: "CREATE INDEX in a block takes SHARE: a reader goes on, a \
                writer waits for the block; the block rolls back, the \
                writer goes on, and the index is gone (its name free \
                again; recorded from PostgreSQL 15)",
        setup: DDL_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "CREATE INDEX dd_a_v ON dd_a (v)"),
            (1, "SELECT i FROM dd_a WHERE v = 1"),
            (1, "INSERT INTO dd_a VALUES (2, 2)"),
            (0, "ROLLBACK"),
            (0, "CREATE INDEX dd_a_v ON dd_a (v)"),
        ],
        check: &["SELECT i FROM dd_a WHERE v = 2"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: CREATE INDEX dd_a_v ON dd_a (v) -> ok
            s2: SELECT i FROM dd_a WHERE v = 1 -> [(1)]
            s2: INSERT INTO dd_a VALUES (2, 2) -> waiting
            s1: ROLLBACK -> ok
            s2 <- affected 1
            s1: CREATE INDEX dd_a_v ON dd_a (v) -> ok
            check: SELECT i FROM dd_a WHERE v = 2 -> [(2)]
        ",
    },
    LiteralScript {
        name: "table-created-in-a-block-is-not-there-for-others-until-commit",
        about: "a table created in a block, and the rows inserted into it, \
                are the block's own: another session's query fails with \
                42P01 at once (no wait), and after the COMMIT finds the \
                rows (recorded from PostgreSQL 15)",
        setup: DDL_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "CREATE TABLE dd_new (n int)"),
            (0, "INSERT INTO dd_new VALUES (7)"),
            (1, "SELECT n FROM dd_new"),
            (0, "COMMIT"),
            (1, "SELECT n FROM dd_new"),
        ],
        check: &["SELECT count(*) FROM dd_new"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: CREATE TABLE dd_new (n int) -> ok
            s1: INSERT INTO dd_new VALUES (7) -> affected 1
            s2: SELECT n FROM dd_new -> error 42P01
            s1: COMMIT -> ok
            s2: SELECT n FROM dd_new -> [(7)]
            check: SELECT count(*) FROM dd_new -> [(1)]
        ",
    },
    LiteralScript {
        name: "nextval-waits-for-a-block-that-alters-the-sequence",
        about: "ALTER SEQUENCE in a block takes SHARE ROW EXCLUSIVE on the \
                sequence to COMMIT, and nextval takes ROW EXCLUSIVE: it \
                waits, then draws under the new MAXVALUE and fails with \
                2200H past it (PostgreSQL's sequence-ddl spec; recorded \
                from PostgreSQL 15)",
        setup: DDL_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "ALTER SEQUENCE dd_seq MAXVALUE 3"),
            (1, "SELECT nextval('dd_seq') FROM generate_series(1, 5)"),
            (0, "COMMIT"),
            (1, "SELECT nextval('dd_seq')"),
        ],
        check: &["SELECT count(*) FROM dd_a"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: ALTER SEQUENCE dd_seq MAXVALUE 3 -> ok
            s2: SELECT nextval('dd_seq') FROM generate_series(1, 5) -> waiting
            s1: COMMIT -> ok
            s2 <- error 2200H
            s2: SELECT nextval('dd_seq') -> error 2200H
            check: SELECT count(*) FROM dd_a -> [(1)]
        ",
    },
    LiteralScript {
        name: "rolled-back-alter-sequence-restart-leaves-the-sequence-as-it-was",
        about: "ALTER SEQUENCE ... RESTART in a block is the block's: its own \
                nextval draws from the new start, another session's nextval \
                waits, and after the ROLLBACK draws where the sequence was \
                (recorded from PostgreSQL 15)",
        setup: DDL_SETUP,
        sessions: 2,
        steps: &[
            (1, "SELECT nextval('dd_seq')"),
            (0, RC),
            (0, "ALTER SEQUENCE dd_seq RESTART WITH 50"),
            (0, "SELECT nextval('dd_seq')"),
            (1, "SELECT nextval('dd_seq')"),
            (0, "ROLLBACK"),
        ],
        check: &["SELECT nextval('dd_seq')"],
        expected: "
            s2: SELECT nextval('dd_seq') -> [(1)]
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: ALTER SEQUENCE dd_seq RESTART WITH 50 -> ok
            s1: SELECT nextval('dd_seq') -> [(50)]
            s2: SELECT nextval('dd_seq') -> waiting
            s1: ROLLBACK -> ok
            s2 <- [(2)]
            check: SELECT nextval('dd_seq') -> [(3)]
        ",
    },
    LiteralScript {
        name: "foreign-key-added-in-a-block-holds-back-writers-of-both-tables",
        about: "ALTER TABLE ... ADD FOREIGN KEY ... NOT VALID in a block takes \
                SHARE ROW EXCLUSIVE on both tables: a locking read of the \
                parent goes on, an insert into the parent waits for the \
                COMMIT, after which the child's new rows are checked \
                (recorded from PostgreSQL 15)",
        setup: DDL_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "ALTER TABLE dd_b ADD CONSTRAINT dd_bfk FOREIGN KEY (a_id) REFERENCES dd_a (i) NOT VALID"),
            (1, RC),
            (1, "SELECT i FROM dd_a WHERE i = 1 FOR UPDATE"),
            (1, "INSERT INTO dd_a VALUES (3, 3)"),
            (0, "COMMIT"),
            (1, "INSERT INTO dd_b VALUES (9)"),
            (1, "ROLLBACK"),
        ],
        check: &["SELECT count(*) FROM dd_a"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: ALTER TABLE dd_b ADD CONSTRAINT dd_bfk FOREIGN KEY (a_id) REFERENCES dd_a (i) NOT VALID -> ok
            s2: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s2: SELECT i FROM dd_a WHERE i = 1 FOR UPDATE -> [(1)]
            s2: INSERT INTO dd_a VALUES (3, 3) -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            s2: INSERT INTO dd_b VALUES (9) -> error 23503
            s2: ROLLBACK -> ok
            check: SELECT count(*) FROM dd_a -> [(1)]
        ",
    },
    LiteralScript {
        name: "trigger-created-in-a-block-fires-for-an-update-that-waited",
        about: "CREATE TRIGGER in a block takes SHARE ROW EXCLUSIVE: a locking \
                read goes on, an UPDATE waits for the COMMIT and then fires \
                the new trigger (recorded from PostgreSQL 15)",
        setup: DDL_SETUP,
        sessions: 2,
        steps: &[
            (0, RC),
            (0, "CREATE TRIGGER dd_t BEFORE UPDATE ON dd_a FOR EACH ROW EXECUTE FUNCTION dd_mark()"),
            (1, "SELECT i FROM dd_a WHERE i = 1 FOR UPDATE"),
            (1, "UPDATE dd_a SET v = 5 WHERE i = 1"),
            (0, "COMMIT"),
        ],
        check: &["SELECT i, v FROM dd_a"],
        expected: "
            s1: BEGIN ISOLATION LEVEL READ COMMITTED -> ok
            s1: CREATE TRIGGER dd_t BEFORE UPDATE ON dd_a FOR EACH ROW EXECUTE FUNCTION dd_mark() -> ok
            s2: SELECT i FROM dd_a WHERE i = 1 FOR UPDATE -> [(1)]
            s2: UPDATE dd_a SET v = 5 WHERE i = 1 -> waiting
            s1: COMMIT -> ok
            s2 <- affected 1
            check: SELECT i, v FROM dd_a -> [(1, 99)]
        ",
    },
];

/// Two tables of one key each (see
/// `primary-key-insert-conflicts-with-a-read-of-another-key`).
const PK_PAGE_SETUP: &[&str] = &[
    "DROP TABLE IF EXISTS pk_a, pk_b",
    "CREATE TABLE pk_a (id int PRIMARY KEY, v int)",
    "CREATE TABLE pk_b (id int PRIMARY KEY, v int)",
    "INSERT INTO pk_a VALUES (1, 0)",
    "INSERT INTO pk_b VALUES (1, 0)",
];

/// Holds with an exclusion constraint (see
/// `exclusion-index-read-locks-only-the-rows-it-returns`).
const GIST_PAGE_SETUP: &[&str] = &[
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    "DROP TABLE IF EXISTS gx_hold",
    "CREATE TABLE gx_hold (id int PRIMARY KEY, room int NOT NULL, span int4range NOT NULL, EXCLUDE USING gist (room WITH =, span WITH &&))",
    "INSERT INTO gx_hold VALUES (2, 2, '[0,1)')",
];

/// The tables of the scripts of DDL inside blocks (see `ddlblock`).
const DDL_SETUP: &[&str] = &[
    "DROP TABLE IF EXISTS dd_new, dd_b, dd_a",
    "DROP SEQUENCE IF EXISTS dd_seq",
    "DROP FUNCTION IF EXISTS dd_mark()",
    "CREATE TABLE dd_a (i int PRIMARY KEY, v int)",
    "CREATE TABLE dd_b (a_id int)",
    "CREATE SEQUENCE dd_seq",
    "CREATE FUNCTION dd_mark() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.v := 99; RETURN NEW; END $$",
    "INSERT INTO dd_a VALUES (1, 1)",
    "INSERT INTO dd_b VALUES (1)",
];

/// A table with a secondary index (see
/// `index-insert-conflicts-with-a-read-of-another-key-of-the-index`).
const SHIFTS_SETUP: &[&str] = &[
    "DROP TABLE IF EXISTS shifts",
    "CREATE TABLE shifts (id int PRIMARY KEY, floor int NOT NULL, nurse text)",
    "CREATE INDEX shifts_floor ON shifts (floor)",
];

/// A table with a secondary unique index (see
/// `unique-violation-after-a-read-elsewhere-in-the-index-is-40001`).
const UNIQUE_PAGE_SETUP: &[&str] = &[
    "DROP TABLE IF EXISTS up_acct",
    "CREATE TABLE up_acct (id integer PRIMARY KEY, name text NOT NULL)",
    "CREATE UNIQUE INDEX up_acct_name ON up_acct (name)",
    "INSERT INTO up_acct VALUES (1, 'a')",
];

/// The REINDEX script's table.
const REINDEX_SETUP: &[&str] = &[
    "DROP TABLE IF EXISTS rx_tab",
    "CREATE TABLE rx_tab (id integer PRIMARY KEY, v integer)",
    "INSERT INTO rx_tab VALUES (1, 1)",
];

/// The role scripts' table and role (roles are the cluster's, not the
/// database's: dropped after the table, whose grants and ownership
/// would keep it). The table is in schema public, which every role may
/// use (the PostgreSQL runner's own schema is not the role's to use).
const ROLE_SETUP: &[&str] = &[
    "DROP TABLE IF EXISTS public.role_tab",
    "DROP ROLE IF EXISTS regress_role_tab",
    "CREATE ROLE regress_role_tab",
    "CREATE TABLE public.role_tab (a integer)",
    "INSERT INTO public.role_tab VALUES (1)",
];

/// The deferred-constraint scripts' tables: a parent, and a child whose
/// key to it is `DEFERRABLE INITIALLY DEFERRED`.
const DEFERRED_SETUP: &[&str] = &[
    "DROP TABLE IF EXISTS df_child, df_parent",
    "CREATE TABLE df_parent (id integer PRIMARY KEY)",
    "CREATE TABLE df_child (id integer PRIMARY KEY, p integer REFERENCES df_parent DEFERRABLE INITIALLY DEFERRED)",
    "INSERT INTO df_parent VALUES (1), (2)",
];

/// The partitioning scripts' tables: `pt` by LIST (a) with a primary
/// key, and the heap `ph` by LIST (a), each with partitions for 1 and 2
/// and one row in the first.
const PART_SETUP: &[&str] = &[
    "DROP TABLE IF EXISTS pt",
    "DROP TABLE IF EXISTS ph",
    "CREATE TABLE pt (a integer PRIMARY KEY, b text) PARTITION BY LIST (a)",
    "CREATE TABLE pt1 PARTITION OF pt FOR VALUES IN (1)",
    "CREATE TABLE pt2 PARTITION OF pt FOR VALUES IN (2)",
    "INSERT INTO pt VALUES (1, 'x')",
    "CREATE TABLE ph (a integer, b text) PARTITION BY LIST (a)",
    "CREATE TABLE ph1 PARTITION OF ph FOR VALUES IN (1)",
    "CREATE TABLE ph2 PARTITION OF ph FOR VALUES IN (2)",
    "INSERT INTO ph VALUES (1, 'x')",
];

/// The generated-column scripts' table (total = price * qty) and the
/// table CREATE TABLE ... AS makes.
const GEN_SETUP: &[&str] = &[
    "DROP TABLE IF EXISTS gen_copy",
    "DROP TABLE IF EXISTS gen_lines",
    "CREATE TABLE gen_lines (id integer PRIMARY KEY, price integer, qty integer, total integer GENERATED ALWAYS AS (price * qty) STORED)",
    "INSERT INTO gen_lines VALUES (1, 2, 1)",
];

/// The trigger scripts' tables: bookings whose BEFORE UPDATE trigger
/// stores how many rooms its query counts.
const TRIGGER_SETUP: &[&str] = &[
    "DROP TABLE IF EXISTS trg_bookings, trg_rooms",
    "DROP FUNCTION IF EXISTS trg_count()",
    "CREATE TABLE trg_rooms (id integer PRIMARY KEY)",
    "CREATE TABLE trg_bookings (id integer PRIMARY KEY, v integer, seen bigint)",
    "INSERT INTO trg_rooms VALUES (1)",
    "INSERT INTO trg_bookings VALUES (1, 0, NULL)",
    "CREATE FUNCTION trg_count() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.seen := (SELECT count(*) FROM trg_rooms); RETURN NEW; END $$",
    "CREATE TRIGGER trg_bookings_count BEFORE UPDATE ON trg_bookings FOR EACH ROW EXECUTE FUNCTION trg_count()",
];

/// The table of the expression-index scripts: customers whose emails
/// are unique but for case.
const CUSTOMER_SETUP: &[&str] = &[
    "DROP TABLE IF EXISTS customer",
    "CREATE TABLE customer (id integer PRIMARY KEY, email text NOT NULL)",
    "CREATE UNIQUE INDEX customer_email_key ON customer (lower(email))",
];

/// The sequence scripts' sequence and a table drawing from it and from
/// its own serial column's sequence.
const SEQ_SETUP: &[&str] = &[
    "DROP TABLE IF EXISTS seq_orders",
    "DROP SEQUENCE IF EXISTS seq_ticket",
    "CREATE SEQUENCE seq_ticket",
    "CREATE TABLE seq_orders (id serial PRIMARY KEY, ticket bigint DEFAULT nextval('seq_ticket'), note text)",
];

/// Tables of the referential-action scripts: a parent, a child with ON
/// DELETE CASCADE / ON UPDATE CASCADE, and a child with ON UPDATE SET NULL
/// (whose one row refers to parent 2, which the delete scripts leave).
const RI_SETUP: &[&str] = &[
    "DROP TABLE IF EXISTS ri_nullable, ri_child, ri_parent",
    "CREATE TABLE ri_parent (id integer PRIMARY KEY, v integer)",
    "CREATE TABLE ri_child (id integer PRIMARY KEY, p integer REFERENCES ri_parent ON DELETE CASCADE ON UPDATE CASCADE, note text)",
    "CREATE TABLE ri_nullable (id integer PRIMARY KEY, p integer REFERENCES ri_parent ON UPDATE SET NULL)",
    "INSERT INTO ri_parent VALUES (1, 0), (2, 0)",
    "INSERT INTO ri_child VALUES (1, 1, 'x'), (2, 2, 'y')",
    "INSERT INTO ri_nullable VALUES (1, 2)",
];

/// A partitioned table whose partition 1 has a BEFORE DELETE trigger
/// logging OLD (PostgreSQL's partition-key-update-4).
const TRG_PART_SETUP: &[&str] = &[
    "DROP TABLE IF EXISTS trg_t, trg_log",
    "DROP FUNCTION IF EXISTS trg_log_old()",
    "CREATE TABLE trg_t (a integer, b text) PARTITION BY LIST (a)",
    "CREATE TABLE trg_t1 PARTITION OF trg_t FOR VALUES IN (1)",
    "CREATE TABLE trg_t2 PARTITION OF trg_t FOR VALUES IN (2)",
    "INSERT INTO trg_t VALUES (1, 'ABC')",
    "CREATE TABLE trg_log (a integer, b text)",
    "CREATE FUNCTION trg_log_old() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN OLD.b = OLD.b || ' trigger'; INSERT INTO trg_log SELECT OLD.*; RETURN OLD; END $$",
    "CREATE TRIGGER trg_ondel BEFORE DELETE ON trg_t1 FOR EACH ROW EXECUTE FUNCTION trg_log_old()",
];

/// A table with BEFORE and AFTER UPDATE statement triggers that log
/// themselves.
const TRG_STMT_SETUP: &[&str] = &[
    "DROP TABLE IF EXISTS trg_s, trg_slog",
    "DROP FUNCTION IF EXISTS trg_s_log()",
    "CREATE TABLE trg_s (id integer PRIMARY KEY, v integer)",
    "INSERT INTO trg_s VALUES (1, 0), (2, 0)",
    "CREATE TABLE trg_slog (w text)",
    "CREATE FUNCTION trg_s_log() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO trg_slog VALUES (TG_WHEN || ' ' || TG_OP || ' ' || TG_LEVEL || ' ' || TG_TABLE_NAME); RETURN NULL; END $$",
    "CREATE TRIGGER trg_s_before BEFORE UPDATE ON trg_s EXECUTE FUNCTION trg_s_log()",
    "CREATE TRIGGER trg_s_after AFTER UPDATE ON trg_s FOR EACH STATEMENT EXECUTE FUNCTION trg_s_log()",
];

#[cfg(test)]
mod tests {
    use super::super::script::SimBackend;
    use super::*;

    #[test]
    fn every_script_on_the_store_gives_postgres_transcript() {
        let mut failures = Vec::new();
        for script in scripts() {
            let got = crate::store::block_on(run_script(&mut SimBackend::default(), script))
                .expect("the script sets up");
            let want = expected_lines(script);
            if got != want {
                failures.push(format!(
                    "{}:\n  store:\n    {}\n  PostgreSQL:\n    {}",
                    script.name,
                    got.join("\n    "),
                    want.join("\n    ")
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn every_transcript_file_is_listed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("transcripts");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("the transcripts folder")
            .map(|entry| entry.expect("an entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "spec"))
            .map(|p| p.file_stem().expect("a name").to_string_lossy().to_string())
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = FILES.iter().map(|f| f.name.to_string()).collect();
        listed.sort();
        assert_eq!(on_disk, listed, "transcripts/*.spec and FILES differ");
    }

    #[test]
    fn files_round_trip_to_the_literals() {
        let literals: Vec<Script> = SCRIPTS.iter().map(LiteralScript::owned).collect();
        let files = scripts();
        assert_eq!(literals.len(), files.len());
        for (old, new) in literals.iter().zip(files) {
            assert_eq!(expected_lines(old), expected_lines(new), "{}", old.name);
            let new = Script {
                expected: old.expected.clone(),
                ..new.clone()
            };
            assert_eq!(old, &new);
        }
    }

    #[test]
    fn script_names_are_unique_kebab_case() {
        let mut names: Vec<&str> = scripts().iter().map(|s| s.name.as_str()).collect();
        assert!(names.iter().all(|n| n
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), scripts().len());
    }
}

#[cfg(test)]
mod dump {
    //! One-off: writes SCRIPTS as transcripts/NAME.spec and NAME.out.
    use super::*;

    fn wrap(first: &str, text: &str, rest: &str) -> String {
        let mut lines: Vec<String> = vec![first.to_string()];
        for word in text.split(' ') {
            let last = lines.last_mut().unwrap();
            if last != first && last.len() + 1 + word.len() > 76 {
                lines.push(format!("{rest}{word}"));
            } else {
                last.push(' ');
                last.push_str(word);
            }
        }
        lines.join("\n")
    }

    #[test]
    #[ignore]
    fn dump_scripts_as_files() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("transcripts");
        std::fs::create_dir_all(&dir).unwrap();
        let mut names = String::new();
        for s in SCRIPTS {
            let mut t = String::new();
            t.push_str(&wrap("# about:", s.about, "#   "));
            t.push_str("\n\n");
            t.push_str(&tables_block());
            for stmt in s.setup {
                assert!(!stmt.contains('}'), "{}", s.name);
                t.push_str(&format!("setup {{ {stmt} }}\n"));
            }
            let mut order = Vec::new();
            let mut count = vec![0; s.sessions];
            let mut per: Vec<Vec<String>> = vec![Vec::new(); s.sessions];
            for &(session, sql) in s.steps {
                assert!(!sql.contains('}') && !sql.contains('\n'), "{}", s.name);
                count[session] += 1;
                let name = format!("s{}_{}", session + 1, count[session]);
                per[session].push(format!("step {name} {{ {sql} }}\n"));
                order.push(name);
            }
            for (i, steps) in per.iter().enumerate() {
                if steps.is_empty() {
                    continue;
                }
                t.push_str(&format!("\nsession s{}\n", i + 1));
                for st in steps {
                    t.push_str(st);
                }
            }
            if !s.check.is_empty() {
                t.push_str("\nsession check\n");
                for (i, q) in s.check.iter().enumerate() {
                    assert!(!q.contains('}') && !q.contains('\n'), "{}", s.name);
                    t.push_str(&format!("step check_{} {{ {q} }}\n", i + 1));
                    order.push(format!("check_{}", i + 1));
                }
            }
            t.push_str("\npermutation");
            let mut line = String::new();
            for name in order {
                if line.len() + name.len() + 1 > 74 {
                    t.push_str(&format!("\n {line}"));
                    line.clear();
                }
                line.push(' ');
                line.push_str(&name);
            }
            t.push_str(&format!("\n {line}\n"));
            std::fs::write(dir.join(format!("{}.spec", s.name)), t).unwrap();
            let mut out = expected_lines(&s.owned()).join("\n");
            out.push('\n');
            std::fs::write(dir.join(format!("{}.out", s.name)), out).unwrap();
            names.push_str(&format!("    \"{}\",\n", s.name));
        }
        std::fs::write(dir.join("../names.tmp"), names).unwrap();
    }
}
