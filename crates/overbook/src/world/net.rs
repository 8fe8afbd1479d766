//! The API servers' accept loops and the clients' transport, over turmoil TCP.

use super::faults::{HostFaults, HOST};
use crate::seed::Rng64;
use crate::system::{
    BackgroundTask, CallError, CallFuture, CatchPanic, Message, System, Transport,
};
use crate::wire::{read_frame, write_frame, WireError};
use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use turmoil::net::{TcpListener, TcpStream};

/// Panics caught in simulated code, for the world to report.
pub type Panics = Rc<RefCell<Vec<String>>>;

/// A finished round of a background job, for the world to trace and hash.
#[derive(Clone, Debug)]
pub struct BackgroundRun {
    /// Simulated time the round finished.
    pub at_ms: u64,
    /// The API server it ran on.
    pub server: u32,
    /// The job's name.
    pub task: &'static str,
}

/// Rounds of background jobs finished since the world last looked.
pub type BackgroundRuns = Rc<RefCell<Vec<BackgroundRun>>>;

/// A handler running on an API host, for the world's bound on how long a
/// handler runs.
#[derive(Clone, Debug)]
pub struct Running<S: System> {
    /// Simulated time the handler started.
    pub started_ms: u64,
    /// The API server.
    pub server: u32,
    /// The client host the request came from.
    pub source: u32,
    /// The request.
    pub request: S::Request,
}

/// A handler the world dropped because its client closed the connection
/// ([`System::cancellable`]).
#[derive(Clone, Debug)]
pub struct Cancelled {
    /// Simulated time it was dropped.
    pub at_ms: u64,
    /// The API server.
    pub server: u32,
    /// Its request's operation.
    pub op: &'static str,
}

/// Every API host's running handlers, in the order they started, and the
/// handlers cancelled since the world last looked.
pub struct Handlers<S: System> {
    next: u64,
    /// By start order (so the first is the longest running).
    pub running: std::collections::BTreeMap<u64, Running<S>>,
    /// Cancellations not yet seen by the world.
    pub cancelled: Vec<Cancelled>,
}

impl<S: System> Default for Handlers<S> {
    fn default() -> Self {
        Handlers {
            next: 0,
            running: std::collections::BTreeMap::new(),
            cancelled: Vec::new(),
        }
    }
}

/// The handlers' shared record.
pub type HandlerLog<S> = Rc<RefCell<Handlers<S>>>;

/// Keeps a handler in the record while it runs: dropped when it answers,
/// panics, is cancelled or its host crashes (which drops its tasks).
struct RunningGuard<S: System> {
    log: HandlerLog<S>,
    id: u64,
}

impl<S: System> RunningGuard<S> {
    fn new(log: &HandlerLog<S>, running: Running<S>) -> RunningGuard<S> {
        let mut handlers = log.borrow_mut();
        let id = handlers.next;
        handlers.next += 1;
        handlers.running.insert(id, running);
        RunningGuard {
            log: log.clone(),
            id,
        }
    }
}

impl<S: System> Drop for RunningGuard<S> {
    fn drop(&mut self) {
        // A crash drops the host's tasks while the world may hold the log.
        if let Ok(mut handlers) = self.log.try_borrow_mut() {
            handlers.running.remove(&self.id);
        }
    }
}

fn now_ms() -> u64 {
    turmoil::sim_elapsed().map_or(0, |d| d.as_millis() as u64)
}

/// Completes when the client closes the connection (or it fails); never
/// when it sends more (a client sends one request at a time, and what it
/// sent stays buffered for the next read).
async fn client_gone(stream: &mut BufReader<TcpStream>) {
    match stream.fill_buf().await {
        Ok(buffered) if !buffered.is_empty() => std::future::pending().await,
        _ => {}
    }
}

/// Runs background job `task` on this API host every `period_ms` of
/// simulated time until the host crashes (a restarted host starts its
/// timers anew, as a restarted process would).
pub fn spawn_background<S: System>(
    api: Arc<S::Server>,
    task: BackgroundTask,
    server: u32,
    runs: BackgroundRuns,
    panics: Panics,
    host: Rc<HostFaults>,
) {
    // A period of 0 would run the job again and again at one instant.
    let period = Duration::from_millis(task.period_ms.max(1));
    tokio::task::spawn_local(async move {
        loop {
            tokio::time::sleep(period).await;
            let round = HOST.scope(host.clone(), S::run_background(&api, task));
            if let Err(message) = CatchPanic::new(round).await {
                panics.borrow_mut().push(format!(
                    "background job {} panicked on api-{server}: {message}",
                    task.name
                ));
                return;
            }
            let at_ms = turmoil::sim_elapsed().map_or(0, |d| d.as_millis() as u64);
            runs.borrow_mut().push(BackgroundRun {
                at_ms,
                server,
                task: task.name,
            });
        }
    });
}

/// The port every API server listens on.
pub const API_PORT: u16 = 8080;

/// The host name of API server `index`.
pub fn api_host(index: u32) -> String {
    format!("api-{index}")
}

/// The host name of client host `index`.
pub fn client_host(index: u32) -> String {
    format!("clients-{index}")
}

