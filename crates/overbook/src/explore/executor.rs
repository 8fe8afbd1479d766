//! The controlled executor: one fresh store, a fixed set of client tasks,
//! and one task polled per step.
//!
//! The explorer's pacer turns every statement's pause into exactly one
//! `Pending` (a scheduling point) and records, for the task being polled,
//! which statement it is about to run. A task's waker only sets a flag, so
//! the executor knows which tasks can make progress: a task that returned
//! `Pending` without being woken is parked on a lock.
//!
//! A client may also stop at a choice of its own ([`Store::choose`]: was
//! the response lost?). Each alternative is then a separate way to step that
//! client, named by a *choice id*: the client's index for the first
//! alternative, `client + CLIENTS_MAX * alternative` for the others, so
//! strategies keep choosing among plain integers and schedules without
//! such choices read as before.

use super::footprint::Footprint;
use super::{Client, Model};
use crate::seed::{Rng64, TraceHasher};
use crate::store::{
    ChoiceFuture, Op, Pacer, PauseFuture, PausePoint, ReadRecord, Store, StoreStats,
};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

/// The most clients one model may have (choices are small integers and
/// per-step work is linear in the client count).
pub(crate) const CLIENTS_MAX: usize = 64;

/// The task index the clock's steps go by: not a client, one past the last
/// a model may have, written `t` in schedule lines.
pub(crate) const CLOCK: usize = CLIENTS_MAX - 1;

/// What a clock step does, by alternative: move logical time to the next
/// timer's deadline (firing it), to 1 ms after it (firing it), or to 1 ms
/// before it (firing nothing, so that clock reads see the last instant
/// before it). The last is offered only when that instant is still ahead.
/// A jump (a clock step while tasks could run) aims at the next sleep; a
/// stall at the next timer of any kind.
const CLOCK_MOVES: [&str; 3] = [
    "to the next timer",
    "to 1 ms after the next timer",
    "to 1 ms before the next timer",
];

/// Logical time as the explorer keeps it. Every sleep is a timer: time
/// moves only by clock steps, when no task can run (a stall: to the next
/// timer, which must then fire) or when the search chooses to (a *time
/// jump*, at most `jumps_left` more a schedule).
#[derive(Default)]
struct Clock {
    now_ms: u64,
    /// Clock steps the search may still take while a task could run.
    jumps_left: u32,
    /// Pending timers.
    timers: Vec<PendingTimer>,
    next_timer: u64,
    /// Time moved by clock steps taken because nothing else could run.
    stalled_ms: u64,
    /// Whether the last step read the clock or set a timer: only then may
    /// the search move time while tasks can run. Moving it later, before
    /// the next such step, is observed by nobody differently (a timer that
    /// fires earlier only enables a task the search may still hold back).
    touched: bool,
}

/// A task waiting for the clock.
struct PendingTimer {
    deadline_ms: u64,
    id: u64,
    /// A task's own sleep (a backoff, a background job's period), which a
    /// time jump may move the clock to; the store's timeouts
    /// (`deadlock_timeout`) pass only when the clock passes them.
    sleep: bool,
    waker: Waker,
}

impl Clock {
    /// Where the next clock step goes from: the next timer of any kind in
    /// a stall, the next sleep for a jump (a jump to the store's deadlock
    /// check would only multiply schedules that time does not matter to:
    /// while tasks can run, the check it fires finds no deadlock cycle
    /// that a stall would not break as well).
    fn next_deadline_ms(&self, jump: bool) -> Option<u64> {
        self.timers
            .iter()
            .filter(|t| t.sleep || !jump)
            .map(|t| t.deadline_ms)
            .min()
    }
}

/// The client a choice id steps.
pub(crate) fn task_of(id: usize) -> usize {
    id % CLIENTS_MAX
}

/// The alternative a choice id takes (0 when the client is not at a choice).
pub(crate) fn alternative_of(id: usize) -> usize {
    id / CLIENTS_MAX
}

/// The choice id of `task` taking `alternative`.
pub(crate) fn choice_id(task: usize, alternative: usize) -> usize {
    task + CLIENTS_MAX * alternative
}

