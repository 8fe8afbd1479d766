//! The box office in overbook's world: its real axum app and deadpool
//! pool on the API hosts, its tokio-postgres talking to the simulated
//! PostgreSQL over the wire, virtual users over HTTP.

mod sim;

use overbook::prelude::*;
use overbook::scenario::Scenario;
use overbook::world::Report;
use sim::{Boxoffice, CONFIRM_WITHOUT_ROW_LOCK, HOLD_WITHOUT_EVENT_LOCK};

fn scenario(name: &str) -> Scenario {
    let path = format!("{}/sims/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    Scenario::load_for(&Boxoffice, path.as_ref()).expect("the sim loads")
}

fn run(sim: &str, seed: u64, variant: &str) -> Report {
    let variant = Boxoffice.variant(variant).expect("a declared variant");
    overbook::world::run(&Boxoffice, &scenario(sim), Seed(seed), variant)
}

#[test]
fn the_correct_box_office_passes_both_sims() {
    for seed in 1..=3 {
        for sim in ["boxoffice-rush", "boxoffice-expiry"] {
            let report = run(sim, seed, "correct");
            assert!(report.passed, "{}", report.summary_line());
        }
    }
    // The run did what the sim says: holds sold out, confirms, sweeps.
    let report = run("boxoffice-rush", 1, "correct");
    let holds = &report.requests.by_op["POST /events/{id}/holds"];
    assert!(holds["201"] > 0 && holds["409"] > 0, "{holds:?}");
    assert!(report.requests.by_op["POST /holds/{id}/confirm"]["201"] > 0);
}

/// Each flaw the service can switch on is caught, by the invariant that
/// names what it breaks.
#[test]
fn each_planted_flaw_is_caught() {
    let cases = [
        (
            HOLD_WITHOUT_EVENT_LOCK,
            "boxoffice-rush",
            "seats_never_oversold",
        ),
        (
            CONFIRM_WITHOUT_ROW_LOCK,
            "boxoffice-expiry",
            "ended_holds_stay_ended",
        ),
    ];
    for (variant, sim, invariant) in cases {
        let report = run(sim, 1, variant);
        let violation = report.violation.as_ref().expect("the flaw is caught");
        assert_eq!(violation.invariant, invariant, "{}", report.summary_line());
    }
}

/// The trace hash of a seed through the wire path (HTTP app, pool,
/// tokio-postgres, the simulated server) is the same on every run and in
/// every process: pinned here, so another process (CI, a teammate's
/// machine) that gets another hash fails. Re-record only for a change
/// that means to change what runs.
#[test]
fn a_seed_gives_the_same_trace_hash_in_every_process() {
    let first = run("boxoffice-rush", 7, "correct");
    let again = run("boxoffice-rush", 7, "correct");
    assert_eq!(first.trace_hash, again.trace_hash);
    let flawed = run("boxoffice-expiry", 2, CONFIRM_WITHOUT_ROW_LOCK);
    let pinned = [first.trace_hash.clone(), flawed.trace_hash.clone()];
    println!("pinned: {pinned:?}");
    assert_eq!(pinned, PINNED);
}

const PINNED: [&str; 2] = ["51b910e7f41ff065", "149fd474a1876cea"];

/// Users written as HTTP steps in the scenario (no Rust user) find the
/// planted oversell, and the correct box office passes them.
#[test]
fn users_written_as_http_steps_find_the_oversell() {
    let report = run("boxoffice-flow", 1, "correct");
    assert!(report.passed, "{}", report.summary_line());
    let by_op = &report.requests.by_op;
    assert!(by_op["GET /events"]["200"] > 0, "{by_op:?}");
    assert!(by_op["POST /events/{id}/holds"]["201"] > 0, "{by_op:?}");
    assert!(by_op["POST /holds/{id}/confirm"]["201"] > 0, "{by_op:?}");
    let report = run("boxoffice-flow", 1, HOLD_WITHOUT_EVENT_LOCK);
    let violation = report.violation.as_ref().expect("the oversell is found");
    assert_eq!(violation.invariant, "seats_never_oversold");
}

/// A flow naming a variable nothing defines is an input error naming the
/// file, line and field.
#[test]
fn a_flow_with_an_unknown_variable_is_refused_with_its_field() {
    let text = std::fs::read_to_string(format!(
        "{}/sims/boxoffice-flow.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("/holds/{hold}/confirm", "/holds/{hodl}/confirm");
    let error = Scenario::parse(&text, "flow.toml").unwrap_err().to_string();
    assert!(error.contains("flow.steps.2.path"), "{error}");
    assert!(error.contains("{hodl}"), "{error}");
}

/// The model checker does not run a service whose pool connects over
/// turmoil's sockets yet: it says so, rather than failing each schedule on
/// its first connect (a false alarm).
#[test]
fn explore_refuses_a_wire_service_with_a_reason() {
    let refused = overbook::explore::services::service_scenario(
        &Boxoffice,
        &scenario("boxoffice-rush"),
        Variant::CORRECT,
        Seed(1),
        2,
        1,
    );
    let message = refused.err().expect("refused").to_string();
    assert!(message.contains("over the wire"), "{message}");
}

/// What running the box office unchanged costs: its HTTP app and pool
/// over the wire protocol, against the same statements ported to the
/// direct `Session` path, on the same scenario and seeds. Prints the
/// ratio; a measure for the README, run with `--ignored` on a release
/// build (`cargo test --release -p boxoffice --test world -- --ignored
/// --nocapture wire_against_direct`), not a timing assertion.
#[test]
#[ignore = "a measurement: run with --release -- --ignored --nocapture"]
fn wire_against_direct() {
    #[path = "sim/direct.rs"]
    mod direct;
    let rush = scenario("boxoffice-rush");
    let seeds = 1..=40u64;
    let time = |f: &dyn Fn(u64) -> bool| {
        let start = std::time::Instant::now();
        for seed in seeds.clone() {
            assert!(f(seed), "seed {seed} failed");
        }
        start.elapsed().as_secs_f64()
    };
    let wire =
        time(&|seed| overbook::world::run(&Boxoffice, &rush, Seed(seed), Variant::CORRECT).passed);
    let direct = time(&|seed| {
        overbook::world::run(
            &direct::DirectBoxoffice,
            &rush,
            Seed(seed),
            Variant::CORRECT,
        )
        .passed
    });
    let n = seeds.count() as f64;
    println!(
        "boxoffice-rush, {n} seeds: wire {:.1} seeds/s, direct {:.1} seeds/s, wire/direct throughput {:.2}",
        n / wire,
        n / direct,
        direct / wire
    );
}

/// `replay --inspect`'s path on a wire service: the failing step's
/// database, served on 127.0.0.1, shows the oversold event to any
/// PostgreSQL client (here tokio-postgres over real TCP).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failing_step_is_served_to_a_postgres_client() {
    let variant = Boxoffice.variant(HOLD_WITHOUT_EVENT_LOCK).unwrap();
    let rush = scenario("boxoffice-rush");
    let (report, kept) = tokio::task::spawn_blocking(move || {
        overbook::world::run_and_keep(&Boxoffice, &rush, Seed(1), variant, Default::default())
    })
    .await
    .unwrap();
    assert_eq!(
        report.violation.as_ref().unwrap().invariant,
        "seats_never_oversold"
    );
    let inspection = overbook::inspect::Inspection::new(kept.expect("kept")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = overbook::inspect::connection_url(listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = async {
        inspection
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await
    };
    let client = async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let oversold = client
            .query(
                "SELECT e.capacity, sum(h.seats) AS in_use FROM events e \
                 JOIN holds h ON h.event_id = e.id WHERE h.status IN ('held', 'confirmed') \
                 GROUP BY e.id, e.capacity HAVING sum(h.seats) > e.capacity",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(oversold.len(), 1);
        let (capacity, in_use): (i32, i64) = (oversold[0].get(0), oversold[0].get(1));
        assert!(in_use > i64::from(capacity), "{in_use} of {capacity}");
        let locks = client
            .query("SELECT mode FROM pg_locks", &[])
            .await
            .unwrap();
        drop(client);
        let _ = stop.send(());
        locks.len()
    };
    let (served, _locks) = tokio::join!(served, client);
    served.unwrap();
}
