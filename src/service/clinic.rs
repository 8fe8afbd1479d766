//! The bundled services as one [`System`]: the appointment board, the
//! authorization units and room assignment behind one API, as the clinic
//! back end of the load-test reports served them (a `clinic-day` user mixes
//! all three). Everything here uses only the public system API.

use super::explore_clients::explore_clients;
use super::settings::ClinicSettings;
use super::user::User;
use super::{sql_schema, Api, Dataset, Request, RequestBody, Response, ResponseBody, Variant};
use crate::invariant::{Checker, INVARIANTS};
use overbook::error::InputError;
use overbook::seed::Seed;
use overbook::store::{CommitEvent, Store};
use overbook::system::{
    ExploreContext, FromContext, InvariantInfo, Invariants, Message, Reply, ServerContext,
    Sometimes, System, UserContext, VariantInfo, Violation,
};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

/// The board, units and rooms services of the load-test reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clinic;

/// Every variant, as [`Variant::ALL`] names and describes them (a test
/// keeps the two lists equal).
const VARIANTS: &[VariantInfo] = &[
    VariantInfo {
        name: "correct",
        description: "all services correct",
    },
    VariantInfo {
        name: "units/read-committed",
        description: "reserve reads then writes counters at Read Committed without FOR UPDATE",
    },
    VariantInfo {
        name: "units/no-idempotency",
        description: "idempotency keys ignored: a retried reserve reserves twice",
    },
    VariantInfo {
        name: "board/no-version-check",
        description: "moves ignore expected_version (lost update)",
    },
    VariantInfo {
        name: "board/version-not-incremented",
        description: "a move does not bump the version",
    },
    VariantInfo {
        name: "rooms/check-then-insert-repeatable-read",
        description: "check-then-insert at Repeatable Read, no exclusion constraint (write skew)",
    },
    VariantInfo {
        name: "rooms/inclusive-end",
        description: "overlap test treats touching intervals as free and drops the cleaning buffer",
    },
    VariantInfo {
        name: "rooms/stale-availability-cache",
        description: "availability read from a per-server cache outside the transaction",
    },
];

/// Added to a request's id when the model checker resends it after a lost
/// response (request ids number a client's operations in their low bits).
const RESEND_ID_STEP: u64 = 1 << 24;

fn clinic_variant(variant: overbook::system::Variant) -> Variant {
    // Only declared names reach a system; an unknown one would be a harness
    // bug, and the correct service is the safe reading of it.
    Variant::parse(variant.name()).unwrap_or(Variant::Correct)
}

impl Message for Request {
    fn operation(&self) -> &'static str {
        self.body.op_name()
    }

    fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }
}

impl Reply for Response {
    fn status(&self) -> u16 {
        self.status
    }

    fn attempts(&self) -> u32 {
        self.attempts
    }
}

impl Invariants<Clinic> for Checker {
    fn on_commit(&mut self, event: &CommitEvent, _now_ms: u64) -> Result<(), Violation> {
        Checker::on_commit(self, event)
    }

    fn on_response(
        &mut self,
        request: &Request,
        response: &Response,
        now_ms: u64,
    ) -> Result<(), Violation> {
        Checker::on_response(self, request, response, now_ms)
    }

    fn at_end(&mut self, store: &Store, _now_ms: u64) -> Result<(), Violation> {
        Checker::at_end(self, store)
    }

    fn checks(&self) -> BTreeMap<&'static str, u64> {
        Checker::checks(self)
    }
}

impl FromContext<Clinic> for Api {
    fn from_context(context: ServerContext<Clinic>) -> Api {
        Api::new(
            context.database,
            context.env,
            context.settings.service.clone(),
            clinic_variant(context.variant),
            context.data,
            context.rng.into_inner().unwrap_or_else(|e| e.into_inner()),
        )
    }
}

impl System for Clinic {
    type Settings = ClinicSettings;
    type Data = Dataset;
    type Request = Request;
    type Response = Response;
    type Server = Api;
    type Checker = Checker;

