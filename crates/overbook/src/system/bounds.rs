//! [`Bounds`]: how a service bounds its own settings (`[data]`,
//! `[workload]`, `[service]`) the way overbook bounds its sections, so
//! that `--set data.appointments=4000000000` is an input error naming the
//! file, line and field (exit 2) instead of an allocation that aborts the
//! process or a data set that never finishes building.

use super::kit::RetryConfig;
use crate::error::InputError;
use std::cmp::Ordering;
use std::fmt::Display;

/// Every problem found in a set of values, each naming its field by its
/// dotted path (`data.seats`), as `--set` takes it. The harness adds the
/// file and line where the field is written.
///
/// A service's [`System::validate`](super::System::validate) is one chain,
/// a line per bound:
///
/// ```
/// use overbook::system::Bounds;
/// # struct Venue { seats: i64, hold_ttl_ms: u64 }
/// # let venue = Venue { seats: 100, hold_ttl_ms: 0 };
/// let checked = Bounds::new()
///     .within("data.seats", venue.seats, 0, 1_000_000)
///     .within("data.hold_ttl_ms", venue.hold_ttl_ms, 1, 3_600_000)
///     .finish();
/// let err = checked.unwrap_err();
/// assert_eq!(err.field.as_deref(), Some("data.hold_ttl_ms"));
/// assert_eq!(err.message, "must be between 1 and 3600000 (got 0)");
/// ```
///
/// Every bound is checked, and [`Bounds::finish`] returns all the
/// problems at once (the first, with the others in
/// [`InputError::also`]), so a user fixes a file in one pass.
#[derive(Debug, Default)]
#[must_use = "call `finish` to get the problems found"]
pub struct Bounds {
    problems: Vec<InputError>,
}

impl Bounds {
    /// No problems yet.
    pub fn new() -> Bounds {
        Bounds::default()
    }

    /// `value` is from `min` to `max`, both included.
    pub fn within<T: PartialOrd + Display>(
        &mut self,
        field: &str,
        value: T,
        min: T,
        max: T,
    ) -> &mut Bounds {
        let below = !matches!(
            value.partial_cmp(&min),
            Some(Ordering::Greater | Ordering::Equal)
        );
        let above = !matches!(
            value.partial_cmp(&max),
            Some(Ordering::Less | Ordering::Equal)
        );
        if below || above {
            self.problem(
                field,
                format!("must be between {min} and {max} (got {value})"),
            );
        }
        self
    }

    /// `value` is at most `max`.
    pub fn at_most<T: PartialOrd + Display>(
        &mut self,
        field: &str,
        value: T,
        max: T,
    ) -> &mut Bounds {
        if !matches!(
            value.partial_cmp(&max),
            Some(Ordering::Less | Ordering::Equal)
        ) {
            self.problem(field, format!("{value} is over the limit of {max}"));
        }
        self
    }

    /// `value` is at least `min`.
    pub fn at_least<T: PartialOrd + Display>(
        &mut self,
        field: &str,
        value: T,
        min: T,
    ) -> &mut Bounds {
        if !matches!(
            value.partial_cmp(&min),
            Some(Ordering::Greater | Ordering::Equal)
        ) {
            self.problem(field, format!("must be at least {min} (got {value})"));
        }
        self
    }

    /// `p` is a probability: from 0 to 1.
    pub fn probability(&mut self, field: &str, p: f64) -> &mut Bounds {
        if !(0.0..=1.0).contains(&p) {
            self.problem(
                field,
                format!("must be a probability between 0 and 1 (got {p})"),
            );
        }
        self
    }

    /// A rule the other bounds cannot say: when `holds` is false, `field`
    /// is at fault and `message` says why.
    pub fn check(&mut self, field: &str, holds: bool, message: impl Display) -> &mut Bounds {
        if !holds {
            self.problem(field, message.to_string());
        }
        self
    }

    /// The kit's retry settings at `field` (`service` or `service.retry`):
    /// 1 to 100 attempts, backoffs of at most a minute, `base_ms` at most
    /// `cap_ms`.
    pub fn retry(&mut self, field: &str, retry: &RetryConfig) -> &mut Bounds {
        self.within(&format!("{field}.attempts"), retry.attempts, 1, 100)
            .at_most(&format!("{field}.cap_ms"), retry.cap_ms, 60_000)
            .check(
                &format!("{field}.base_ms"),
                retry.base_ms <= retry.cap_ms,
                format!("{} is more than cap_ms ({})", retry.base_ms, retry.cap_ms),
            )
    }

    /// A problem found elsewhere (its field relative to the whole
    /// scenario, as the others).
    pub fn error(&mut self, err: InputError) -> &mut Bounds {
        self.problems.push(err);
        self
    }

    /// Whether no problem was found so far.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// Every problem found: the first, with the others in its
    /// [`InputError::also`]; `Ok` when there were none.
    pub fn finish(&mut self) -> Result<(), InputError> {
        match InputError::all(std::mem::take(&mut self.problems)) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    fn problem(&mut self, field: &str, message: String) {
        self.problems.push(InputError::new(message).at_field(field));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bound_is_checked_and_all_problems_are_returned() {
        let err = Bounds::new()
            .within("data.rooms", 0u32, 1, 10_000)
            .at_most("data.appointments", 4_000_000_000u32, 1_000_000)
            .at_least("workload.ops", 0u32, 1)
            .probability("workload.p", f64::NAN)
            .within("workload.q", f64::NAN, 0.0, 1.0)
            .within("ok", 5u32, 1, 10)
            .finish()
            .unwrap_err();
        let fields: Vec<_> = std::iter::once(&err)
            .chain(err.also.iter())
            .map(|e| e.field.clone().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "data.rooms",
                "data.appointments",
                "workload.ops",
                "workload.p",
                "workload.q"
            ]
        );
        assert_eq!(
            err.also[0].message,
            "4000000000 is over the limit of 1000000"
        );
        assert!(Bounds::new().within("ok", 1, 1, 1).finish().is_ok());
    }

    #[test]
    fn retry_settings_are_bounded_under_their_own_prefix() {
        let retry = RetryConfig {
            attempts: 0,
            base_ms: 10,
            cap_ms: 5,
            ..RetryConfig::default()
        };
        let err = Bounds::new()
            .retry("service.retry", &retry)
            .finish()
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("service.retry.attempts"));
        assert_eq!(err.also[0].field.as_deref(), Some("service.retry.base_ms"));
    }
}
