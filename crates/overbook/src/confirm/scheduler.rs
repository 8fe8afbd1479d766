//! The schedule's turns on a real server: a board of where each task
//! stopped, the gates a task stops at (a statement, the resumption of a
//! statement PostgreSQL blocked, a choice, a sleep) and the driver that
//! polls one task per step, as the model checker's executor does, while
//! tokio carries the round trips to the server.

use crate::postgres::{session_is_blocked, PgSession, Turns};
use crate::store::{DbError, PauseFuture};
use crate::system::Env;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// Where a task stopped and waits for a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Stop {
    /// Before a statement (the store pauses there too).
    Statement(String),
    /// After a statement PostgreSQL blocked and then let finish: the
    /// store's parked task resumes only when the schedule steps it.
    Resume(String),
    /// At a choice of the model (was the response lost?).
    Choice(&'static [&'static str]),
    /// After a sleep on the logical clock (it moved the clock).
    Sleep,
    /// A timer of the timed clock, until a clock step passes `deadline_ms`.
    Timer { deadline_ms: u64 },
}

/// A statement a task finished on PostgreSQL.
#[derive(Clone, Debug)]
pub(super) struct Finished {
    pub(super) task: usize,
    pub(super) sql: String,
    pub(super) error: Option<DbError>,
    /// Whether it was seen blocked before it finished.
    pub(super) waited: bool,
}

#[derive(Default)]
struct TaskState {
    stop: Option<Stop>,
    permit: Option<usize>,
    /// A round trip to the server is under way.
    busy: bool,
    /// The running statement was seen blocked.
    waited: bool,
    pid: Option<i32>,
    /// The driver let the task run and it has not stopped since.
    released: bool,
    done: bool,
}

#[derive(Default)]
struct Board {
    current: Option<usize>,
    tasks: Vec<TaskState>,
    now_ms: u64,
    /// Sleeps are timers fired by clock steps (the model's time jumps).
    timed: bool,
    finished: Vec<Finished>,
    /// Statements sent at a turn, for the check that the service reached
    /// PostgreSQL at all.
    turns_taken: u64,
}

fn lock(board: &Mutex<Board>) -> MutexGuard<'_, Board> {
    board.lock().unwrap_or_else(|e| e.into_inner())
}

/// The shared board, handed to gates, connections and the clock.
#[derive(Clone, Default)]
pub(super) struct Turnstile {
    board: Arc<Mutex<Board>>,
}

impl Turnstile {
    pub(super) fn new(timed: bool) -> Turnstile {
        let turnstile = Turnstile::default();
        lock(&turnstile.board).timed = timed;
        turnstile
    }

    fn current(&self) -> usize {
        lock(&self.board)
            .current
            .expect("a scheduled statement ran outside the confirm driver")
    }

    /// Stops the polled task (or `task`) at `stop` until a step grants it
    /// an alternative.
    fn gate(&self, task: Option<usize>, stop: Stop) -> impl Future<Output = usize> + Send {
        let board = self.board.clone();
        let mut armed: Option<usize> = None;
        std::future::poll_fn(move |_cx| {
            let mut b = lock(&board);
            let task = match armed {
                Some(task) => task,
                None => {
                    let task = task.or(b.current).expect("a gate outside the driver");
                    armed = Some(task);
                    let state = &mut b.tasks[task];
                    state.stop = Some(stop.clone());
                    state.permit = None;
                    state.released = false;
                    return Poll::Pending;
                }
            };
            match b.tasks[task].permit.take() {
                Some(alternative) => {
                    b.tasks[task].stop = None;
                    Poll::Ready(alternative)
                }
                None => Poll::Pending,
            }
        })
    }