/// Serves a system's API on one API server until the host is crashed.
/// Each connection carries one request at a time; `lost_response_probability`
/// drops the connection after the handler finished (after its commit),
/// which is how a client comes to retry something that already happened.
///
/// A handler [`System::cancellable`] declares safe to cancel is dropped
/// when its client closes the connection (after a timeout) before the
/// answer, as a server drops the work of a closed connection.
pub async fn serve<S: System>(
    api: Arc<S::Server>,
    server: u32,
    lost_response_probability: f64,
    rng: Rc<RefCell<Rng64>>,
    panics: Panics,
    host: Rc<HostFaults>,
    handlers: HandlerLog<S>,
) -> turmoil::Result {
    let listener = TcpListener::bind(("0.0.0.0", API_PORT)).await?;
    loop {
        let (stream, peer) = listener.accept().await?;
        let source = source_of(peer.ip());
        let api = api.clone();
        let rng = rng.clone();
        let panics = panics.clone();
        let host = host.clone();
        let handlers = handlers.clone();
        tokio::task::spawn_local(async move {
            let mut stream = BufReader::new(stream);
            let mut buffer = Vec::new();
            loop {
                let request: S::Request = match read_frame(&mut stream, &mut buffer).await {
                    Ok(request) => request,
                    Err(_) => return,
                };
                let cancellable = S::cancellable(&request);
                let op = request.operation();
                let running = Running {
                    started_ms: now_ms(),
                    server,
                    source,
                    request: request.clone(),
                };
                let guard = RunningGuard::new(&handlers, running);
                // Pauses and spikes reach the handler's statements through
                // the task-local the store's pacer reads.
                let handled = HOST.scope(host.clone(), S::handle(&api, request, source));
                let mut handled = std::pin::pin!(CatchPanic::new(handled));
                let outcome = if cancellable {
                    // Biased: the handler is polled first, so the same
                    // seed takes the same branch.
                    tokio::select! {
                        biased;
                        outcome = &mut handled => Some(outcome),
                        () = client_gone(&mut stream) => None,
                    }
                } else {
                    Some(handled.await)
                };
                drop(guard);
                let Some(outcome) = outcome else {
                    // Dropping the handler rolls its transaction back and
                    // returns its connection to the pool.
                    handlers.borrow_mut().cancelled.push(Cancelled {
                        at_ms: now_ms(),
                        server,
                        op,
                    });
                    return;
                };
                let response = match outcome {
                    Ok(response) => response,
                    Err(message) => {
                        // The connection dies with the handler, as a crashed
                        // worker's would; the world reports the panic.
                        panics
                            .borrow_mut()
                            .push(format!("a request handler panicked: {message}"));
                        return;
                    }
                };
                let drop_it = lost_response_probability > 0.0
                    && rng.borrow_mut().chance(lost_response_probability);
                if drop_it {
                    return;
                }
                if write_frame(stream.get_mut(), &response).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// The client host index behind an address, for per-source rate limits.
fn source_of(ip: std::net::IpAddr) -> u32 {
    match turmoil::reverse_lookup(ip) {
        Some(name) => name
            .strip_prefix("clients-")
            .and_then(|n| n.parse().ok())
            .unwrap_or(u32::MAX),
        None => u32::MAX,
    }
}

/// A keep-alive connection from a virtual user to an API server. After a
/// lost connection or a timeout it reconnects, to the next server in turn
/// (what a load balancer does when a backend stops answering).
pub struct TcpTransport<S> {
    servers: u32,
    server: u32,
    connection: Option<BufReader<TcpStream>>,
    buffer: Vec<u8>,
    system: PhantomData<S>,
}

impl<S: System> TcpTransport<S> {
    /// A transport that starts with server `first` of `servers`.
    pub fn new(first: u32, servers: u32) -> TcpTransport<S> {
        TcpTransport {
            servers,
            server: first % servers,
            connection: None,
            buffer: Vec::new(),
            system: PhantomData,
        }
    }

    async fn round_trip(&mut self, request: &S::Request) -> Result<S::Response, WireError> {
        if self.connection.is_none() {
            let stream = TcpStream::connect((api_host(self.server).as_str(), API_PORT))
                .await
                .map_err(WireError::Io)?;
            self.connection = Some(BufReader::new(stream));
        }
        let connection = self.connection.as_mut().expect("connected above");
        write_frame(connection.get_mut(), request).await?;
        read_frame(connection, &mut self.buffer).await
    }
}

impl<S: System> Transport<S> for TcpTransport<S> {
    fn call<'a>(
        &'a mut self,
        request: &'a S::Request,
        timeout_ms: u64,
    ) -> CallFuture<'a, S::Response> {
        Box::pin(async move {
            let outcome =
                tokio::time::timeout(Duration::from_millis(timeout_ms), self.round_trip(request))
                    .await;
            let error = match outcome {
                Ok(Ok(response)) => return Ok(response),
                Ok(Err(_)) => CallError::ConnectionLost,
                Err(_) => CallError::Timeout,
            };
            self.connection = None;
            self.server = (self.server + 1) % self.servers;
            Err(error)
        })
    }

    /// A new connection, to the next API server in turn (a load balancer
    /// spreading a client's connections); opened at its first call.
    fn open_another(&mut self) -> Box<dyn Transport<S>> {
        Box::new(TcpTransport::<S>::new(self.server + 1, self.servers))
    }
}

/// Serves the simulated database on PostgreSQL's wire protocol: accepts
/// connections on `addr` (`0.0.0.0:5432`) of the current turmoil host and
/// serves each in a task of its own (spawned on the host's runtime),
/// forever, so a service's own tokio-postgres connects to `db:5432`.
#[cfg(feature = "postgres")]
pub async fn serve_pgwire(db: crate::sql::SqlDb, addr: &str) -> std::io::Result<()> {
    let listener = turmoil::net::TcpListener::bind(addr).await?;
    let server = crate::pgwire::Server::new(db);
    loop {
        let (stream, _) = listener.accept().await?;
        let server = server.clone();
        tokio::spawn(async move {
            // A connection's end (a crash of the client, a reset) is its
            // own business: the others go on.
            let _ = server.serve(stream).await;
        });
    }
}
