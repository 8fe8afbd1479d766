//! Board invariants on committed appointment rows.

use super::{Findings, Tally};
use crate::service::AppointmentStatus;
use overbook::store::{Key, KeyRange, Row, Store};

#[derive(Debug, Default)]
pub(super) struct BoardState {
    changes_seen: u64,
}

fn status_of(row: &Row) -> Option<AppointmentStatus> {
    row.text("status").and_then(AppointmentStatus::parse)
}

impl BoardState {
    pub(super) fn apply(
        &mut self,
        key: &Key,
        after: Option<&Row>,
        before: Option<&Row>,
        tally: &mut Tally,
        findings: &mut Findings,
    ) {
        self.changes_seen += 1;
        // Messages name the appointment by id (the key is the engine's
        // encoding of it).
        let key = after
            .or(before)
            .and_then(|row| row.int("id"))
            .map_or_else(|| key.to_string(), |id| id.to_string());
        let (Some(after), Some(before)) = (after, before) else {
            tally.check(findings, "valid_transition", after.is_some(), || {
                format!("appointment {key} was deleted")
            });
            return;
        };
        let (version_before, version_after) = (before.int("version"), after.int("version"));
        let (status_before, status_after) = (status_of(before), status_of(after));
        tally.check(
            findings,
            "version_monotonic",
            matches!((version_before, version_after), (Some(b), Some(a)) if a > b),
            || {
                format!(
                    "appointment {key} committed a change ({} -> {}) with version {version_before:?} -> {version_after:?}",
                    status_before.map_or("?", |s| s.name()),
                    status_after.map_or("?", |s| s.name()),
                )
            },
        );
        let allowed = match (status_before, status_after) {
            (Some(from), Some(to)) => from == to || from.can_move_to(to),
            _ => false,
        };
        tally.check(findings, "valid_transition", allowed, || {
            format!(
                "appointment {key} moved {:?} -> {:?} (version {version_before:?} -> {version_after:?}), which the workflow forbids",
                status_before, status_after
            )
        });
    }

    pub(super) fn at_end(&self, store: &Store, tally: &mut Tally, findings: &mut Findings) {
        for (_, row) in store.scan_committed(&KeyRange::prefix("appointments/")) {
            let key = row.int("id").unwrap_or(-1);
            tally.check(
                findings,
                "valid_transition",
                status_of(&row).is_some() && row.int("version").is_some(),
                || format!("appointment {key} ends malformed: {row:?}"),
            );
        }
    }
}