    /// A choice of the model: the alternative the schedule names.
    pub(super) fn choose(&self, alternatives: &'static [&'static str]) -> PauseChoice {
        Box::pin(self.gate(None, Stop::Choice(alternatives)))
    }

    pub(super) fn now_ms(&self) -> u64 {
        lock(&self.board).now_ms
    }

    pub(super) fn turns_taken(&self) -> u64 {
        lock(&self.board).turns_taken
    }

    fn add_task(&self) -> usize {
        let mut b = lock(&self.board);
        b.tasks.push(TaskState::default());
        b.tasks.len() - 1
    }

    pub(super) fn stop_of(&self, task: usize) -> Option<Stop> {
        lock(&self.board).tasks[task].stop.clone()
    }

    pub(super) fn is_busy(&self, task: usize) -> bool {
        lock(&self.board).tasks[task].busy
    }

    pub(super) fn is_done(&self, task: usize) -> bool {
        lock(&self.board).tasks[task].done
    }

    pub(super) fn waited(&self, task: usize) -> bool {
        lock(&self.board).tasks[task].waited
    }

    pub(super) fn pids(&self) -> Vec<i32> {
        lock(&self.board)
            .tasks
            .iter()
            .filter_map(|t| t.pid)
            .collect()
    }

    pub(super) fn drain_finished(&self) -> Vec<Finished> {
        std::mem::take(&mut lock(&self.board).finished)
    }

    /// Moves the timed clock to `target_ms` (never back) and wakes the
    /// timers then due; returns whether any fired.
    pub(super) fn move_clock(&self, target_ms: u64) -> bool {
        let mut b = lock(&self.board);
        b.now_ms = b.now_ms.max(target_ms);
        let now_ms = b.now_ms;
        let mut fired = false;
        for task in b.tasks.iter_mut() {
            if let Some(Stop::Timer { deadline_ms }) = task.stop {
                if deadline_ms <= now_ms {
                    task.stop = Some(Stop::Sleep);
                    fired = true;
                }
            }
        }
        fired
    }

    /// The earliest pending timer's deadline.
    pub(super) fn next_timer_ms(&self) -> Option<u64> {
        lock(&self.board)
            .tasks
            .iter()
            .filter_map(|t| match t.stop {
                Some(Stop::Timer { deadline_ms }) => Some(deadline_ms),
                _ => None,
            })
            .min()
    }
}

/// A boxed choice.
pub(super) type PauseChoice = Pin<Box<dyn Future<Output = usize> + Send>>;

impl Turns for Turnstile {
    fn connecting(&self) -> usize {
        let task = self.current();
        lock(&self.board).tasks[task].busy = true;
        task
    }

    fn connected(&self, task: usize, backend_pid: i32) {
        let mut b = lock(&self.board);
        b.tasks[task].pid = Some(backend_pid);
        b.tasks[task].busy = false;
    }

    fn turn(&self, task: usize, sql: &str) -> PauseFuture {
        let gate = self.gate(Some(task), Stop::Statement(sql.to_string()));
        let board = self.board.clone();
        Box::pin(async move {
            gate.await;
            lock(&board).turns_taken += 1;
        })
    }

    fn busy(&self, task: usize, busy: bool) {
        lock(&self.board).tasks[task].busy = busy;
    }

    fn finished(&self, task: usize, sql: &str, error: Option<&DbError>) -> PauseFuture {
        let waited = {
            let mut b = lock(&self.board);
            let waited = std::mem::take(&mut b.tasks[task].waited);
            b.finished.push(Finished {
                task,
                sql: sql.to_string(),
                error: error.cloned(),
                waited,
            });
            waited
        };
        if waited {
            let gate = self.gate(Some(task), Stop::Resume(sql.to_string()));
            Box::pin(async move {
                gate.await;
            })
        } else {
            Box::pin(std::future::ready(()))
        }
    }
}

/// The logical clock of the replay: the same as the model checker's. A
/// sleep is a timer that a clock step fires (0 ms: a scheduling point).
pub(super) struct LogicalClock(pub(super) Turnstile);

impl Env for LogicalClock {
    fn now_ms(&self) -> u64 {
        self.0.now_ms()
    }

