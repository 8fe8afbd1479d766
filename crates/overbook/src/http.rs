//! A team's own HTTP app as the system under test: any
//! `tower::Service<http::Request>` (an axum `Router`, a hyper service)
//! runs on the world's API hosts, and virtual users send it HTTP requests
//! (method, path, headers, JSON body) and read statuses and JSON back.
//!
//! A service written this way implements [`System`]
//! with [`HttpRequest`] and [`HttpResponse`] as its messages and an
//! [`HttpApp`] as (or inside) its server:
//!
//! ```
//! use overbook::http::{HttpApp, HttpRequest, HttpResponse};
//! use overbook::store::block_on;
//!
//! // Any tower service over `http` types: here a closure; a team's axum
//! // `Router` in practice (`HttpApp::new(router)`).
//! let app = HttpApp::from_fn(|request: http::Request<bytes::Bytes>| async move {
//!     let status = if request.uri().path() == "/health" { 200 } else { 404 };
//!     http::Response::builder()
//!         .status(status)
//!         .body(bytes::Bytes::from_static(b"{\"ok\":true}"))
//!         .unwrap()
//! });
//! let response: HttpResponse = block_on(app.handle(HttpRequest::get("/health")));
//! assert_eq!(response.status, 200);
//! assert_eq!(response.body["ok"], true);
//! ```
//!
//! Requests are named in reports by method and route
//! (`requests."POST /holds/{id}/confirm".200`): the route is the path with
//! its query dropped and each segment that is an id (a number or a uuid)
//! written `{id}`, unless the request names its route
//! ([`HttpRequest::route`]).
//!
//! On the simulated network a request and its response travel as one
//! JSON frame each, over the same turmoil connections, timeouts, lost
//! responses and crashes as any service's; the app sees a real
//! `http::Request` (method, URI, headers, body bytes) and answers a real
//! `http::Response`, so its router, extractors, middleware and handlers
//! run unchanged. HTTP/1.1's own framing (hyper's parser) is the part not
//! simulated.

use crate::system::{Message, Reply, System, UserContext};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};

/// The header a request's idempotency key travels in (shown in traces as
/// the request's key).
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// An HTTP request a virtual user sends.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path and query (`/events/3/holds?dry_run=1`).
    pub path: String,
    /// Headers, in order (names lower case).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// The JSON body, if any (sent with `content-type: application/json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// The route reports name it by, when the path alone would not tell
    /// it (see the module docs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
}

impl HttpRequest {
    /// A request with `method` and `path`, no headers and no body.
    pub fn new(method: &str, path: impl Into<String>) -> HttpRequest {
        HttpRequest {
            method: method.to_ascii_uppercase(),
            path: path.into(),
            ..HttpRequest::default()
        }
    }

    /// `GET path`.
    pub fn get(path: impl Into<String>) -> HttpRequest {
        HttpRequest::new("GET", path)
    }

    /// `POST path`.
    pub fn post(path: impl Into<String>) -> HttpRequest {
        HttpRequest::new("POST", path)
    }

    /// `PUT path`.
    pub fn put(path: impl Into<String>) -> HttpRequest {
        HttpRequest::new("PUT", path)
    }

    /// `PATCH path`.
    pub fn patch(path: impl Into<String>) -> HttpRequest {
        HttpRequest::new("PATCH", path)
    }

    /// `DELETE path`.
    pub fn delete(path: impl Into<String>) -> HttpRequest {
        HttpRequest::new("DELETE", path)
    }

    /// With `body` as its JSON body.
    pub fn json(mut self, body: Value) -> HttpRequest {
        self.body = Some(body);
        self
    }

