use super::compare::{broken_constraints, level_forbids};
use super::run::StepRun;
use super::*;
use crate::history::AnomalyKind;
use crate::sql::script::Setup;
use crate::sql::{Rows, Session, SqlSession};
use crate::store::{block_on, CommittedTx, Key, ReadRecord, SqlState, WriteRecord};

fn generated(index: u64, level: Isolation) -> Program {
    generate::program(Seed(7), index, level, &Feature::SUPPORTED)
}

#[test]
fn the_same_seed_draws_the_same_programs_and_another_index_others() {
    for level in Isolation::ALL {
        for index in 0..20 {
            assert_eq!(generated(index, level), generated(index, level));
        }
    }
    let distinct: std::collections::BTreeSet<String> = (0..20)
        .map(|i| format!("{:?}", generated(i, Isolation::Serializable).steps))
        .collect();
    assert!(distinct.len() >= 19, "{} distinct of 20", distinct.len());
    let other = generate::program(Seed(8), 0, Isolation::Serializable, &Feature::SUPPORTED);
    assert_ne!(other.steps, generated(0, Isolation::Serializable).steps);
}

#[test]
fn generated_programs_have_the_documented_shape() {
    for index in 0..200 {
        let p = generated(index, Isolation::RepeatableRead);
        let sessions = p.sessions as u64;
        assert!((generate::SESSIONS_MIN..=generate::SESSIONS_MAX).contains(&sessions));
        for session in 0..p.sessions {
            let mine: Vec<&Stmt> = p
                .steps
                .iter()
                .filter(|s| s.session == session)
                .map(|s| &s.stmt)
                .collect();
            assert_eq!(mine[0], &Stmt::sql("BEGIN ISOLATION LEVEL REPEATABLE READ"));
            let last = mine.last().unwrap();
            assert!(
                **last == Stmt::sql("COMMIT") || **last == Stmt::sql("ROLLBACK"),
                "{last:?}"
            );
            assert!(mine.len() >= 3 && mine.len() as u64 <= generate::BODY_STATEMENTS_MAX + 2);
        }
    }
}

/// Every generated statement parses, plans and runs on the store against
/// the schema: alone, in a transaction of its own, after the initial rows.
#[test]
fn generated_statements_are_valid_on_the_schema() {
    let mut kinds = std::collections::BTreeSet::new();
    for index in 0..150 {
        let p = generated(index, Isolation::ReadCommitted);
        block_on(async {
            let mut conns = SimBackend::default().open(&p.setup, 1).await.unwrap();
            let mut s = conns.remove(0);
            for stmt in &p.initial {
                s.execute(stmt, &[]).await.expect("initial rows load");
            }
            for step in &p.steps {
                let Stmt::Sql(sql) = &step.stmt else {
                    panic!("generated programs are literal SQL")
                };
                if sql.starts_with("BEGIN") || sql == "COMMIT" || sql == "ROLLBACK" {
                    continue;
                }
                kinds.insert(sql.split_whitespace().next().unwrap().to_string());
                s.execute("BEGIN", &[]).await.unwrap();
                if let Err(e) = s.execute(sql, &[]).await {
                    // Constraint violations are what the programs are for,
                    // as is a savepoint that no longer exists (this test
                    // runs each statement in a transaction of its own),
                    // and currval before the session's first nextval
                    // (55000); anything about the SQL itself is a
                    // generator bug.
                    assert!(
                        e.code.code().starts_with("23")
                            || e.code.code() == "3B001"
                            || e.code.code() == "55000",
                        "{sql}: {} {}",
                        e.code,
                        e.message
                    );
                }
                s.execute("ROLLBACK", &[]).await.unwrap();
            }
        });
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "DELETE",
            "INSERT",
            "LOCK",
            "RELEASE",
            "ROLLBACK",
            "SAVEPOINT",
            "SELECT",
            "SET",
            "UPDATE",
            "WITH"
        ]
    );
}

#[test]
fn a_statement_the_store_does_not_model_makes_the_program_unsupported() {
    let mut p = generated(0, Isolation::Serializable);
    let begin = p.steps.iter().position(|s| s.session == 0).unwrap();
    p.steps.insert(
        begin + 1,
        Step {
            session: 0,
            stmt: Stmt::sql("LISTEN bookings"),
        },
    );
    let judged = block_on(Checker::new(SimBackend::default()).judge(&p)).unwrap();
    assert_eq!(
        judged.verdict.class,
        Class::Unsupported,
        "{:?}",
        judged.verdict
    );
    let plain = generated(0, Isolation::Serializable);
    let judged = block_on(Checker::new(SimBackend::default()).judge(&plain)).unwrap();
    assert_ne!(judged.verdict.class, Class::Unsupported);
}