/// One of `task`'s enabled choice ids, drawn uniformly; no draw when the
/// task is not at a choice, so schedules without choices draw as before.
pub(crate) fn draw_alternative(enabled: &[usize], task: usize, rng: &mut Rng64) -> usize {
    let ids: Vec<usize> = enabled
        .iter()
        .copied()
        .filter(|&id| task_of(id) == task)
        .collect();
    match ids.len() {
        1 => ids[0],
        n => ids[rng.below(n as u64) as usize],
    }
}

/// How many clock alternatives are offered. In a stall (nothing else can
/// run): "to the next timer", and with jumps left the ±1 ms moves too. A
/// jump (others could run): all that move time forward, with jumps left,
/// right after a step that read the clock or set a timer, and only to a
/// task's sleep.
fn clock_moves(clock: &Clock, others_enabled: bool) -> usize {
    let Some(next_ms) = clock.next_deadline_ms(others_enabled) else {
        return 0;
    };
    match (clock.jumps_left, others_enabled) {
        (_, true) if !clock.touched => 0,
        (0, true) => 0,
        (0, false) => 1,
        _ if next_ms > clock.now_ms + 1 => 3,
        _ => 2,
    }
}

/// Which task is being polled, and where each task is paused.
#[derive(Default)]
struct Board {
    current: Option<usize>,
    points: Vec<Option<PausePoint>>,
    /// Whether the task being polled reached a store pause point.
    paused_at_statement: bool,
    /// The alternatives of the choice each task is stopped at, if any.
    alternatives: Vec<Option<&'static [&'static str]>>,
    /// The alternative each task stopped at a choice is to take.
    chosen: Vec<usize>,
    clock: Clock,
}

fn lock(board: &Mutex<Board>) -> MutexGuard<'_, Board> {
    // A panic inside a client poisons nothing we cannot still read.
    board.lock().unwrap_or_else(|e| e.into_inner())
}

/// The pacer installed on every explored store.
struct SchedulingPacer {
    board: Arc<Mutex<Board>>,
}

impl Pacer for SchedulingPacer {
    fn pause(&self, point: &PausePoint) -> PauseFuture {
        let board = self.board.clone();
        let mut point = Some(point.clone());
        Box::pin(std::future::poll_fn(move |cx| {
            let Some(point) = point.take() else {
                return Poll::Ready(());
            };
            let mut board = lock(&board);
            let task = board
                .current
                .expect("a store statement ran outside the explorer's control");
            board.points[task] = Some(point);
            board.paused_at_statement = true;
            // Still runnable: the pause is a choice, not a wait.
            cx.waker().wake_by_ref();
            Poll::Pending
        }))
    }

    fn choose(&self, alternatives: &'static [&'static str]) -> ChoiceFuture {
        if alternatives.len() < 2 {
            return Box::pin(std::future::ready(0));
        }
        let board = self.board.clone();
        let mut stopped: Option<usize> = None;
        Box::pin(std::future::poll_fn(move |cx| {
            let mut board = lock(&board);
            match stopped {
                None => {
                    let task = board
                        .current
                        .expect("a choice was made outside the explorer's control");
                    board.alternatives[task] = Some(alternatives);
                    board.chosen[task] = 0;
                    stopped = Some(task);
                    // Runnable, in as many ways as there are alternatives.
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                Some(task) => {
                    board.alternatives[task] = None;
                    Poll::Ready(std::mem::take(&mut board.chosen[task]))
                }
            }
        }))
    }

    fn sleep(&self, ms: u64) -> PauseFuture {
        Box::pin(Timer {
            board: self.board.clone(),
            ms,
            store_timeout: false,
            state: TimerState::Unarmed,
        })
    }

    fn timeout(&self, ms: u64) -> PauseFuture {
        Box::pin(Timer {
            board: self.board.clone(),
            ms,
            store_timeout: true,
            state: TimerState::Unarmed,
        })
    }

    fn now_ms(&self) -> u64 {
        let mut board = lock(&self.board);
        // Reads by the checker between steps are not the tasks'.
        if board.current.is_some() {
            board.clock.touched = true;
        }
        board.clock.now_ms
    }

    fn stalled_ms(&self) -> u64 {
        lock(&self.board).clock.stalled_ms
    }
}

