//! Unanswered requests, the world's bound on running handlers, handler
//! cancellation on a closed connection (with a service made to hang), the
//! `tickets/swap-split-tx` storm, and the CLI's `explore --stop-at-first`
//! and `Options::example_in`.

use super::*;
use overbook::scenario::Scenario;
use overbook::store::{CommitEvent, Isolation};
use overbook::world::{Report, RunOptions, TraceEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn sims() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sims")
}

/// A service made to go silent: `Hang` takes a pool connection and never
/// answers; `Ping` answers at once (after waiting for a connection).
#[derive(Clone, Copy, Debug)]
struct Mute;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct MuteSettings {
    #[serde(default)]
    service: MuteService,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MuteService {
    /// Whether `Hang` is declared cancellation-safe.
    #[serde(default)]
    cancellable: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Ask {
    Hang,
    Ping,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Pong;

impl Message for Ask {
    fn operation(&self) -> &'static str {
        match self {
            Ask::Hang => "hang",
            Ask::Ping => "ping",
        }
    }
}

impl Reply for Pong {
    fn status(&self) -> u16 {
        200
    }
}

/// Every `Ping` gets an answer; a `Hang` may go unanswered.
#[derive(Default)]
struct PingsAnswered {
    tally: Tally,
}

impl Invariants<Mute> for PingsAnswered {
    fn on_commit(&mut self, _: &CommitEvent, _: u64) -> Result<(), Violation> {
        Ok(())
    }

    fn on_unanswered(
        &mut self,
        request: &Ask,
        unanswered: &Unanswered,
        now_ms: u64,
    ) -> Result<(), Violation> {
        self.tally
            .check("pings_answered", *request != Ask::Ping, || {
                let outcomes: Vec<String> = unanswered
                    .attempts
                    .iter()
                    .map(|a| format!("{:?} {}..{} ms", a.error, a.sent_ms, a.gave_up_ms))
                    .collect();
                format!(
                    "client {} ping unanswered at {now_ms} ms after {} attempts: {}",
                    unanswered.client,
                    unanswered.attempts.len(),
                    outcomes.join(", ")
                )
            })
    }

    fn at_end(&mut self, _: &Store, _: u64) -> Result<(), Violation> {
        Ok(())
    }

    fn checks(&self) -> BTreeMap<&'static str, u64> {
        self.tally.counts()
    }
}

impl System for Mute {
    type Settings = MuteSettings;
    type Data = ();
    type Request = Ask;
    type Response = Pong;
    type Server = ServerContext<Self>;
    type Checker = PingsAnswered;

    fn name(&self) -> &'static str {
        "mute"
    }

    fn variants(&self) -> &'static [VariantInfo] {
        &const { [VariantInfo::new("correct", "hangs on purpose")] }
    }

    fn invariants(&self) -> &'static [InvariantInfo] {
        &const {
            [InvariantInfo::new(
                "pings_answered",
                "every ping is answered",
            )]
        }
    }

    fn data(&self, _: &MuteSettings, _: Seed) {}

    fn load(&self, _: &(), _: &Store) {}

    fn cancellable(request: &Ask) -> bool {
        // Declared per request from the settings: the test flips it.
        let _ = request;
        CANCELLABLE.with(|c| c.get())
    }

    async fn handle(ctx: &ServerContext<Self>, request: Ask, _: u32) -> Pong {
        let tx = ctx.pool.begin(Isolation::ReadCommitted).await;
        if request == Ask::Hang {
            std::future::pending::<()>().await;
        }
        drop(tx);
        Pong
    }

    /// Asks for a hang, then pings.
    async fn user(&self, mut user: UserContext<Self>) {
        user.send(Ask::Hang).await;
        user.send(Ask::Ping).await;
    }

    fn checker(&self, _: Arc<()>, _: &MuteSettings) -> PingsAnswered {
        PingsAnswered::default()
    }

    fn explore_clients(&self, ctx: ExploreContext<'_, Self>) -> Vec<Vec<Ask>> {
        vec![vec![Ask::Ping]; ctx.clients as usize]
    }
}