/// The store against itself: the runner, the comparison and the
/// classifier together, on generated programs and the anomaly suite.
#[test]
fn the_store_agrees_with_itself_step_for_step() {
    let mut checker = Checker::new(SimBackend::default());
    for level in Isolation::ALL {
        for index in 0..60 {
            let p = generated(index, level);
            let judged = block_on(checker.judge(&p)).unwrap();
            assert_eq!(
                judged.verdict.class,
                Class::Agree,
                "{}: {:?}",
                p.name,
                judged.verdict
            );
        }
        for anomaly in crate::store::anomaly::ANOMALIES {
            let p = Program::anomaly(anomaly, level).unwrap();
            let judged = block_on(checker.judge(&p)).unwrap();
            assert_eq!(judged.verdict.class, Class::Agree, "{anomaly} at {level}");
        }
    }
}

#[test]
fn a_blocked_step_waits_and_completes_after_the_step_that_frees_it() {
    let p = Program {
        name: "lock".into(),
        level: Isolation::ReadCommitted,
        setup: generate::SCHEMA,
        initial: vec!["INSERT INTO acct VALUES (1, 'a', 1, 0)".into()],
        sessions: 2,
        steps: [
            (0, "BEGIN"),
            (1, "BEGIN"),
            (0, "UPDATE acct SET bal = 1 WHERE id = 1"),
            (
                1,
                "UPDATE acct SET bal = bal + 10 WHERE id = 1 RETURNING bal",
            ),
            (1, "COMMIT"),
            (0, "SELECT bal FROM acct WHERE id = 1"),
            (0, "COMMIT"),
        ]
        .iter()
        .map(|(s, sql)| Step {
            session: *s,
            stmt: Stmt::sql(*sql),
        })
        .collect(),
    };
    let run = block_on(run_program(&mut SimBackend::default(), &p)).unwrap();
    assert!(run.steps[3].waited);
    // Step 5 (s2's COMMIT) was deferred behind the wait; s1's read and
    // COMMIT went first, and the COMMIT freed the update.
    assert_eq!(run.order, vec![0, 1, 2, 3, 5, 6, 4]);
    assert_eq!(run.steps[3].completed_after, Some(6));
    assert_eq!(
        run.steps[3].outcome,
        Outcome::Done {
            rows: vec![vec!["11".into()]],
            affected: 0
        }
    );
    assert_eq!(
        run.tables[1],
        Ok(vec![vec!["1".into(), "a".into(), "1".into(), "11".into()]])
    );
}

// ---- classification, on hand-made runs -----------------------------------

fn two_step_program(level: Isolation, sql: &str) -> Program {
    Program {
        name: "hand-made".into(),
        level,
        setup: Setup {
            tables: &["t"],
            ddl: &["CREATE TABLE t (id integer PRIMARY KEY)"],
        },
        initial: Vec::new(),
        sessions: 1,
        steps: vec![
            Step {
                session: 0,
                stmt: Stmt::sql("BEGIN"),
            },
            Step {
                session: 0,
                stmt: Stmt::sql(sql),
            },
        ],
    }
}

fn done(rows: &[&str]) -> StepRun {
    StepRun {
        outcome: Outcome::Done {
            rows: rows.iter().map(|r| vec![r.to_string()]).collect(),
            affected: 0,
        },
        waited: false,
        completed_after: None,
        message: String::new(),
    }
}

fn failed(code: &str) -> StepRun {
    StepRun {
        outcome: Outcome::Error(code.into()),
        waited: false,
        completed_after: None,
        message: "hand-made".into(),
    }
}

fn engine(second: StepRun, table: &[&str]) -> EngineRun {
    let mut first = done(&[]);
    first.completed_after = Some(0);
    let mut second = second;
    second.completed_after = Some(1);
    EngineRun {
        steps: vec![first, second],
        order: vec![0, 1],
        tables: vec![Ok(table.iter().map(|r| vec![r.to_string()]).collect())],
        history: Some(Vec::new()),
    }
}

fn class_of(level: Isolation, sql: &str, store: EngineRun, pg: EngineRun) -> Class {
    classify(&two_step_program(level, sql), &store, &pg).class
}

const READ: &str = "SELECT id FROM t";