enum TimerState {
    Unarmed,
    /// A sleep of 0 ms: a scheduling point, done at the next poll.
    Yielded,
    /// Registered under this id until its deadline.
    Waiting {
        id: u64,
        deadline_ms: u64,
    },
    Done,
}

/// A sleep on the explorer's clock.
struct Timer {
    board: Arc<Mutex<Board>>,
    ms: u64,
    /// The store's own timeout, which time jumps do not aim at.
    store_timeout: bool,
    state: TimerState,
}

impl std::future::Future for Timer {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let mut board = lock(&this.board);
        let clock = &mut board.clock;
        match this.state {
            TimerState::Unarmed if this.ms == 0 => {
                // A scheduling point where others may run first.
                this.state = TimerState::Yielded;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            TimerState::Unarmed => {
                let (id, deadline_ms) = (clock.next_timer, clock.now_ms + this.ms);
                clock.next_timer += 1;
                clock.timers.push(PendingTimer {
                    deadline_ms,
                    id,
                    sleep: !this.store_timeout,
                    waker: cx.waker().clone(),
                });
                clock.touched = true;
                this.state = TimerState::Waiting { id, deadline_ms };
                Poll::Pending
            }
            TimerState::Waiting { deadline_ms, .. } if clock.now_ms >= deadline_ms => {
                this.state = TimerState::Done;
                Poll::Ready(())
            }
            TimerState::Waiting { id, .. } => {
                // Polled early (a lock granted while a deadlock timer runs):
                // wait on with the newest waker.
                if let Some(timer) = clock.timers.iter_mut().find(|t| t.id == id) {
                    timer.waker = cx.waker().clone();
                }
                Poll::Pending
            }
            TimerState::Yielded | TimerState::Done => {
                this.state = TimerState::Done;
                Poll::Ready(())
            }
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        // A timer nobody waits for no longer matters to the clock.
        if let TimerState::Waiting { id, .. } = self.state {
            lock(&self.board).clock.timers.retain(|t| t.id != id);
        }
    }
}

/// A task's waker: marks the task runnable.
struct Runnable(AtomicBool);

impl Wake for Runnable {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
}

struct Task {
    future: Option<Client>,
    runnable: Arc<Runnable>,
    waker: Waker,
}

/// What one step did, as far as the store shows it.
#[derive(Clone, Debug)]
pub(crate) struct StepRecord {
    /// The task stepped.
    pub(crate) task: usize,
    /// The statement it ran (`None`: it ran client code only).
    pub(crate) point: Option<PausePoint>,
    /// The alternative it took, when it was stopped at a choice.
    pub(crate) choice: Option<&'static str>,
}

/// One execution of a model under the explorer's control.
pub(crate) struct Run<S> {
    pub(crate) store: Store,
    pub(crate) state: S,
    board: Arc<Mutex<Board>>,
    tasks: Vec<Task>,
    /// Names of the daemons, the last tasks.
    daemons: Rc<[String]>,
    /// Names of the background tasks, just before the daemons.
    background: Rc<[String]>,
    pub(crate) steps: u64,
    /// The first panic of a client, which ends its task: a finding.
    pub(crate) panicked: Option<String>,
}

impl<S> Run<S> {
    /// A fresh store and fresh clients, each polled once (in index order)
    /// up to its first statement. That prefix is client-local code (and
    /// `begin`, which only allocates an id), so it is not a choice.
    pub(crate) fn start(model: &Model<S>) -> Run<S> {
        let store = (model.store)();
        let board = Arc::new(Mutex::new(Board::default()));
        store.set_pacer(Arc::new(SchedulingPacer {
            board: board.clone(),
        }));
        let (state, clients) = (model.setup)(&store);
        assert!(
            !clients.is_empty() && clients.len() <= CLIENTS_MAX,
            "a model needs 1 to {CLIENTS_MAX} clients, got {}",
            clients.len()
        );
        assert!(
            model.daemons.len() < clients.len(),
            "a model needs a client besides its {} daemons",
            model.daemons.len()
        );
        assert!(
            clients.len() < CLOCK,
            "a model has at most {} tasks besides the clock",
            CLOCK - 1
        );
        {
            let mut board = lock(&board);
            board.points = vec![None; clients.len()];
            board.alternatives = vec![None; clients.len()];
            board.chosen = vec![0; clients.len()];
            board.clock.jumps_left = model.time_jumps;
        }
        let tasks = clients
            .into_iter()
            .map(|future| {
                let runnable = Arc::new(Runnable(AtomicBool::new(true)));
                Task {
                    future: Some(future),
                    waker: Waker::from(runnable.clone()),
                    runnable,
                }
            })
            .collect();
        let mut run = Run {
            store,
            state,
            board,
            tasks,
            daemons: model.daemons.clone(),
            background: model.background.clone(),
            steps: 0,
            panicked: None,
        };
        for task in 0..run.tasks.len() {
            run.poll(task);
        }
        run
    }

