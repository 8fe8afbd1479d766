//! Faults of the API hosts themselves, beyond the network's: each host's
//! clock against the database's, hosts pausing mid-request with their
//! locks held, latency spikes on single statements, and the service's own
//! fault points (buggify). Every draw comes from the seed's streams, and
//! every injected fault is logged for the world to trace and hash.

use crate::scenario::{BuggifyConfig, ClockFaults, PauseFaults, SpikeFaults};
use crate::seed::{Rng64, Seed};
use crate::store::{Op, PauseFuture, PausePoint};
use crate::system::Env;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Milliseconds of simulated time since the run's start: the world's, and
/// so the database's, clock.
pub(super) fn world_now_ms() -> u64 {
    turmoil::sim_elapsed().map_or(0, |d| d.as_millis() as u64)
}

/// One injected fault, as the world traces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Injected {
    /// Simulated time it happened.
    pub at_ms: u64,
    /// What happened, in words (hashed).
    pub what: String,
    /// Whether it is listed among the report's faults and marked on the
    /// charts: clock settings, pauses and buggify points enabled, not every
    /// spike or firing (those are many, and in the trace).
    pub listed: bool,
    /// For a pause or a spike, how long it stalls from `at_ms`: liveness
    /// does not count it against the service.
    pub stall_ms: u64,
}

/// Injected faults since the world last looked. Shared with the hosts'
/// clocks, which must be `Send + Sync` as every [`Env`] is.
pub(super) type InjectedLog = Arc<Mutex<Vec<Injected>>>;

fn log(log: &InjectedLog, what: String, listed: bool) {
    log_stall(log, what, listed, 0);
}

fn log_stall(log: &InjectedLog, what: String, listed: bool, stall_ms: u64) {
    log.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Injected {
            at_ms: world_now_ms(),
            what,
            listed,
            stall_ms,
        });
}

/// Of the time from `from_ms` to `to_ms`, how much some injected stall
/// (`(start, end)` pairs, in any order, overlapping or not) covered.
pub(super) fn stalled_ms_between(stalls: &[(u64, u64)], from_ms: u64, to_ms: u64) -> u64 {
    let mut within: Vec<(u64, u64)> = stalls
        .iter()
        .map(|&(start, end)| (start.max(from_ms), end.min(to_ms)))
        .filter(|(start, end)| start < end)
        .collect();
    within.sort_unstable();
    let (mut covered, mut reached) = (0, from_ms);
    for (start, end) in within {
        let start = start.max(reached);
        if end > start {
            covered += end - start;
            reached = end;
        }
    }
    covered
}

/// The stretches of time during which some request was in flight (sent and
/// not yet answered), as far as the answers seen so far tell: a stall
/// delays what is queued behind it until the system next runs dry, not
/// only for one bound. In one queue, a stall of `d` during a busy stretch
/// delays every later answer of that stretch by at most `d` (a departure
/// is the max of an arrival and the previous departure, plus work), so the
/// stalls since the stretch began bound what they cost a request in it.
#[derive(Debug, Default)]
pub(super) struct BusyStretches {
    /// Disjoint `start -> end` in ms; touching stretches are one.
    stretches: BTreeMap<u64, u64>,
}

impl BusyStretches {
    /// Some request was in flight from `sent_ms` to `received_ms`.
    pub fn add(&mut self, sent_ms: u64, received_ms: u64) {
        let (mut start, mut end) = (sent_ms, received_ms.max(sent_ms));
        if let Some((&before, &before_end)) = self.stretches.range(..=start).next_back() {
            if before_end >= start {
                start = before;
                end = end.max(before_end);
            }
        }
        while let Some((&next, &next_end)) = self.stretches.range(start..=end).next() {
            end = end.max(next_end);
            self.stretches.remove(&next);
        }
        self.stretches.insert(start, end);
    }

