//! Event ticketing on overbook's System API: registration and virtual user.

mod invariants;
#[cfg(test)]
mod liveness_tests;
mod service;
#[cfg(test)]
mod tests;

use invariants::Checker;
use overbook::seed::Seed;
use overbook::store::{Key, Row, Store};
use overbook::system::*;
use service::{Op, Request, Response, Settings, Venue};
use std::sync::Arc;

#[derive(Clone, Copy, Debug)]
pub struct Tickets;

impl System for Tickets {
    type Settings = Settings;
    type Data = Venue;
    type Request = Request;
    type Response = Response;
    type Server = ServerContext<Self>;
    type Checker = Checker;

    fn name(&self) -> &'static str {
        "tickets"
    }

    fn variants(&self) -> &'static [VariantInfo] {
        &const {
            [
                VariantInfo::new("correct", "operations lock the venue's row"),
                VariantInfo::new(service::OVERSELL, "holds count free seats without the lock"),
                VariantInfo::new(
                    service::STALE_CLOCK,
                    "confirm reads the clock before its tx",
                ),
                VariantInfo::new(service::LOCK_ORDER, "swap locks its holds in request order"),
                VariantInfo::new(
                    service::SPLIT_SWAP,
                    "swap locks each hold in its own transaction",
                ),
            ]
        }
    }

    fn invariants(&self) -> &'static [InvariantInfo] {
        &const {
            [
                InvariantInfo::new("seats_never_oversold", "sold + held seats <= the venue's"),
                InvariantInfo::new("hold_confirmed_at_most_once", "a sold hold is sold once"),
                InvariantInfo::new("expired_hold_frees_its_seat", "not confirmed, not counted"),
            ]
        }
    }

    /// Every size, time and rate within reach: `--set data.seats=...` out
    /// of bounds is an input error naming the field, not a stuck run.
    fn validate(&self, s: &Settings) -> Result<(), InputError> {
        Bounds::new()
            .within("data.seats", s.data.seats, 0, 1_000_000)
            .at_most("data.hold_ttl_ms", s.data.hold_ttl_ms, 86_400_000)
            .at_most("data.sweep_every_ms", s.data.sweep_every_ms, 86_400_000)
            .at_most("workload.ops_per_user", s.workload.ops_per_user, 10_000)
            .at_most("workload.think_ms_max", s.workload.think_ms_max, 3_600_000)
            .probability(
                "workload.confirm_probability",
                s.workload.confirm_probability,
            )
            .probability("workload.swap_probability", s.workload.swap_probability)
            .retry("service", &s.service)
            .finish()
    }

    fn retry_attempts(&self, settings: &Settings) -> Option<u32> {
        Some(settings.service.attempts)
    }

    fn data(&self, settings: &Settings, _: Seed) -> Venue {
        settings.data.clone()
    }

    fn background_tasks(&self, settings: &Settings) -> Vec<BackgroundTask> {
        let every_ms = settings.data.sweep_every_ms;
        let sweeper = BackgroundTask::new("sweep-expired-holds", every_ms);
        (every_ms > 0).then_some(sweeper).into_iter().collect()
    }

    /// A failed sweep is retried at the next round.
    async fn run_background(ctx: &ServerContext<Self>, _: BackgroundTask) {
        let _ = ctx
            .retry(&ctx.settings.service, || service::sweep(ctx))
            .await;
    }

    fn load(&self, venue: &Venue, store: &Store) {
        store.load(Key::raw("venue"), Row::new().with("seats", venue.seats));
    }

    async fn handle(ctx: &ServerContext<Self>, request: Request, _source: u32) -> Response {
        let retry = &ctx.settings.service;
        match ctx.retry(retry, || service::attempt(ctx, &request)).await {
            Ok((response, _attempts)) => response,
            Err(e) => Response::Refused(e.status(), e.to_string()),
        }
    }

    /// Holds a seat, thinks (sometimes past the hold's expiry), maybe swaps
    /// it with its neighbour's, then confirms or releases it.
    async fn user(&self, mut user: UserContext<Self>) {
        let (workload, client) = (user.settings.workload.clone(), user.index);
        for hold in 0..workload.ops_per_user {
            let held = user.send(Request(Op::Hold, [client, hold])).await;
            let think_ms = user.rng.between(0, workload.think_ms_max);
            user.sleep_ms(think_ms).await;
            // Drawn only when swaps are on, so other sims keep their streams.
            if workload.swap_probability > 0.0 && user.rng.chance(workload.swap_probability) {
                user.send(Request(Op::Swap, [client, client ^ 1])).await;
            }
            if let Some(Response::Held { .. }) = held {
                let confirm = user.rng.chance(workload.confirm_probability);
                let op = if confirm { Op::Confirm } else { Op::Release };
                user.send(Request(op, [client, hold])).await;
            }
        }
    }

    fn checker(&self, venue: Arc<Venue>, _: &Settings) -> Checker {
        Checker {
            seats: venue.seats,
            ..Checker::default()
        }
    }

    /// Each client holds one seat and confirms it (or, where users swap,
    /// swaps it with its neighbour's), hold after hold.
    fn explore_clients(&self, ctx: ExploreContext<'_, Self>) -> Vec<Vec<Request>> {
        let swaps = ctx.settings.workload.swap_probability > 0.0;
        let request = move |c: u32, i: u32| match (i % 2, swaps) {
            (0, _) => Request(Op::Hold, [c, i / 2]),
            (_, false) => Request(Op::Confirm, [c, i / 2]),
            (_, true) => Request(Op::Swap, [c, c ^ 1]),
        };
        let client = |c| (0..ctx.ops).map(move |i| request(c, i));
        (0..ctx.clients).map(|c| client(c).collect()).collect()
    }

    fn operations_per_user(&self, settings: &Settings) -> Option<(&'static str, u64)> {
        let ops = settings.workload.ops_per_user.into();
        Some(("workload.ops_per_user", ops))
    }
}

fn main() -> std::process::ExitCode {
    overbook::cli::main(Tickets, overbook::cli::Options::example("tickets"))
}
