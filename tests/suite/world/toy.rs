//! A toy system for harness behaviour that no bundled service shows: each
//! user sends one `Ping` with its index; the `toy/handler-panics` variant
//! panics on user 3's request, `toy/user-panics` panics in user 3 itself.

use overbook::seed::Seed;
use overbook::store::{CommitEvent, Schema, Store};
use overbook::system::*;
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, future::Future, sync::Arc};

#[derive(Clone)]
pub struct Toy;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ping(pub u32);

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pong(pub u16);

impl Message for Ping {
    fn operation(&self) -> &'static str {
        "ping"
    }
}

impl Reply for Pong {
    fn status(&self) -> u16 {
        self.0
    }
}

pub struct Answered(Tally);

impl Invariants<Toy> for Answered {
    fn on_commit(&mut self, _: &CommitEvent, _: u64) -> Result<(), Violation> {
        Ok(())
    }
    fn on_response(&mut self, _: &Ping, pong: &Pong, _: u64) -> Result<(), Violation> {
        self.0
            .check("answered", pong.0 == 200, || format!("status {}", pong.0))
    }
    fn at_end(&mut self, _: &Store, _: u64) -> Result<(), Violation> {
        Ok(())
    }
    fn checks(&self) -> BTreeMap<&'static str, u64> {
        self.0.counts()
    }
}

impl System for Toy {
    type Settings = BTreeMap<String, toml::Value>;
    type Data = ();
    type Request = Ping;
    type Response = Pong;
    type Server = Variant;
    type Checker = Answered;

    fn name(&self) -> &'static str {
        "toy"
    }
    fn variants(&self) -> &'static [VariantInfo] {
        &[
            VariantInfo {
                name: "correct",
                description: "answers every ping",
            },
            VariantInfo {
                name: "toy/handler-panics",
                description: "the handler panics on user 3's ping",
            },
        ]
    }
    fn invariants(&self) -> &'static [InvariantInfo] {
        &[InvariantInfo {
            name: "answered",
            description: "every ping gets a 200",
        }]
    }
    fn schema(&self, _: Variant) -> Schema {
        Schema::default()
    }
    fn data(&self, _: &Self::Settings, _: Seed) {}
    fn load(&self, _: &(), _: &Store) {}
    fn server(&self, context: ServerContext<Toy>) -> Variant {
        context.variant
    }
    fn handle(variant: &Variant, ping: Ping, _: u32) -> impl Future<Output = Pong> {
        let variant = *variant;
        async move {
            if variant.is("toy/handler-panics") && ping.0 == 3 {
                panic!("ping 3 is not welcome");
            }
            Pong(200)
        }
    }
    fn user(&self, mut user: UserContext<Toy>) -> impl Future<Output = ()> {
        async move {
            let index = user.index;
            let panics = user
                .settings
                .get("workload")
                .and_then(|w| w.get("user_panics"));
            if index == 3 && panics.and_then(toml::Value::as_bool) == Some(true) {
                panic!("user 3 gives up");
            }
            let _ = user.call(Ping(index)).await;
        }
    }
    fn checker(&self, _: Arc<()>, _: &Self::Settings) -> Answered {
        Answered(Tally::default())
    }
    fn explore_clients(&self, context: ExploreContext<'_, Toy>) -> Vec<Vec<Ping>> {
        (0..context.clients)
            .map(|c| vec![Ping(c); context.ops as usize])
            .collect()
    }
}
