//! `overbook pgspecs` and `overbook sql-check` against a real PostgreSQL
//! (skipped without `OVERBOOK_PG_URL`, failing under CI without it), and
//! sql-check on the store alone.

use overbook::pgspecs::{check_spec, Spec, SpecFile};
use overbook::sqlcheck;

const SPEC: &str = r#"
setup
{
  CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
  INSERT INTO accounts VALUES (1, 100), (2, 100);
}
teardown { DROP TABLE accounts; }

session s1
setup { BEGIN ISOLATION LEVEL REPEATABLE READ; }
step s1u { UPDATE accounts SET balance = balance - 10 WHERE id = 1; }
step s1c { COMMIT; }

session s2
setup { BEGIN ISOLATION LEVEL REPEATABLE READ; }
step s2r { SELECT balance FROM accounts WHERE id = 1; }
step s2u { UPDATE accounts SET balance = balance + 1 WHERE id = 1; }
step s2c { COMMIT; }
"#;

#[test]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
fn pgspecs_runs_every_interleaving_on_postgres_and_the_store_agrees() {
    let Some(url) =
        super::pg_url("pgspecs_runs_every_interleaving_on_postgres_and_the_store_agrees")
    else {
        return;
    };
    let spec = Spec::parse("lost-update.spec", SPEC).unwrap();
    let file = SpecFile {
        path: "lost-update.spec".into(),
        expected: Vec::new(),
    };
    let report = super::runtime().block_on(check_spec(&file, &spec, Some(&url)));
    assert_eq!(report.rejected, None);
    // 5 steps, 2 and 3 per session: 10 interleavings, each compared.
    assert_eq!(report.permutations, 10);
    // Three interleavings put a session's next step behind its own blocked
    // UPDATE (isolationtester would wait for it forever): both engines
    // say so for the same three, and every other one agrees.
    assert!(
        report.classes.keys().all(|class| class == "agree"),
        "{report:?}"
    );
    assert!(
        report.classes.get("agree").is_some_and(|&n| n >= 7),
        "{report:?}"
    );
    assert_eq!(report.notes.len(), 6, "{:?}", report.notes);
    for engine in ["store", "PostgreSQL"] {
        let stuck: Vec<&String> = report
            .notes
            .iter()
            .filter(|n| n.starts_with(engine) && n.contains("never completed"))
            .collect();
        assert_eq!(stuck.len(), 3, "{engine}: {:?}", report.notes);
    }
}

const SQL: &str = "
CREATE TABLE seats (id int PRIMARY KEY, status text NOT NULL);
INSERT INTO seats VALUES (1, 'free'), (2, 'held');
-- a query with a parameter: prepared, not run
SELECT id FROM seats WHERE status = $1;
WITH RECURSIVE r AS (SELECT id FROM seats) SELECT id FROM r;
UPDATE seats SET status = 'held' WHERE id = 1;
SELECT id, status FROM seats ORDER BY id;
";

fn sql_file() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("overbook-sqlcheck-{}.sql", std::process::id()));
    std::fs::write(&path, SQL).unwrap();
    path
}

#[test]
fn sql_check_says_per_statement_and_line_what_the_store_accepts() {
    let path = sql_file();
    let statements = sqlcheck::read(std::slice::from_ref(&path)).unwrap();
    let checked = super::runtime()
        .block_on(sqlcheck::check(&statements, None))
        .unwrap();
    let lines: Vec<(usize, bool)> = checked
        .iter()
        .map(|c| (c.line, c.rejected.is_some()))
        .collect();
    assert_eq!(
        lines,
        [
            (2, false),
            (3, false),
            (5, false),
            (6, true),
            (7, false),
            (8, false)
        ]
    );
    assert!(checked[2].parameters);
    let text = sqlcheck::text(&checked);
    assert!(text.contains(":6: rejected: "), "{text}");
    assert!(
        text.contains("6 statements: 5 accepted, 1 rejected"),
        "{text}"
    );
    assert!(sqlcheck::read(&["/no/such/file.sql".into()]).is_err());
    let _ = std::fs::remove_file(path);
}

#[test]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
fn sql_check_gives_postgres_results_for_what_the_store_accepts() {
    let Some(url) = super::pg_url("sql_check_gives_postgres_results_for_what_the_store_accepts")
    else {
        return;
    };
    let path = sql_file();
    let statements = sqlcheck::read(std::slice::from_ref(&path)).unwrap();
    let checked = super::runtime()
        .block_on(sqlcheck::check(&statements, Some(&url)))
        .unwrap();
    assert!(checked.iter().all(|c| c.postgres.is_some()));
    let differing: Vec<&sqlcheck::Checked> = checked.iter().filter(|c| c.differs()).collect();
    assert!(differing.is_empty(), "{differing:?}");
    assert_eq!(
        checked[5].postgres,
        Some(sqlcheck::Outcome::Rows {
            rows: vec![
                vec!["1".into(), "held".into()],
                vec!["2".into(), "held".into()]
            ],
            affected: 0
        })
    );
    let _ = std::fs::remove_file(path);
}