    /// When the busy stretch that `at_ms` falls in began (`at_ms` itself
    /// when none does).
    pub fn began(&self, at_ms: u64) -> u64 {
        match self.stretches.range(..=at_ms).next_back() {
            Some((&start, &end)) if end >= at_ms => start,
            _ => at_ms,
        }
    }
}

/// An API host's clock: the world's time, off by a fixed offset and a
/// drift in parts per million.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct HostClock {
    pub offset_ms: i64,
    pub drift_ppm: i64,
}

impl HostClock {
    /// Draws host `server`'s clock within `faults`' bounds from its own
    /// stream (the same clock again after a restart: the hardware stays).
    pub fn draw(faults: &ClockFaults, seed: Seed, server: u32) -> HostClock {
        if !faults.is_on() {
            return HostClock::default();
        }
        let mut rng = seed.stream_indexed("host-clock", u64::from(server));
        let mut signed = |max: u64| rng.between(0, 2 * max) as i64 - max as i64;
        let offset_ms = signed(faults.offset_ms_max);
        let drift_ppm = signed(faults.drift_ppm_max);
        HostClock {
            offset_ms,
            drift_ppm,
        }
    }

    /// What the host reads when the world's clock reads `world_ms`; 0
    /// while a clock that is behind has not reached the run's start.
    pub fn read(&self, world_ms: u64) -> u64 {
        let drift = i128::from(world_ms) * i128::from(self.drift_ppm) / 1_000_000;
        let host = i128::from(world_ms) + i128::from(self.offset_ms) + drift;
        host.clamp(0, i128::from(u64::MAX)) as u64
    }

    /// The trace line of host `server`'s clock.
    pub fn describe(&self, server: u32) -> String {
        format!(
            "clock api-{server}: {:+} ms off the database's, drifting {:+} ppm",
            self.offset_ms, self.drift_ppm
        )
    }
}

/// Buggify for one run: which points are enabled (decided the first time
/// each is reached, from the seed and its name, so the decision does not
/// depend on which host reaches it first), shared by every API host.
pub(super) struct Buggify {
    config: BuggifyConfig,
    seed: Seed,
    points: Mutex<BTreeMap<&'static str, bool>>,
    log: InjectedLog,
}

impl Buggify {
    pub fn new(config: BuggifyConfig, seed: Seed, log: InjectedLog) -> Buggify {
        Buggify {
            config,
            seed,
            points: Mutex::new(BTreeMap::new()),
            log,
        }
    }

    fn enabled(&self, point: &'static str) -> bool {
        let mut points = self.points.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&on) = points.get(point) {
            return on;
        }
        let mut rng = self.seed.stream(&format!("buggify/{point}"));
        let on = rng.chance(self.config.point_probability);
        points.insert(point, on);
        drop(points);
        let state = if on { "enabled" } else { "disabled" };
        log(
            &self.log,
            format!("buggify point {point} {state} for this run"),
            on,
        );
        on
    }

    /// Whether `point` fires on host `server`, drawing from its `rng`.
    fn fires(&self, point: &'static str, server: u32, rng: &Mutex<Rng64>) -> bool {
        if !self.config.enabled || !self.enabled(point) {
            return false;
        }
        let fired = rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .chance(self.config.fire_probability);
        if fired {
            log(
                &self.log,
                format!("buggify point {point} fired on api-{server}"),
                false,
            );
        }
        fired
    }
}

/// Time, sleep and fault points as a handler or background job on one API
/// host sees them.
pub(super) struct HostEnv {
    server: u32,
    clock: HostClock,
    buggify: Arc<Buggify>,
    /// Whether enabled points fire, per host and per restart.
    buggify_rng: Mutex<Rng64>,
}

impl HostEnv {
    pub fn new(server: u32, clock: HostClock, buggify: Arc<Buggify>, rng: Rng64) -> HostEnv {
        HostEnv {
            server,
            clock,
            buggify,
            buggify_rng: Mutex::new(rng),
        }
    }
}