    pub(crate) fn clients(&self) -> usize {
        self.tasks.len()
    }

    /// The choice ids of the steps that can be taken: each runnable task,
    /// in index order, once per alternative when it is stopped at a choice.
    pub(crate) fn enabled(&self) -> Vec<usize> {
        let board = lock(&self.board);
        let mut enabled = Vec::with_capacity(self.tasks.len());
        for (i, task) in self.tasks.iter().enumerate() {
            if task.future.is_none() || !task.runnable.0.load(Ordering::Relaxed) {
                continue;
            }
            match board.alternatives[i] {
                Some(alternatives) => {
                    enabled.extend((0..alternatives.len()).map(|a| choice_id(i, a)));
                }
                None => enabled.push(i),
            }
        }
        let moves = clock_moves(&board.clock, !enabled.is_empty());
        enabled.extend((0..moves).map(|a| choice_id(CLOCK, a)));
        enabled
    }

    /// Moves the clock as clock alternative `alternative` says and wakes
    /// the tasks whose timers are then due.
    fn clock_step(&mut self, alternative: usize) {
        let others = self.enabled().iter().any(|&id| task_of(id) != CLOCK);
        let mut board = lock(&self.board);
        let clock = &mut board.clock;
        let next_ms = clock
            .next_deadline_ms(others)
            .expect("a clock step needs a timer");
        let target_ms = match alternative {
            0 => next_ms,
            1 => next_ms + 1,
            _ => next_ms - 1,
        };
        let before_ms = clock.now_ms;
        clock.now_ms = clock.now_ms.max(target_ms);
        if others || alternative != 0 {
            clock.jumps_left = clock.jumps_left.saturating_sub(1);
        } else {
            clock.stalled_ms += clock.now_ms - before_ms;
        }
        let now_ms = clock.now_ms;
        let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut clock.timers)
            .into_iter()
            .partition(|t| t.deadline_ms <= now_ms);
        clock.timers = waiting;
        drop(board);
        for timer in due {
            timer.waker.wake();
        }
    }

    /// Logical time now.
    pub(crate) fn now_ms(&self) -> u64 {
        lock(&self.board).clock.now_ms
    }

    fn first_background(&self) -> usize {
        self.first_daemon() - self.background.len()
    }

    fn first_daemon(&self) -> usize {
        self.tasks.len() - self.daemons.len()
    }

    /// Whether `task` keeps the schedule going: a client not finished, or a
    /// daemon with work it can step on.
    fn is_open(&self, task: usize) -> bool {
        let task_state = &self.tasks[task];
        task_state.future.is_some()
            && (task < self.first_daemon() || task_state.runnable.0.load(Ordering::Relaxed))
    }

    /// Whether the schedule is over.
    pub(crate) fn all_finished(&self) -> bool {
        !(0..self.tasks.len()).any(|i| self.is_open(i))
    }

    /// Clients not finished (and daemons with work left).
    pub(crate) fn unfinished(&self) -> Vec<usize> {
        (0..self.tasks.len()).filter(|&i| self.is_open(i)).collect()
    }

    /// How traces name `task`.
    pub(crate) fn task_name(&self, task: usize) -> String {
        if task == CLOCK {
            return "clock".to_string();
        }
        if let Some(daemon) = task.checked_sub(self.first_daemon()) {
            return self.daemons[daemon].clone();
        }
        match task.checked_sub(self.first_background()) {
            Some(background) => self.background[background].clone(),
            None => format!("client {task}"),
        }
    }

    /// The statement `task` will run when next stepped.
    pub(crate) fn pending(&self, task: usize) -> Option<PausePoint> {
        lock(&self.board).points.get(task).cloned().flatten()
    }