#[test]
fn each_class_fires_on_its_case() {
    let rc = Isolation::ReadCommitted;
    assert_eq!(
        class_of(
            rc,
            READ,
            engine(done(&["1"]), &["1"]),
            engine(done(&["1"]), &["1"])
        ),
        Class::Agree
    );
    assert_eq!(
        class_of(
            rc,
            READ,
            engine(failed("0A000"), &[]),
            engine(done(&[]), &[])
        ),
        Class::Unsupported
    );
    // Rows PostgreSQL did not return.
    assert_eq!(
        class_of(
            rc,
            READ,
            engine(done(&["1", "2"]), &[]),
            engine(done(&["1"]), &[])
        ),
        Class::Unsound
    );
    // Every step alike, but the tables end differently.
    assert_eq!(
        class_of(
            rc,
            READ,
            engine(done(&[]), &["1"]),
            engine(done(&[]), &["2"])
        ),
        Class::Unsound
    );
    // The store aborts where PostgreSQL goes on, and the reverse.
    assert_eq!(
        class_of(
            rc,
            READ,
            engine(failed("40001"), &[]),
            engine(done(&[]), &[])
        ),
        Class::Stricter
    );
    assert_eq!(
        class_of(
            rc,
            READ,
            engine(done(&[]), &[]),
            engine(failed("40001"), &[])
        ),
        Class::Looser
    );
    assert_eq!(
        class_of(
            rc,
            READ,
            engine(failed("23505"), &[]),
            engine(failed("40001"), &[])
        ),
        Class::Different
    );
}

#[test]
fn waits_and_completion_order_are_compared() {
    let rc = Isolation::ReadCommitted;
    let mut waiting = done(&[]);
    waiting.waited = true;
    assert_eq!(
        class_of(
            rc,
            READ,
            engine(waiting.clone(), &[]),
            engine(done(&[]), &[])
        ),
        Class::Stricter
    );
    assert_eq!(
        class_of(
            rc,
            READ,
            engine(done(&[]), &[]),
            engine(waiting.clone(), &[])
        ),
        Class::Looser
    );
    let mut store = engine(waiting.clone(), &[]);
    let pg = engine(waiting, &[]);
    store.steps[1].completed_after = Some(0);
    assert_eq!(
        classify(&two_step_program(rc, READ), &store, &pg).class,
        Class::Different
    );
    // Rows read after other commits are a consequence of the order.
    store.steps[1].outcome = done(&["1"]).outcome;
    assert_eq!(
        classify(&two_step_program(rc, READ), &store, &pg).class,
        Class::Different
    );
    let mut unfinished = done(&[]);
    unfinished.outcome = Outcome::Unfinished;
    assert_eq!(
        class_of(
            rc,
            READ,
            engine(unfinished, &[]),
            engine(failed("40P01"), &[])
        ),
        Class::Stricter
    );
}

#[test]
fn skip_locked_passing_over_more_rows_is_stricter_not_unsound() {
    let sql = "SELECT id FROM t FOR UPDATE SKIP LOCKED";
    let rc = Isolation::ReadCommitted;
    assert_eq!(
        class_of(
            rc,
            sql,
            engine(done(&["1"]), &[]),
            engine(done(&["1", "2"]), &[])
        ),
        Class::Stricter
    );
    assert_eq!(
        class_of(
            rc,
            sql,
            engine(done(&["1", "3"]), &[]),
            engine(done(&["1", "2"]), &[])
        ),
        Class::Unsound
    );
}

fn write_skew() -> Vec<CommittedTx> {
    let (a, b) = (Key::raw("t/a"), Key::raw("t/b"));
    let tx = |id: u64, writes: &Key| CommittedTx {
        id,
        isolation: Isolation::Serializable,
        commit_seq: id,
        first_snapshot: 0,
        reads: vec![
            ReadRecord::Item {
                key: a.clone(),
                version: Some(0),
            },
            ReadRecord::Item {
                key: b.clone(),
                version: Some(0),
            },
        ],
        writes: vec![WriteRecord {
            key: writes.clone(),
            deleted: false,
        }],
    };
    vec![tx(1, &a), tx(2, &b)]
}

#[test]
fn a_committed_history_the_level_forbids_is_unsound_even_when_pg_agrees() {
    for (level, class) in [
        (Isolation::Serializable, Class::Unsound),
        (Isolation::RepeatableRead, Class::Agree),
    ] {
        let mut store = engine(done(&[]), &[]);
        store.history = Some(write_skew());
        let pg = engine(done(&[]), &[]);
        assert_eq!(class_of(level, READ, store, pg), class, "{level}");
    }
    assert!(!level_forbids(
        Isolation::RepeatableRead,
        AnomalyKind::GSingle
    ));
    assert!(level_forbids(Isolation::Serializable, AnomalyKind::GSingle));
    assert!(level_forbids(Isolation::RepeatableRead, AnomalyKind::G1a));
    assert!(level_forbids(Isolation::ReadCommitted, AnomalyKind::G1c));
}

