//! Multi-session scripts with PostgreSQL's recorded transcripts: each
//! pins one rule of PostgreSQL's concurrency control that the simulated
//! store follows. [`run_script`] runs one on any [`Backend`] with the
//! shared step runner of [`super::script`]; the lib test runs every one on
//! the store, and the suite's `scripts_give_the_recorded_transcripts_on_postgres`
//! on PostgreSQL 15 (`scripts/with-postgres.sh cargo test --test suite
//! scripts_give -- --ignored`), where they were recorded.
//!
//! # The files
//!
//! Each transcript is two files in `crates/overbook-db/transcripts/`,
//! data a reader reads as SQL rather than Rust string literals:
//!
//! - `NAME.spec`, in PostgreSQL's isolationtester syntax, so that the file
//!   is what a PostgreSQL developer already reads and `overbook pgspecs
//!   --specs crates/overbook-db/transcripts` runs it as it is (as would
//!   isolationtester itself). A `# about:` comment says what it shows
//!   (continued on lines starting `#` and three spaces). The first `setup`
//!   block creates the anomaly suite's tables ([`tables_block`]: the
//!   runner creates them itself and checks the block names exactly them,
//!   so the file runs alone on an empty database); each further `setup`
//!   block is a statement run before the sessions start. Sessions are
//!   named `s1`, `s2`, ... (session N, as the transcript lines name it; a
//!   session without steps is left out), each step one statement; an
//!   optional last session `check` holds the queries run once every
//!   session is done. One `permutation` gives the order the steps are
//!   issued in, the checks last. No teardown, markers or per-session
//!   setup: the transcript runner has none.
//! - `NAME.out`, the transcript PostgreSQL 15 gave, one line per event
//!   (see [`Transcript`]), kept in this runner's format rather than
//!   isolationtester's: it records which step a waiting statement
//!   completed after and the checks' rows on one line each, which is what
//!   the tests compare, and it is what a failing test prints.
//!
//! Both are embedded with `include_str!` through the list in
//! the `FILES` list of this module (the binary and the tests read no
//! file at run time) and parsed once, by [`scripts`], into [`Script`]
//! values.
//!
//! # Adding a transcript
//!
//! A new concurrency rule comes with a transcript recorded from
//! PostgreSQL 15: write `NAME.spec` (copy a neighbour's), write the
//! `NAME.out` you expect (or an empty one), append `"NAME"` at the end of
//! the `FILES` list in this file, and run the suite's
//! `scripts_give_the_recorded_transcripts_on_postgres` with
//! `OVERBOOK_PG_URL`: its failure prints the lines PostgreSQL gave, which
//! become `NAME.out` once read and agreed with. Then the lib test
//! `every_script_on_the_store_gives_postgres_transcript` holds the store
//! to them; `every_transcript_file_is_listed` fails on a file left out of
//! the list.
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

/// Every script, parsed once from the files this module embeds, in the
/// order of their list.
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