    /// What the step with choice id `id` may touch.
    pub(crate) fn footprint(&self, id: usize) -> Footprint {
        Footprint::of(&self.store, self.pending(task_of(id)).as_ref())
    }

    /// Takes the step with choice id `id`: polls its task once, so that it
    /// runs its pending statement (or takes the chosen alternative) and on
    /// to its next scheduling point, lock wait or end.
    pub(crate) fn step(&mut self, id: usize) -> StepRecord {
        let (task, alternative) = (task_of(id), alternative_of(id));
        if task == CLOCK {
            assert!(
                self.enabled().contains(&id),
                "stepped choice {id}, which is not enabled"
            );
            // Moving time twice in a row with nobody looking is one move.
            lock(&self.board).clock.touched = false;
            self.clock_step(alternative);
            self.steps += 1;
            return StepRecord {
                task,
                point: None,
                choice: Some(CLOCK_MOVES[alternative]),
            };
        }
        let point = self.pending(task);
        let choice = {
            let mut board = lock(&self.board);
            let alternatives = board.alternatives[task];
            assert!(
                self.tasks[task].future.is_some()
                    && self.tasks[task].runnable.0.load(Ordering::Relaxed)
                    && alternative < alternatives.map_or(1, <[_]>::len),
                "stepped choice {id}, which is not enabled"
            );
            board.chosen[task] = alternative;
            board.clock.touched = false;
            alternatives.map(|alternatives| alternatives[alternative])
        };
        self.poll(task);
        self.steps += 1;
        StepRecord {
            task,
            point,
            choice,
        }
    }

    fn poll(&mut self, index: usize) {
        let task = &mut self.tasks[index];
        let Some(future) = task.future.as_mut() else {
            return;
        };
        task.runnable.0.store(false, Ordering::Relaxed);
        {
            let mut board = lock(&self.board);
            board.current = Some(index);
            board.paused_at_statement = false;
        }
        let mut cx = Context::from_waker(&task.waker);
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            future.as_mut().poll(&mut cx).is_ready()
        }));
        let done = match polled {
            Ok(done) => done,
            Err(payload) => {
                // A panicking client ends like a finished one (its future is
                // dropped, its transaction rolls back); the panic is the
                // schedule's violation.
                let message = crate::system::panic_message(payload.as_ref());
                self.panicked
                    .get_or_insert_with(|| format!("client {index} panicked: {message}"));
                true
            }
        };
        let mut board = lock(&self.board);
        board.current = None;
        if !done && !board.paused_at_statement && task.runnable.0.load(Ordering::Relaxed) {
            // It stopped at a scheduling point of its own (an Env sleep),
            // not at a statement: its next step is unknown, so global.
            board.points[index] = None;
        }
        drop(board);
        if done {
            // Dropping the future now releases what it holds (an open
            // transaction rolls back), as a finished client would.
            task.future = None;
            lock(&self.board).points[index] = None;
        }
    }

    /// Whether `task` is parked (not finished, not runnable).
    pub(crate) fn is_parked(&self, task: usize) -> bool {
        self.tasks
            .get(task)
            .is_some_and(|t| t.future.is_some() && !t.runnable.0.load(Ordering::Relaxed))
    }

    /// Whether `task` (not the clock) has finished.
    fn finished(&self, task: usize) -> bool {
        self.tasks.get(task).is_none_or(|t| t.future.is_none())
    }

    /// A stable hash of every committed row.
    pub(crate) fn final_state_hash(&self) -> u64 {
        let mut hasher = TraceHasher::default();
        for (key, row) in self.store.latest_all_committed() {
            hasher.write_str(key.as_str());
            // The bytes of `format!("{row:?}")` and the separator
            // `write_str` adds, fed as they are formatted: the same hash
            // without copying each row and building its text (this ran
            // for every row of every schedule).
            use std::fmt::Write as _;
            let _ = write!(HashWriter(&mut hasher), "{row:?}");
            hasher.write(&[0xff]);
        }
        hasher.finish()
    }
}

/// Formatted text straight into a trace hash.
struct HashWriter<'a>(&'a mut TraceHasher);

impl std::fmt::Write for HashWriter<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.0.write(text.as_bytes());
        Ok(())
    }
}

