//! The bundled services' handlers on a real PostgreSQL: the same handler
//! code as in simulation, over real connections, with a short concurrent
//! workload; the final tables are copied into a simulated store and the
//! same invariant checker judges them (and the responses). Each planted
//! bug is shown to break an invariant there too.

use super::{pg_url, runtime};
use overbook::postgres::PgSession;
use overbook::seed::Seed;
use overbook::sql::{Session, SqlDb};
use overbook::store::{PauseFuture, Schema, Store, StoreConfig};
use overbook::system::kit::Database;
use overbook::system::{Env, Violation};
use overbook_clinic::invariant::Checker;
use overbook_clinic::service::{
    sql_schema, Api, AppointmentStatus, DataConfig, Dataset, Request, RequestBody, Response,
    ResponseBody, RetryConfig, Role, ServiceConfig, Token, Variant, TABLES,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Real time, for handlers running against a real server.
struct WallClock(Instant);

impl Env for WallClock {
    fn now_ms(&self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }
    fn sleep_ms(&self, ms: u64) -> PauseFuture {
        Box::pin(tokio::time::sleep(Duration::from_millis(ms)))
    }
}

/// A fresh PostgreSQL schema named `name` with the variant's tables and
/// the data set's rows; the URL whose connections use it.
async fn fresh_schema(url: &str, name: &str, variant: Variant, dataset: &Dataset) -> String {
    let admin = PgSession::connect(url).await.expect("connect");
    admin.fresh_schema(name).await.expect("a fresh schema");
    let separator = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{separator}options=-c%20search_path%3D{name},public");
    let mut s = PgSession::connect(&scoped).await.expect("connect");
    s.client()
        .batch_execute(&sql_schema(variant))
        .await
        .expect("the clinic schema runs on PostgreSQL");
    for (sql, params) in dataset.insert_statements() {
        s.execute(sql, &params).await.expect("the data set loads");
    }
    scoped
}

/// The final tables on PostgreSQL, copied into a simulated store with the
/// same schema, judged by the checker together with the responses.
async fn judge(
    url: &str,
    variant: Variant,
    dataset: Arc<Dataset>,
    exchanges: &[(Request, Response)],
) -> Vec<Violation> {
    let store = Store::new(Schema::default(), StoreConfig::default(), Seed(0));
    let db = SqlDb::attach(&store);
    db.install(&sql_schema(variant))
        .expect("the schema installs");
    let mut s = PgSession::connect(url).await.expect("connect");
    for table in TABLES {
        let rows = s
            .execute(&format!("SELECT * FROM {table}"), &[])
            .await
            .expect("read the final table");
        for row in &rows.rows {
            db.load(table, row)
                .expect("PostgreSQL's rows fit the schema");
        }
    }
    let mut checker = Checker::new(dataset);
    let mut violations = Vec::new();
    for (request, response) in exchanges {
        violations.extend(checker.on_response(request, response, 0).err());
    }
    violations.extend(checker.at_end(&store).err());
    violations
}

fn api(url: &str, variant: Variant, dataset: &Arc<Dataset>, server: u64) -> Api {
    api_with_attempts(url, variant, dataset, server, 30)
}

fn api_with_attempts(
    url: &str,
    variant: Variant,
    dataset: &Arc<Dataset>,
    server: u64,
    attempts: u32,
) -> Api {
    Api::new(
        Database::Postgres(url.to_string()),
        Arc::new(WallClock(Instant::now())),
        ServiceConfig {
            retry: RetryConfig {
                attempts,
                ..RetryConfig::default()
            },
            ..ServiceConfig::default()
        },
        variant,
        dataset.clone(),
        Seed(7).stream_indexed("api", server),
    )
}

fn request(id: u64, role: Role, key: Option<String>, body: RequestBody) -> Request {
    Request {
        request_id: id,
        client: id as u32,
        token: Some(Token {
            organization: 0,
            role,
            expires_at_ms: u64::MAX / 2,
        }),
        idempotency_key: key,
        body,
    }
}

/// Sends every request at once (each handler on connections of its own).
async fn all_at_once(api: &Api, requests: &[Request]) -> Vec<(Request, Response)> {
    let responses =
        futures_join_all(requests.iter().map(|r| api.handle(r.clone(), r.client))).await;
    requests.iter().cloned().zip(responses).collect()
}

async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter()
        .map(|v| v.expect("every future finished"))
        .collect()
}

