//! The same box office against a real PostgreSQL 15 (`OVERBOOK_PG_URL`):
//! the migration, every route, the worker, and the seat count under
//! concurrent holds, through the pool production uses.

use boxoffice::{db, router, worker, AppState, Config};
use deadpool_postgres::ConfigConnectImpl;
use overbook::http::{HttpApp, HttpRequest, HttpResponse};
use serde_json::json;
use std::time::Duration;
use tokio_postgres::NoTls;

const NEEDS_PG: &str = "OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)";

/// A database of its own on the server, dropped at the end.
struct Scratch {
    admin: tokio_postgres::Client,
    name: String,
    config: tokio_postgres::Config,
}

impl Scratch {
    async fn new(tag: &str) -> Scratch {
        let url = std::env::var("OVERBOOK_PG_URL").expect(NEEDS_PG);
        let (admin, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        tokio::spawn(connection);
        let name = format!("boxoffice_{tag}_{}", std::process::id());
        // One statement a string: a multi-statement string is one
        // transaction, which CREATE DATABASE refuses.
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            admin.batch_execute(&sql).await.unwrap();
        }
        let mut config: tokio_postgres::Config = url.parse().unwrap();
        config.dbname(&name);
        Scratch {
            admin,
            name,
            config,
        }
    }

    async fn app(&self, config: Config) -> (HttpApp, deadpool_postgres::Pool, Config) {
        let pool = db::pool(self.config.clone(), ConfigConnectImpl { tls: NoTls }, 16);
        db::migrate(&pool).await.expect("the migration runs");
        let app = HttpApp::new(router(AppState::new(pool.clone(), config.clone())));
        (app, pool, config)
    }

    async fn drop(self, pool: deadpool_postgres::Pool) {
        pool.close();
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        self.admin.batch_execute(&drop).await.unwrap();
    }
}

async fn new_event(app: &HttpApp, capacity: i32) -> String {
    let body = json!({ "name": "gig", "capacity": capacity, "starts_in_s": 3600 });
    let event = app.handle(HttpRequest::post("/events").json(body)).await;
    assert_eq!(event.status, 201, "{event:?}");
    event.str_at("/id").unwrap().to_owned()
}

async fn hold(app: &HttpApp, event: &str, seats: i32, key: &str) -> HttpResponse {
    let request = HttpRequest::post(format!("/events/{event}/holds"))
        .with_idempotency_key(key)
        .json(json!({ "seats": seats }));
    app.handle(request).await
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
async fn every_route_behaves_on_postgresql() {
    let scratch = Scratch::new("routes").await;
    let (app, pool, config) = scratch.app(Config::default()).await;
    let event = new_event(&app, 4).await;

    // Twelve holds of a seat at once, on as many pool connections: the
    // event's row lock lets exactly four through.
    let statuses = tokio::task::LocalSet::new()
        .run_until(async {
            let tasks: Vec<_> = (0..12)
                .map(|n| {
                    let (app, event) = (app.clone(), event.clone());
                    tokio::task::spawn_local(async move {
                        hold(&app, &event, 1, &format!("k{n}")).await.status
                    })
                })
                .collect();
            let mut statuses = Vec::new();
            for task in tasks {
                statuses.push(task.await.unwrap());
            }
            statuses
        })
        .await;
    let count = |s| statuses.iter().filter(|&&x| x == s).count();
    assert_eq!((count(201), count(409)), (4, 8), "{statuses:?}");

    // A retried hold gets the first one back.
    let first = hold(&app, &event, 1, "k0").await;
    assert_eq!(first.status, 200, "{first:?}");
    let hold_id = first.str_at("/id").unwrap().to_owned();

    let seats = app
        .handle(HttpRequest::get(format!("/events/{event}")))
        .await;
    assert_eq!(
        (seats.i64_at("/in_use"), seats.i64_at("/free")),
        (Some(4), Some(0))
    );

    // Confirm, and a retried confirm gets the same order.
    let confirm = HttpRequest::post(format!("/holds/{hold_id}/confirm"));
    let order = app.handle(confirm.clone()).await;
    assert_eq!(order.status, 201, "{order:?}");
    let again = app.handle(confirm).await;
    assert_eq!(
        (again.status, again.str_at("/id")),
        (200, order.str_at("/id"))
    );
    let release = app
        .handle(HttpRequest::delete(format!("/holds/{hold_id}")))
        .await;
    assert_eq!(release.status, 409, "a confirmed hold is not released");

    // Cancel frees the seats and queues a refund; the worker delivers the
    // tickets and the refund once each.
    let order_id = order.str_at("/id").unwrap();
    let cancel = app
        .handle(HttpRequest::post(format!("/orders/{order_id}/cancel")))
        .await;
    assert_eq!(cancel.status, 200, "{cancel:?}");
    let seats = app
        .handle(HttpRequest::get(format!("/events/{event}")))
        .await;
    assert_eq!(seats.i64_at("/free"), Some(1));
    let round = worker::run_once(&pool, &config).await.unwrap();
    assert_eq!(round.jobs, 2);
    assert_eq!(worker::run_once(&pool, &config).await.unwrap().jobs, 0);

    let missing = app
        .handle(HttpRequest::get(
            "/holds/6f1c2a9e-1b2c-4d5e-8f90-123456789abc",
        ))
        .await;
    assert_eq!(missing.status, 404);
    scratch.drop(pool).await;
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
async fn an_expired_hold_is_swept_and_cannot_be_confirmed_on_postgresql() {
    let scratch = Scratch::new("expiry").await;
    let config = Config {
        hold_ttl: Duration::from_millis(50),
        ..Config::default()
    };
    let (app, pool, config) = scratch.app(config).await;
    let event = new_event(&app, 1).await;
    let held = hold(&app, &event, 1, "late").await;
    assert_eq!(held.status, 201, "{held:?}");
    assert_eq!(hold(&app, &event, 1, "other").await.status, 409);
    tokio::time::sleep(Duration::from_millis(120)).await;
    let hold_id = held.str_at("/id").unwrap();
    let late = app
        .handle(HttpRequest::post(format!("/holds/{hold_id}/confirm")))
        .await;
    assert_eq!(late.status, 410, "{late:?}");
    assert_eq!(worker::run_once(&pool, &config).await.unwrap().expired, 1);
    // The sweep gave the seat back.
    assert_eq!(hold(&app, &event, 1, "other").await.status, 201);
    scratch.drop(pool).await;
}
