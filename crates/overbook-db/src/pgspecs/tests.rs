use super::compare::classify;
use super::run::{run_permutation, PermRun, SpecBackend, StepOutput};
use super::spec::{Blocker, Resolved, Spec};
use super::split::{has_parameters, split};
use super::*;
use crate::conform::run::{Outcome, StepRun};
use crate::conform::Class;
use crate::sql::script::SimBackend;
use crate::store::{block_on, DbError, SqlState};

const SMALL: &str = r#"
# A comment line.
setup
{
  CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
  INSERT INTO accounts VALUES (1, 100), (2, 100);
}
teardown { DROP TABLE accounts; }

session s1
setup { BEGIN ISOLATION LEVEL READ COMMITTED; }
step s1u { UPDATE accounts SET balance = balance - 10 WHERE id = 1; }   # trailing comment
step s1c { COMMIT; }

session "s 2"
step s2u { UPDATE accounts SET balance = balance + 1 WHERE id = 1; SELECT balance FROM accounts WHERE id = 1; }

permutation s1u s2u s1c
permutation s1u s2u(s1c) s1c
permutation s1u s2u(*) s1c
"#;

#[test]
fn the_parser_reads_blocks_sessions_markers_comments_and_quoted_names() {
    let spec = Spec::parse("specs/small.spec", SMALL).unwrap();
    assert_eq!(spec.name, "small");
    assert_eq!(spec.setup.len(), 1);
    assert!(spec.setup[0].starts_with("\n  CREATE TABLE accounts"));
    assert_eq!(spec.teardown.as_deref(), Some("DROP TABLE accounts;"));
    assert_eq!(spec.sessions.len(), 2);
    assert_eq!(spec.sessions[1].name, "s 2");
    assert_eq!(
        spec.sessions[0].setup.as_deref(),
        Some("BEGIN ISOLATION LEVEL READ COMMITTED;")
    );
    assert_eq!(spec.sessions[0].steps[0].name, "s1u");
    // A step keeps its statements as written, several of them.
    let s2u = &spec.sessions[1].steps[0].sql;
    assert_eq!(split(s2u).len(), 2);
    assert_eq!(spec.permutations.len(), 3);
    assert_eq!(
        spec.permutations[1][1].blockers,
        vec![Blocker::Step("s1c".into())]
    );
    assert_eq!(spec.permutations[2][1].blockers, vec![Blocker::Once]);
    let plan = spec.plan();
    assert_eq!(plan[1][1].blockers, vec![Resolved::Step(0, 1)]);
    let notices = Spec::parse(
        "n.spec",
        "session a\nstep a1 { SELECT 1; }\nsession b\nstep b1 { SELECT 2; }\npermutation a1 b1(a1 notices 2, *)\n",
    )
    .unwrap();
    assert_eq!(
        notices.permutations[0][1].blockers,
        vec![Blocker::Notices("a1".into(), 2), Blocker::Once]
    );
}

#[test]
fn a_spec_that_does_not_parse_names_its_file_and_line() {
    let text = "setup { CREATE TABLE t (id int PRIMARY KEY); }\nsession s1\nstep a { SELECT 1; }\n\npermutation a (\n";
    let e = Spec::parse("dir/bad.spec", text).unwrap_err();
    assert_eq!(e.file, "dir/bad.spec");
    assert_eq!(e.line, 5, "{e}");
    assert!(
        e.to_string()
            .starts_with("dir/bad.spec:5: syntax error: expected"),
        "{e}"
    );
    let e = Spec::parse(
        "u.spec",
        "session s1\nstep a { SELECT 1; }\npermutation a zz\n",
    )
    .unwrap_err();
    assert!(e.message.contains("undefined step \"zz\""), "{e}");
    let e = Spec::parse(
        "o.spec",
        "session s1\nstep a { SELECT 1; }\nstep b { SELECT 1; }\npermutation a b(a)\n",
    )
    .unwrap_err();
    assert!(e.message.contains("cannot block on its own session"), "{e}");
    let e = Spec::parse("c.spec", "session s1\nstep a { SELECT 1;\n").unwrap_err();
    assert_eq!((e.line, e.message.as_str()), (2, "unterminated SQL block"));
}

