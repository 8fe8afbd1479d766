//! `examples/tickets`: event ticketing plugged into overbook through
//! [`System`]: seat holds that expire, confirms, releases, and the planted
//! bug `tickets/oversell`.

mod invariants;
mod service;
#[cfg(test)]
mod tests;
mod user;

use invariants::Checker;
use overbook::seed::Seed;
use overbook::store::{Key, Row, Store};
use overbook::system::{ExploreContext, InvariantInfo as I, ServerContext, System};
use overbook::system::{UserContext, VariantInfo as V};
use service::{Op, Request, Response, Server, Settings};
use std::sync::Arc;

#[derive(Clone, Copy, Debug)]
pub struct Tickets;

impl System for Tickets {
    type Settings = Settings;
    /// The venue's seats.
    type Data = i64;
    type Request = Request;
    type Response = Response;
    type Server = Server;
    type Checker = Checker;

    fn name(&self) -> &'static str {
        "tickets"
    }

    fn variants(&self) -> &'static [V] {
        &const {
            [
                V::new("correct", "operations lock the venue's row"),
                V::new(service::OVERSELL, "holds count free seats without the lock"),
            ]
        }
    }

    fn invariants(&self) -> &'static [I] {
        &const {
            [
                I::new("seats_never_oversold", "sold + held seats <= the venue's"),
                I::new("hold_confirmed_at_most_once", "a sold hold is sold once"),
                I::new("expired_hold_frees_its_seat", "not confirmed, not counted"),
            ]
        }
    }

    fn data(&self, settings: &Settings, _: Seed) -> i64 {
        settings.data.seats
    }

    fn load(&self, seats: &i64, store: &Store) {
        store.load(Key::raw("venue"), Row::new().with("seats", *seats));
    }

    fn server(&self, context: ServerContext<Self>) -> Server {
        context
    }

    /// Retried on 40001/40P01.
    async fn handle(ctx: &Server, request: Request, _source: u32) -> Response {
        let retry = &ctx.settings.service.retry;
        match ctx.retry(retry, || service::attempt(ctx, &request)).await {
            Ok((response, _attempts)) => response,
            Err(e) => Response::Refused(e.status(), e.to_string()),
        }
    }

    async fn user(&self, user: UserContext<Self>) {
        user::run(user).await
    }

    fn checker(&self, seats: Arc<i64>, _: &Settings) -> Checker {
        Checker {
            seats: *seats,
            ..Checker::default()
        }
    }

    /// Each client holds one seat and confirms it, hold after hold.
    fn explore_clients(&self, ctx: ExploreContext<'_, Self>) -> Vec<Vec<Request>> {
        let op = |i| if i % 2 == 0 { Op::Hold } else { Op::Confirm };
        let client = |c| (0..ctx.ops).map(move |i| Request::new(c, i / 2, op(i)));
        (0..ctx.clients).map(|c| client(c).collect()).collect()
    }

    fn shrink_steps(&self, settings: &Settings) -> Vec<String> {
        let ops = settings.workload.ops_per_user;
        let half = (ops > 1).then(|| format!("workload.ops_per_user={}", ops / 2));
        half.into_iter().collect()
    }

    fn operations_per_user(&self, settings: &Settings) -> u64 {
        settings.workload.ops_per_user.into()
    }
}

/// The command line comes with the CLI library function (issue 9, item 5).
fn main() {}