#[test]
fn final_rows_that_break_the_schema_constraints_are_found() {
    let p = generated(0, Isolation::ReadCommitted);
    let row = |cells: &[&str]| cells.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    let run = |holds: Vec<Vec<String>>, accts: Vec<Vec<String>>| EngineRun {
        steps: Vec::new(),
        order: Vec::new(),
        tables: vec![Ok(holds), Ok(accts)],
        history: None,
    };
    let accts = vec![row(&["1", "a", "1", "0"]), row(&["2", "b", "1", "0"])];
    let fine = run(
        vec![
            row(&["1", "1", "1", "[0,2)", "0"]),
            row(&["2", "2", "1", "[2,4)", "0"]),
        ],
        accts.clone(),
    );
    assert!(broken_constraints(&p, &fine).is_empty());
    let overlap = run(
        vec![
            row(&["1", "1", "1", "[0,3)", "0"]),
            row(&["2", "2", "1", "[2,4)", "0"]),
        ],
        accts.clone(),
    );
    assert_eq!(broken_constraints(&p, &overlap).len(), 1);
    let orphan = run(vec![row(&["1", "9", "1", "[0,2)", "0"])], accts);
    assert_eq!(broken_constraints(&p, &orphan).len(), 1);
    let twice = run(
        Vec::new(),
        vec![
            row(&["1", "a", "1", "0"]),
            row(&["2", "a", "1", "0"]),
            row(&["2", "c", "1", "0"]),
        ],
    );
    assert_eq!(broken_constraints(&p, &twice).len(), 2);
}

// ---- shrinking, against an engine that fails one statement ---------------

/// The store, except that any statement mentioning `bal + 2` fails with
/// 40001: a disagreement planted where the test knows it is.
struct Planted(SqlSession);

impl Session for Planted {
    async fn execute(&mut self, sql: &str, params: &[crate::sql::Value]) -> Result<Rows, DbError> {
        if sql.contains("bal + 2") && self.0.in_transaction() {
            // Fail the transaction as the engine would.
            let _ = self.0.execute("SELECT no_such_column FROM acct", &[]).await;
            return Err(DbError::new(SqlState::SerializationFailure, "planted"));
        }
        self.0.execute(sql, params).await
    }
}

struct PlantedBackend;

impl Backend for PlantedBackend {
    type S = Planted;

    async fn open(&mut self, setup: &Setup, sessions: usize) -> Result<Vec<Planted>, DbError> {
        let conns = SimBackend::default().open(setup, sessions).await?;
        Ok(conns.into_iter().map(Planted).collect())
    }

    async fn blocked(&mut self, _observer: &mut Planted, _index: usize) -> bool {
        true
    }

    async fn idle(&mut self) {}

    async fn grace(&mut self) {}
}

#[test]
fn shrinking_keeps_the_class_and_leaves_only_what_it_needs() {
    let mut checker = Checker::new(PlantedBackend);
    let mut shrunk = 0;
    for index in 0..200 {
        // The kinds the planted `bal + 2` is among: the later features
        // (advisory pairs, LOCK TABLE) keep steps the shrinker must not
        // split, which is not what this test is about.
        let p = generate::program(
            Seed(7),
            index,
            Isolation::ReadCommitted,
            &Feature::ALL[..12],
        );
        let judged = block_on(checker.judge(&p)).unwrap();
        if judged.verdict.class != Class::Looser {
            continue;
        }
        let (small, j) = block_on(checker.shrink(&p, judged, 500)).unwrap();
        assert_eq!(j.verdict.class, Class::Looser);
        // One session: its BEGIN, the planted statement, its end.
        assert_eq!(small.sessions, 1, "{small:#?}");
        assert_eq!(small.steps.len(), 3, "{small:#?}");
        assert!(matches!(&small.steps[1].stmt, Stmt::Sql(s) if s.contains("bal + 2")));
        let script = render::psql(&small, &j);
        assert!(script.contains("-- s1: step 2\n"), "{script}");
        assert!(script.contains("<-- differs"), "{script}");
        assert!(script.contains("CREATE TABLE acct"), "{script}");
        shrunk += 1;
        if shrunk == 3 {
            break;
        }
    }
    assert_eq!(
        shrunk, 3,
        "fewer than 3 of 200 programs hit the planted statement"
    );
}

