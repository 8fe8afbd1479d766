//! `--findings`: reproduces two things about overbook's explorer that the
//! comparison turned up (see README.md, "Findings").

use crate::{locked_counter, own_counters};
use overbook::explore::{explore, replay, Dfs, Limits, Model};
use overbook::store::{Key, Store};
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

static SEEN: Mutex<BTreeSet<[i64; 4]>> = Mutex::new(BTreeSet::new());

fn record(store: &Store, _: &()) -> Result<(), String> {
    let get = |key: &Key| {
        store
            .read_committed(key)
            .and_then(|r| r.int("v"))
            .unwrap_or(-1)
    };
    let counter = |c: usize| get(&Key::new("counter", &[&c.to_string()]));
    let state = [get(&Key::raw("shared")), counter(0), counter(1), counter(2)];
    SEEN.lock().unwrap().insert(state);
    Ok(())
}

fn recorded() -> Model {
    own_counters::overbook().at_end("record", record)
}

/// Preemptions of a schedule line of a model without locks: a switch away
/// from a client that still has steps later in the line (so was enabled).
fn preemptions(choices: &[usize]) -> usize {
    (1..choices.len())
        .filter(|&i| choices[i] != choices[i - 1] && choices[i..].contains(&choices[i - 1]))
        .count()
}

fn sleep_sets_and_preemption_bound() {
    println!("1. own-counters: final states (shared, counter 0, 1, 2) seen by DFS with a preemption bound of 2");
    let limits = Limits {
        schedules_max: 10_000_000,
        ..Limits::default()
    };
    for (label, dfs) in [
        ("with sleep sets   ", Dfs::default().preemptions_max(2)),
        (
            "without sleep sets",
            Dfs::default().without_sleep_sets().preemptions_max(2),
        ),
        ("unbounded, sleep sets", Dfs::default()),
    ] {
        SEEN.lock().unwrap().clear();
        let report = explore(&recorded(), dfs.into(), limits);
        let seen = SEEN.lock().unwrap();
        println!(
            "   {label}: {} schedules, {} pruned, {} final states; has [2, 3, 3, 3]: {}",
            report.schedules,
            report.pruned,
            seen.len(),
            seen.contains(&[2, 3, 3, 3]),
        );
    }
    let choices = [
        1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
    ];
    let line = format!(
        "dfs:3-clients:{}",
        choices
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    SEEN.lock().unwrap().clear();
    let replayed = replay(&recorded(), &line).expect("the line replays");
    println!(
        "   {line}\n   has {} preemptions and ends in {:?} (violation: {:?})",
        preemptions(&choices),
        SEEN.lock().unwrap().iter().next(),
        replayed.violation.map(|v| v.property),
    );
}

/// Schedules of the abstract locked counter: `clients` clients, each doing
/// `increments` critical sections of 3 steps (lock-and-read, write,
/// commit). A step at the lock while another client holds it parks the
/// client; a commit wakes every parked client. With `repark`, a woken
/// client stays enabled even when someone else takes the lock first, and
/// its step then only parks it again (what overbook's executor does: a
/// woken task is runnable until polled); without it, a woken client is
/// enabled only while the lock is free.
fn abstract_schedules(clients: usize, increments: usize, repark: bool) -> u64 {
    #[derive(Clone, PartialEq, Eq, Hash)]
    struct State {
        pc: Vec<usize>,
        holder: Option<usize>,
        parked: Vec<bool>,
        woken: Vec<bool>,
    }
    fn go(state: &State, increments: usize, repark: bool, memo: &mut HashMap<State, u64>) -> u64 {
        if let Some(&n) = memo.get(state) {
            return n;
        }
        let enabled: Vec<usize> = (0..state.pc.len())
            .filter(|&c| state.pc[c] < 3 * increments && !state.parked[c])
            .filter(|&c| repark || !state.woken[c] || state.holder.is_none())
            .collect();
        if enabled.is_empty() {
            return 1;
        }
        let mut total = 0;
        for c in enabled {
            let mut next = state.clone();
            match state.pc[c] % 3 {
                0 => {
                    next.woken[c] = false;
                    if state.holder.is_none() {
                        next.holder = Some(c);
                        next.pc[c] += 1;
                    } else {
                        next.parked[c] = true;
                    }
                }
                1 => next.pc[c] += 1,
                _ => {
                    next.holder = None;
                    next.pc[c] += 1;
                    for w in 0..next.parked.len() {
                        if next.parked[w] {
                            next.parked[w] = false;
                            next.woken[w] = true;
                        }
                    }
                }
            }
            total += go(&next, increments, repark, memo);
        }
        memo.insert(state.clone(), total);
        total
    }
    let start = State {
        pc: vec![0; clients],
        holder: None,
        parked: vec![false; clients],
        woken: vec![false; clients],
    };
    go(&start, increments, repark, &mut HashMap::new())
}

fn lock_wait_steps() {
    println!("2. locked counter: schedules overbook explores, against two counts of the same step semantics");
    for (clients, increments) in [(2, 1), (2, 2), (3, 2)] {
        let model = locked_counter::overbook(clients, increments);
        let limits = Limits {
            schedules_max: 10_000_000,
            ..Limits::default()
        };
        let report = explore(&model, Dfs::default().into(), limits);
        let orders: u64 = {
            // multinomial (clients * increments)! / (increments!)^clients
            let factorial = |n: u64| (1..=n).product::<u64>();
            factorial((clients * increments) as u64)
                / factorial(increments as u64).pow(clients as u32)
        };
        println!(
            "   {clients}x{increments}: overbook dfs {} schedules + {} pruned; abstract model with re-park steps {}, without {}; orders of the critical sections {orders}",
            report.schedules,
            report.pruned,
            abstract_schedules(clients, increments, true),
            abstract_schedules(clients, increments, false),
        );
    }
    let line = "dfs:2-clients:0,1,0,0,0,1,0,0,1,1,1,1,1,1";
    let replayed = replay(&locked_counter::overbook(2, 2), line).expect("the line replays");
    println!("   {line}:");
    for step in &replayed.trace[..9] {
        println!("     {step}");
    }
}

pub fn run() {
    sleep_sets_and_preemption_bound();
    println!();
    lock_wait_steps();
}
