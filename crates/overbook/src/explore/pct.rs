//! Probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi and
//! Nagarakatte, ASPLOS 2010).
//!
//! Each schedule gives the `n` clients distinct random priorities
//! `d..d+n-1`, picks `d-1` change points among the estimated `k` steps, and
//! always runs the highest-priority enabled client; at the `j`-th change
//! point the running client drops to priority `d-1-j`, below every initial
//! one. A bug that needs `d` ordering constraints is then found by one
//! schedule with probability at least `1/(n·k^(d-1))`.
//!
//! `k` is the given estimate, or else the longest schedule seen so far (the
//! first schedule, with no change points, measures it).

use super::executor::{draw_alternative, task_of};
use super::{ChoicePoint, Scheduler};
use crate::seed::{Rng64, Seed};
use serde::Serialize;

/// PCT settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Pct {
    /// The bug depth `d` targeted (at least 1).
    pub depth: u32,
    /// Where priorities and change points come from.
    pub seed: Seed,
    /// Steps per schedule `k`, if known.
    pub steps_estimate: Option<u64>,
}

impl Pct {
    /// Depth `depth` from `seed`, estimating `k` from the first schedule.
    pub fn new(depth: u32, seed: Seed) -> Pct {
        Pct {
            depth,
            seed,
            steps_estimate: None,
        }
    }
}

pub(crate) struct PctScheduler {
    settings: Pct,
    rng: Rng64,
    priorities: Vec<u64>,
    /// Step numbers (from 1) at which the running client is demoted.
    change_points: Vec<u64>,
    step: u64,
    steps_seen_max: u64,
    clients: usize,
    /// The `k` the current schedule's change points were drawn over.
    k_used: u64,
}

impl PctScheduler {
    pub(crate) fn new(settings: Pct) -> PctScheduler {
        assert!(settings.depth >= 1, "PCT depth must be at least 1");
        PctScheduler {
            settings,
            rng: settings.seed.stream("explore-pct"),
            priorities: Vec::new(),
            change_points: Vec::new(),
            step: 0,
            steps_seen_max: 0,
            clients: 0,
            k_used: 0,
        }
    }
}

impl Scheduler for PctScheduler {
    fn line_name(&self) -> &'static str {
        "pct"
    }

    fn report_name(&self) -> String {
        format!("pct-depth-{}", self.settings.depth)
    }

    fn next_schedule(&mut self, clients: usize) -> bool {
        let depth = u64::from(self.settings.depth);
        self.clients = clients;
        self.step = 0;
        // Fisher-Yates over d..d+n-1: distinct initial priorities.
        let mut priorities: Vec<u64> = (0..clients as u64).map(|i| depth + i).collect();
        for i in (1..priorities.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            priorities.swap(i, j);
        }
        self.priorities = priorities;
        let k = self.settings.steps_estimate.unwrap_or(self.steps_seen_max);
        self.k_used = k;
        self.change_points = if k == 0 {
            Vec::new()
        } else {
            (1..depth).map(|_| self.rng.between(1, k)).collect()
        };
        true
    }

    fn choose(&mut self, point: &ChoicePoint<'_>) -> Option<usize> {
        self.step += 1;
        let task = point
            .enabled
            .iter()
            .map(|&id| task_of(id))
            // The clock has no priority of its own: it moves when no client
            // can run (or when it is the only one enabled).
            .max_by_key(|&t| self.priorities.get(t).map_or(0, |&p| p + 1))
            .expect("a choice has an enabled client");
        // A client stopped at a choice of its own takes a uniformly random
        // alternative: priorities order clients, not what they decide.
        let id = draw_alternative(point.enabled, task, &mut self.rng);
        if let Some(j) = self.change_points.iter().position(|&c| c == self.step) {
            // Change point j (0-based) demotes to d-1-j: below every
            // initial priority and below earlier change points' demotions.
            if let Some(priority) = self.priorities.get_mut(task) {
                *priority = u64::from(self.settings.depth) - 1 - j as u64;
            }
        }
        Some(id)
    }

    fn end_schedule(&mut self, steps: u64) {
        self.steps_seen_max = self.steps_seen_max.max(steps);
    }

    fn guarantee(&self) -> Option<f64> {
        let k = self.k_used.max(1) as f64;
        let n = self.clients.max(1) as f64;
        Some(1.0 / (n * k.powi(self.settings.depth as i32 - 1)))
    }
}