    /// With header `name: value` (the name is lower-cased, as HTTP/2 and
    /// the `http` crate write them).
    pub fn header(mut self, name: &str, value: impl Into<String>) -> HttpRequest {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// With an `Idempotency-Key` header.
    pub fn with_idempotency_key(self, key: impl Into<String>) -> HttpRequest {
        self.header(IDEMPOTENCY_KEY, key)
    }

    /// Named `route` in reports (`/holds/{hold}/confirm`) instead of the
    /// route the path gives.
    pub fn route(mut self, route: impl Into<String>) -> HttpRequest {
        self.route = Some(route.into());
        self
    }

    /// The value of header `name`, if the request has it.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `METHOD /route`, as reports name the request.
    pub fn label(&self) -> String {
        let route = match &self.route {
            Some(route) => route.clone(),
            None => route_of(&self.path),
        };
        format!("{} {route}", self.method)
    }

    /// The request as the `http` crate's type, its body as bytes.
    pub fn to_http(&self) -> Result<http::Request<Bytes>, http::Error> {
        let mut builder = http::Request::builder()
            .method(self.method.as_str())
            .uri(self.path.as_str());
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let body = match &self.body {
            Some(body) => {
                if self.header_value("content-type").is_none() {
                    builder = builder.header("content-type", "application/json");
                }
                Bytes::from(serde_json::to_vec(body).expect("a JSON value serializes"))
            }
            None => Bytes::new(),
        };
        builder.body(body)
    }
}

/// The route of `path`: its query dropped, and each segment that is a
/// number or a uuid written `{id}`.
pub fn route_of(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segments: Vec<&str> = path
        .split('/')
        .map(|segment| if is_id(segment) { "{id}" } else { segment })
        .collect();
    let route = segments.join("/");
    if route.is_empty() {
        "/".to_string()
    } else {
        route
    }
}

fn is_id(segment: &str) -> bool {
    let digits = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
    let uuid = segment.len() == 36
        && segment.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    digits || uuid
}

/// A request's label as the `&'static str` reports key by. Labels are a
/// service's routes times its methods, a small set: each distinct one is
/// kept once for the process's life.
fn intern(label: String) -> &'static str {
    static LABELS: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
    let mut labels = LABELS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(known) = labels.get(label.as_str()) {
        return known;
    }
    let leaked: &'static str = Box::leak(label.into_boxed_str());
    labels.insert(leaked);
    leaked
}

impl Message for HttpRequest {
    fn operation(&self) -> &'static str {
        intern(self.label())
    }

    fn idempotency_key(&self) -> Option<&str> {
        self.header_value(IDEMPOTENCY_KEY)
    }
}

/// What the app answered.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Headers the app set, in order (names lower case).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// The body: its JSON when it parses as JSON, else its text as a JSON
    /// string, `null` when empty.
    #[serde(default)]
    pub body: Value,
}

impl HttpResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The value of header `name`, if the response has it.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The string at JSON pointer `pointer` in the body (`/hold_id`).
    pub fn str_at(&self, pointer: &str) -> Option<&str> {
        self.body.pointer(pointer).and_then(Value::as_str)
    }

    /// The integer at JSON pointer `pointer` in the body.
    pub fn i64_at(&self, pointer: &str) -> Option<i64> {
        self.body.pointer(pointer).and_then(Value::as_i64)
    }

    /// The response of an `http::Response` with its body collected.
    pub fn from_http(response: http::Response<Bytes>) -> HttpResponse {
        let (parts, body) = response.into_parts();
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
        };
        HttpResponse {
            status: parts.status.as_u16(),
            headers,
            body,
        }
    }
}

impl Reply for HttpResponse {
    fn status(&self) -> u16 {
        self.status
    }
}

type BoxResponse = Pin<Box<dyn Future<Output = http::Response<Bytes>>>>;
type Dispatch = dyn Fn(http::Request<Bytes>) -> BoxResponse + Send + Sync;

/// A team's HTTP app, as one API host runs it: a `tower::Service` over
/// `http` types, called once per request with the request's body as
/// bytes, its response body collected.
#[derive(Clone)]
pub struct HttpApp {
    dispatch: Arc<Dispatch>,
}

impl std::fmt::Debug for HttpApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpApp")
    }
}

impl HttpApp {
    /// The app of `service` (an axum `Router`, with its state), which
    /// gets each request's body whole, as `http_body_util::Full` (a body
    /// type every router and hyper service accepts). A service error
    /// (axum's routers have none) answers 500 with its message.
    pub fn new<Svc, ResponseBody>(service: Svc) -> HttpApp
    where
        Svc: tower_service::Service<
                http::Request<http_body_util::Full<Bytes>>,
                Response = http::Response<ResponseBody>,
            > + Clone
            + Send
            + Sync
            + 'static,
        Svc::Future: 'static,
        Svc::Error: std::fmt::Display,
        ResponseBody: http_body::Body<Data = Bytes> + 'static,
        ResponseBody::Error: std::fmt::Display,
    {
        HttpApp {
            dispatch: Arc::new(move |request: http::Request<Bytes>| {
                let mut service = service.clone();
                Box::pin(async move {
                    let request = request.map(http_body_util::Full::new);
                    let answered = async {
                        std::future::poll_fn(|cx| service.poll_ready(cx))
                            .await
                            .map_err(|e| e.to_string())?;
                        let response = service.call(request).await.map_err(|e| e.to_string())?;
                        let (parts, body) = response.into_parts();
                        let body = http_body_util::BodyExt::collect(body)
                            .await
                            .map_err(|e| e.to_string())?
                            .to_bytes();
                        Ok::<_, String>(http::Response::from_parts(parts, body))
                    };
                    answered.await.unwrap_or_else(server_error)
                })
            }),
        }
    }

