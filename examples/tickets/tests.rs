//! The example tested at the `System` level: the handler on a store, each
//! invariant made to fire, the planted bug found by the model checker, and
//! virtual users over an in-process transport.

use super::*;
use invariants::Checker;
use overbook::explore::{explore, Client, Dfs, Limits, Model};
use overbook::scenario::ClientPolicy;
use overbook::store::{block_on, Isolation, Key, KeyRange, PauseFuture, Pool, StoreConfig};
use overbook::system::{CallFuture, Env, Invariants, Message, Observations, Observer, Transport};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Simulated time that moves only when someone sleeps (or a test says so).
#[derive(Default)]
struct Clock(AtomicU64);

impl Env for Clock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    fn sleep_ms(&self, ms: u64) -> PauseFuture {
        self.0.fetch_add(ms, Ordering::Relaxed);
        Box::pin(std::future::ready(()))
    }
}

fn settings(events: u32, seats: i64) -> Settings {
    let mut settings = Settings::default();
    settings.data = service::Data { events, seats };
    settings.workload = service::Workload {
        ops_per_user: 1,
        seats_max: 2,
        confirm_probability: 0.7,
        think_ms_max: 0,
    };
    settings.service.hold_ttl_ms = 500;
    settings
}

/// The service-owned sections of one of the example's sims.
fn sim(name: &str) -> Settings {
    let path = format!(
        "{}/examples/tickets/sims/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_sims_parse_into_settings() {
    let rush = sim("tickets-rush.toml");
    assert_eq!(
        (rush.data.events, rush.data.seats, rush.service.hold_ttl_ms),
        (2, 3, 500)
    );
    assert_eq!(rush.service.retry.attempts, 5);
    assert_eq!(sim("explore-tickets.toml").workload.seats_max, 1);
    let stray = toml::from_str::<Settings>("[workload]\nops_per_user = 1\nseats = 2\n");
    assert!(stray
        .unwrap_err()
        .to_string()
        .contains("unknown field `seats`"));
    let halved = Tickets.shrink_steps(&rush);
    assert_eq!(halved, vec!["workload.ops_per_user=1".to_string()]);
}

fn store_with(settings: &Settings) -> Store {
    let config = StoreConfig {
        record_commits: true,
        ..StoreConfig::default()
    };
    let store = Store::new(Tickets.schema(Variant::CORRECT), config, Seed(1));
    Tickets.load(&Tickets.data(settings, Seed(1)), &store);
    store
}

fn server(store: &Store, clock: Arc<Clock>, variant: &str, settings: &Settings) -> service::Server {
    Tickets.server(ServerContext {
        index: 0,
        pool: Pool::new(store.clone(), 4, 64),
        env: clock,
        variant: Tickets.variant(variant).expect("declared variant"),
        data: Arc::new(Tickets.data(settings, Seed(1))),
        settings: Arc::new(settings.clone()),
        rng: Seed(1).stream("server"),
    })
}

/// A store of one event with `seats`, its server, its clock and a checker.
struct Fixture {
    store: Store,
    clock: Arc<Clock>,
    server: service::Server,
    checker: Checker,
}

impl Fixture {
    fn new(seats: i64) -> Fixture {
        let settings = settings(1, seats);
        let (store, clock) = (store_with(&settings), Arc::new(Clock::default()));
        let server = server(&store, clock.clone(), "correct", &settings);
        let checker = Tickets.checker(Arc::new(Tickets.data(&settings, Seed(1))), &settings);
        Fixture {
            store,
            clock,
            server,
            checker,
        }
    }

    /// Sends one request and feeds the checker, which must stay quiet.
    fn send(&mut self, client: u32, hold: u32, op: Op) -> Response {
        let request = Request::new(client, 0, hold, op);
        let response = block_on(Tickets::handle(&self.server, request.clone(), 0));
        for commit in self.store.drain_commits() {
            self.checker.on_commit(&commit).unwrap();
        }
        self.checker
            .on_response(&request, &response, self.clock.now_ms())
            .unwrap();
        response
    }
}

#[test]
fn hold_confirm_release_and_refusals() {
    let mut f = Fixture::new(3);
    assert_eq!(f.send(1, 0, Op::Hold(2)).outcome, Outcome::Held(500));
    let refused = f.send(2, 0, Op::Hold(2));
    assert_eq!(
        (refused.status, refused.outcome),
        (409, Outcome::SoldOut(1, 0))
    );
    assert_eq!(f.send(2, 1, Op::Hold(1)).status, 201);
    assert_eq!(f.send(1, 0, Op::Confirm).outcome, Outcome::Done);
    assert_eq!(
        f.send(1, 0, Op::Release).outcome,
        Outcome::Refused("not held".into())
    );
    assert_eq!(f.send(2, 1, Op::Release).outcome, Outcome::Done);
    assert_eq!(
        f.send(2, 1, Op::Confirm).outcome,
        Outcome::Refused("not held".into())
    );
    assert_eq!(f.send(2, 2, Op::Hold(2)).outcome, Outcome::SoldOut(1, 0));
    assert_eq!(f.send(3, 0, Op::Confirm).status, 404);
    assert_eq!(f.send(3, 0, Op::Hold(0)).status, 422);
    let unknown_event = Request {
        event: 9,
        ..Request::new(3, 0, 0, Op::Hold(1))
    };
    assert_eq!(
        block_on(Tickets::handle(&f.server, unknown_event, 0)).status,
        404
    );
    f.checker.at_end(&f.store).unwrap();
    assert!(f.checker.checks()["seats_never_oversold"] > 0);
}

#[test]
fn an_expired_hold_frees_its_seats_and_cannot_be_confirmed() {
    let mut f = Fixture::new(3);
    assert_eq!(f.send(1, 0, Op::Hold(3)).status, 201);
    f.clock.0.fetch_add(499, Ordering::Relaxed);
    assert_eq!(f.send(2, 0, Op::Hold(1)).outcome, Outcome::SoldOut(0, 499));
    f.clock.0.fetch_add(1, Ordering::Relaxed);
    assert_eq!(f.send(2, 0, Op::Hold(3)).status, 201);
    assert_eq!(
        f.send(1, 0, Op::Confirm).outcome,
        Outcome::Refused("expired".into())
    );
    assert_eq!(f.send(2, 0, Op::Confirm).status, 200);
    f.checker.at_end(&f.store).unwrap();
}

#[test]
fn a_resend_replays_the_first_response() {
    let mut f = Fixture::new(3);
    let first = f.send(1, 0, Op::Hold(2));
    assert_eq!(
        f.send(1, 0, Op::Hold(2)),
        first,
        "same key, same response, no second hold"
    );
    assert_eq!(f.send(1, 0, Op::Confirm), f.send(1, 0, Op::Confirm));
    let reused = Request {
        op: Op::Hold(1),
        ..Request::new(1, 0, 0, Op::Hold(2))
    };
    assert_eq!(block_on(Tickets::handle(&f.server, reused, 0)).status, 422);
    assert_eq!(f.store.scan_committed(&KeyRange::prefix("holds/")).len(), 1);
    f.checker.at_end(&f.store).unwrap();
}

/// Commits `rows` as one transaction and feeds the checker.
fn commit(f: &mut Fixture, rows: &[(&str, Row)]) -> Result<(), String> {
    let mut tx = f.store.begin(Isolation::Serializable);
    for (key, row) in rows {
        block_on(tx.put(&Key::raw(key), row.clone())).unwrap();
    }
    block_on(tx.commit()).unwrap();
    let commits = f.store.drain_commits();
    commits
        .iter()
        .try_for_each(|c| f.checker.on_commit(c))
        .map_err(|v| v.invariant.to_string())
}

fn hold_row(seats: i64, state: &str, expires_ms: i64, at_ms: i64) -> Row {
    let row = Row::new()
        .with("event", 0)
        .with("seats", seats)
        .with("state", state.to_string());
    row.with("expires_ms", expires_ms).with("at_ms", at_ms)
}

#[test]
fn each_invariant_fires() {
    let mut f = Fixture::new(3);
    let a = "holds/0000/00000001-0000";
    commit(&mut f, &[(a, hold_row(2, "held", 500, 0))]).unwrap();
    let oversell = commit(
        &mut f,
        &[("holds/0000/00000002-0000", hold_row(2, "held", 500, 0))],
    );
    assert_eq!(oversell.unwrap_err(), "seats_never_oversold");

    let mut f = Fixture::new(3);
    commit(&mut f, &[(a, hold_row(2, "held", 500, 0))]).unwrap();
    commit(&mut f, &[(a, hold_row(2, "confirmed", 500, 10))]).unwrap();
    let twice = commit(&mut f, &[(a, hold_row(2, "confirmed", 500, 20))]);
    assert_eq!(twice.unwrap_err(), "hold_confirmed_at_most_once");

    let mut f = Fixture::new(3);
    commit(&mut f, &[(a, hold_row(2, "held", 500, 0))]).unwrap();
    let late = commit(&mut f, &[(a, hold_row(2, "confirmed", 500, 500))]);
    assert_eq!(late.unwrap_err(), "expired_hold_frees_its_seat");

    // A refusal that still counted a hold expired at 500 ms.
    let mut f = Fixture::new(3);
    commit(&mut f, &[(a, hold_row(3, "held", 500, 0))]).unwrap();
    let refusal = Response {
        status: 409,
        attempts: 1,
        outcome: Outcome::SoldOut(0, 600),
    };
    let broken = f
        .checker
        .on_response(&Request::new(2, 0, 0, Op::Hold(1)), &refusal, 600);
    assert_eq!(broken.unwrap_err().invariant, "expired_hold_frees_its_seat");

    // A row committed behind the checker's back: the recount disagrees.
    let mut f = Fixture::new(3);
    let mut tx = f.store.begin(Isolation::Serializable);
    block_on(tx.put(&Key::raw(a), hold_row(1, "held", 500, 0))).unwrap();
    block_on(tx.commit()).unwrap();
    assert_eq!(
        f.checker.at_end(&f.store).unwrap_err().invariant,
        "recount_agrees"
    );
}

type Seen = Rc<RefCell<(Checker, Vec<(Request, Response)>)>>;

/// Every interleaving of `clients` (each a list of requests) on one event
/// of `seats`; the checker is fed after every step.
fn explore_variant(
    variant: &'static str,
    seats: i64,
    clients: Vec<Vec<Request>>,
) -> overbook::explore::Report {
    let settings = settings(1, seats);
    let for_store = settings.clone();
    let model = Model::with_state("tickets", move |store| {
        let server = Rc::new(server(
            store,
            Arc::new(Clock::default()),
            variant,
            &settings,
        ));
        let seen: Seen = Rc::new(RefCell::new((
            Tickets.checker(Arc::new(vec![seats]), &settings),
            Vec::new(),
        )));
        let tasks = clients.iter().cloned().map(|requests| {
            let (server, seen) = (server.clone(), seen.clone());
            Box::pin(async move {
                for request in requests {
                    let response = Tickets::handle(&server, request.clone(), 0).await;
                    seen.borrow_mut().1.push((request, response));
                }
            }) as Client
        });
        let tasks = tasks.collect();
        (seen, tasks)
    })
    .store(move || store_with(&for_store))
    .always("invariants", |store, seen| {
        let (checker, responses) = &mut *seen.borrow_mut();
        let commits = store.drain_commits();
        commits
            .iter()
            .try_for_each(|c| checker.on_commit(c))
            .map_err(|v| v.to_string())?;
        let answered = std::mem::take(responses);
        answered
            .iter()
            .try_for_each(|(q, r)| checker.on_response(q, r, 0))
            .map_err(|v| v.to_string())
    })
    .at_end("recount", |store, seen| {
        seen.borrow_mut().0.at_end(store).map_err(|v| v.to_string())
    });
    explore(&model, Dfs::default().into(), Limits::default())
}

#[test]
fn the_model_checker_finds_the_oversell_and_passes_the_correct_version() {
    let clients = Tickets.explore_clients(ExploreContext {
        settings: &sim("explore-tickets.toml"),
        data: &vec![1],
        seed: Seed(1),
        clients: 2,
        ops: 2,
    });
    assert_eq!(
        clients[1],
        vec![
            Request::new(1, 0, 0, Op::Hold(1)),
            Request::new(1, 0, 0, Op::Confirm)
        ]
    );
    let buggy = explore_variant("tickets/oversell", 1, clients.clone());
    assert!(
        buggy.violations[0]
            .message
            .starts_with("seats_never_oversold"),
        "{buggy}"
    );
    let correct = explore_variant("correct", 1, clients);
    assert!(
        correct.exhausted && correct.violations.is_empty(),
        "{correct}"
    );
}

/// Calls the handler in process (what turmoil TCP does in the world).
struct Direct(Arc<service::Server>);

impl Transport<Tickets> for Direct {
    fn call<'a>(&'a mut self, request: &'a Request, _timeout_ms: u64) -> CallFuture<'a, Response> {
        Box::pin(async move { Ok(Tickets::handle(&self.0, request.clone(), 0).await) })
    }
}

#[test]
fn users_hold_confirm_and_release_over_a_direct_transport() {
    let mut settings = settings(2, 4);
    settings.workload = sim("tickets-rush.toml").workload;
    settings.workload.ops_per_user = 3;
    let (store, clock) = (store_with(&settings), Arc::new(Clock::default()));
    let server = Arc::new(server(&store, clock.clone(), "correct", &settings));
    let data = Arc::new(Tickets.data(&settings, Seed(1)));
    let mut checker = Tickets.checker(data.clone(), &settings);
    let observer: Observer<Tickets> = Arc::new(Mutex::new(Observations::default()));
    for index in 0..8 {
        let user = UserContext::new(
            index,
            Seed(7).stream_indexed("user", u64::from(index)),
            data.clone(),
            Arc::new(settings.clone()),
            ClientPolicy::default(),
            clock.clone(),
            Box::new(Direct(server.clone())),
            observer.clone(),
        );
        block_on(Tickets.user(user));
        store
            .drain_commits()
            .iter()
            .try_for_each(|c| checker.on_commit(c))
            .unwrap();
    }
    let exchanges = std::mem::take(&mut observer.lock().unwrap().exchanges);
    let mut statuses = BTreeMap::new();
    for exchange in &exchanges {
        let response = exchange.response.as_ref().unwrap();
        checker
            .on_response(&exchange.request, response, exchange.received_ms)
            .unwrap();
        *statuses
            .entry(format!(
                "{} {:?}",
                exchange.request.operation(),
                response.outcome
            ))
            .or_insert(0) += 1;
    }
    checker.at_end(&store).unwrap();
    let holds = exchanges
        .iter()
        .filter(|e| e.request.operation() == "hold")
        .count();
    assert_eq!(holds, 24, "8 users x 3 holds: {statuses:?}");
    assert!(
        statuses.keys().any(|k| k.starts_with("confirm Done")),
        "{statuses:?}"
    );
    assert!(
        statuses.keys().any(|k| k.contains("expired")),
        "{statuses:?}"
    );
}
