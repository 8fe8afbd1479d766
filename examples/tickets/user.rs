//! The virtual user: holds a seat, thinks (sometimes past the hold's
//! expiry), then confirms or releases it. `send` resends after a timeout.

use crate::service::{Op, Request, Response};
use crate::Tickets;
use overbook::system::UserContext;

pub async fn run(mut user: UserContext<Tickets>) {
    let (workload, client) = (user.settings.workload.clone(), user.index);
    for hold in 0..workload.ops_per_user {
        let held = user.send(Request::new(client, hold, Op::Hold)).await;
        let think_ms = user.rng.between(0, workload.think_ms_max);
        user.sleep_ms(think_ms).await;
        if let Some(Response::Held { .. }) = held {
            let confirm = user.rng.chance(workload.confirm_probability);
            let op = if confirm { Op::Confirm } else { Op::Release };
            user.send(Request::new(client, hold, op)).await;
        }
    }
}