    /// The app of a plain async function from request to response.
    pub fn from_fn<F, Fut>(handler: F) -> HttpApp
    where
        F: Fn(http::Request<Bytes>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = http::Response<Bytes>> + 'static,
    {
        HttpApp {
            dispatch: Arc::new(move |request| Box::pin(handler(request))),
        }
    }

    /// Runs `request` through the app. A request the `http` crate refuses
    /// (a malformed path or header) answers 400 without reaching it.
    pub async fn handle(&self, request: HttpRequest) -> HttpResponse {
        match request.to_http() {
            Ok(request) => HttpResponse::from_http((self.dispatch)(request).await),
            Err(err) => HttpResponse {
                status: 400,
                headers: Vec::new(),
                body: Value::String(format!("malformed request: {err}")),
            },
        }
    }
}

fn server_error(message: String) -> http::Response<Bytes> {
    let mut response = http::Response::new(Bytes::from(message));
    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    response
}

/// Runs the scenario's `[flow]` as this user (see
/// [`crate::scenario::Flow`]), or nothing when the scenario has none: a
/// service whose users speak HTTP calls it from [`System::user`]:
///
/// ```no_run
/// use overbook::http::{run_flow, HttpRequest, HttpResponse};
/// use overbook::prelude::*;
///
/// // What a service's `System::user` does.
/// async fn user<S>(user: UserContext<S>)
/// where
///     S: System<Request = HttpRequest, Response = HttpResponse>,
/// {
///     if user.flow().is_some() {
///         return run_flow(user).await;
///     }
///     // ... the service's own Rust user
/// }
/// ```
///
/// Each request is sent as [`UserContext::send`] sends (resent after a
/// timeout, recorded, checked).
///
/// [`System::user`]: crate::system::System::user
/// [`UserContext::send`]: crate::system::UserContext::send
pub async fn run_flow<S>(mut user: UserContext<S>)
where
    S: System<Request = HttpRequest, Response = HttpResponse>,
{
    let Some(flow) = user.flow().cloned() else {
        return;
    };
    for iteration in 0..flow.iterations {
        let mut vars: BTreeMap<String, Value> = BTreeMap::new();
        vars.insert("user".into(), Value::from(user.index));
        vars.insert("iteration".into(), Value::from(iteration));
        for (name, var) in &flow.vars {
            let value = match var.between {
                Some([lo, hi]) => {
                    let span = hi.abs_diff(lo);
                    Value::from(lo.wrapping_add(user.rng.between(0, span) as i64))
                }
                None => {
                    let pick = user.rng.below(var.pick.len() as u64) as usize;
                    Value::from(var.pick[pick].clone())
                }
            };
            vars.insert(name.clone(), value);
        }
        let mut ran: Vec<&str> = Vec::new();
        for step in &flow.steps {
            if step
                .unless
                .as_ref()
                .is_some_and(|u| ran.contains(&u.as_str()))
            {
                continue;
            }
            if step.probability.is_some_and(|p| !user.rng.chance(p)) {
                continue;
            }
            if let Some([lo, hi]) = step.think_ms {
                user.think_ms(lo, hi).await;
            }
            ran.push(&step.name);
            let mut request = HttpRequest::new(&step.method, fill(&step.path, &vars))
                .route(fill_route(&step.path));
            for (name, value) in &step.headers {
                request = request.header(name, fill(value, &vars));
            }
            if let Some(json) = &step.json {
                let json = serde_json::to_value(json).expect("TOML is JSON");
                request = request.json(fill_json(json, &vars));
            }
            let Some(response) = user.send(request).await else {
                break;
            };
            let expected = if step.expect.is_empty() {
                response.is_success()
            } else {
                step.expect.contains(&response.status)
            };
            if !expected || !capture(&step.capture, &response, &mut user.rng, &mut vars) {
                break;
            }
        }
    }
}

/// `template` with each `{var}` replaced by the var's text.
fn fill(template: &str, vars: &BTreeMap<String, Value>) -> String {
    let mut out = template.to_string();
    for (name, value) in vars {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out = out.replace(&format!("{{{name}}}"), &text);
    }
    out
}

/// The route a step's requests are reported under: its path template,
/// each placeholder written `{id}` as [`route_of`] writes ids.
fn fill_route(template: &str) -> String {
    let mut route = template.split(['?', '#']).next().unwrap_or("").to_string();
    for name in crate::scenario::placeholders(template) {
        route = route.replace(&format!("{{{name}}}"), "{id}");
    }
    route
}

/// `json` with placeholders filled: a string that is one placeholder
/// alone becomes the var's value with its type (`"{seats}"` a number).
fn fill_json(json: Value, vars: &BTreeMap<String, Value>) -> Value {
    match json {
        Value::String(s) => {
            let whole = s
                .strip_prefix('{')
                .and_then(|r| r.strip_suffix('}'))
                .and_then(|name| vars.get(name));
            match whole {
                Some(value) => value.clone(),
                None => Value::String(fill(&s, vars)),
            }
        }
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| fill_json(v, vars)).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, fill_json(v, vars)))
                .collect(),
        ),
        other => other,
    }
}