impl Env for HostEnv {
    fn now_ms(&self) -> u64 {
        self.clock.read(world_now_ms())
    }

    fn sleep_ms(&self, ms: u64) -> PauseFuture {
        Box::pin(tokio::time::sleep(Duration::from_millis(ms)))
    }

    fn buggify(&self, point: &'static str) -> bool {
        self.buggify.fires(point, self.server, &self.buggify_rng)
    }
}

/// Pauses and spikes of one API host incarnation, consulted at every
/// statement that host runs (through [`HOST`]).
pub(super) struct HostFaults {
    server: u32,
    pause: PauseFaults,
    spike: SpikeFaults,
    rng: RefCell<Rng64>,
    /// The end of the host's current pause: every statement on the host
    /// waits for it, as every thread of a stalled process would.
    paused_until_ms: Cell<u64>,
    log: InjectedLog,
}

tokio::task_local! {
    /// The faults of the API host whose handler or background job is
    /// being polled; unset elsewhere (clients, tests), where statements
    /// only take their drawn latency.
    pub(super) static HOST: Rc<HostFaults>;
}

impl HostFaults {
    pub fn new(
        server: u32,
        pause: PauseFaults,
        spike: SpikeFaults,
        rng: Rng64,
        log: InjectedLog,
    ) -> HostFaults {
        HostFaults {
            server,
            pause,
            spike,
            rng: RefCell::new(rng),
            paused_until_ms: Cell::new(0),
            log,
        }
    }

    /// Extra simulated time the statement at `point` waits on this host:
    /// the rest of a pause under way or a new one, plus a spike.
    pub fn extra_delay_ms(&self, point: &PausePoint) -> u64 {
        let now_ms = world_now_ms();
        let mut rng = self.rng.borrow_mut();
        let statement = || format!("{} of T{}", point.op.name(), point.tx);
        let paused_ms = if self.paused_until_ms.get() > now_ms {
            self.paused_until_ms.get() - now_ms
        } else if rng.chance(self.pause.probability) {
            let pause_ms = rng.between(self.pause.min_ms, self.pause.max_ms);
            self.paused_until_ms.set(now_ms + pause_ms);
            let what = format!(
                "pause api-{} for {pause_ms} ms before {}",
                self.server,
                statement()
            );
            log_stall(&self.log, what, true, pause_ms);
            pause_ms
        } else {
            0
        };
        let spike_probability = if point.op == Op::Commit {
            self.spike.commit_probability
        } else {
            self.spike.probability
        };
        let spike_ms = if rng.chance(spike_probability) {
            let spike_ms = rng.between(self.spike.min_ms, self.spike.max_ms);
            let what = format!(
                "latency spike on api-{}: {} takes {spike_ms} ms more",
                self.server,
                statement()
            );
            log_stall(&self.log, what, false, spike_ms);
            spike_ms
        } else {
            0
        };
        paused_ms + spike_ms
    }