fn names(violations: &[Violation]) -> Vec<&'static str> {
    violations.iter().map(|v| v.invariant).collect()
}

/// Twenty reserves of 3 units race for an authorization of 10.
async fn units_race(url: &str, variant: Variant) -> (Vec<(Request, Response)>, Vec<Violation>) {
    let config = DataConfig {
        organizations: 1,
        authorizations: vec![overbook_clinic::service::AuthorizationGroup {
            count: 1,
            units: 10,
        }],
        ..DataConfig::default()
    };
    let dataset = Arc::new(Dataset::generate(&config, Seed(1)));
    let name = format!("units_{}", variant.name().replace(['/', '-'], "_"));
    let url = fresh_schema(url, &name, variant, &dataset).await;
    let api = api(&url, variant, &dataset, 0);
    let requests: Vec<Request> = (1..=20)
        .map(|i| {
            request(
                i,
                Role::Scheduler,
                Some(format!("reserve-{i}")),
                RequestBody::Reserve {
                    authorization: 0,
                    units: 3,
                },
            )
        })
        .collect();
    let exchanges = all_at_once(&api, &requests).await;
    let violations = judge(&url, variant, dataset, &exchanges).await;
    (exchanges, violations)
}

#[test]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
fn units_handlers_on_postgres_never_overbook_and_the_read_committed_bug_does() {
    let Some(url) =
        pg_url("units_handlers_on_postgres_never_overbook_and_the_read_committed_bug_does")
    else {
        return;
    };
    let rt = runtime();
    let (exchanges, violations) = rt.block_on(units_race(&url, Variant::Correct));
    let granted = exchanges.iter().filter(|(_, r)| r.status == 201).count();
    assert_eq!(granted, 3, "3 x 3 units fit in 10: {exchanges:?}");
    assert!(
        exchanges
            .iter()
            .all(|(_, r)| [201, 409].contains(&r.status)),
        "{exchanges:?}"
    );
    assert_eq!(names(&violations), Vec::<&str>::new(), "{violations:?}");

    let (exchanges, violations) = rt.block_on(units_race(&url, Variant::UnitsReadCommitted));
    let granted = exchanges.iter().filter(|(_, r)| r.status == 201).count();
    assert!(
        granted > 3,
        "concurrent reserves all read the old counters: {exchanges:?}"
    );
    assert!(
        names(&violations).contains(&"no_overbooking")
            || names(&violations).contains(&"units_conserved"),
        "{violations:?}"
    );
}

/// One client moves ready -> scheduled, another back to ready; a third,
/// whose view is the first ready version, cancels. Only the buggy
/// service lets the stale cancel through.
async fn board_stale_move(
    url: &str,
    variant: Variant,
) -> (Vec<(Request, Response)>, Vec<Violation>) {
    let config = DataConfig {
        organizations: 1,
        appointments: 1,
        ..DataConfig::default()
    };
    let mut dataset = Dataset::generate(&config, Seed(1));
    dataset.appointments[0].initial_status = AppointmentStatus::Ready;
    dataset.appointments[0].initial_version = 1;
    let dataset = Arc::new(dataset);
    let name = format!("board_{}", variant.name().replace(['/', '-'], "_"));
    let url = fresh_schema(url, &name, variant, &dataset).await;
    let api = api(&url, variant, &dataset, 0);
    let mv = |id, from, to, expected_version| {
        request(
            id,
            Role::Scheduler,
            None,
            RequestBody::Move {
                appointment: 0,
                from,
                to,
                expected_version,
            },
        )
    };
    use AppointmentStatus::*;
    let mut exchanges = Vec::new();
    for request in [
        mv(1, Ready, Scheduled, 1),
        mv(2, Scheduled, Ready, 2),
        mv(3, Ready, Cancelled, 1),
    ] {
        let response = api.handle(request.clone(), request.client).await;
        exchanges.push((request, response));
    }
    let violations = judge(&url, variant, dataset, &exchanges).await;
    (exchanges, violations)
}