    fn sleep_ms(&self, ms: u64) -> PauseFuture {
        let turnstile = self.0.clone();
        let stop = {
            let mut b = lock(&turnstile.board);
            if b.timed && ms > 0 {
                Stop::Timer {
                    deadline_ms: b.now_ms + ms,
                }
            } else {
                b.now_ms += ms;
                Stop::Sleep
            }
        };
        Box::pin(async move {
            turnstile.gate(None, stop).await;
        })
    }
}

/// A task's waker: marks it runnable and wakes the driver.
struct TaskWaker {
    runnable: AtomicBool,
    driver: Arc<Mutex<Option<Waker>>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.runnable.store(true, Ordering::Relaxed);
        if let Some(waker) = self.driver.lock().unwrap_or_else(|e| e.into_inner()).take() {
            waker.wake();
        }
    }
}

/// A task of the replay.
pub(super) type Task = Pin<Box<dyn Future<Output = ()>>>;

struct Slot {
    future: Option<Task>,
    waker: Arc<TaskWaker>,
}

/// How a driven step ended for its task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Driven {
    /// It stopped at its next scheduling point, parked or finished.
    Stopped,
    /// Its statement is blocked on PostgreSQL.
    Waiting,
}

/// Idle polls of a step before it is given up on (about 10 s).
const POLLS_MAX: usize = 5000;
/// Time between checks of a running statement.
const IDLE: Duration = Duration::from_millis(2);

/// Polls the replay's tasks.
pub(super) struct Driver {
    pub(super) turnstile: Turnstile,
    slots: Vec<Slot>,
    waker: Arc<Mutex<Option<Waker>>>,
    /// The connection that asks PostgreSQL whether a statement is blocked.
    observer: PgSession,
    /// How long a statement first seen blocked is watched before it is
    /// called waiting: past the deadlock timeout, so that PostgreSQL ends
    /// a deadlock the statement closed.
    grace: Duration,
    /// The task the driver polls now (for panics).
    pub(super) panicked: Option<String>,
}

impl Driver {
    pub(super) fn new(turnstile: Turnstile, observer: PgSession, grace: Duration) -> Driver {
        Driver {
            turnstile,
            slots: Vec::new(),
            waker: Arc::new(Mutex::new(None)),
            observer,
            grace,
            panicked: None,
        }
    }

    /// Adds `task` (before the first step).
    pub(super) fn spawn(&mut self, task: Task) {
        let index = self.turnstile.add_task();
        debug_assert_eq!(index, self.slots.len());
        self.slots.push(Slot {
            future: Some(task),
            waker: Arc::new(TaskWaker {
                runnable: AtomicBool::new(true),
                driver: self.waker.clone(),
            }),
        });
    }

    pub(super) fn tasks(&self) -> usize {
        self.slots.len()
    }

    /// Whether `task` has been woken (a daemon with work) while at rest.
    pub(super) fn runnable(&self, task: usize) -> bool {
        self.slots[task].waker.runnable.load(Ordering::Relaxed)
    }

    fn released(&self, task: usize) -> bool {
        lock(&self.turnstile.board).tasks[task].released
    }