    /// Notes the store's own latency spike on the statement at `point` as
    /// a stall (unlisted, like host spikes): a correct service's request
    /// queued behind a spiking lock holder is not its liveness failure.
    pub fn note_store_spike(&self, point: &PausePoint) {
        if point.spike_ms > 0 {
            let what = format!(
                "store latency spike: {} of T{} on api-{} takes {} ms",
                point.op.name(),
                point.tx,
                self.server,
                point.spike_ms
            );
            log_stall(&self.log, what, false, point.spike_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_clock_is_offset_and_drifts_and_never_reads_below_zero() {
        let clock = HostClock {
            offset_ms: 250,
            drift_ppm: 1000,
        };
        assert_eq!(clock.read(0), 250);
        assert_eq!(clock.read(10_000), 10_260, "1000 ppm of 10 s is 10 ms");
        let behind = HostClock {
            offset_ms: -300,
            drift_ppm: -100,
        };
        assert_eq!(behind.read(100), 0, "behind the start: 0");
        assert_eq!(behind.read(10_000), 9_699);
        assert_eq!(HostClock::default().read(1234), 1234);
    }

    #[test]
    fn stalls_count_once_where_they_overlap_and_only_inside_the_window() {
        let stalls = [(100, 300), (200, 400), (1000, 1100), (50, 60)];
        assert_eq!(stalled_ms_between(&stalls, 0, 2000), 410);
        assert_eq!(stalled_ms_between(&stalls, 250, 1050), 150 + 50);
        assert_eq!(stalled_ms_between(&stalls, 400, 1000), 0);
        assert_eq!(stalled_ms_between(&[], 0, 10), 0);
    }

    #[test]
    fn busy_stretches_merge_overlapping_and_touching_requests() {
        let mut busy = BusyStretches::default();
        busy.add(100, 200);
        busy.add(500, 600);
        assert_eq!(busy.began(150), 100);
        assert_eq!(busy.began(300), 300, "idle: nothing in flight");
        busy.add(190, 300);
        busy.add(300, 450);
        assert_eq!(busy.began(440), 100, "one stretch from 100 to 450");
        assert_eq!(busy.began(480), 480);
        busy.add(50, 700);
        assert_eq!(busy.began(650), 50, "one request covers them all");
        assert_eq!(busy.stretches.len(), 1);
        busy.add(900, 950);
        assert_eq!(busy.began(920), 900);
        assert_eq!(busy.began(800), 800);
    }

    #[test]
    fn host_clocks_are_drawn_within_bounds_per_seed_and_host() {
        let faults = ClockFaults {
            offset_ms_max: 500,
            drift_ppm_max: 200,
        };
        let clocks: Vec<HostClock> = (0..16)
            .map(|server| HostClock::draw(&faults, Seed(9), server))
            .collect();
        assert!(clocks
            .iter()
            .all(|c| c.offset_ms.abs() <= 500 && c.drift_ppm.abs() <= 200));
        assert!(
            clocks.iter().any(|c| c.offset_ms != clocks[0].offset_ms),
            "hosts differ: {clocks:?}"
        );
        assert_eq!(HostClock::draw(&faults, Seed(9), 3), clocks[3], "per seed");
        let off = ClockFaults::default();
        assert_eq!(HostClock::draw(&off, Seed(9), 3), HostClock::default());
    }

    #[test]
    fn buggify_points_are_enabled_per_run_and_inert_when_off() {
        let log: InjectedLog = Arc::default();
        let on = BuggifyConfig {
            enabled: true,
            point_probability: 1.0,
            fire_probability: 1.0,
        };
        let rng = Mutex::new(Seed(1).stream("fire"));
        let buggify = Buggify::new(on, Seed(1), log.clone());
        assert!(buggify.fires("slow-confirm", 0, &rng));
        assert!(buggify.fires("slow-confirm", 1, &rng));
        let logged: Vec<String> = log.lock().unwrap().iter().map(|i| i.what.clone()).collect();
        assert_eq!(
            logged,
            [
                "buggify point slow-confirm enabled for this run",
                "buggify point slow-confirm fired on api-0",
                "buggify point slow-confirm fired on api-1",
            ]
        );
        let off = Buggify::new(BuggifyConfig::default(), Seed(1), log.clone());
        assert!(!off.fires("slow-confirm", 0, &rng));
        // About a quarter of the points are enabled for a run, the same
        // ones for the same seed.
        let quarter = BuggifyConfig {
            enabled: true,
            ..BuggifyConfig::default()
        };
        let names: Vec<&'static str> = (0..200)
            .map(|i| &*Box::leak(format!("point-{i}").into_boxed_str()))
            .collect();
        let enabled = |seed| {
            let run = Buggify::new(quarter, Seed(seed), Arc::default());
            names.iter().filter(|n| run.enabled(n)).count()
        };
        assert!((30..=70).contains(&enabled(5)), "{}", enabled(5));
        assert_eq!(enabled(5), enabled(5));
    }
}
