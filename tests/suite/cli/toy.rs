//! A crash is a finding: a toy System whose handler panics on some seeds
//! (variant `toy/panic`, or a virtual user with `workload.user_panics`),
//! driven through `overbook::cli::run` in a child process of this test
//! binary, so exit codes, output and saved entries are the CLI's own.

use overbook::cli::{self, Options};
use overbook::seed::Seed;
use overbook::store::{CommitEvent, Schema, Store};
use overbook::system::{
    ExploreContext, FromContext, InvariantInfo, Invariants, Message, Reply, ServerContext, System,
    Tally, UserContext, Variant, VariantInfo, Violation,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// Pings answered with pongs; `toy/panic` panics on a ping of 7.
#[derive(Clone, Copy, Debug)]
pub struct Toy;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ToySettings {
    #[serde(default)]
    workload: ToyWorkload,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ToyWorkload {
    ops_per_user: u32,
    user_panics: bool,
}

impl Default for ToyWorkload {
    fn default() -> Self {
        ToyWorkload {
            ops_per_user: 1,
            user_panics: false,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ping {
    n: u64,
}

impl Message for Ping {
    fn operation(&self) -> &'static str {
        "ping"
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pong {
    status: u16,
}

impl Reply for Pong {
    fn status(&self) -> u16 {
        self.status
    }
}

pub struct ToyChecker {
    tally: Tally,
}

impl Invariants<Toy> for ToyChecker {
    fn on_commit(&mut self, _: &CommitEvent, _: u64) -> Result<(), Violation> {
        Ok(())
    }

    fn on_response(&mut self, _: &Ping, pong: &Pong, _: u64) -> Result<(), Violation> {
        self.tally.check("pong_ok", pong.status == 200, || {
            format!("status {}", pong.status)
        })
    }

    fn at_end(&mut self, _: &Store, _: u64) -> Result<(), Violation> {
        Ok(())
    }

    fn checks(&self) -> BTreeMap<&'static str, u64> {
        self.tally.counts()
    }
}

impl FromContext<Toy> for Variant {
    fn from_context(context: ServerContext<Toy>) -> Variant {
        context.variant
    }
}

impl System for Toy {
    type Settings = ToySettings;
    type Data = ();
    type Request = Ping;
    type Response = Pong;
    type Server = Variant;
    type Checker = ToyChecker;

    fn name(&self) -> &'static str {
        "toy"
    }

    fn variants(&self) -> &'static [VariantInfo] {
        &[
            VariantInfo {
                name: "correct",
                description: "answers every ping",
            },
            VariantInfo {
                name: "toy/panic",
                description: "the handler panics on a ping of 7",
            },
        ]
    }

    fn invariants(&self) -> &'static [InvariantInfo] {
        &[InvariantInfo {
            name: "pong_ok",
            description: "every ping gets a 200",
        }]
    }

    fn schema(&self, _: Variant) -> Schema {
        Schema::default()
    }

    fn data(&self, _: &ToySettings, _: Seed) {}

    fn load(&self, _: &(), _: &Store) {}

    fn handle(
        variant: &Variant,
        ping: Ping,
        _source: u32,
    ) -> impl std::future::Future<Output = Pong> {
        let panics = variant.is("toy/panic") && ping.n == 7;
        async move {
            if panics {
                panic!("toy handler: ping {}", ping.n);
            }
            Pong { status: 200 }
        }
    }

    async fn user(&self, mut user: UserContext<Self>) {
        for _ in 0..user.settings.workload.ops_per_user {
            let n = user.rng.below(10);
            if user.settings.workload.user_panics && n == 7 {
                panic!("toy user: drew {n}");
            }
            let _ = user.call(Ping { n }).await;
        }
    }

    fn checker(&self, _: Arc<()>, _: &ToySettings) -> ToyChecker {
        ToyChecker {
            tally: Tally::default(),
        }
    }

    fn explore_clients(&self, context: ExploreContext<'_, Self>) -> Vec<Vec<Ping>> {
        let mut rng = context.seed.stream("toy-explore");
        (0..context.clients)
            .map(|_| {
                (0..context.ops)
                    .map(|_| Ping { n: rng.below(10) })
                    .collect()
            })
            .collect()
    }
}

const ARGS: &str = "OVERBOOK_TOY_CLI_ARGS";
const SIMS: &str = "OVERBOOK_TOY_CLI_SIMS";

/// The toy's CLI: a user's whole binary, run as a child of this test
/// binary by [`toy`] (without the variable it has nothing to do).
#[test]
#[ignore = "the toy CLI's entry point: the other toy tests run it in a child process"]
fn toy_cli_entry() {
    let Ok(args) = std::env::var(ARGS) else {
        return;
    };
    let options = Options::new("toy-cli")
        .program("toy-cli")
        .sims_dir(std::env::var(SIMS).expect("the sims folder"));
    let argv = std::iter::once("toy-cli".to_string()).chain(args.split('\x1f').map(str::to_string));
    let code = cli::run(&Toy, &options, argv);
    std::process::exit(i32::from(code));
}

const TOY_SIM: &str = r#"name = "toy"
description = "three pings at once"

[run]
drain_s = 5

[client]
timeout_ms = 500
retries_on_timeout = 0

[[phases]]
duration_s = 1
arrival_rate = 0
burst = 3

[workload]
ops_per_user = 1
"#;

/// A fresh folder with the toy sim in it.
fn sims_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("overbook-toy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("toy.toml"), TOY_SIM).unwrap();
    dir
}

/// Runs the toy CLI with `args`: exit code, stdout, stderr.
fn toy(sims: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "cli::toy::toy_cli_entry",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(ARGS, args.join("\x1f"))
        .env(SIMS, sims)
        .output()
        .expect("the test binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn assert_no_crash(code: i32, err: &str) {
    assert_ne!(code, 101, "{err}");
    assert!(!err.contains("panicked at"), "panic noise on stderr: {err}");
}

#[test]
fn a_panicking_handler_is_a_finding_saved_and_replayed_and_the_sweep_goes_on() {
    let sims = sims_dir("fuzz");
    let saved = sims.join("found");
    let (code, out, err) = toy(
        &sims,
        &[
            "fuzz",
            "toy",
            "--variant",
            "toy/panic",
            "--seeds",
            "1..21",
            "--jobs",
            "2",
            "--save",
            saved.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert_no_crash(code, &err);
    assert!(
        out.contains("fuzz: 20 runs over 1 sim(s)"),
        "the sweep went on: {out}"
    );
    let failing: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("FAIL toy seed"))
        .collect();
    assert!(
        failing.len() >= 2 && failing.len() < 20,
        "some seeds panic, not all: {out}"
    );
    assert!(failing.iter().all(|l| l.contains(": panic (")), "{out}");
    assert!(out.contains("panicked: toy handler: ping 7"), "{out}");
    assert!(
        out.contains("reproduce: toy-cli replay --sim toy --seed "),
        "{out}"
    );
    assert!(out.contains(&format!("{} failing", failing.len())), "{out}");
    let entries = overbook::corpus::entries(&saved).unwrap();
    assert_eq!(
        entries.len(),
        failing.len(),
        "every panicking seed is saved"
    );
    let entry = overbook::corpus::Entry::load_for(&Toy, &entries[0]).unwrap();
    assert_eq!(entry.invariant.as_deref(), Some("panic"));
    assert!(entry.found_by.starts_with("toy-cli fuzz toy"), "{entry:?}");
    // The saved crash replays as recorded (exit 0), with the same message.
    let (code, out, err) = toy(&sims, &["replay", entries[0].to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_no_crash(code, &err);
    assert!(
        err.contains("reproduced: fails with panic as recorded"),
        "{err}"
    );
    assert!(out.contains("VIOLATION panic"), "{out}");
    // The correct service passes the same seeds.
    let (code, out, err) = toy(&sims, &["fuzz", "toy", "--seeds", "1..21", "--jobs", "2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("0 failing"), "{out}");
    std::fs::remove_dir_all(&sims).unwrap();
}

#[test]
fn a_panicking_virtual_user_fails_run_with_its_replay_line() {
    let sims = sims_dir("user");
    // Find a seed whose users draw a 7, and one whose users do not.
    let mut seen = (None, None);
    for seed in 1..40u64 {
        let (code, out, err) = toy(
            &sims,
            &[
                "run",
                "toy",
                "--seed",
                &seed.to_string(),
                "--set",
                "workload.user_panics=true",
            ],
        );
        assert_no_crash(code, &err);
        match code {
            1 => {
                assert!(out.contains("panicked: toy user: drew 7"), "{out}");
                assert!(
                    out.contains(&format!(
                        "reproduce: toy-cli run toy --seed {seed} --variant correct --set workload.user_panics=true"
                    )),
                    "{out}"
                );
                seen.0 = Some(seed);
            }
            0 => seen.1 = Some(seed),
            other => panic!("exit {other}: {out}{err}"),
        }
        if seen.0.is_some() && seen.1.is_some() {
            break;
        }
    }
    assert!(seen.0.is_some() && seen.1.is_some(), "{seen:?}");
    std::fs::remove_dir_all(&sims).unwrap();
}

#[test]
fn a_panic_under_the_model_checker_is_a_finding_with_its_command() {
    let sims = sims_dir("explore");
    let mut found = false;
    for seed in 1..30u64 {
        let seed = seed.to_string();
        let args = [
            "explore",
            "toy",
            "--clients",
            "2",
            "--ops",
            "2",
            "--seed",
            &seed,
            "--variant",
            "toy/panic",
        ];
        let (code, out, err) = toy(&sims, &args);
        assert_no_crash(code, &err);
        if code == 1 {
            assert!(out.contains("PANIC: toy handler: ping 7"), "{out}");
            assert!(
                out.contains(&format!(
                    "reproduce: toy-cli explore toy --clients 2 --ops 2 --seed {seed} --variant toy/panic"
                )),
                "{out}"
            );
            found = true;
            break;
        }
        assert_eq!(code, 0, "{out}{err}");
    }
    assert!(found, "some seed draws a ping of 7");
    std::fs::remove_dir_all(&sims).unwrap();
}

#[test]
fn the_toy_cli_lists_its_own_variants_invariants_and_sims() {
    let sims = sims_dir("list");
    let (code, out, err) = toy(&sims, &["list"]);
    assert_eq!(code, 0, "{out}{err}");
    for needle in [
        "service: toy",
        "toy/panic",
        "pong_ok",
        "three pings at once",
    ] {
        assert!(out.contains(needle), "missing {needle}: {out}");
    }
    std::fs::remove_dir_all(&sims).unwrap();
}
