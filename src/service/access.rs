//! Access checks. They run before any transaction and before the retry
//! wrapper: a 401 or 403 is decided by the token and the static data set
//! alone, so it is never retried and never costs a database round trip.

use super::api::{Request, RequestBody, Response, ResponseBody, Role, Token};

/// What an operation needs from the caller's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Reading: every role.
    Read,
    /// Booking rooms: staff and schedulers.
    Book,
    /// Moving appointments and managing units: schedulers only.
    Schedule,
}

impl Permission {
    /// The permission `body` needs.
    pub fn of(body: &RequestBody) -> Permission {
        match body {
            RequestBody::GetBoard => Permission::Read,
            RequestBody::Book { .. } => Permission::Book,
            RequestBody::Move { .. }
            | RequestBody::Reserve { .. }
            | RequestBody::Release { .. }
            | RequestBody::Consume { .. } => Permission::Schedule,
        }
    }

    /// Whether `role` has this permission. Auditors never write.
    pub fn granted_to(self, role: Role) -> bool {
        match self {
            Permission::Read => true,
            Permission::Book => matches!(role, Role::Staff | Role::Scheduler),
            Permission::Schedule => role == Role::Scheduler,
        }
    }
}

/// 401 without a token or with one expired at `now_ms`; 403 when the role
/// lacks the operation's permission. Organization checks come later, per
/// service, once the target's organization is known.
pub fn authenticate(request: &Request, now_ms: u64) -> Result<Token, Response> {
    let Some(token) = request.token else {
        return Err(unauthorized());
    };
    if now_ms >= token.expires_at_ms {
        return Err(unauthorized());
    }
    if !Permission::of(&request.body).granted_to(token.role) {
        return Err(forbidden());
    }
    Ok(token)
}

/// 403 unless `organization` is the caller's.
pub fn same_organization(token: &Token, organization: u32) -> Result<(), Response> {
    if token.organization == organization {
        Ok(())
    } else {
        Err(forbidden())
    }
}

/// A 401 response.
pub fn unauthorized() -> Response {
    Response {
        status: 401,
        attempts: 0,
        body: ResponseBody::Unauthorized,
    }
}

/// A 403 response.
pub fn forbidden() -> Response {
    Response {
        status: 403,
        attempts: 0,
        body: ResponseBody::Forbidden,
    }
}
