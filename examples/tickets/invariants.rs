//! Invariants over the hold rows, on every commit and response and on a
//! recount at the end. Their clock is the latest `at_ms` the service wrote.

use crate::service::{seats_taken, Outcome, Request, Response, CONFIRMED, HELD};
use crate::Tickets;
use overbook::store::{CommitEvent, Key, KeyRange, Row, Store};
use overbook::system::{Invariants, Tally, Violation};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Every hold as last committed.
pub struct Checker {
    capacity: Arc<Vec<i64>>,
    holds: BTreeMap<Key, Row>,
    now_ms: u64,
    tally: Tally,
}

fn int(row: &Row, column: &str) -> i64 {
    row.int(column).unwrap_or(0)
}

fn state(row: &Option<Arc<Row>>) -> Option<&str> {
    row.as_deref()?.text("state")
}

impl Checker {
    /// A checker of events with these capacities.
    pub fn new(capacity: Arc<Vec<i64>>) -> Checker {
        let (holds, tally) = (BTreeMap::new(), Tally::default());
        let now_ms = 0;
        Checker {
            capacity,
            holds,
            now_ms,
            tally,
        }
    }

    /// `seats_never_oversold` over a recount, or the holds seen in commits.
    fn oversold(&mut self, recount: Option<&BTreeMap<Key, Row>>) -> Result<(), Violation> {
        let mut taken = vec![0; self.capacity.len()];
        for row in recount.unwrap_or(&self.holds).values() {
            if let Some(seats) = taken.get_mut(int(row, "event") as usize) {
                *seats += seats_taken(row, self.now_ms);
            }
        }
        for (event, (taken, capacity)) in taken.into_iter().zip(self.capacity.iter()).enumerate() {
            let when = self.now_ms;
            self.tally
                .check("seats_never_oversold", taken <= *capacity, || {
                    format!("event {event} at {when} ms: {taken} seats sold or held of {capacity}")
                })?;
        }
        Ok(())
    }
}

impl Invariants<Tickets> for Checker {
    fn on_commit(&mut self, commit: &CommitEvent) -> Result<(), Violation> {
        for (key, after, before) in commit.writes.iter().filter(|w| w.0.table() == "holds") {
            let (from, to) = (state(before), state(after));
            let confirming = to == Some(CONFIRMED);
            let once = from != Some(CONFIRMED) && (!confirming || from == Some(HELD));
            self.tally.check("hold_confirmed_at_most_once", once, || {
                format!("hold {key} went from {from:?} to {to:?}")
            })?;
            let Some(row) = after else {
                self.holds.remove(key);
                continue;
            };
            let (at, expires) = (
                int(row, "at_ms"),
                before.as_ref().map_or(0, |b| int(b, "expires_ms")),
            );
            self.tally.check(
                "expired_hold_frees_its_seat",
                !confirming || at < expires,
                || format!("hold {key} confirmed at {at} ms, expired at {expires} ms"),
            )?;
            self.now_ms = self.now_ms.max(at as u64);
            self.holds.insert(key.clone(), Row::clone(row));
        }
        self.oversold(None)
    }

    /// A refusal may count the seats of every hold known now, except those
    /// that had expired unconfirmed when it was decided.
    fn on_response(
        &mut self,
        request: &Request,
        response: &Response,
        _: u64,
    ) -> Result<(), Violation> {
        let Outcome::SoldOut(available, at_ms) = response.outcome else {
            return Ok(());
        };
        let event = i64::from(request.event);
        let live = |row: &&Row| {
            row.text("state") == Some(CONFIRMED) || int(row, "expires_ms") > at_ms as i64
        };
        let holds = self.holds.values().filter(|row| int(row, "event") == event);
        let taken_max: i64 = holds.filter(live).map(|row| int(row, "seats")).sum();
        let free_min = self
            .capacity
            .get(event as usize)
            .map_or(0, |c| c - taken_max);
        self.tally.check("expired_hold_frees_its_seat", available >= free_min, || {
            format!("event {event} refused with {available} seats free at {at_ms} ms, not {free_min}")
        })
    }

    fn at_end(&mut self, store: &Store) -> Result<(), Violation> {
        let recount: BTreeMap<_, _> = store
            .scan_committed(&KeyRange::prefix("holds/"))
            .into_iter()
            .collect();
        let agrees = recount == self.holds;
        self.tally.check("recount_agrees", agrees, || {
            "committed holds differ from commits seen".into()
        })?;
        self.oversold(Some(&recount))
    }

    fn checks(&self) -> BTreeMap<&'static str, u64> {
        self.tally.counts()
    }
}
