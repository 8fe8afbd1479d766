//! The virtual user: holds seats, thinks (sometimes past the hold's
//! expiry), then confirms or releases them; resends after a timeout with
//! the same idempotency key.

use crate::service::{Op, Request};
use crate::Tickets;
use overbook::system::{Reply, UserContext};

/// Runs one user to its end.
pub async fn run(mut user: UserContext<Tickets>) {
    let (workload, me) = (user.settings.workload.clone(), user.index);
    for hold in 0..workload.ops_per_user {
        let event = user.rng.below(user.data.len().max(1) as u64) as u32;
        let seats = user.rng.between(1, workload.seats_max.max(1)) as i64;
        let held = send(&mut user, Request::new(me, event, hold, Op::Hold(seats))).await;
        let think_ms = user.rng.between(0, workload.think_ms_max);
        user.sleep_ms(think_ms).await;
        if held == Some(201) {
            let confirm = user.rng.chance(workload.confirm_probability);
            let op = if confirm { Op::Confirm } else { Op::Release };
            send(&mut user, Request::new(me, event, hold, op)).await;
        }
    }
}

/// Sends `request`, resending it after a timeout as the client policy
/// allows; the status, or `None` when no response came.
async fn send(user: &mut UserContext<Tickets>, request: Request) -> Option<u16> {
    for resend in 0..=user.policy.retries_on_timeout {
        if resend > 0 {
            user.count_client_retry();
        }
        if let Ok(response) = user.call(request.clone()).await {
            return Some(response.status());
        }
    }
    None
}
