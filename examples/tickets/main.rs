//! `examples/tickets`: event ticketing plugged into overbook through
//! [`System`]: seat holds that expire, confirms, releases, and the planted
//! bug `tickets/oversell`.

mod invariants;
mod service;
#[cfg(test)]
mod tests;
mod user;

use overbook::seed::Seed;
use overbook::store::{Row, Schema, Store};
use overbook::system::{ExploreContext, InvariantInfo as I, ServerContext, Sometimes, System};
use overbook::system::{UserContext, Variant, VariantInfo as V};
use service::{Op, Outcome, Request, Response, Settings};
use std::sync::Arc;

/// The ticketing service.
#[derive(Clone, Copy, Debug)]
pub struct Tickets;

impl System for Tickets {
    type Settings = Settings;
    /// Each event's capacity in seats.
    type Data = Vec<i64>;
    type Request = Request;
    type Response = Response;
    type Server = service::Server;
    type Checker = invariants::Checker;

    fn name(&self) -> &'static str {
        "tickets"
    }

    fn variants(&self) -> &'static [V] {
        &[
            V {
                name: "correct",
                description: "operations lock their event's row",
            },
            V {
                name: service::OVERSELL,
                description: "holds count free seats without the lock",
            },
        ]
    }

    fn invariants(&self) -> &'static [I] {
        &[
            I {
                name: "seats_never_oversold",
                description: "sold + held seats <= capacity",
            },
            I {
                name: "hold_confirmed_at_most_once",
                description: "only held holds get confirmed",
            },
            I {
                name: "expired_hold_frees_its_seat",
                description: "expired holds: no confirm, not counted",
            },
            I {
                name: "recount_agrees",
                description: "committed holds match the commits seen",
            },
        ]
    }

    fn schema(&self, _: Variant) -> Schema {
        Schema::default()
    }

    fn data(&self, settings: &Settings, _: Seed) -> Vec<i64> {
        vec![settings.data.seats; settings.data.events as usize]
    }

    fn load(&self, data: &Vec<i64>, store: &Store) {
        for (event, &capacity) in data.iter().enumerate() {
            let row = Row::new().with("capacity", capacity);
            store.load(service::event_key(event as u32), row);
        }
    }

    fn server(&self, context: ServerContext<Self>) -> service::Server {
        service::Server::new(context)
    }

    async fn handle(server: &service::Server, request: Request, _source: u32) -> Response {
        service::handle(server, request).await
    }

    async fn user(&self, user: UserContext<Self>) {
        user::run(user).await
    }

    fn checker(&self, data: Arc<Vec<i64>>, _: &Settings) -> invariants::Checker {
        invariants::Checker::new(data)
    }

    /// Each client holds seats of one event, then confirms or releases them.
    fn explore_clients(&self, ctx: ExploreContext<'_, Self>) -> Vec<Vec<Request>> {
        let workload = &ctx.settings.workload;
        let client = |index: u32| {
            let mut rng = ctx.seed.stream_indexed("explore-client", u64::from(index));
            let event = rng.below(ctx.data.len().max(1) as u64) as u32;
            let mut op = |i: u32| match i % 2 {
                0 => Op::Hold(rng.between(1, workload.seats_max.max(1)) as i64),
                _ if rng.chance(workload.confirm_probability) => Op::Confirm,
                _ => Op::Release,
            };
            (0..ctx.ops)
                .map(|i| Request::new(index, event, i / 2, op(i)))
                .collect()
        };
        (0..ctx.clients).map(client).collect()
    }

    fn sometimes(&self, _: &Settings, _: &[Vec<Request>]) -> Vec<Sometimes<Self>> {
        let sold_out = |x: &[(Request, Response, u64)]| {
            x.iter()
                .any(|(_, r, _)| matches!(r.outcome, Outcome::SoldOut(..)))
        };
        let confirmed = |x: &[(Request, Response, u64)]| {
            x.iter()
                .any(|(q, r, _)| q.op == Op::Confirm && r.outcome == Outcome::Done)
        };
        vec![
            Sometimes {
                name: "a hold refused for lack of seats",
                reached: sold_out,
            },
            Sometimes {
                name: "a hold confirmed",
                reached: confirmed,
            },
        ]
    }

    fn shrink_steps(&self, settings: &Settings) -> Vec<String> {
        let ops = settings.workload.ops_per_user;
        let half = (ops > 1).then(|| format!("workload.ops_per_user={}", ops / 2));
        half.into_iter().collect()
    }
}

/// Lists what the example declares, until the CLI library function lands.
fn main() {
    let names = Tickets.variants().iter().map(|v| v.name);
    println!(
        "{}: {}",
        Tickets.name(),
        names.collect::<Vec<_>>().join(", ")
    );
}
