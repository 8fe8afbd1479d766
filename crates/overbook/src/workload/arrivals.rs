//! Arrival times from Artillery-style phases.

use crate::scenario::Phase;
use crate::seed::Seed;

/// Upper bound on users in one run: a limit, so a typo in a rate cannot
/// exhaust memory.
pub const MAX_USERS: usize = 2_000_000;

/// The simulated times (ms from the start) at which users arrive, in order.
///
/// Within a phase of length `T` whose rate ramps linearly from `r0` to
/// `r1`, the expected count by time `t` is `N(t) = r0 t + (r1 - r0) t² / 2T`;
/// user `k` (from 0) arrives when `N(t)` reaches `k + 1/2`, so a constant
/// rate of 50/s spaces arrivals exactly 20 ms apart, like Artillery. A
/// phase's `burst` users all arrive at its start.
pub fn arrival_times_ms(phases: &[Phase]) -> Vec<u64> {
    let mut times = Vec::new();
    let mut phase_start_ms = 0u64;
    for phase in phases {
        let duration_s = phase.duration_s as f64;
        let r0 = phase.arrival_rate;
        let r1 = phase.ramp_to.unwrap_or(r0);
        for _ in 0..phase.burst {
            times.push(phase_start_ms);
        }
        let expected_total = (r0 + r1) / 2.0 * duration_s;
        let users = expected_total.round() as u64;
        for k in 0..users {
            if times.len() >= MAX_USERS {
                return times;
            }
            let target = k as f64 + 0.5;
            let t = time_for_count(target, r0, r1, duration_s).min(duration_s);
            times.push(phase_start_ms + (t * 1000.0).floor() as u64);
        }
        phase_start_ms += phase.duration_s * 1000;
    }
    times
}

/// [`arrival_times_ms`] with each rate-driven arrival moved later by a
/// uniform draw from `[0, jitter x the phase's mean gap)`, from the seed's
/// own `arrivals` stream, then sorted. Artillery spaces arrivals evenly,
/// so without jitter two users of a constant-rate phase never arrive
/// closer than the gap, and seeds cannot line them up; with `jitter = 1`
/// any two may meet. Burst users still arrive together at their phase's
/// start. The number of users does not change.
pub fn jittered_arrival_times_ms(phases: &[Phase], jitter: f64, seed: Seed) -> Vec<u64> {
    let mut rng = seed.stream("arrivals");
    let mut times = Vec::new();
    let mut phase_start_ms = 0u64;
    let mut plain = arrival_times_ms(phases).into_iter();
    for phase in phases {
        let phase_end_ms = phase_start_ms.saturating_add(phase.duration_s.saturating_mul(1000));
        let r0 = phase.arrival_rate;
        let r1 = phase.ramp_to.unwrap_or(r0);
        let users = ((r0 + r1) / 2.0 * phase.duration_s as f64).round() as u64;
        let mean_gap_ms = if users > 0 {
            phase.duration_s as f64 * 1000.0 / users as f64
        } else {
            0.0
        };
        let spread_ms = (jitter.clamp(0.0, 1.0) * mean_gap_ms) as u64;
        for _ in 0..phase.burst {
            times.extend(plain.next());
        }
        for _ in 0..users {
            let Some(at) = plain.next() else { break };
            let late = if spread_ms > 0 {
                rng.below(spread_ms)
            } else {
                0
            };
            times.push(at.saturating_add(late).min(phase_end_ms));
        }
        phase_start_ms = phase_end_ms;
    }
    times.sort_unstable();
    times
}

/// Solves `r0 t + (r1 - r0) t² / 2T = n` for `t` in seconds.
fn time_for_count(n: f64, r0: f64, r1: f64, duration_s: f64) -> f64 {
    let a = (r1 - r0) / (2.0 * duration_s);
    if a.abs() < 1e-12 {
        return if r0 > 0.0 { n / r0 } else { duration_s };
    }
    let discriminant = r0 * r0 + 4.0 * a * n;
    if discriminant < 0.0 {
        return duration_s;
    }
    (-r0 + discriminant.sqrt()) / (2.0 * a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_moves_arrivals_within_the_gap_and_keeps_their_number() {
        let phases = [phase(10, 5.0, None)];
        let even = arrival_times_ms(&phases);
        let jittered = jittered_arrival_times_ms(&phases, 1.0, Seed(3));
        assert_eq!(even.len(), jittered.len());
        assert_ne!(even, jittered, "a seed moves arrivals");
        assert_eq!(jittered, jittered_arrival_times_ms(&phases, 1.0, Seed(3)));
        assert_ne!(jittered, jittered_arrival_times_ms(&phases, 1.0, Seed(4)));
        assert!(jittered.windows(2).all(|w| w[0] <= w[1]));
        assert!(jittered.iter().all(|&t| t <= 10_000));
        assert_eq!(jittered_arrival_times_ms(&phases, 0.0, Seed(3)), even);
        // Some pair now arrives closer than the even 200 ms gap.
        assert!(jittered.windows(2).any(|w| w[1] - w[0] < 100));
    }

    fn phase(duration_s: u64, rate: f64, ramp_to: Option<f64>) -> Phase {
        Phase {
            duration_s,
            arrival_rate: rate,
            ramp_to,
            burst: 0,
            max_users: None,
        }
    }

    #[test]
    fn constant_rate_spaces_users_evenly() {
        let times = arrival_times_ms(&[phase(60, 50.0, None)]);
        assert_eq!(times.len(), 3000);
        assert_eq!(times[0], 10);
        assert_eq!(times[1] - times[0], 20);
        assert!(*times.last().unwrap() < 60_000);
    }

    #[test]
    fn ramp_counts_the_area_under_the_rate() {
        let times = arrival_times_ms(&[phase(300, 0.0, Some(200.0 / 300.0 * 300.0 / 150.0))]);
        // 0 -> 1.333/s over 300 s: 200 users, denser at the end.
        assert_eq!(times.len(), 200);
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        let first_half = times.iter().filter(|&&t| t < 150_000).count();
        assert!(first_half < 100, "{first_half}");
    }

    #[test]
    fn phases_follow_each_other_and_bursts_arrive_at_once() {
        let mut burst = phase(1, 0.0, None);
        burst.burst = 50;
        let times = arrival_times_ms(&[phase(2, 1.0, None), burst]);
        assert_eq!(times.len(), 52);
        assert!(times[2..].iter().all(|&t| t == 2000));
    }
}