/// What one step did, as a value. `waiting` holds the tasks whose last
/// step ended in a lock wait (updated here), so that the step which
/// finishes such a statement is told apart from one that runs the next.
pub(crate) fn outcome<S>(
    run: &Run<S>,
    record: &StepRecord,
    before: &StoreStats,
    waiting: &mut std::collections::BTreeSet<usize>,
) -> super::StepOutcome {
    if record.task == CLOCK {
        return super::StepOutcome {
            task: None,
            resumed: false,
            statement: None,
            choice: record.choice,
            error: None,
            waits: false,
            finished: false,
        };
    }
    let after = run.store.stats();
    let error = [
        (
            after.serialization_failures,
            before.serialization_failures,
            "40001",
        ),
        (after.deadlocks, before.deadlocks, "40P01"),
        (after.unique_violations, before.unique_violations, "23505"),
        (
            after.exclusion_violations,
            before.exclusion_violations,
            "23P01",
        ),
    ]
    .into_iter()
    .find(|(a, b, _)| a > b)
    .map(|(_, _, code)| code.to_string());
    // A daemon parked for work after its commit is not waiting for a lock;
    // the store takes no lock at commit.
    let waits = run.is_parked(record.task)
        && record
            .point
            .as_ref()
            .is_some_and(|point| !matches!(point.op, Op::Commit));
    let resumed = waiting.remove(&record.task);
    if waits {
        waiting.insert(record.task);
    }
    super::StepOutcome {
        task: Some(record.task),
        resumed,
        statement: record.point.as_ref().map(|point| match &point.key {
            Some(key) => format!("{} {key}", point.op.name()),
            None => point.op.name().to_string(),
        }),
        choice: record.choice,
        error,
        waits,
        finished: run.finished(record.task),
    }
}

/// Describes one step for a trace: who ran what, and what the store shows
/// afterwards.
pub(crate) fn describe<S>(
    run: &Run<S>,
    step_index: usize,
    record: &StepRecord,
    before: &StoreStats,
) -> String {
    let after = run.store.stats();
    let mut line = format!("step {step_index}: {}", run.task_name(record.task));
    if record.task == CLOCK {
        let choice = record.choice.unwrap_or_default();
        return format!("{line} moves {choice}: now {} ms", run.now_ms());
    }
    if let Some(choice) = record.choice {
        line += &format!(": {choice}");
        if run.finished(record.task) {
            line += " -> client finished";
        }
        return line;
    }
    let Some(point) = &record.point else {
        return line + " ran client code (no statement: a sleep or the client's own logic)";
    };
    line += &format!(" (tx {}) {}", point.tx, point.op.name());
    if let Some(key) = &point.key {
        line += &format!(" {key}");
    }
    let mut outcomes = Vec::new();
    if after.serialization_failures > before.serialization_failures {
        outcomes.push("failed 40001".to_string());
    }
    if after.deadlocks > before.deadlocks {
        outcomes.push("failed 40P01".to_string());
    }
    if after.unique_violations > before.unique_violations {
        outcomes.push("failed 23505".to_string());
    }
    if after.exclusion_violations > before.exclusion_violations {
        outcomes.push("failed 23P01".to_string());
    }
    if after.committed > before.committed {
        outcomes.push(format!("committed (seq {})", run.store.commit_count()));
    }
    if run.is_parked(record.task) {
        outcomes.push("waits for a lock".to_string());
    }
    if let Some(ReadRecord::Item {
        key,
        version: Some(writer),
    }) = run
        .store
        .tx_footprint(point.tx)
        .and_then(|tx| tx.last_read)
        .filter(|_| matches!(point.op, Op::Get | Op::GetForUpdate))
    {
        if point.key.as_ref() == Some(&key) {
            outcomes.push(format!("read the version of tx {writer}"));
        }
    }
    if let Some(key) = &point.key {
        let committed = run
            .store
            .read_committed(key)
            .map_or("absent".to_string(), |row| format!("{row:?}"));
        outcomes.push(format!("committed {key} = {committed}"));
    }
    if run.finished(record.task) {
        outcomes.push("client finished".to_string());
    }
    if outcomes.is_empty() {
        line
    } else {
        format!("{line} -> {}", outcomes.join("; "))
    }
}