#[test]
fn a_steps_own_difference_comes_before_a_wait_it_ended_elsewhere() {
    let sql = |s: &str| Stmt::sql(s);
    let p = Program {
        name: "hand-made".into(),
        level: Isolation::ReadCommitted,
        setup: generate::SCHEMA,
        initial: Vec::new(),
        sessions: 2,
        steps: vec![
            Step {
                session: 0,
                stmt: sql("BEGIN"),
            },
            Step {
                session: 0,
                stmt: sql("UPDATE acct SET bal = 1 WHERE id = 1"),
            },
            Step {
                session: 1,
                stmt: sql("BEGIN"),
            },
            Step {
                session: 1,
                stmt: sql("INSERT INTO acct VALUES (5, 'a', 1, 1)"),
            },
            Step {
                session: 1,
                stmt: sql("COMMIT"),
            },
        ],
    };
    let at = |mut r: StepRun, after: usize, waited: bool| {
        r.completed_after = Some(after);
        r.waited = waited;
        r
    };
    let run = |steps: Vec<StepRun>| EngineRun {
        steps,
        order: vec![0, 1, 2, 3, 4],
        tables: vec![Ok(Vec::new()), Ok(Vec::new())],
        history: Some(Vec::new()),
    };
    // The store fails the insert at once and the update's wait ends there;
    // PostgreSQL waits on the insert too, and the update ends one step
    // later. The insert is the first difference, not the update's order.
    let store = run(vec![
        at(done(&[]), 0, false),
        at(done(&[]), 3, true),
        at(done(&[]), 2, false),
        at(failed("23505"), 3, false),
        at(done(&[]), 4, false),
    ]);
    let pg = run(vec![
        at(done(&[]), 0, false),
        at(done(&[]), 4, true),
        at(done(&[]), 2, false),
        at(failed("23505"), 4, true),
        at(done(&[]), 4, false),
    ]);
    let verdict = classify(&p, &store, &pg);
    assert_eq!(
        (verdict.class, verdict.step),
        (Class::Looser, Some(3)),
        "{verdict:?}"
    );
}

// ---- conform with several checkers at once --------------------------------

/// Returns `Pending` (and asks to be polled again) `polls` times before it
/// is ready: a round trip to a server that answers later.
struct Later {
    polls: u64,
}

impl std::future::Future for Later {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.polls == 0 {
            return std::task::Poll::Ready(());
        }
        self.polls -= 1;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// [`PlantedBackend`] whose scripts take a varying while to open (by the
/// order in which all the backends sharing `opened` open them), so that
/// programs run at once finish out of order; `closed` records that order.
struct Staggered {
    opened: std::rc::Rc<std::cell::Cell<u64>>,
    closed: std::rc::Rc<std::cell::RefCell<Vec<u64>>>,
    ticket: u64,
}

impl Backend for Staggered {
    type S = Planted;

    async fn open(&mut self, setup: &Setup, sessions: usize) -> Result<Vec<Planted>, DbError> {
        self.ticket = self.opened.get();
        self.opened.set(self.ticket + 1);
        Later {
            polls: self.ticket.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60,
        }
        .await;
        PlantedBackend.open(setup, sessions).await
    }

    async fn close(&mut self, _sessions: Vec<Option<Planted>>) {
        self.closed.borrow_mut().push(self.ticket);
    }

    async fn blocked(&mut self, _observer: &mut Planted, _index: usize) -> bool {
        true
    }

    async fn idle(&mut self) {}

