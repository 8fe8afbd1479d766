//! Event ticketing on overbook's System API: registration and virtual user.

mod invariants;
#[cfg(test)]
mod liveness_tests;
mod service;
#[cfg(test)]
mod tests;

use overbook::prelude::*;
use service::*;

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
        let (data, w) = (&s.data, &s.workload);
        Bounds::new()
            .within("data.seats", data.seats, 0, 1_000_000)
            .at_most("data.hold_ttl_ms", data.hold_ttl_ms, 86_400_000)
            .at_most("data.sweep_every_ms", data.sweep_every_ms, 86_400_000)
            .at_most("workload.ops_per_user", w.ops_per_user, 10_000)
            .at_most("workload.think_ms_max", w.think_ms_max, 3_600_000)
            .probability("workload.confirm_probability", w.confirm_probability)
            .probability("workload.swap_probability", w.swap_probability)
            .probability("workload.two_tabs_probability", w.two_tabs_probability)
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
        // A chance of 0 draws nothing: sims without swaps or tabs keep
        // their streams.
        let (w, client) = (user.settings.workload.clone(), user.index);
        for hold in 0..w.ops_per_user {
            let held = user.send(Request(Op::Hold, [client, hold])).await;
            user.think_ms(0, w.think_ms_max).await;
            if user.rng.chance(w.swap_probability) {
                user.send(Request(Op::Swap, [client, client ^ 1])).await;
            }
            let Some(Response::Held { hold: named, .. }) = held else {
                continue;
            };
            let id = named.unwrap_or([client, hold]);
            if user.rng.chance(w.two_tabs_probability) {
                let release = Request(Op::Release, id);
                user.send_both(Request(Op::Confirm, id), release).await;
            } else {
                let confirm = user.rng.chance(w.confirm_probability);
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
        for Request(op, id) in requests {
            let id = named.filter(|_| op != Op::Hold).unwrap_or(id);
            if op == Op::Confirm && tabs {
                let release = Request(Op::Release, id);
                let _ = user.call_both(Request(op, id), release).await;
            } else if let Ok(Response::Held { hold, .. }) = user.call(Request(op, id)).await {
                named = hold;
            }
        }
    }

    fn operations_per_user(&self, settings: &Settings) -> Option<(&'static str, u64)> {
        Some((
            "workload.ops_per_user",
            settings.workload.ops_per_user.into(),
        ))
    }
}

fn main() -> std::process::ExitCode {
    overbook::cli::main(Tickets, overbook::cli::Options::example("tickets"))
}