#[test]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
fn board_handlers_on_postgres_refuse_stale_moves_and_the_no_version_check_bug_does_not() {
    let Some(url) = pg_url(
        "board_handlers_on_postgres_refuse_stale_moves_and_the_no_version_check_bug_does_not",
    ) else {
        return;
    };
    let rt = runtime();
    let (exchanges, violations) = rt.block_on(board_stale_move(&url, Variant::Correct));
    let statuses: Vec<u16> = exchanges.iter().map(|(_, r)| r.status).collect();
    assert_eq!(statuses, vec![200, 200, 409], "{exchanges:?}");
    assert_eq!(names(&violations), Vec::<&str>::new(), "{violations:?}");

    let (exchanges, violations) = rt.block_on(board_stale_move(&url, Variant::BoardNoVersionCheck));
    let statuses: Vec<u16> = exchanges.iter().map(|(_, r)| r.status).collect();
    assert_eq!(statuses, vec![200, 200, 200], "{exchanges:?}");
    assert!(
        names(&violations).contains(&"no_lost_update"),
        "{violations:?}"
    );
}

/// Every room fits every visit and every practitioner works all day, so
/// the only contest is time.
fn fit_every_room(dataset: &mut Dataset, config: &DataConfig) {
    for room in &mut dataset.rooms {
        room.capacity = 4;
        room.equipment = dataset.equipment_names.clone();
        room.accessible = true;
        room.specialties = overbook_clinic::service::data::SPECIALTIES
            .iter()
            .map(|s| s.to_string())
            .collect();
        room.isolation_capable = true;
        room.max_booking_min = 240;
        room.out_of_service_days.clear();
    }
    for practitioner in &mut dataset.practitioners {
        practitioner.shift_start_min = config.clinic_open_min;
        practitioner.shift_end_min = config.clinic_close_min;
    }
}

/// `bookings` bookings of the same half hour at once, `rooms` rooms that
/// fit every visit, different people, `attempts` per request on
/// 40001/40P01, in the fresh schema `name`.
async fn race_for_rooms(
    url: &str,
    name: &str,
    variant: Variant,
    rooms: u32,
    bookings: u32,
    attempts: u32,
) -> (Vec<(Request, Response)>, Vec<Violation>) {
    let config = DataConfig {
        organizations: 1,
        rooms,
        practitioners: bookings,
        patients: bookings,
        ..DataConfig::default()
    };
    let mut dataset = Dataset::generate(&config, Seed(1));
    fit_every_room(&mut dataset, &config);
    let dataset = Arc::new(dataset);
    let url = fresh_schema(url, name, variant, &dataset).await;
    let api = api_with_attempts(&url, variant, &dataset, 0, attempts);
    let requests: Vec<Request> = (0..bookings)
        .map(|i| {
            request(
                u64::from(i) + 1,
                Role::Staff,
                None,
                RequestBody::Book {
                    practitioner: i,
                    patient: i,
                    day: 0,
                    start_min: 9 * 60,
                    duration_min: 30,
                    equipment: Vec::new(),
                    party_size: 1,
                },
            )
        })
        .collect();
    let exchanges = all_at_once(&api, &requests).await;
    let violations = judge(&url, variant, dataset, &exchanges).await;
    (exchanges, violations)
}

/// Eight bookings of the same half hour, one room, different people.
async fn rooms_race(url: &str, variant: Variant) -> (Vec<(Request, Response)>, Vec<Violation>) {
    let name = format!("rooms_{}", variant.name().replace(['/', '-'], "_"));
    race_for_rooms(url, &name, variant, 1, 8, 30).await
}

