//! Units invariants: running sums of reservations per authorization,
//! compared with the authorization's counters after every commit.

use super::{Findings, Tally};
use crate::service::units::{STATE_CONSUMED, STATE_SCHEDULED};
use crate::service::Dataset;
use overbook::store::{Key, KeyRange, Row, Store};
use std::collections::BTreeMap;

/// What is known of one authorization.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Authorization {
    units_total_initial: i64,
    /// The counters as last committed.
    units_total: i64,
    units_used: i64,
    units_scheduled: i64,
    /// Sums over live reservations by state.
    reserved_scheduled: i64,
    reserved_consumed: i64,
}

/// A reservation's contribution: (authorization, units, consumed?).
fn reservation_of(row: &Row) -> Option<(u32, i64, bool)> {
    let authorization = u32::try_from(row.int("authorization_id")?).ok()?;
    let units = row.int("units")?;
    let consumed = match row.text("state")? {
        STATE_SCHEDULED => false,
        STATE_CONSUMED => true,
        _ => return None,
    };
    Some((authorization, units, consumed))
}

#[derive(Debug)]
pub(super) struct UnitsState {
    authorizations: BTreeMap<u32, Authorization>,
    /// Every reservation ever created per (client, idempotency key).
    reservations_by_key: BTreeMap<(i64, String), Vec<String>>,
}

impl UnitsState {
    pub(super) fn new(dataset: &Dataset) -> UnitsState {
        let authorizations = initial_authorizations(dataset);
        UnitsState {
            authorizations,
            reservations_by_key: BTreeMap::new(),
        }
    }

    /// Applies one written row; returns the authorization it concerns.
    pub(super) fn apply(
        &mut self,
        _dataset: &Dataset,
        key: &Key,
        after: Option<&Row>,
        before: Option<&Row>,
        tally: &mut Tally,
        findings: &mut Findings,
    ) -> Option<u32> {
        if key.table() == "authorizations" {
            let row = after?;
            let id = u32::try_from(row.int("id")?).ok()?;
            let entry = self.authorizations.entry(id).or_default();
            entry.units_total = row.int("units_total").unwrap_or(entry.units_total);
            entry.units_used = row.int("units_used").unwrap_or(0);
            entry.units_scheduled = row.int("units_scheduled").unwrap_or(0);
            return Some(id);
        }
        let mut touched = None;
        if let Some((authorization, units, consumed)) = before.and_then(reservation_of) {
            let entry = self.authorizations.entry(authorization).or_default();
            if consumed {
                entry.reserved_consumed -= units;
            } else {
                entry.reserved_scheduled -= units;
            }
            touched = Some(authorization);
        }
        if let Some(row) = after {
            if let Some((authorization, units, consumed)) = reservation_of(row) {
                let entry = self.authorizations.entry(authorization).or_default();
                if consumed {
                    entry.reserved_consumed += units;
                } else {
                    entry.reserved_scheduled += units;
                }
                touched = Some(authorization);
            }
            if before.is_none() {
                self.check_new_reservation(row, tally, findings);
            }
        }
        touched
    }

    fn check_new_reservation(&mut self, row: &Row, tally: &mut Tally, findings: &mut Findings) {
        let idempotency_key = row.text("idempotency_key").unwrap_or("");
        if idempotency_key.is_empty() {
            return;
        }
        let client = row.int("client").unwrap_or(-1);
        let earlier = self
            .reservations_by_key
            .entry((client, idempotency_key.to_string()))
            .or_default();
        earlier.push(format!("reservation {}", row.int("id").unwrap_or(-1)));
        let count = earlier.len();
        tally.check(findings, "exactly_once_reservation", count <= 1, || {
            format!(
                "client {client} idempotency key {idempotency_key:?} made {count} reservations: {}",
                earlier.join(", ")
            )
        });
    }

    /// Evaluates the per-authorization invariants.
    pub(super) fn check_authorization(
        &self,
        id: u32,
        tally: &mut Tally,
        findings: &mut Findings,
        when: &str,
    ) {
        let Some(a) = self.authorizations.get(&id) else {
            return;
        };
        check_sums(id, a, tally, findings, when);
    }