thread_local! {
    /// `Mute::cancellable`'s answer: the world runs on the test's thread.
    static CANCELLABLE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// One user on one API server with one connection, clients that wait
/// `timeout_ms` and resend once, and `liveness` as given.
fn mute_run(timeout_ms: u64, liveness: &str, cancellable: bool) -> Report {
    let text = format!(
        "name = \"mute\"\n[topology]\napi_servers = 1\nclient_hosts = 1\npool_size = 1\n\
         [client]\ntimeout_ms = {timeout_ms}\nretries_on_timeout = 1\n\
         [[phases]]\nduration_s = 1\narrival_rate = 0\nburst = 1\n{liveness}"
    );
    let scenario = Scenario::parse(&text, "mute.toml").unwrap();
    CANCELLABLE.with(|c| c.set(cancellable));
    let options = RunOptions { trace: true };
    overbook::world::run_with(&Mute, &scenario, Seed(1), Variant::CORRECT, options)
}

#[test]
fn a_request_whose_every_attempt_timed_out_reaches_on_unanswered() {
    // No bound on handlers: only the hook can see the ping go unanswered
    // (the hung handler keeps the only connection).
    let report = mute_run(200, "[liveness]\nrequest_ms_max = 0\n", false);
    let violation = report.violation.expect("the ping went unanswered");
    assert_eq!(
        violation.invariant, "pings_answered",
        "{}",
        violation.message
    );
    assert!(
        violation.message.contains("after 2 attempts: Timeout"),
        "{}",
        violation.message
    );
    // Hang then ping, each sent twice and timed out after 200 ms.
    assert!(violation.sim_time_ms >= 800, "{}", violation.sim_time_ms);
    assert_eq!(
        report.invariants_checked["pings_answered"], 2,
        "hang and ping"
    );
}

#[test]
fn a_handler_running_past_the_default_bound_is_reported_while_it_runs() {
    // Clients that wait 10 s would see nothing before the bound: the
    // world reports the hung handler itself, 1.5 s after it started.
    let report = mute_run(10_000, "", false);
    let violation = report.violation.expect("the hang is reported");
    assert_eq!(violation.invariant, "liveness", "{}", violation.message);
    assert!(
        violation.message.contains(
            "has run a hang handler for 1501 ms without answering, over the bound of 1500 ms"
        ),
        "{}",
        violation.message
    );
    assert!(violation.sim_time_ms <= 1510, "{}", violation.sim_time_ms);
    // request_ms_max = 0 takes the bound away: the hang shows only when
    // the ping behind it has been given up on, 40 s in.
    let unbounded = mute_run(10_000, "[liveness]\nrequest_ms_max = 0\n", false);
    let late = unbounded.violation.expect("the ping went unanswered");
    assert_eq!(late.invariant, "pings_answered", "{}", late.message);
    assert!(late.sim_time_ms >= 40_000, "{}", late.sim_time_ms);
}

/// The handlers the world cancelled in a traced run.
fn cancellations(report: &Report) -> usize {
    let cancelled = |event: &&TraceEvent| match event {
        TraceEvent::Fault { what, .. } => what.contains("cancelled a hang handler"),
        _ => false,
    };
    report.trace.iter().filter(cancelled).count()
}

#[test]
fn a_cancellable_handler_is_dropped_when_its_client_gives_up() {
    let off = "[liveness]\nrequest_ms_max = 0\n";
    // Not declared cancellable: the hung handler keeps the connection and
    // the ping behind it is never answered.
    let kept = mute_run(200, off, false);
    assert_eq!(cancellations(&kept), 0);
    assert_eq!(kept.violation.unwrap().invariant, "pings_answered");
    // Declared: each timed-out hang is dropped (its transaction rolled
    // back, its connection returned), so the ping is served.
    let cancelled = mute_run(200, off, true);
    assert!(cancelled.passed, "{}", cancelled.summary_line());
    assert_eq!(cancellations(&cancelled), 2, "both attempts of the hang");
    assert_eq!(cancelled.requests.by_op["ping"]["200"], 1);
    let again = mute_run(200, off, true);
    assert_eq!(again.trace_hash, cancelled.trace_hash, "deterministic");
}

/// `tickets-swaps` with default liveness settings: its own
/// `request_ms_max` line taken out.
fn swaps_with_default_liveness(overrides: &[&str]) -> Scenario {
    let text = std::fs::read_to_string(sims().join("tickets-swaps.toml")).unwrap();
    let text: String = text
        .lines()
        .filter(|line| !line.starts_with("request_ms_max"))
        .map(|line| format!("{line}\n"))
        .collect();
    let scenario = Scenario::parse(&text, "tickets-swaps.toml").unwrap();
    assert_eq!(scenario.liveness.request_ms_max, None);
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    scenario.with_overrides(&overrides).unwrap()
}

/// When the handler a `liveness` message names started.
fn started_ms(message: &str) -> u64 {
    let rest = &message[message.find("started at ").expect(message) + 11..];
    rest[..rest.find(" ms").unwrap()].parse().unwrap()
}

/// When the last transaction of a traced run committed: the service's
/// last progress.
fn last_commit_ms(report: &Report) -> u64 {
    let commits = report.trace.iter().filter_map(|event| match event {
        TraceEvent::Transaction { at_ms, .. } => Some(*at_ms),
        _ => None,
    });
    commits.max().expect("something committed")
}

#[test]
fn a_split_swap_storm_is_reported_within_two_seconds_of_its_start_by_default() {
    let storm = Tickets.variant(service::SPLIT_SWAP).unwrap();
    let scenario = swaps_with_default_liveness(&["run.arrival_jitter=1"]);
    let options = RunOptions { trace: true };
    let mut stormed = 0;
    for seed in 1..=5 {
        let report = overbook::world::run_with(&Tickets, &scenario, Seed(seed), storm, options);
        let Some(violation) = &report.violation else {
            continue;
        };
        stormed += 1;
        assert_eq!(violation.invariant, "liveness", "{}", violation.message);
        assert!(
            violation.message.contains("swap handler"),
            "{}",
            violation.message
        );
        // The storm: swaps stuck on each other since before the service
        // stopped committing (their pool connections ran out), and the
        // report within 2 s of that stop.
        let (stuck_ms, stopped_ms) = (started_ms(&violation.message), last_commit_ms(&report));
        assert!(stuck_ms < stopped_ms, "{}", violation.message);
        let after = violation.sim_time_ms - stopped_ms;
        assert!(
            after <= 2000,
            "seed {seed}: {after} ms: {}",
            violation.message
        );
        // Without the bound, the same run is only reported at the drain
        // deadline (the last arrival at 2 s plus 20 s).
        let unbounded = scenario
            .with_overrides(&["liveness.request_ms_max=0".to_string()])
            .unwrap();
        let late = overbook::world::run(&Tickets, &unbounded, Seed(seed), storm);
        let late = late.violation.expect("the storm never ends");
        assert!(
            late.message.contains("past the deadline"),
            "{}",
            late.message
        );
        assert!(late.sim_time_ms > 22_000, "{}", late.sim_time_ms);
    }
    assert!(stormed >= 3, "{stormed} of 5 seeds stormed");
    // The correct service stays clean on the same sim and settings, and so
    // does a long queue that moves (holds waiting over 1.5 s in a rush).
    for seed in 1..=5 {
        let report = overbook::world::run(&Tickets, &scenario, Seed(seed), Variant::CORRECT);
        assert!(report.passed, "{}", report.summary_line());
    }
    let rush = Scenario::load_for(&Tickets, &sims().join("tickets-rush.toml")).unwrap();
    let rush = rush
        .with_overrides(&["run.arrival_jitter=1".to_string()])
        .unwrap();
    let queued = overbook::world::run(&Tickets, &rush, Seed(1), Variant::CORRECT);
    assert!(queued.passed, "{}", queued.summary_line());
    assert!(
        queued.latency_ms["hold"].max > 1400,
        "{:?}",
        queued.latency_ms
    );
}

/// When the deadlocks a storm message lists were broken.
fn deadlocks_ms(message: &str) -> Vec<u64> {
    let rest = &message[message.find("(at ").expect(message) + 4..];
    rest[..rest.find(" ms)").unwrap()]
        .split(", ")
        .map(|ms| ms.parse().unwrap())
        .collect()
}

#[test]
fn lock_order_deadlocks_are_reported_within_two_seconds_of_their_start_by_default() {
    let storm = Tickets.variant(service::LOCK_ORDER).unwrap();
    // No liveness setting of the sim's: neither its answer bound nor its
    // retry budget, only the defaults.
    let scenario = swaps_with_default_liveness(&["liveness.retries_exhausted=false"]);
    assert_eq!(scenario.liveness.deadlocks_max, None);
    let deadlock_timeout_ms = scenario.store.deadlock_timeout_ms;
    let mut deadlocked = 0;
    for seed in 1..=5 {
        let report = overbook::world::run(&Tickets, &scenario, Seed(seed), storm);
        // Not every seed has neighbours swap at the same moment.
        let Some(violation) = report.violation else {
            assert_eq!(report.store.deadlocks, 0, "{}", report.summary_line());
            continue;
        };
        deadlocked += 1;
        assert_eq!(violation.invariant, "liveness", "{}", violation.message);
        assert!(
            violation.message.contains("deadlock(s)"),
            "{}",
            violation.message
        );
        // A deadlock is broken deadlock_timeout after its waiter began to
        // wait, so the storm began at most that long before the first.
        let first_ms = deadlocks_ms(&violation.message)[0];
        let began_ms = first_ms.saturating_sub(deadlock_timeout_ms);
        let after = violation.sim_time_ms - began_ms;
        assert!(
            after <= 2000,
            "seed {seed}: {after} ms: {}",
            violation.message
        );
        // Allowing deadlocks, the same run passes: each request waits out
        // its deadlock and retries, and no answer bound is set.
        let unbounded = scenario
            .with_overrides(&["liveness.deadlocks_max=1000".to_string()])
            .unwrap();
        let late = overbook::world::run(&Tickets, &unbounded, Seed(seed), storm);
        assert!(late.passed, "{}", late.summary_line());
        assert!(late.store.deadlocks > 0, "{}", late.summary_line());
    }
    assert!(deadlocked >= 2, "{deadlocked} of 5 seeds deadlocked");
    // The correct service takes its holds' locks in one order: no deadlock.
    for seed in 1..=5 {
        let report = overbook::world::run(&Tickets, &scenario, Seed(seed), Variant::CORRECT);
        assert!(report.passed, "{}", report.summary_line());
        assert_eq!(report.store.deadlocks, 0, "{}", report.summary_line());
    }
}

/// The example's command line with `options`, in process: its exit code.
fn cli_with(options: &overbook::cli::Options, args: &[&str]) -> u8 {
    let argv = std::iter::once("tickets").chain(args.iter().copied());
    overbook::cli::run(&Tickets, options, argv)
}

#[test]
fn explore_stops_at_the_first_violation_with_its_replay_line() {
    let options = overbook::cli::Options::example("tickets").sims_dir(sims());
    let junit = std::env::temp_dir().join(format!("stop-first-{}.xml", std::process::id()));
    let junit_arg = junit.to_str().unwrap();
    let explore = [
        "explore",
        "explore-swaps",
        "--clients",
        "2",
        "--stop-at-first",
    ];
    let bug = ["--variant", service::LOCK_ORDER, "--junit", junit_arg];
    assert_eq!(cli_with(&options, &[&explore[..], &bug].concat()), 1);
    let written = std::fs::read_to_string(&junit).unwrap();
    assert!(written.contains("liveness"), "{written}");
    assert!(written.contains("--replay"), "{written}");
    std::fs::remove_file(&junit).unwrap();
    assert_eq!(cli_with(&options, &explore), 0, "the correct version");
}

#[test]
fn options_take_any_sims_folder_of_the_crate_in_one_call() {
    // Another binary sharing the tickets sims, named by a path relative
    // to the workspace's root (found from the crate's own folder too).
    let options = overbook::cli::Options::example_in("swaps", "examples/tickets/sims");
    assert!(options.sims().join("tickets-swaps.toml").is_file());
    assert_eq!(options.program_prefix(), "cargo run --release -p swaps --");
    assert_eq!(
        cli_with(&options, &["run", "tickets-swaps", "--seed", "1"]),
        0
    );
    let missing = overbook::cli::Options::example_in("swaps", "examples/no-such/sims");
    assert_eq!(
        cli_with(&missing, &["run", "tickets-swaps", "--seed", "1"]),
        2
    );
}
