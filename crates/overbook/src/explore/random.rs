//! Uniformly random choices: at every step, any enabled client with equal
//! probability (and, for a client stopped at a choice of its own, any of its
//! alternatives), drawn from the `explore-random` stream of a seed.

use super::executor::{draw_alternative, task_of};
use super::{ChoicePoint, Scheduler};
use crate::seed::{Rng64, Seed};
use serde::Serialize;

/// Random-walk settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RandomWalk {
    /// Where the choices come from; same seed, same schedules.
    pub seed: Seed,
}

pub(crate) struct RandomScheduler {
    rng: Rng64,
}

impl RandomScheduler {
    pub(crate) fn new(settings: RandomWalk) -> RandomScheduler {
        RandomScheduler {
            rng: settings.seed.stream("explore-random"),
        }
    }
}

impl Scheduler for RandomScheduler {
    fn line_name(&self) -> &'static str {
        "random"
    }

    fn next_schedule(&mut self, _clients: usize) -> bool {
        true
    }

    fn choose(&mut self, point: &ChoicePoint<'_>) -> Option<usize> {
        let mut clients: Vec<usize> = point.enabled.iter().map(|&id| task_of(id)).collect();
        clients.dedup();
        let client = clients[self.rng.below(clients.len() as u64) as usize];
        Some(draw_alternative(point.enabled, client, &mut self.rng))
    }
}
