//! Invariants of the holds: on every commit and refusal, and a recount.

use crate::{service::*, Tickets};
use overbook::store::{CommitEvent, Key, KeyRange, Row, Store};
use overbook::system::*;
use std::collections::BTreeMap;

/// Every hold as last committed.
#[derive(Default)]
pub struct Checker {
    pub seats: i64,
    pub holds: BTreeMap<Key, Row>,
    pub tally: Tally,
}

impl Checker {
    fn oversold(&mut self, now_ms: u64) -> Result<(), Violation> {
        let taken = seats_taken(self.holds.values(), now_ms);
        let why = || format!("{taken} seats taken of {} at {now_ms} ms", self.seats);
        let ok = taken <= self.seats;
        self.tally.check("seats_never_oversold", ok, why)
    }
}

impl Invariants<Tickets> for Checker {
    fn on_commit(&mut self, commit: &CommitEvent, now_ms: u64) -> Result<(), Violation> {
        for (key, after, before) in commit.writes.iter().filter(|w| w.0.table() == "holds") {
            let column = |row: &Option<_>, name| row.as_deref().and_then(|r: &Row| r.int(name));
            let (was, is) = (column(before, "sold_ms"), column(after, "sold_ms"));
            let why = || format!("{key} sold at {was:?} ms, then at {is:?} ms");
            let once = was.is_none() || was == is;
            self.tally.check("hold_confirmed_at_most_once", once, why)?;
            // On the handler's clock: the commit may come after the expiry.
            let expires = column(before, "expires_ms");
            let why = || format!("{key} sold at {is:?} ms, expired at {expires:?}");
            let ok = is.is_none() || was == is || is < expires;
            self.tally.check("expired_hold_frees_its_seat", ok, why)?;
            self.holds
                .insert(key.clone(), after.as_deref().cloned().unwrap_or_default());
        }
        self.oversold(now_ms)
    }

    /// A refusal must find no seat free when it was decided. Holds released
    /// or sold since were taking seats then, and still count at `at_ms`.
    fn on_response(&mut self, req: &Request, res: &Response, _: u64) -> Result<(), Violation> {
        let (Op::Hold, Response::SoldOut { at_ms }) = (req.0, res) else {
            return Ok(());
        };
        let free = self.seats - seats_taken(self.holds.values(), *at_ms);
        let why = || format!("refused at {at_ms} ms with {free} seats free");
        let ok = free <= 0;
        self.tally.check("expired_hold_frees_its_seat", ok, why)
    }

    fn at_end(&mut self, store: &Store, now_ms: u64) -> Result<(), Violation> {
        let committed = store.scan_committed(&KeyRange::prefix("holds/"));
        self.holds = committed.into_iter().collect();
        self.oversold(now_ms)
    }

    fn checks(&self) -> BTreeMap<&'static str, u64> {
        self.tally.counts()
    }
}