    async fn grace(&mut self) {}
}

/// `conform` on `jobs` staggered backends: the report as JSON, the
/// (level, programs) of each progress call, and the order programs
/// finished in.
fn conform_with_jobs(jobs: usize) -> (serde_json::Value, Vec<(Isolation, u64)>, Vec<u64>) {
    let opened = std::rc::Rc::new(std::cell::Cell::new(0));
    let closed = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let backends = (0..jobs)
        .map(|_| Staggered {
            opened: opened.clone(),
            closed: closed.clone(),
            ticket: 0,
        })
        .collect();
    let config = Config {
        programs: 60,
        seed: Seed(7),
        levels: Isolation::ALL.to_vec(),
        // The kinds the planted `bal + 2` is among, drawn often enough.
        features: Feature::ALL[..12].to_vec(),
        anomalies: true,
        examples_per_class: 2,
        shrink_runs_max: 50,
    };
    let mut calls = Vec::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let reports = runtime
        .block_on(conform(backends, &config, |r| {
            calls.push((r.level, r.programs))
        }))
        .expect("the store sets up");
    let json = serde_json::to_value(&reports).expect("reports serialize");
    let finished = closed.borrow().clone();
    (json, calls, finished)
}

#[test]
fn conform_reports_the_same_for_one_job_and_several_finishing_out_of_order() {
    let (serial, serial_calls, serial_finished) = conform_with_jobs(1);
    assert!(serial_finished.is_sorted());
    let levels = serial.as_array().expect("a report per level");
    assert_eq!(levels.len(), 3);
    for level in levels {
        // The planted failure makes disagreements, and they were shrunk.
        assert!(level["classes"]["looser"].as_u64() > Some(2), "{level}");
        let looser_examples = level["examples"]
            .as_array()
            .expect("examples")
            .iter()
            .filter(|e| e["verdict"]["class"] == "looser")
            .count();
        assert_eq!(looser_examples, 2, "{level}");
    }
    for jobs in [2, 4, 7] {
        let (parallel, calls, finished) = conform_with_jobs(jobs);
        assert!(
            !finished.is_sorted(),
            "{jobs} jobs: programs finished in order, so nothing was buffered"
        );
        assert_eq!(parallel, serial, "{jobs} jobs");
        assert_eq!(calls, serial_calls, "{jobs} jobs");
    }
}

// ---- the constructs of issues 20 and 21 ------------------------------------

/// Each construct the generator draws for the newer features, as text a
/// statement drawing it contains.
const CONSTRUCTS: [(Feature, &[&str]); 9] = [
    (
        Feature::Subquery,
        &[
            " EXISTS (SELECT",
            "NOT EXISTS (SELECT",
            " IN (SELECT",
            "(SELECT avg(bal) FROM acct b WHERE b.grp = a.grp)",
            "SET bal = (SELECT",
        ],
    ),
    (
        Feature::Cte,
        &[
            "WITH x AS (SELECT",
            "FOR UPDATE SKIP LOCKED)",
            "WITH x AS (UPDATE",
            "WITH d AS (DELETE",
            ") INSERT INTO hold SELECT",
        ],
    ),
    (
        Feature::WriteFromQuery,
        &[
            "INSERT INTO hold (id, acct_id, room, span, n) SELECT",
            "UPDATE acct SET bal = acct.bal + hold.n FROM hold",
            "DELETE FROM hold USING acct",
        ],
    ),
    (
        Feature::OuterJoin,
        &["LEFT JOIN hold h", "FILTER (WHERE", "LEFT JOIN seat s"],
    ),
    (
        Feature::Seat,
        &[
            "INSERT INTO seat VALUES",
            "INSERT INTO seat SELECT",
            "UPDATE seat SET active = false",
            "ttl + interval",
        ],
    ),
    (
        Feature::LockTable,
        &["LOCK TABLE", "IN ACCESS EXCLUSIVE MODE", " NOWAIT"],
    ),
    (
        Feature::AdvisoryLock,
        &[
            "SELECT pg_advisory_lock(",
            "SELECT pg_advisory_unlock(",
            "pg_advisory_lock_shared(",
            "xact_lock",
        ],
    ),
    (
        Feature::TimeUuid,
        &[
            "now() + ttl",
            "gen_random_uuid()",
            "interval '1 day') - now()",
        ],
    ),
    (
        Feature::Sequence,
        &[
            "SELECT nextval('hold_ticket')",
            "INSERT INTO hold VALUES (nextval('hold_ticket')",
            "SET bal = bal + nextval('hold_ticket')",
            "currval('hold_ticket'), lastval()",
            "SELECT setval('hold_ticket'",
        ],
    ),
];

fn statements(p: &Program) -> Vec<&str> {
    p.steps
        .iter()
        .map(|s| match &s.stmt {
            Stmt::Sql(sql) => sql.as_str(),
            Stmt::WritePlus(..) => panic!("generated programs are literal SQL"),
        })
        .collect()
}

#[test]
fn the_default_draw_includes_every_newer_construct() {
    let programs: Vec<Program> = (0..300)
        .map(|i| generated(i, Isolation::Serializable))
        .collect();
    for (feature, constructs) in CONSTRUCTS {
        assert!(Feature::SUPPORTED.contains(&feature), "{feature:?}");
        for construct in constructs {
            let drawn = programs
                .iter()
                .flat_map(statements)
                .filter(|sql| sql.contains(construct))
                .count();
            assert!(
                drawn >= 1,
                "{feature:?}: {construct:?} drawn {drawn} times in 300 programs"
            );
        }
    }
}

#[test]
fn a_feature_alone_draws_only_its_constructs() {
    for (feature, constructs) in CONSTRUCTS {
        for index in 0..40 {
            let p = generate::program(Seed(3), index, Isolation::ReadCommitted, &[feature]);
            for sql in statements(&p) {
                let frame = sql.starts_with("BEGIN") || sql == "COMMIT" || sql == "ROLLBACK";
                let unlock = sql.contains("advisory_unlock");
                assert!(
                    frame
                        || unlock
                        || constructs.iter().any(|c| sql.contains(c))
                        || feature_owns(feature, sql),
                    "{feature:?} drew {sql}"
                );
            }
        }
    }
}

/// Statements of `feature` that show none of its listed constructs (the
/// plainer shapes of the same draw).
fn feature_owns(feature: Feature, sql: &str) -> bool {
    match feature {
        Feature::Subquery => sql.contains("(SELECT"),
        Feature::Cte => sql.starts_with("WITH "),
        Feature::WriteFromQuery => {
            sql.contains(" SELECT ") && sql.starts_with("INSERT")
                || sql.contains(" FROM acct WHERE acct.id = hold.acct_id")
                || sql.contains(" USING ")
        }
        Feature::Seat => sql.contains(" seat"),
        Feature::TimeUuid => sql.contains("now()") || sql.contains("gen_random_uuid()"),
        Feature::AdvisoryLock => sql.contains("advisory"),
        _ => false,
    }
}

#[test]
fn session_advisory_locks_are_released_by_the_session_that_took_them() {
    let mut paired = 0;
    for index in 0..300 {
        let p = generate::program(
            Seed(5),
            index,
            Isolation::RepeatableRead,
            &[Feature::AdvisoryLock, Feature::PointRead],
        );
        for session in 0..p.sessions {
            let mine: Vec<&str> = p
                .steps
                .iter()
                .filter(|s| s.session == session)
                .map(|s| match &s.stmt {
                    Stmt::Sql(sql) => sql.as_str(),
                    Stmt::WritePlus(..) => unreachable!(),
                })
                .collect();
            for (at, sql) in mine.iter().enumerate() {
                if sql.contains("advisory_lock") && !sql.contains("xact") {
                    let unlock = sql
                        .replace("pg_try_", "pg_")
                        .replace("advisory_lock", "advisory_unlock");
                    assert_eq!(mine.get(at + 2), Some(&unlock.as_str()), "{mine:?}");
                    assert!(
                        at + 3 < mine.len(),
                        "the unlock comes before the end: {mine:?}"
                    );
                    paired += 1;
                }
            }
        }
    }
    assert!(paired >= 50, "{paired} session locks in 300 programs");
}

/// The store, except that a `WITH` query's locking read does not lock: a
/// planted bug in a CTE's `FOR UPDATE`.
struct MissedCteLock(SqlSession);

impl Session for MissedCteLock {
    async fn execute(&mut self, sql: &str, params: &[crate::sql::Value]) -> Result<Rows, DbError> {
        if sql.starts_with("WITH") {
            let unlocked = sql
                .replace(" FOR UPDATE SKIP LOCKED)", ")")
                .replace(" FOR UPDATE NOWAIT)", ")")
                .replace(" FOR UPDATE)", ")");
            return self.0.execute(&unlocked, params).await;
        }
        self.0.execute(sql, params).await
    }
}

struct MissedCteLockBackend;

impl Backend for MissedCteLockBackend {
    type S = MissedCteLock;

