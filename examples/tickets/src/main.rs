//! Event ticketing on overbook's System API: registration and virtual user.

mod invariants;
#[cfg(test)]
mod liveness_tests;
mod service;
#[cfg(test)]
mod tests;

use overbook::prelude::*;
use service::{
    Op, Request, Response, Settings, Venue, LOCK_ORDER, OVERSELL, RELEASE_EARLY, SPLIT_SWAP,
    STALE_CLOCK,
};

#[derive(Clone, Copy, Debug)]
pub struct Tickets;

const VARIANTS: &[VariantInfo] = &[
    VariantInfo::new("correct", "operations lock the venue's row"),
    VariantInfo::new(OVERSELL, "holds count free seats without the lock"),
    VariantInfo::new(STALE_CLOCK, "confirm reads the clock before its tx"),
    VariantInfo::new(LOCK_ORDER, "swap locks its holds in request order"),
    VariantInfo::new(SPLIT_SWAP, "swap locks each hold in its own tx"),
    VariantInfo::new(RELEASE_EARLY, "release reads its hold before the lock"),
];

const INVARIANTS: &[InvariantInfo] = &[
    InvariantInfo::new("seats_never_oversold", "sold + held seats <= the venue's"),
    InvariantInfo::new("hold_confirmed_at_most_once", "a sold hold is sold once"),
    InvariantInfo::new("expired_hold_frees_its_seat", "not confirmed, not counted"),
];

impl System for Tickets {
    type Settings = Settings;
    type Data = Venue;
    type Request = Request;
    type Response = Response;
    type Server = ServerContext<Self>;
    type Checker = invariants::Checker;

    fn name(&self) -> &'static str {
        "tickets"
    }

    fn variants(&self) -> &'static [VariantInfo] {
        VARIANTS
    }

    fn invariants(&self) -> &'static [InvariantInfo] {
        INVARIANTS
    }

    /// Every size, time and rate within reach: `--set data.seats=...` out
    /// of bounds is an input error naming the field, not a stuck run.
    fn validate(&self, s: &Settings) -> Result<(), InputError> {
        let (data, workload) = (&s.data, &s.workload);
        Bounds::new()
            .within("data.seats", data.seats, 0, 1_000_000)
            .at_most("data.hold_ttl_ms", data.hold_ttl_ms, 86_400_000)
            .at_most("data.sweep_every_ms", data.sweep_every_ms, 86_400_000)
            .at_most("workload.ops_per_user", workload.ops_per_user, 10_000)
            .at_most("workload.think_ms_max", workload.think_ms_max, 3_600_000)
            .probability("workload.confirm_probability", workload.confirm_probability)
            .probability("workload.swap_probability", workload.swap_probability)
            .probability(
                "workload.two_tabs_probability",
                workload.two_tabs_probability,
            )
            .finish()
    }

    fn retry_config(settings: &Settings) -> Option<(&'static str, &RetryConfig)> {
        Some(("service", &settings.service))
    }

    fn data(&self, settings: &Settings, _: Seed) -> Venue {
        settings.data.clone()
    }

    fn background_tasks(&self, settings: &Settings) -> Vec<BackgroundTask> {
        BackgroundTask::periodic("sweep-expired-holds", settings.data.sweep_every_ms)
    }

    /// A failed sweep is retried at the next round.
    async fn run_background(ctx: &ServerContext<Self>, _: BackgroundTask) {
        let _ = ctx.retry_configured(|| service::sweep(ctx)).await;
    }

    fn load(&self, venue: &Venue, store: &Store) {
        store.load(Key::raw("venue"), Row::new().with("seats", venue.seats));
    }

    async fn handle(ctx: &ServerContext<Self>, request: Request, _source: u32) -> Response {
        let attempt = || service::attempt(ctx, &request);
        ctx.retry_or_refuse(attempt, Response::Refused).await
    }

    /// Holds a seat, thinks (sometimes past the hold's expiry), maybe swaps
    /// it with its neighbour's, then confirms or releases it.
    async fn user(&self, mut user: UserContext<Self>) {
        let (workload, client) = (user.settings.workload.clone(), user.index);
        for hold in 0..workload.ops_per_user {
            let held = user.send(Request(Op::Hold, [client, hold])).await;
            user.think_ms(0, workload.think_ms_max).await;
            // Drawn only when swaps are on, so other sims keep their streams.
            if workload.swap_probability > 0.0 && user.rng.chance(workload.swap_probability) {
                user.send(Request(Op::Swap, [client, client ^ 1])).await;
            }
            let id = match held {
                Some(Response::Held { hold: Some(id), .. }) => id,
                _ => [client, hold],
            };
            // Drawn only when tabs are on, so other sims keep their streams.
            let tabs = workload.two_tabs_probability;
            let is_held = matches!(held, Some(Response::Held { .. }));
            if is_held && tabs > 0.0 && user.rng.chance(tabs) {
                let mut tab = user.connection();
                let release = tab.send(Request(Op::Release, id));
                overbook::join!(user.send(Request(Op::Confirm, id)), release);
            } else if is_held {
                let confirm = user.rng.chance(workload.confirm_probability);
                let op = if confirm { Op::Confirm } else { Op::Release };
                user.send(Request(op, id)).await;
            }
        }
    }

    fn checker(&self, venue: Arc<Venue>, _: &Settings) -> Self::Checker {
        Self::Checker {
            seats: venue.seats,
            ..Default::default()
        }
    }

    /// Each client holds one seat and confirms it (or, where users swap,
    /// swaps it with its neighbour's), hold after hold.
    fn explore_clients(&self, ctx: ExploreContext<'_, Self>) -> Vec<Vec<Request>> {
        let swaps = ctx.settings.workload.swap_probability > 0.0;
        ctx.requests(|c, i| match (i % 2, swaps) {
            (0, _) => Request(Op::Hold, [c, i / 2]),
            (_, false) => Request(Op::Confirm, [c, i / 2]),
            (_, true) => Request(Op::Swap, [c, c ^ 1]),
        })
    }

    /// A confirm names the hold the last hold's answer named, where the
    /// server names holds; where users have two tabs, each confirm is sent
    /// with a release of the same hold, at once, on a second connection.
    async fn explore_user(&self, mut user: UserContext<Self>, requests: Vec<Request>) {
        let tabs = user.settings.workload.two_tabs_probability > 0.0;
        let mut named = None;
        for mut request in requests {
            if request.0 != Op::Hold {
                request.1 = named.unwrap_or(request.1);
            }
            if request.0 == Op::Confirm && tabs {
                let mut tab = user.connection();
                let release = tab.call(Request(Op::Release, request.1));
                let _ = overbook::join!(user.call(request), release);
            } else if let Ok(Response::Held { hold, .. }) = user.call(request).await {
                named = hold;
            }
        }
    }

    fn operations_per_user(&self, settings: &Settings) -> Option<(&'static str, u64)> {
        let ops = settings.workload.ops_per_user.into();
        Some(("workload.ops_per_user", ops))
    }
}

fn main() -> std::process::ExitCode {
    overbook::cli::main(Tickets, overbook::cli::Options::example("tickets"))
}
