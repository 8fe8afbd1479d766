//! A program as a script for psql: the setup once, then each step under
//! the label of the session (one psql window each) that runs it, with what
//! the store and PostgreSQL did as comments.

use super::run::StepRun;
use super::{Judged, Program};
use crate::sql::script::Stmt;

/// `program` as a psql script annotated with `judged`'s two runs.
pub fn psql(program: &Program, judged: &Judged) -> String {
    let mut out = String::new();
    let v = &judged.verdict;
    out.push_str(&format!(
        "-- {}: {} at {} ({} steps)\n-- {}\n",
        program.name,
        v.class.name(),
        program.level,
        program.steps.len(),
        v.why
    ));
    out.push_str(&format!(
        "-- Setup (any session), then open {} psql sessions s1..s{} and run each step in the session named above it, in order.\n",
        program.sessions, program.sessions
    ));
    if program.setup == super::generate::SCHEMA {
        out.push_str(&format!("{};\n", super::generate::PG_PRELUDE));
    }
    out.push_str(&format!(
        "DROP TABLE IF EXISTS {} CASCADE;\n",
        program.setup.tables.join(", ")
    ));
    for ddl in program.setup.ddl {
        out.push_str(&format!("{ddl};\n"));
    }
    for stmt in &program.initial {
        out.push_str(&format!("{stmt};\n"));
    }
    let store_order = &judged.store.order;
    let records = |p: usize| (&judged.store.steps[p], &judged.pg.steps[p]);
    for (p, step) in program.steps.iter().enumerate() {
        let sql = match &step.stmt {
            Stmt::Sql(sql) => sql.clone(),
            Stmt::WritePlus(key, delta) => {
                format!("UPDATE kv SET v = <last read of {key}> + {delta} WHERE k = '{key}'")
            }
        };
        let (s, g) = records(p);
        let mark = if Some(p) == v.step {
            "  <-- differs"
        } else {
            ""
        };
        let issued = store_order.iter().position(|&q| q == p);
        let deferred = match issued {
            Some(i) if i != p => " (issued later: its session was waiting)",
            None => " (never issued: its session was waiting)",
            _ => "",
        };
        out.push_str(&format!(
            "-- s{}: step {}{deferred}\n{sql};\n--   store: {}\n--   PostgreSQL: {}{mark}\n",
            step.session + 1,
            p + 1,
            describe(s, p),
            describe(g, p),
        ));
    }
    for (i, table) in program.setup.tables.iter().enumerate() {
        if judged.store.tables[i] != judged.pg.tables[i] {
            out.push_str(&format!(
                "-- final {table}: store {:?}; PostgreSQL {:?}\n",
                judged.store.tables[i], judged.pg.tables[i]
            ));
        }
    }
    out
}

fn describe(run: &StepRun, p: usize) -> String {
    let mut text = String::new();
    if run.waited {
        text.push_str("waits; ");
    }
    text.push_str(&run.outcome.describe());
    match run.completed_after {
        Some(q) if q != p => text.push_str(&format!(" (completes after step {})", q + 1)),
        _ => {}
    }
    text
}