#[test]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
fn rooms_handlers_on_postgres_book_a_slot_once_and_the_repeatable_read_bug_twice() {
    let Some(url) =
        pg_url("rooms_handlers_on_postgres_book_a_slot_once_and_the_repeatable_read_bug_twice")
    else {
        return;
    };
    let rt = runtime();
    let (exchanges, violations) = rt.block_on(rooms_race(&url, Variant::Correct));
    let booked = exchanges.iter().filter(|(_, r)| r.status == 201).count();
    assert_eq!(booked, 1, "{exchanges:?}");
    assert_eq!(names(&violations), Vec::<&str>::new(), "{violations:?}");

    let (exchanges, violations) = rt.block_on(rooms_race(
        &url,
        Variant::RoomsCheckThenInsertRepeatableRead,
    ));
    let booked = exchanges.iter().filter(|(_, r)| r.status == 201).count();
    assert!(booked > 1, "snapshots all see the room free: {exchanges:?}");
    assert!(
        names(&violations).contains(&"no_room_double_booking"),
        "{violations:?}"
    );
}

/// The planted bugs that need no race, each shown on PostgreSQL with a
/// sequence of requests that exposes it: a resent reserve
/// (`units/no-idempotency`), a move (`board/version-not-incremented`), a
/// visit right after another within the cleaning buffer
/// (`rooms/inclusive-end`), and a server whose availability cache predates
/// another server's booking (`rooms/stale-availability-cache`). The correct
/// service runs the same sequences cleanly.
async fn sequences(url: &str, variant: Variant) -> (Vec<(Request, Response)>, Vec<Violation>) {
    let config = DataConfig {
        organizations: 1,
        authorizations: vec![overbook_clinic::service::AuthorizationGroup {
            count: 1,
            units: 10,
        }],
        appointments: 1,
        rooms: 1,
        practitioners: 4,
        patients: 4,
        cleaning_buffer_min: 10,
        ..DataConfig::default()
    };
    let mut dataset = Dataset::generate(&config, Seed(1));
    dataset.appointments[0].initial_status = AppointmentStatus::Ready;
    dataset.appointments[0].initial_version = 1;
    fit_every_room(&mut dataset, &config);
    let dataset = Arc::new(dataset);
    let name = format!("seq_{}", variant.name().replace(['/', '-'], "_"));
    let url = fresh_schema(url, &name, variant, &dataset).await;
    let (a, b) = (
        api(&url, variant, &dataset, 0),
        api(&url, variant, &dataset, 1),
    );
    let book = |id: u64, who: u32, start_min: i64| {
        request(
            id,
            Role::Staff,
            None,
            RequestBody::Book {
                practitioner: who,
                patient: who,
                day: 0,
                start_min,
                duration_min: 30,
                equipment: Vec::new(),
                party_size: 1,
            },
        )
    };
    let reserve = request(
        1,
        Role::Scheduler,
        Some("reserve-once".to_string()),
        RequestBody::Reserve {
            authorization: 0,
            units: 2,
        },
    );
    let mut resent = reserve.clone();
    resent.request_id = 2;
    let steps: Vec<(&Api, Request)> = vec![
        (&a, reserve),
        (&a, resent),
        (
            &a,
            request(
                3,
                Role::Scheduler,
                None,
                RequestBody::Move {
                    appointment: 0,
                    from: AppointmentStatus::Ready,
                    to: AppointmentStatus::Scheduled,
                    expected_version: 1,
                },
            ),
        ),
        // Server b caches day 0 while it is empty of morning visits.
        (&b, book(4, 0, 14 * 60)),
        (&a, book(5, 1, 9 * 60)),
        // Within the 10-minute cleaning buffer of 9:00-9:30.
        (&a, book(6, 2, 9 * 60 + 35)),
        // Stale: b still sees 9:00 free.
        (&b, book(7, 3, 9 * 60)),
    ];
    let mut exchanges = Vec::new();
    for (server, request) in steps {
        let response = server.handle(request.clone(), request.client).await;
        exchanges.push((request, response));
    }
    let violations = judge(&url, variant, dataset, &exchanges).await;
    (exchanges, violations)
}