    pub(super) fn at_end(
        &self,
        dataset: &Dataset,
        store: &Store,
        cross_check: bool,
        tally: &mut Tally,
        findings: &mut Findings,
    ) {
        let recomputed = recompute(dataset, store);
        for (id, a) in &recomputed {
            check_sums(*id, a, tally, findings, "at end");
            if cross_check {
                let incremental = self.authorizations.get(id).copied().unwrap_or_default();
                tally.check(findings, "state_agrees", incremental == *a, || {
                    format!(
                        "authorization {id}: incremental {incremental:?} but committed rows give {a:?}"
                    )
                });
            }
        }
        // Live reservations per key (released ones are gone from the store;
        // the incremental check saw them when they were created).
        let mut live: BTreeMap<(i64, String), Vec<String>> = BTreeMap::new();
        for (_, row) in store.scan_committed(&KeyRange::prefix("reservations/")) {
            let idempotency_key = row.text("idempotency_key").unwrap_or("").to_string();
            if !idempotency_key.is_empty() {
                live.entry((row.int("client").unwrap_or(-1), idempotency_key))
                    .or_default()
                    .push(format!("reservation {}", row.int("id").unwrap_or(-1)));
            }
        }
        for ((client, idempotency_key), keys) in live {
            tally.check(findings, "exactly_once_reservation", keys.len() <= 1, || {
                format!(
                    "client {client} idempotency key {idempotency_key:?} holds {} reservations at the end: {}",
                    keys.len(),
                    keys.join(", ")
                )
            });
        }
    }
}

fn check_sums(id: u32, a: &Authorization, tally: &mut Tally, findings: &mut Findings, when: &str) {
    let reserved = a.reserved_scheduled + a.reserved_consumed;
    let counted = a.units_used + a.units_scheduled;
    tally.check(
        findings,
        "no_overbooking",
        reserved <= a.units_total_initial && counted <= a.units_total_initial,
        || {
            format!(
                "authorization {id} {when}: reservations hold {reserved} units ({} scheduled, {} consumed), counters say used {} + scheduled {} = {counted}, units_total {}",
                a.reserved_scheduled, a.reserved_consumed, a.units_used, a.units_scheduled, a.units_total_initial
            )
        },
    );
    tally.check(
        findings,
        "units_conserved",
        a.units_scheduled == a.reserved_scheduled
            && a.units_used == a.reserved_consumed
            && a.units_total == a.units_total_initial,
        || {
            format!(
                "authorization {id} {when}: counters used {} scheduled {} total {} but reservations consumed {} scheduled {} (initial total {})",
                a.units_used, a.units_scheduled, a.units_total, a.reserved_consumed, a.reserved_scheduled, a.units_total_initial
            )
        },
    );
}

/// Every authorization as loaded: its total, nothing used or scheduled.
/// Both the running state and the end-of-run recount start from it.
fn initial_authorizations(dataset: &Dataset) -> BTreeMap<u32, Authorization> {
    dataset
        .authorizations
        .iter()
        .map(|info| {
            (
                info.id,
                Authorization {
                    units_total_initial: info.units_total,
                    units_total: info.units_total,
                    ..Authorization::default()
                },
            )
        })
        .collect()
}

fn recompute(dataset: &Dataset, store: &Store) -> BTreeMap<u32, Authorization> {
    let mut authorizations = initial_authorizations(dataset);
    for (_, row) in store.scan_committed(&KeyRange::prefix("authorizations/")) {
        let Some(id) = row.int("id").and_then(|id| u32::try_from(id).ok()) else {
            continue;
        };
        let entry = authorizations.entry(id).or_default();
        entry.units_total = row.int("units_total").unwrap_or(entry.units_total);
        entry.units_used = row.int("units_used").unwrap_or(0);
        entry.units_scheduled = row.int("units_scheduled").unwrap_or(0);
    }
    for (_, row) in store.scan_committed(&KeyRange::prefix("reservations/")) {
        if let Some((authorization, units, consumed)) = reservation_of(&row) {
            let entry = authorizations.entry(authorization).or_default();
            if consumed {
                entry.reserved_consumed += units;
            } else {
                entry.reserved_scheduled += units;
            }
        }
    }
    authorizations
}
