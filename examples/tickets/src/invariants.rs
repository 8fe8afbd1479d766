//! Invariants of the holds: on every commit, on the committed state as of
//! every commit, and on refusals. No mirror of the holds: the state is
//! read as of each commit.

use crate::{service::*, Tickets};
use overbook::prelude::*;

#[derive(Default)]
pub struct Checker {
    pub seats: i64,
    /// The committed state, once anything committed: refusals read it.
    pub state: Option<CommittedState>,
    pub tally: Tally,
}

/// Seats the committed holds take at `at_ms` (none before any commit).
fn taken(state: Option<&CommittedState>, at_ms: u64) -> i64 {
    seats_taken(state.map_or(vec![], |s| s.rows("holds")), at_ms)
}

impl Invariants<Tickets> for Checker {
    const READS_STATE: bool = true;

    fn on_commit(&mut self, commit: &CommitEvent, _: u64) -> Result<(), Violation> {
        for (key, before, after) in commit.changes("holds") {
            let column = |row: Option<&Row>, name| row.and_then(|r| r.int(name));
            let (was, is) = (column(before, "sold_ms"), column(after, "sold_ms"));
            let why = || format!("{key} sold at {was:?} ms, then at {is:?} ms");
            let once = was.is_none() || was == is;
            self.tally.check("hold_confirmed_at_most_once", once, why)?;
            // On the handler's clock: the commit may come after the expiry.
            let expires = column(before, "expires_ms");
            let why = || format!("{key} sold at {is:?} ms, expired at {expires:?}");
            let ok = is.is_none() || was == is || is < expires;
            self.tally.check("expired_hold_frees_its_seat", ok, why)?;
        }
        Ok(())
    }

    /// The whole venue as of this commit: one read, no mirror.
    fn on_state(&mut self, state: &CommittedState, now_ms: u64) -> Result<(), Violation> {
        let taken = taken(Some(state), now_ms);
        let why = || format!("{taken} seats taken of {} at {now_ms} ms", self.seats);
        self.state.get_or_insert_with(|| state.clone());
        self.tally
            .check("seats_never_oversold", taken <= self.seats, why)
    }

    /// A refusal must find no seat free when it was decided. Holds released
    /// or sold since were taking seats then, and still count at `at_ms`.
    fn on_response(&mut self, req: &Request, res: &Response, _: u64) -> Result<(), Violation> {
        let (Op::Hold, Response::SoldOut { at_ms }) = (req.0, res) else {
            return Ok(());
        };
        let free = self.seats - taken(self.state.as_ref(), *at_ms);
        let why = || format!("refused at {at_ms} ms with {free} seats free");
        self.tally
            .check("expired_hold_frees_its_seat", free <= 0, why)
    }

    fn checks(&self) -> BTreeMap<&'static str, u64> {
        self.tally.counts()
    }
}