#[test]
fn without_permutation_lines_every_interleaving_runs_in_isolationtesters_order() {
    let text = "session a\nstep a1 { SELECT 1; }\nstep a2 { SELECT 2; }\nsession b\nstep b1 { SELECT 3; }\nstep b2 { SELECT 4; }\nsession c\nstep c1 { SELECT 5; }\n";
    let spec = Spec::parse("x.spec", text).unwrap();
    let plan = spec.plan();
    // 5! / (2! 2! 1!) interleavings.
    assert_eq!(plan.len(), 30);
    assert_eq!(spec.permutation_count(), 30);
    let first: Vec<&str> = plan[0]
        .iter()
        .map(|p| spec.step(p.session, p.step).name.as_str())
        .collect();
    assert_eq!(first, ["a1", "a2", "b1", "b2", "c1"]);
    let last: Vec<&str> = plan[29]
        .iter()
        .map(|p| spec.step(p.session, p.step).name.as_str())
        .collect();
    assert_eq!(last, ["c1", "b1", "b2", "a1", "a2"]);
    let mut distinct = plan.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 30);
}

#[test]
fn statements_split_around_quotes_dollar_quotes_and_comments_with_their_lines() {
    let text = "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n-- a; comment\nSELECT 'a;b', \"x;y\" FROM t; /* c; */\n\nINSERT INTO t VALUES ($1, E'\\';');\n";
    let statements = split(text);
    let lines: Vec<usize> = statements.iter().map(|s| s.line).collect();
    assert_eq!(lines, [1, 3, 5]);
    assert!(statements[0].sql.ends_with("LANGUAGE sql"));
    assert_eq!(statements[1].sql, "SELECT 'a;b', \"x;y\" FROM t");
    assert!(has_parameters(&statements[2].sql));
    assert!(!has_parameters(&statements[0].sql));
}

fn run_on_store(spec: &Spec) -> Vec<PermRun> {
    let mut backend = SpecBackend::new(SimBackend::with_deadlock_timeout_ms(
        STORE_DEADLOCK_TIMEOUT_MS,
    ));
    spec.plan()
        .iter()
        .map(|perm| block_on(run_permutation(&mut backend, spec, perm, None, false)).unwrap())
        .collect()
}

#[test]
fn a_small_spec_runs_on_the_store_with_waits_markers_and_multi_statement_steps() {
    let spec = Spec::parse("small.spec", SMALL).unwrap();
    let runs = run_on_store(&spec);
    // s2u waits for s1's row lock and completes after s1c, reading 91.
    let first = &runs[0];
    assert!(first.rejected().is_none());
    assert!(first.steps[1].waited);
    assert_eq!(first.steps[1].completed_after, Some(2));
    assert_eq!(
        first.steps[1].outcome,
        Outcome::Done {
            rows: vec![vec!["91".into()]],
            affected: 1
        }
    );
    assert_eq!(
        first.tables,
        vec![(
            "accounts".to_string(),
            Ok(vec![
                vec!["1".into(), "91".into()],
                vec!["2".into(), "100".into()]
            ])
        )]
    );
    // The marker gives the same events; (*) forces the waiting report.
    assert_eq!(runs[1].events, first.events);
    assert!(runs[2].steps[1].waited);
    let text = render::permutation(&spec, &spec.plan()[0], first);
    assert_eq!(
        text,
        "starting permutation: s1u s2u s1c\nstep s1u: UPDATE accounts SET balance = balance - 10 WHERE id = 1;\nstep s2u: UPDATE accounts SET balance = balance + 1 WHERE id = 1; SELECT balance FROM accounts WHERE id = 1; <waiting ...>\nstep s1c: COMMIT;\nstep s2u: <... completed>\nbalance\n-------\n     91\n(1 row)\n\n"
    );
    // Two runs of the store against each other agree.
    let perm = &spec.plan()[0];
    let names: Vec<String> = perm
        .iter()
        .map(|p| spec.step(p.session, p.step).name.clone())
        .collect();
    let sqls: Vec<String> = perm
        .iter()
        .map(|p| spec.step(p.session, p.step).sql.clone())
        .collect();
    assert_eq!(classify(&names, &sqls, first, &runs[1]).class, Class::Agree);
}

