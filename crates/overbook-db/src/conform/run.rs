//! One program on one engine, step by step, and what it did.

use super::Program;
use crate::sql::script::{Backend, Runner};
use crate::sql::Session;
use crate::store::{CommittedTx, DbError};
use std::collections::VecDeque;

/// How a step ended, as compared between the engines.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Never issued (its session was still waiting when the program ran
    /// out of steps it could issue).
    NotRun,
    /// Issued and never finished.
    Unfinished,
    /// Finished: the rows it returned (each as text, sorted, since only an
    /// ORDER BY fixes their order) and the rows it affected.
    Done {
        /// Returned rows.
        rows: Vec<Vec<String>>,
        /// Rows inserted, updated or deleted.
        affected: u64,
    },
    /// Failed with this SQLSTATE.
    Error(String),
}

impl Outcome {
    /// A short description: `2 rows`, `error 40001`, `waiting (never
    /// finished)`.
    pub fn describe(&self) -> String {
        match self {
            Outcome::NotRun => "not run".into(),
            Outcome::Unfinished => "waiting (never finished)".into(),
            Outcome::Done { rows, affected } => {
                let rows = match rows.len() {
                    0 if *affected > 0 => format!("{affected} affected"),
                    0 => "ok".into(),
                    _ => rows
                        .iter()
                        .map(|r| format!("({})", r.join(", ")))
                        .collect::<Vec<_>>()
                        .join(" "),
                };
                rows
            }
            Outcome::Error(code) => format!("error {code}"),
        }
    }

    /// The SQLSTATE, when it failed.
    pub fn code(&self) -> Option<&str> {
        match self {
            Outcome::Error(code) => Some(code),
            _ => None,
        }
    }
}

/// One step's result on one engine.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StepRun {
    /// How it ended.
    pub outcome: Outcome,
    /// Whether it was seen blocked and the program went on without it.
    pub waited: bool,
    /// The program step during which it finished (its own when it did not
    /// wait).
    pub completed_after: Option<usize>,
    /// The engine's message when it failed.
    #[serde(skip)]
    pub message: String,
}

/// What a program did on one engine.
#[derive(Clone, Debug)]
pub struct EngineRun {
    /// Per program step.
    pub steps: Vec<StepRun>,
    /// Program steps in the order they were issued.
    pub order: Vec<usize>,
    /// Every table's final rows (as text, sorted), in the setup's table
    /// order; an error when the table could not be read.
    pub tables: Vec<Result<Vec<Vec<String>>, String>>,
    /// The engine's committed transactions, when it records them.
    pub history: Option<Vec<CommittedTx>>,
}

impl EngineRun {
    /// Per session, the SQLSTATE of the error that aborted its transaction
    /// (the first error among its steps), or `None` when nothing failed.
    pub fn aborts(&self, program: &Program) -> Vec<Option<String>> {
        let mut out = vec![None; program.sessions];
        for &p in &self.order {
            let session = program.steps[p].session;
            if out[session].is_none() {
                if let Outcome::Error(code) = &self.steps[p].outcome {
                    out[session] = Some(code.clone());
                }
            }
        }
        out
    }
}

fn rows_as_text(rows: &crate::sql::Rows) -> Vec<Vec<String>> {
    rows.rows
        .iter()
        .map(|r| r.iter().map(|v| v.to_string()).collect())
        .collect()
}

/// Runs `program` on `backend`: the initial rows through the observer,
/// then the steps in order, a step whose session is still waiting
/// deferred until it is not (the others go on), then every table read.
/// Errs only when the engine cannot be set up or the initial rows fail.
pub async fn run_program<B: Backend>(
    backend: &mut B,
    program: &Program,
) -> Result<EngineRun, DbError> {
    let mut conns = backend.open(&program.setup, program.sessions).await?;
    let mut observer = conns.pop().expect("backends open an observer");
    for stmt in &program.initial {
        if let Err(e) = observer.execute(stmt, &[]).await {
            conns.push(observer);
            backend.close(conns.into_iter().map(Some).collect()).await;
            return Err(e);
        }
    }
    let mut runner = Runner::new(conns, observer);
    let mut pending: VecDeque<usize> = (0..program.steps.len()).collect();
    let mut order = Vec::with_capacity(program.steps.len());
    // Each turn issues a step or ends a wait, so this bounds the loop.
    for _ in 0..=2 * program.steps.len() + 2 {
        let ready = pending
            .iter()
            .position(|&p| !runner.busy(program.steps[p].session));
        if let Some(at) = ready {
            let p = pending.remove(at).expect("a found position");
            let step = &program.steps[p];
            runner.issue(backend, step.session, &step.stmt).await;
            order.push(p);
        } else if !runner.any_busy() || !runner.drive(backend).await {
            // Nothing left, or every remaining session waits for good.
            break;
        }
    }
    let mut tables = Vec::with_capacity(program.setup.tables.len());
    for table in program.setup.tables {
        let read = runner
            .observer()
            .execute(&format!("SELECT * FROM {table} ORDER BY 1"), &[])
            .await;
        // Sorted: `ORDER BY 1` leaves ties in a table without a primary
        // key in heap order, which is not part of what is compared.
        tables.push(
            read.map(|r| {
                let mut rows = rows_as_text(&r);
                rows.sort();
                rows
            })
            .map_err(|e| e.to_string()),
        );
    }
    let history = backend.history(runner.observer());
    let (sessions, records) = runner.into_parts();
    backend.close(sessions).await;
    let mut steps = vec![
        StepRun {
            outcome: Outcome::NotRun,
            waited: false,
            completed_after: None,
            message: String::new(),
        };
        program.steps.len()
    ];
    for (record, &p) in records.iter().zip(&order) {
        let (outcome, message) = match &record.result {
            None => (Outcome::Unfinished, String::new()),
            Some(Ok(rows)) => {
                let mut text = rows_as_text(rows);
                text.sort();
                // A statement that returns rows is judged by them: the
                // count of rows it wrote is its RETURNING rows' (or, for a
                // SELECT, none), except that `PgSession` cannot see a WITH
                // query's command tag and counts a `WITH ... SELECT`'s rows
                // as written. Its writes show in the final tables.
                let affected = if rows.columns.is_empty() {
                    rows.affected
                } else {
                    0
                };
                (
                    Outcome::Done {
                        rows: text,
                        affected,
                    },
                    String::new(),
                )
            }
            Some(Err(e)) => (Outcome::Error(e.code.code().to_string()), e.message.clone()),
        };
        steps[p] = StepRun {
            outcome,
            waited: record.waited,
            completed_after: record.completed_after.map(|r| order[r]),
            message,
        };
    }
    Ok(EngineRun {
        steps,
        order,
        tables,
        history,
    })
}
