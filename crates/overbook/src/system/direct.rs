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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;
    use crate::store::block_on;
    use crate::system::{ClientPolicy, FromContext, Observations, Observer};
    use std::sync::Mutex;

    /// A service that answers each number with itself; its server counts
    /// the calls it has answered, so an answer says when it was served.
    #[derive(Clone, Debug)]
    struct Echo;

    #[derive(Clone, Debug, Serialize, Deserialize)]
    struct Ask(u32);

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Said {
        number: u32,
        served: u32,
    }

    impl Message for Ask {
        fn operation(&self) -> &'static str {
            "ask"
        }
    }

    impl Reply for Said {
        fn status(&self) -> u16 {
            200
        }
    }

    #[derive(Default)]
    struct EchoServer {
        served: std::cell::Cell<u32>,
    }

    impl FromContext<Echo> for EchoServer {
        fn from_context(_: ServerContext<Echo>) -> Self {
            EchoServer::default()
        }
    }

    struct Nothing;

    impl Invariants<Echo> for Nothing {
        fn checks(&self) -> BTreeMap<&'static str, u64> {
            BTreeMap::new()
        }
    }

    impl System for Echo {
        type Settings = ();
        type Data = ();
        type Request = Ask;
        type Response = Said;
        type Server = EchoServer;
        type Checker = Nothing;

        fn name(&self) -> &'static str {
            "echo"
        }
        fn variants(&self) -> &'static [VariantInfo] {
            &const { [VariantInfo::new("correct", "answers at once")] }
        }
        fn invariants(&self) -> &'static [InvariantInfo] {
            &[]
        }
        fn data(&self, _: &(), _: Seed) {}
        fn load(&self, _: &(), _: &Store) {}
        async fn handle(server: &EchoServer, ask: Ask, _: u32) -> Said {
            server.served.set(server.served.get() + 1);
            let served = server.served.get();
            Said {
                number: ask.0,
                served,
            }
        }
        async fn user(&self, _: UserContext<Echo>) {}
        fn checker(&self, _: Arc<()>, _: &()) -> Nothing {
            Nothing
        }
        fn explore_clients(&self, _: ExploreContext<'_, Echo>) -> Vec<Vec<Ask>> {
            Vec::new()
        }
    }

    fn user(observer: &Observer<Echo>) -> UserContext<Echo> {
        let server = Rc::new(EchoServer::default());
        UserContext::new(
            4,
            Seed(1).stream("user"),
            Arc::new(()),
            Arc::new(()),
            ClientPolicy::default(),
            Arc::new(ManualClock::default()),
            Box::new(DirectTransport::<Echo>::new(server)),
            observer.clone(),
        )
    }

    #[test]
    fn two_requests_at_once_are_both_answered_and_recorded_as_the_users() {
        let observer: Observer<Echo> = Arc::new(Mutex::new(Observations::default()));
        let mut user = user(&observer);
        let (first, second) = block_on(user.send_both(Ask(1), Ask(2)));
        // The first is polled first, on the user's own connection.
        let said = |number, served| Some(Said { number, served });
        assert_eq!((first, second), (said(1, 1), said(2, 2)));
        let (first, second) = block_on(user.call_both(Ask(3), Ask(4)));
        assert_eq!((first.unwrap().number, second.unwrap().number), (3, 4));
        let seen = observer.lock().unwrap();
        let calls: Vec<(u32, u64)> = (seen.exchanges.iter())
            .map(|e| (e.client, e.request_id & 0xffff_ffff))
            .collect();
        assert_eq!(calls, [(4, 0), (4, 1), (4, 2), (4, 3)], "one counter");
    }
}
