//! In-process stand-ins for the world's network and clock, for a service's
//! own unit tests: a [`DirectTransport`] that hands requests straight to a
//! server, and a [`ManualClock`] that only moves when told (or slept on).
//!
//! overbook-clinic's `service` module docs run a virtual user of the
//! bundled clinic against one server this way, with no world around it.

use super::{CallFuture, Env, System, Transport};
use crate::store::{Pacer, PauseFuture, PausePoint};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A [`Transport`] without a network: every call runs the handler on one
/// server in the caller's task and never times out.
pub struct DirectTransport<S: System> {
    server: Rc<S::Server>,
    source: u32,
}

impl<S: System> DirectTransport<S> {
    /// Calls go to `server`, as from client host 0.
    pub fn new(server: Rc<S::Server>) -> DirectTransport<S> {
        DirectTransport { server, source: 0 }
    }

    /// Calls come from client host `source` (for per-source rate limits).
    pub fn from_source(mut self, source: u32) -> DirectTransport<S> {
        self.source = source;
        self
    }
}

impl<S: System> Transport<S> for DirectTransport<S> {
    fn call<'a>(
        &'a mut self,
        request: &'a S::Request,
        _timeout_ms: u64,
    ) -> CallFuture<'a, S::Response> {
        Box::pin(async move { Ok(S::handle(&self.server, request.clone(), self.source).await) })
    }

    /// The same server, from the same source.
    fn open_another(&mut self) -> Box<dyn Transport<S>> {
        Box::new(DirectTransport::<S> {
            server: self.server.clone(),
            source: self.source,
        })
    }
}

/// A clock that starts at 0 and moves only by [`ManualClock::advance`] or
/// when slept on (a sleep of `ms` moves it `ms` at once). Clones share the
/// time. It is also a [`Pacer`] whose statements never wait: installed on
/// a store ([`Store::set_pacer`](crate::store::Store::set_pacer)), the
/// database's clock ([`Tx::clock_ms`](crate::store::Tx::clock_ms)) is the
/// same clock.
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    now_ms: Arc<AtomicU64>,
}

impl ManualClock {
    /// Moves the clock `ms` forward.
    pub fn advance(&self, ms: u64) {
        self.now_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

impl Env for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::Relaxed)
    }

    fn sleep_ms(&self, ms: u64) -> PauseFuture {
        self.advance(ms);
        Box::pin(std::future::ready(()))
    }
}

impl Pacer for ManualClock {
    fn pause(&self, _point: &PausePoint) -> PauseFuture {
        Box::pin(std::future::ready(()))
    }

    fn sleep(&self, ms: u64) -> PauseFuture {
        self.sleep_ms(ms)
    }

    fn now_ms(&self) -> u64 {
        Env::now_ms(self)
    }
}
