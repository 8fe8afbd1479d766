//! Simulated requests per wall second: the full world (services, store,
//! invariants after every step) against a raw turmoil request/response echo
//! with the same hosts, clients, arrivals and network, in the same process.
//!
//! `cargo bench --bench world_throughput` prints both rates, their ratio
//! and the peak memory, for 1,000 and 10,000 clients.

use overbook::scenario::Scenario;
use overbook::seed::Seed;
use overbook::system::Variant;
use overbook::workload::arrival_times_ms;
use overbook_clinic::service::Clinic;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn scenario(clients: u32) -> Scenario {
    let text = format!(
        r#"
name = "throughput-{clients}"
[run]
tick_ms = 1
drain_s = 30
[topology]
api_servers = 2
client_hosts = 8
[[phases]]
duration_s = 10
arrival_rate = {rate}
[workload]
ops_per_user = 1
mix = {{ reserve = 1, release = 0, consume = 0 }}
units_min = 1
units_max = 1
"#,
        rate = f64::from(clients) / 10.0
    );
    Scenario::parse(&text, "bench").expect("bench scenario parses")
}

/// The same layout with an echo server: each client sends one JSON-sized
/// line and waits for it back.
fn echo(scenario: &Scenario) -> (u64, Duration) {
    let arrivals = arrival_times_ms(&scenario.phases);
    let mut sim = turmoil::Builder::new()
        .rng_seed(1)
        .tick_duration(Duration::from_millis(scenario.run.tick_ms))
        .simulation_duration(Duration::from_secs(120))
        .min_message_latency(Duration::from_millis(
            scenario.topology.network_latency_ms_min,
        ))
        .max_message_latency(Duration::from_millis(
            scenario.topology.network_latency_ms_max,
        ))
        .tcp_capacity(scenario.topology.tcp_capacity as usize)
        .build();
    for server in 0..scenario.topology.api_servers {
        sim.host(format!("api-{server}"), || async {
            let listener = turmoil::net::TcpListener::bind(("0.0.0.0", 8080)).await?;
            loop {
                let (stream, _) = listener.accept().await?;
                tokio::task::spawn_local(async move {
                    let mut stream = BufReader::new(stream);
                    let mut line = String::new();
                    while stream.read_line(&mut line).await.unwrap_or(0) > 0 {
                        if stream.get_mut().write_all(line.as_bytes()).await.is_err() {
                            return;
                        }
                        line.clear();
                    }
                });
            }
        });
    }
    let hosts = scenario.topology.client_hosts;
    let servers = scenario.topology.api_servers;
    let done = std::rc::Rc::new(std::cell::Cell::new(0u64));
    for host in 0..hosts {
        let mine: Vec<(u32, u64)> = arrivals
            .iter()
            .enumerate()
            .filter(|(i, _)| *i as u32 % hosts == host)
            .map(|(i, &t)| (i as u32, t))
            .collect();
        let done = done.clone();
        sim.client(format!("clients-{host}"), async move {
            let mut tasks = Vec::new();
            for (index, at_ms) in mine {
                let now = turmoil::sim_elapsed().map_or(0, |d| d.as_millis() as u64);
                if at_ms > now {
                    tokio::time::sleep(Duration::from_millis(at_ms - now)).await;
                }
                let done = done.clone();
                tasks.push(tokio::task::spawn_local(async move {
                    let server = format!("api-{}", index % servers);
                    let stream = turmoil::net::TcpStream::connect((server.as_str(), 8080)).await.expect("connect");
                    let mut stream = BufReader::new(stream);
                    let request = format!("{{\"request_id\":{index},\"op\":\"reserve\",\"authorization\":3,\"units\":1}}\n");
                    stream.get_mut().write_all(request.as_bytes()).await.expect("write");
                    let mut line = String::new();
                    stream.read_line(&mut line).await.expect("read");
                    done.set(done.get() + 1);
                }));
            }
            for task in tasks {
                task.await?;
            }
            Ok(())
        });
    }
    let started = Instant::now();
    sim.run().expect("echo simulation runs");
    (done.get(), started.elapsed())
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    for clients in [1_000u32, 10_000] {
        let scenario = scenario(clients);
        let (echoed, echo_wall) = echo(&scenario);
        let echo_rate = echoed as f64 / echo_wall.as_secs_f64();
        let started = Instant::now();
        let report = overbook::world::run(&Clinic, &scenario, Seed(1), Variant::CORRECT);
        let wall = started.elapsed();
        assert!(report.passed, "{}", report.summary_line());
        let world_rate = report.requests.total as f64 / wall.as_secs_f64();
        println!(
            "{clients:>6} clients: world {} requests in {:.2} s = {:.0} req/s; raw turmoil echo {} in {:.2} s = {:.0} req/s; world/echo = {:.2}; peak RSS so far {:.0} MB",
            report.requests.total,
            wall.as_secs_f64(),
            world_rate,
            echoed,
            echo_wall.as_secs_f64(),
            echo_rate,
            world_rate / echo_rate,
            peak_rss_mb()
        );
    }
}