#[test]
fn a_spec_with_a_statement_the_store_does_not_support_is_rejected_with_the_reason() {
    let text = "setup { CREATE TABLE t (id int PRIMARY KEY); }\nsession s1\nstep a { WITH RECURSIVE r AS (SELECT id FROM t) SELECT * FROM r; }\n";
    let spec = Spec::parse("r.spec", text).unwrap();
    let file = SpecFile {
        path: "r.spec".into(),
        expected: Vec::new(),
    };
    let report = block_on(check_spec(&file, &spec, None));
    let reason = report.rejected.expect("rejected");
    assert!(!reason.contains("(statement:"), "{reason}");
    assert!(report
        .rejected_statement
        .unwrap()
        .contains("SELECT id FROM t"));
}

fn step(outcome: Outcome, waited: bool, completed_after: usize) -> StepRun {
    StepRun {
        outcome,
        waited,
        completed_after: Some(completed_after),
        message: String::new(),
    }
}

fn rows(values: &[&str]) -> Outcome {
    Outcome::Done {
        rows: values.iter().map(|v| vec![v.to_string()]).collect(),
        affected: 0,
    }
}

fn fabricated(steps: Vec<StepRun>, table: &[&str]) -> PermRun {
    PermRun {
        outputs: vec![Some(StepOutput::default()); steps.len()],
        steps,
        events: Vec::new(),
        tables: vec![(
            "t".into(),
            Ok(table.iter().map(|v| vec![v.to_string()]).collect()),
        )],
        setup_error: None,
        timed_out: None,
        history: None,
    }
}

#[test]
fn the_comparator_gives_each_class() {
    let spec = Spec::parse(
        "f.spec",
        "session a\nstep a1 { SELECT 1; }\nsession b\nstep b1 { SELECT 2; }\npermutation a1 b1\n",
    )
    .unwrap();
    let names: Vec<String> = spec.plan()[0]
        .iter()
        .map(|p| spec.step(p.session, p.step).name.clone())
        .collect();
    assert_eq!(names, ["a1", "b1"]);
    let sqls = vec!["SELECT 1;".to_string(), "SELECT 2;".to_string()];
    let base = || vec![step(rows(&["1"]), false, 0), step(rows(&["2"]), false, 1)];
    let pg = fabricated(base(), &["x"]);
    let class = |store: PermRun| classify(&names, &sqls, &store, &pg).class;
    assert_eq!(class(fabricated(base(), &["x"])), Class::Agree);
    // Other rows at a step, and other final rows: unsound.
    let mut other_rows = base();
    other_rows[1].outcome = rows(&["3"]);
    assert_eq!(class(fabricated(other_rows, &["x"])), Class::Unsound);
    assert_eq!(class(fabricated(base(), &["y"])), Class::Unsound);
    // The store waits or aborts where PostgreSQL goes on: stricter.
    let mut waits = base();
    waits[1].waited = true;
    assert_eq!(class(fabricated(waits, &["x"])), Class::Stricter);
    let mut aborts = base();
    aborts[1].outcome = Outcome::Error("40001".into());
    assert_eq!(class(fabricated(aborts, &["x"])), Class::Stricter);
    // PostgreSQL aborts where the store goes on: looser.
    let mut pg_aborts = base();
    pg_aborts[0].outcome = Outcome::Error("40P01".into());
    let pg2 = fabricated(pg_aborts, &["x"]);
    assert_eq!(
        classify(&names, &sqls, &fabricated(base(), &["x"]), &pg2).class,
        Class::Looser
    );
    // Another SQLSTATE: different.
    let mut other_code = base();
    other_code[0].outcome = Outcome::Error("40001".into());
    assert_eq!(
        classify(&names, &sqls, &fabricated(other_code, &["x"]), &pg2).class,
        Class::Different
    );
    // A statement the store rejects: unsupported (reported as rejected).
    let mut rejected = fabricated(base(), &["x"]);
    rejected.outputs[0] = Some(StepOutput {
        error: Some(DbError::new(
            SqlState::FeatureNotSupported,
            "LOCK TABLE is not supported",
        )),
        ..StepOutput::default()
    });
    assert_eq!(class(rejected), Class::Unsupported);
}

