//! Uniformly random choices: at every step, any enabled client with equal
//! probability, drawn from the `explore-random` stream of a seed.

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
        let index = self.rng.below(point.enabled.len() as u64) as usize;
        Some(point.enabled[index])
    }
}