    fn name(&self) -> &'static str {
        "clinic"
    }

    fn variants(&self) -> &'static [VariantInfo] {
        VARIANTS
    }

    fn invariants(&self) -> &'static [InvariantInfo] {
        INVARIANTS
    }

    fn validate(&self, settings: &ClinicSettings) -> Result<(), InputError> {
        super::settings::validate(settings)
    }

    fn retry_config(
        settings: &ClinicSettings,
    ) -> Option<(&'static str, &overbook::system::kit::RetryConfig)> {
        Some(("service.retry", &settings.service.retry))
    }

    fn data_size_bytes(&self, settings: &ClinicSettings) -> u64 {
        settings.data.size_bytes()
    }

    fn sql_schema(&self, variant: overbook::system::Variant) -> String {
        sql_schema(clinic_variant(variant))
    }

    fn data(&self, settings: &ClinicSettings, seed: Seed) -> Dataset {
        Dataset::generate(&settings.data, seed)
    }

    fn load(&self, data: &Dataset, store: &Store) {
        data.load_into(store);
    }

    fn handle(api: &Api, request: Request, source: u32) -> impl Future<Output = Response> {
        api.handle(request, source)
    }

    fn user(&self, user: UserContext<Clinic>) -> impl Future<Output = ()> {
        User::new(user).run()
    }

    fn checker(&self, data: Arc<Dataset>, _settings: &ClinicSettings) -> Checker {
        Checker::new(data)
    }

    fn explore_clients(&self, context: ExploreContext<'_, Clinic>) -> Vec<Vec<Request>> {
        explore_clients(context)
    }

    fn resend(&self, request: &Request) -> Request {
        let mut resent = request.clone();
        resent.request_id += RESEND_ID_STEP;
        resent
    }

    fn sometimes(
        &self,
        settings: &ClinicSettings,
        clients: &[Vec<Request>],
    ) -> Vec<Sometimes<Clinic>> {
        let bodies = || clients.iter().flatten().map(|r| &r.body);
        let mut conditions = Vec::new();
        // Board moves are optimistic and never retried by the server.
        if settings.service.retry.attempts > 1
            && bodies().any(|b| !matches!(b, RequestBody::Move { .. } | RequestBody::GetBoard))
        {
            conditions.push(Sometimes {
                name: "a 40001 retried to success",
                reached: |exchanges: &[(Request, Response, u64)]| {
                    exchanges
                        .iter()
                        .any(|(_, r, _)| r.status < 300 && r.attempts > 1)
                },
            });
        }
        conditions.push(Sometimes {
            name: "a 409 conflict answered",
            reached: |exchanges: &[(Request, Response, u64)]| {
                exchanges.iter().any(|(_, r, _)| r.status == 409)
            },
        });
        if bodies().any(|b| matches!(b, RequestBody::Book { .. })) {
            conditions.push(Sometimes {
                name: "a 409 with alternatives",
                reached: |exchanges: &[(Request, Response, u64)]| {
                    exchanges.iter().any(|(_, r, _)| {
                        matches!(&r.body, ResponseBody::NoRoom { alternatives, .. } if !alternatives.is_empty())
                    })
                },
            });
        }
        conditions.push(Sometimes {
            name: "every request succeeded",
            reached: |exchanges: &[(Request, Response, u64)]| {
                !exchanges.is_empty() && exchanges.iter().all(|(_, r, _)| r.status < 300)
            },
        });
        conditions
    }

    fn operations_per_user(&self, settings: &ClinicSettings) -> Option<(&'static str, u64)> {
        Some((
            "workload.ops_per_user",
            settings.workload.ops_per_user.into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_variants_are_the_service_variants() {
        let declared: Vec<(&str, &str)> =
            VARIANTS.iter().map(|v| (v.name, v.description)).collect();
        let actual: Vec<(&str, &str)> = Variant::ALL
            .iter()
            .map(|v| (v.name(), v.description()))
            .collect();
        assert_eq!(declared, actual);
        for info in VARIANTS {
            let variant = Clinic.variant(info.name).expect("declared");
            assert_eq!(clinic_variant(variant).name(), info.name);
        }
        assert_eq!(Clinic.variant("units/typo"), None);
    }
}