/// The pg-isolation folder shared beside the clone (`../shared`) or
/// beside the folder of worktrees (`../../shared`). A test that needs it is
/// marked `#[ignore = "needs PostgreSQL's isolation specs ..."]`, so a
/// plain `cargo test` on a clone without it counts the test as ignored;
/// run without it (`-- --ignored`), the test fails rather than pass having
/// done nothing.
fn shared_suite() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // The crate is two folders below the repository root: the shared
    // folder beside the checkout is three up.
    let candidates = [
        "../../../shared/pg-isolation",
        "../shared/pg-isolation",
        "../../shared/pg-isolation",
    ];
    let found = candidates
        .iter()
        .map(|dir| root.join(dir))
        .find(|dir| dir.is_dir());
    found.unwrap_or_else(|| {
        panic!(
            "{} is absent: PostgreSQL 14's src/test/isolation/specs belong there",
            root.join(candidates[0]).display()
        )
    })
}

#[test]
#[ignore = "needs PostgreSQL's isolation specs: ../shared/pg-isolation (cargo test -- --ignored)"]
fn the_store_prints_simple_write_skew_as_postgres_expected_output() {
    let dir = shared_suite();
    let files = find_specs(&dir, &["simple-write-skew".to_string()]).unwrap();
    let specs = parse_all(&files).unwrap();
    let report = block_on(check_spec(&files[0], &specs[0], None));
    assert_eq!(report.rejected, None);
    assert_eq!(report.permutations, 6);
    assert_eq!(
        (report.out_matching, report.out_compared),
        (6, 6),
        "{report:?}"
    );
}

#[test]
#[ignore = "needs PostgreSQL's isolation specs: ../shared/pg-isolation (cargo test -- --ignored)"]
fn every_spec_of_postgres_14s_suite_parses() {
    let dir = shared_suite();
    let files = find_specs(&dir, &[]).unwrap();
    assert_eq!(files.len(), 109);
    let specs = parse_all(&files).unwrap();
    assert!(specs.iter().all(|s| !s.sessions.is_empty()));
    assert!(find_specs(&dir.join("no-such-folder"), &[]).is_err());
}

/// The transcripts of `crate::sql::scripts`, as `overbook pgspecs --specs
/// crates/overbook-db/transcripts` finds and parses them.
fn transcript_specs() -> (Vec<SpecFile>, Vec<Spec>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("transcripts");
    let files = find_specs(&dir, &[]).expect("the transcripts folder");
    let specs = parse_all(&files).expect("every transcript parses as a spec");
    (files, specs)
}

#[test]
fn pgspecs_runs_the_transcripts_and_compares_their_out_files_on_the_store() {
    let (files, specs) = transcript_specs();
    assert_eq!(files.len(), crate::sql::scripts::scripts().len());
    for (file, spec) in files.iter().zip(&specs) {
        let report = block_on(check_spec(file, spec, None));
        assert_eq!(report.rejected, None, "{}", spec.name);
        assert_eq!(
            (report.out_matching, report.out_compared),
            (1, 1),
            "{}: {:?}",
            spec.name,
            report.notes
        );
    }
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
async fn pgspecs_runs_the_transcripts_on_postgres_and_each_gives_its_out_file_again() {
    let url = std::env::var("OVERBOOK_PG_URL").expect(
        "pgspecs_runs_the_transcripts_on_postgres needs OVERBOOK_PG_URL (scripts/with-postgres.sh)",
    );
    let (files, specs) = transcript_specs();
    // One spec at a time: roles are the server's, not a database's, and
    // two transcripts create and drop the same one.
    let report = check_all(&files, &specs, Some(&url), 1).await;
    println!("{}", report.text());
    // Roles are the server's too: where another database holds an object
    // of a transcript's role (the suite runs the transcripts in the
    // server's own database, and the last of them leaves role_tab owned by
    // regress_role_tab there), PostgreSQL refuses its DROP ROLE with
    // 2BP01 before any step runs, which says nothing of the store.
    let role_held_elsewhere = |s: &SpecReport| {
        s.notes
            .iter()
            .any(|n| n.contains("cannot be dropped because some objects depend on it"))
    };
    for s in &report.specs {
        assert_eq!(s.rejected, None, "{}", s.name);
        if role_held_elsewhere(s) {
            println!("{}: not judged: {:?}", s.name, s.notes);
            continue;
        }
        assert_eq!(
            s.transcript_on_postgres,
            Some(true),
            "{}: {:?}",
            s.name,
            s.notes
        );
    }
    assert!(!report.unsound(), "{}", report.text());
}