    async fn open(
        &mut self,
        setup: &Setup,
        sessions: usize,
    ) -> Result<Vec<MissedCteLock>, DbError> {
        let conns = SimBackend::default().open(setup, sessions).await?;
        Ok(conns.into_iter().map(MissedCteLock).collect())
    }

    async fn blocked(&mut self, _observer: &mut MissedCteLock, _index: usize) -> bool {
        true
    }

    async fn idle(&mut self) {}

    async fn grace(&mut self) {}
}

#[test]
fn a_cte_that_misses_its_lock_is_caught() {
    // The store as the reference, the planted store as "PostgreSQL": the
    // programs where the two part are those where the CTE's lock matters.
    let features = [
        Feature::Cte,
        Feature::Update,
        Feature::LockingRead,
        Feature::PointRead,
    ];
    let mut checker = Checker::new(MissedCteLockBackend);
    let mut caught = std::collections::BTreeMap::new();
    for index in 0..150 {
        let p = generate::program(Seed(11), index, Isolation::ReadCommitted, &features);
        let judged = block_on(checker.judge(&p)).unwrap();
        let class = judged.verdict.class;
        assert_ne!(class, Class::Unsupported, "{:?}", judged.verdict);
        if class == Class::Agree {
            continue;
        }
        let step = judged.verdict.step.expect("a step differs");
        let Stmt::Sql(sql) = &p.steps[step].stmt else {
            unreachable!()
        };
        // The planted difference is a CTE's: the program has one.
        assert!(
            p.steps
                .iter()
                .any(|s| matches!(&s.stmt, Stmt::Sql(q) if q.starts_with("WITH"))),
            "{sql}: {:?}",
            judged.verdict
        );
        *caught.entry(class).or_insert(0) += 1;
    }
    // Where the planted engine skips a wait the store makes, the store is
    // the stricter side; a lost update shows as different rows.
    assert!(
        caught.get(&Class::Stricter).copied().unwrap_or(0) >= 3,
        "{caught:?}"
    );
    assert!(
        caught.get(&Class::Unsound).copied().unwrap_or(0) >= 1,
        "{caught:?}"
    );
}

// ---- PostgreSQL's order of two woken sessions --------------------------

/// The store, except that the first `flips` programs it opens answer the
/// duplicate insert below with 40001 instead of 23505: PostgreSQL
/// giving, on some runs only, another outcome than the store's.
struct Flip {
    flips: usize,
    opens: usize,
}

struct Flipped(SqlSession, bool);

impl Session for Flipped {
    async fn execute(&mut self, sql: &str, params: &[crate::sql::Value]) -> Result<Rows, DbError> {
        let result = self.0.execute(sql, params).await;
        match result {
            Err(e) if self.1 && sql.starts_with("INSERT INTO acct VALUES (1, 'b'") => {
                assert_eq!(e.code, SqlState::UniqueViolation, "{e}");
                Err(DbError::new(SqlState::SerializationFailure, "planted"))
            }
            other => other,
        }
    }
}

impl Backend for Flip {
    type S = Flipped;