#[test]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
fn every_other_planted_bug_breaks_its_invariant_on_postgres_too() {
    let Some(url) = pg_url("every_other_planted_bug_breaks_its_invariant_on_postgres_too") else {
        return;
    };
    let rt = runtime();
    let (exchanges, violations) = rt.block_on(sequences(&url, Variant::Correct));
    assert_eq!(
        names(&violations),
        Vec::<&str>::new(),
        "{violations:?}\n{exchanges:?}"
    );
    let statuses: Vec<u16> = exchanges.iter().map(|(_, r)| r.status).collect();
    assert_eq!(
        statuses,
        vec![201, 201, 200, 201, 201, 409, 409],
        "{exchanges:?}"
    );
    for (variant, invariant) in [
        (Variant::UnitsNoIdempotency, "exactly_once_reservation"),
        (Variant::BoardVersionNotIncremented, "version_monotonic"),
        (Variant::RoomsInclusiveEnd, "no_room_double_booking"),
        (
            Variant::RoomsStaleAvailabilityCache,
            "no_room_double_booking",
        ),
    ] {
        let (exchanges, violations) = rt.block_on(sequences(&url, variant));
        assert!(
            names(&violations).contains(&invariant),
            "{}: {violations:?}\n{exchanges:?}",
            variant.name()
        );
    }
}

/// `sims/rooms-conflict.toml` on PostgreSQL: fifty bookings of one half
/// hour at once with ten rooms, distinct people, the sim's budget of ten
/// attempts. Each room is booked once and no invariant breaks, and the
/// test prints the outcomes and retries per booking for comparison with
/// the simulated store's. Measured on PostgreSQL 15 (deadlock_timeout
/// 1 s): 10 x 201 and 40 x 409 with 283 retries (5.66 per booking) in
/// about 4 s, since a booking locks its room's row before inserting.
/// Without that lock it was 10 x 201 and 40 x 503 on 40P01 in about 5
/// minutes: conflicting inserts both enter the exclusion index, then wait
/// for each other (the store, which now does the same, then deadlocked
/// and timed out too). Ignored because a regression to deadlocks costs a
/// second each:
/// `scripts/with-postgres.sh cargo test --test suite rooms_conflict_on_postgres -- --ignored --nocapture`.
#[test]
#[ignore = "on PostgreSQL; minutes of deadlock timeouts if bookings deadlock again"]
fn rooms_conflict_on_postgres_books_each_room_once() {
    let Some(url) = pg_url("rooms_conflict_on_postgres_books_each_room_once") else {
        return;
    };
    let (exchanges, violations) = runtime().block_on(race_for_rooms(
        &url,
        "rooms_conflict",
        Variant::Correct,
        10,
        50,
        10,
    ));
    let count = |status: u16| exchanges.iter().filter(|(_, r)| r.status == status).count();
    let deadlocked = exchanges
        .iter()
        .filter(|(_, r)| {
            matches!(&r.body, ResponseBody::RetriesExhausted { sqlstate, .. } if sqlstate == "40P01")
        })
        .count();
    println!("rooms-conflict on PostgreSQL: {deadlocked} bookings ran out of attempts on 40P01");
    let retries: u32 = exchanges.iter().map(|(_, r)| r.attempts - 1).sum();
    println!(
        "rooms-conflict on PostgreSQL: 201 x{}, 409 x{}, 503 x{}; {} retries on 40001/40P01 ({:.2} per booking)",
        count(201),
        count(409),
        count(503),
        retries,
        f64::from(retries) / exchanges.len() as f64
    );
    assert_eq!(count(201), 10, "{exchanges:?}");
    assert_eq!(names(&violations), Vec::<&str>::new(), "{violations:?}");
}