    fn poll(&mut self, index: usize) {
        let slot = &mut self.slots[index];
        let Some(future) = slot.future.as_mut() else {
            return;
        };
        slot.waker.runnable.store(false, Ordering::Relaxed);
        lock(&self.turnstile.board).current = Some(index);
        let waker = Waker::from(slot.waker.clone());
        let mut cx = Context::from_waker(&waker);
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            future.as_mut().poll(&mut cx).is_ready()
        }));
        let done = polled.unwrap_or_else(|payload| {
            let message = crate::system::panic_message(payload.as_ref());
            self.panicked
                .get_or_insert_with(|| format!("task {index} panicked: {message}"));
            true
        });
        let mut b = lock(&self.turnstile.board);
        b.current = None;
        let state = &mut b.tasks[index];
        if done {
            state.done = true;
            state.released = false;
            state.stop = None;
            drop(b);
            // Dropping it closes its connections (an open transaction
            // rolls back on the server).
            self.slots[index].future = None;
        } else if state.stop.is_none() && !state.busy {
            // Parked on something other than the server (a daemon waiting
            // for work). A task at a gate was stopped by the gate itself.
            state.released = false;
        }
    }

    /// Polls every released task that was woken, until `until` holds or
    /// `timer` ends.
    async fn settle(&mut self, until: impl Fn(&Driver) -> bool, timer: impl Future<Output = ()>) {
        let mut timer = std::pin::pin!(timer);
        std::future::poll_fn(|cx| {
            *self.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
            for _ in 0..10_000 {
                let ready: Vec<usize> = (0..self.slots.len())
                    .filter(|&i| self.released(i) && self.runnable(i))
                    .collect();
                for &i in &ready {
                    self.poll(i);
                }
                if until(self) {
                    return Poll::Ready(());
                }
                if ready.is_empty() {
                    break;
                }
            }
            timer.as_mut().poll(cx)
        })
        .await
    }

    /// Lets `task` take `alternative` at its stop (or start, when it is
    /// at rest) and drives it until it stops again or PostgreSQL blocks
    /// its statement.
    pub(super) async fn step(&mut self, task: usize, alternative: usize) -> Driven {
        {
            let mut b = lock(&self.turnstile.board);
            let state = &mut b.tasks[task];
            if state.stop.is_some() {
                state.permit = Some(alternative);
            }
            state.released = true;
        }
        self.slots[task]
            .waker
            .runnable
            .store(true, Ordering::Relaxed);
        self.drive(task).await
    }

    /// Drives the released tasks until `task` stops, or its statement is
    /// blocked (after the grace the first time it is seen so).
    pub(super) async fn drive(&mut self, task: usize) -> Driven {
        for _ in 0..POLLS_MAX {
            self.settle(|d| !d.released(task), tokio::time::sleep(IDLE))
                .await;
            if !self.released(task) {
                return Driven::Stopped;
            }
            if !self.turnstile.is_busy(task) {
                continue;
            }
            if self.blocked(task).await {
                if !self.turnstile.waited(task) {
                    let grace = self.grace;
                    self.settle(|d| !d.released(task), tokio::time::sleep(grace))
                        .await;
                    if !self.released(task) {
                        return Driven::Stopped;
                    }
                    lock(&self.turnstile.board).tasks[task].waited = true;
                }
                return Driven::Waiting;
            }
        }
        Driven::Waiting
    }

    /// Whether `task`'s statement is blocked by another task's backend.
    async fn blocked(&self, task: usize) -> bool {
        let Some(pid) = lock(&self.turnstile.board).tasks[task].pid else {
            return false;
        };
        let others = self.turnstile.pids();
        session_is_blocked(&self.observer, pid, &others).await
    }

    /// Drives whatever runs on the server for `duration` (waiting
    /// statements PostgreSQL may let finish).
    pub(super) async fn idle(&mut self, duration: Duration) {
        self.settle(|_| false, tokio::time::sleep(duration)).await;
    }

    /// The first task polled to its first stop, each in index order, as
    /// the model checker starts its clients.
    pub(super) async fn start(&mut self) {
        for task in 0..self.slots.len() {
            lock(&self.turnstile.board).tasks[task].released = true;
            self.slots[task]
                .waker
                .runnable
                .store(true, Ordering::Relaxed);
            self.drive(task).await;
        }
    }

    /// Ends the tasks (dropping them closes their connections) and the
    /// backends of any still running on the server.
    pub(super) async fn shut_down(&mut self) {
        let pids = self.turnstile.pids();
        for slot in &mut self.slots {
            slot.future = None;
        }
        for pid in pids {
            let _ = self
                .observer
                .client()
                .execute("SELECT pg_terminate_backend($1)", &[&pid])
                .await;
        }
    }
}