    async fn open(&mut self, setup: &Setup, sessions: usize) -> Result<Vec<Flipped>, DbError> {
        let flip = self.flips > 0;
        self.opens += 1;
        self.flips = self.flips.saturating_sub(1);
        let conns = SimBackend::default().open(setup, sessions).await?;
        Ok(conns.into_iter().map(|c| Flipped(c, flip)).collect())
    }

    async fn blocked(&mut self, _observer: &mut Flipped, _index: usize) -> bool {
        true
    }

    async fn idle(&mut self) {}

    async fn grace(&mut self) {}
}

/// s3's duplicate insert and s2's update both wait on s1's update, and
/// s1's COMMIT wakes both (program 437 of seed 1 at Read Committed,
/// shrunk).
fn woken_together() -> Program {
    Program {
        name: "woken together".into(),
        level: Isolation::ReadCommitted,
        setup: generate::SCHEMA,
        initial: vec!["INSERT INTO acct VALUES (1, 'a', 1, 0)".into()],
        sessions: 3,
        steps: [
            (0, "BEGIN"),
            (1, "BEGIN"),
            (2, "BEGIN"),
            (0, "UPDATE acct SET grp = 2 WHERE id = 1"),
            (2, "INSERT INTO acct VALUES (1, 'b', 1, 0)"),
            (1, "UPDATE acct SET bal = 5 WHERE id = 1"),
            (0, "COMMIT"),
            (2, "COMMIT"),
            (1, "COMMIT"),
        ]
        .iter()
        .map(|(s, sql)| Step {
            session: *s,
            stmt: Stmt::sql(*sql),
        })
        .collect(),
    }
}

#[test]
fn two_sessions_woken_by_one_step_are_judged_again_on_postgresql() {
    let racy = woken_together();
    let store = block_on(run_program(&mut SimBackend::default(), &racy)).unwrap();
    assert!(store.steps[4].waited && store.steps[5].waited);
    assert_eq!(store.steps[4].completed_after, Some(6));
    assert_eq!(store.steps[5].completed_after, Some(6));

    // PostgreSQL gives the store's outcome on its second run: agree, and
    // the report says so.
    let mut checker = Checker::new(Flip { flips: 1, opens: 0 });
    let judged = block_on(checker.judge(&racy)).unwrap();
    assert_eq!(judged.verdict.class, Class::Agree, "{:?}", judged.verdict);
    assert!(judged.agreed_on_rerun);
    let mut report = LevelReport::new(Isolation::ReadCommitted);
    report.tally(&racy, &judged);
    assert_eq!(report.agreed_on_rerun, 1);

    // Never: still different, after a bounded number of runs.
    let mut checker = Checker::new(Flip {
        flips: usize::MAX,
        opens: 0,
    });
    let judged = block_on(checker.judge(&racy)).unwrap();
    assert_eq!(judged.verdict.class, Class::Different);
    assert!(!judged.agreed_on_rerun);
    assert_eq!(checker.other.opens, 1 + PG_RERUNS_MAX);

    // One woken session has one order: no second run, the difference
    // stands even though a second run would agree.
    let alone = racy.without_session(1);
    let store = block_on(run_program(&mut SimBackend::default(), &alone)).unwrap();
    assert!(store.steps[3].waited);
    let mut checker = Checker::new(Flip { flips: 1, opens: 0 });
    let judged = block_on(checker.judge(&alone)).unwrap();
    assert_eq!(judged.verdict.class, Class::Different);
    assert!(!judged.agreed_on_rerun);
    assert_eq!(checker.other.opens, 1);
}