/// Takes each capture from `response`'s body into `vars`; false when one
/// is missing.
fn capture(
    captures: &BTreeMap<String, String>,
    response: &HttpResponse,
    rng: &mut crate::seed::Rng64,
    vars: &mut BTreeMap<String, Value>,
) -> bool {
    for (name, pointer) in captures {
        let Some(value) = at_pointer(&response.body, pointer, rng) else {
            return false;
        };
        vars.insert(name.clone(), value);
    }
    true
}

/// The value at JSON pointer `pointer`, a `*` segment taking a random
/// element of an array (none when the array is empty).
fn at_pointer(body: &Value, pointer: &str, rng: &mut crate::seed::Rng64) -> Option<Value> {
    match pointer.split_once("/*") {
        None => body.pointer(pointer).cloned(),
        Some((before, after)) => {
            let items = body.pointer(before)?.as_array()?;
            if items.is_empty() {
                return None;
            }
            let item = &items[rng.below(items.len() as u64) as usize];
            at_pointer(item, after, rng)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::block_on;

    #[test]
    fn routes_write_ids_as_placeholders_and_drop_the_query() {
        assert_eq!(route_of("/holds/42/confirm?x=1"), "/holds/{id}/confirm");
        assert_eq!(
            route_of("/events/6f1c2a9e-1b2c-4d5e-8f90-123456789abc/holds"),
            "/events/{id}/holds"
        );
        assert_eq!(route_of("/events/rock-night"), "/events/rock-night");
        assert_eq!(route_of(""), "/");
        let request = HttpRequest::post("/holds/7/confirm");
        assert_eq!(request.operation(), "POST /holds/{id}/confirm");
        // Interned: the same label is the same string.
        assert!(std::ptr::eq(
            request.operation(),
            HttpRequest::post("/holds/8/confirm").operation()
        ));
        assert_eq!(
            HttpRequest::post("/x/1").route("/x/{hold}").operation(),
            "POST /x/{hold}"
        );
    }

    #[test]
    fn the_app_sees_method_path_headers_and_json_and_answers_json() {
        let app = HttpApp::from_fn(|request: http::Request<Bytes>| async move {
            let echo = serde_json::json!({
                "method": request.method().as_str(),
                "path": request.uri().to_string(),
                "key": request.headers()["idempotency-key"].to_str().unwrap(),
                "type": request.headers()["content-type"].to_str().unwrap(),
                "body": serde_json::from_slice::<Value>(request.body()).unwrap(),
            });
            http::Response::builder()
                .status(201)
                .header("location", "/holds/9")
                .body(Bytes::from(serde_json::to_vec(&echo).unwrap()))
                .unwrap()
        });
        let request = HttpRequest::post("/events/3/holds?dry=1")
            .with_idempotency_key("u1-op1")
            .json(serde_json::json!({"seats": 2}));
        assert_eq!(Message::idempotency_key(&request), Some("u1-op1"));
        let response = block_on(app.handle(request));
        assert_eq!(response.status, 201);
        assert_eq!(response.header_value("Location"), Some("/holds/9"));
        assert_eq!(response.str_at("/method"), Some("POST"));
        assert_eq!(response.str_at("/path"), Some("/events/3/holds?dry=1"));
        assert_eq!(response.str_at("/key"), Some("u1-op1"));
        assert_eq!(response.str_at("/type"), Some("application/json"));
        assert_eq!(response.i64_at("/body/seats"), Some(2));
    }

    #[test]
    fn a_body_that_is_not_json_is_kept_as_text_and_a_bad_path_is_a_400() {
        let app = HttpApp::from_fn(|_| async {
            http::Response::builder()
                .status(409)
                .body(Bytes::from_static(b"sold out"))
                .unwrap()
        });
        let response = block_on(app.handle(HttpRequest::get("/x")));
        assert_eq!(
            (response.status, response.body.as_str()),
            (409, Some("sold out"))
        );
        let bad = block_on(app.handle(HttpRequest::get("/a b")));
        assert_eq!(bad.status, 400);
    }

    #[test]
    fn requests_and_responses_round_trip_as_json_frames() {
        let request = HttpRequest::delete("/holds/3").header("X-Trace", "t");
        let back: HttpRequest =
            serde_json::from_str(&serde_json::to_string(&request).unwrap()).unwrap();
        assert_eq!(back, request);
        assert_eq!(back.header_value("x-trace"), Some("t"));
    }
}
