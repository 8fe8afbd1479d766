//! Settings, from the environment in production.

use std::time::Duration;

/// How the box office runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// How long a hold keeps its seats before the sweeper frees them.
    pub hold_ttl: Duration,
    /// Most seats one hold may take.
    pub max_seats_per_hold: i32,
    /// Database connections in the pool.
    pub pool_size: usize,
    /// Attempts of a transaction that fails with a serialization failure
    /// or a deadlock (40001, 40P01) before the request gets a 503.
    pub transaction_attempts: u32,
    /// Pause between the background worker's rounds.
    pub worker_interval: Duration,
    /// Jobs the worker takes per round.
    pub worker_batch: i64,
    /// Known-bad behaviours, each off in production: the test suite turns
    /// one on to show that its tests catch it.
    pub flaws: Flaws,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hold_ttl: Duration::from_secs(300),
            max_seats_per_hold: 8,
            pool_size: 16,
            transaction_attempts: 5,
            worker_interval: Duration::from_secs(1),
            worker_batch: 20,
            flaws: Flaws::default(),
        }
    }
}

/// Known-bad behaviours, kept behind switches so that the test suite can
/// show it catches each (a mutation test kept in the code).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flaws {
    /// A hold counts the seats in use without locking its event's row, so
    /// two holds of the last seats can both succeed.
    pub hold_without_event_lock: bool,
    /// Confirm reads its hold without `FOR UPDATE`, so the sweeper can
    /// expire it (and another hold take its seats) before the confirm
    /// writes.
    pub confirm_without_row_lock: bool,
}

impl Flaws {
    /// Every flaw's name, as `BOXOFFICE_FLAWS` lists them.
    pub const NAMES: [&'static str; 2] = ["hold-without-event-lock", "confirm-without-row-lock"];

    /// The flaws named in `list` (comma-separated).
    pub fn parse(list: &str) -> Result<Flaws, String> {
        let mut flaws = Flaws::default();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "hold-without-event-lock" => flaws.hold_without_event_lock = true,
                "confirm-without-row-lock" => flaws.confirm_without_row_lock = true,
                other => {
                    return Err(format!(
                        "unknown flaw {other:?} (known: {})",
                        Flaws::NAMES.join(", ")
                    ))
                }
            }
        }
        Ok(flaws)
    }
}

impl Config {
    /// The settings from `BOXOFFICE_*` variables, defaults elsewhere.
    pub fn from_env() -> Result<Config, String> {
        let mut config = Config::default();
        let var = |name: &str| std::env::var(name).ok();
        let number = |name: &str, value: String| -> Result<u64, String> {
            value
                .parse()
                .map_err(|_| format!("{name}={value:?} is not a whole number"))
        };
        if let Some(v) = var("BOXOFFICE_HOLD_TTL_S") {
            config.hold_ttl = Duration::from_secs(number("BOXOFFICE_HOLD_TTL_S", v)?);
        }
        if let Some(v) = var("BOXOFFICE_POOL_SIZE") {
            config.pool_size = number("BOXOFFICE_POOL_SIZE", v)? as usize;
        }
        if let Some(v) = var("BOXOFFICE_WORKER_INTERVAL_MS") {
            config.worker_interval =
                Duration::from_millis(number("BOXOFFICE_WORKER_INTERVAL_MS", v)?);
        }
        if let Some(v) = var("BOXOFFICE_FLAWS") {
            config.flaws = Flaws::parse(&v)?;
        }
        Ok(config)
    }
}
