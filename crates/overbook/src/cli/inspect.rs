//! `replay --inspect`: after the replay, the database of the failing step
//! on 127.0.0.1 for `psql`, until Ctrl-C (see [`crate::inspect`]).

use crate::error::InputError;
use crate::inspect::{connection_url, Inspection};
use crate::world::{KeptDatabase, Report};
use std::sync::Arc;

/// Listens on 127.0.0.1:`port` (any free port without one): before the
/// replay, so that a port in use is said at once.
pub(super) fn bind(port: Option<u16>) -> Result<std::net::TcpListener, InputError> {
    let port = port.unwrap_or(0);
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).and_then(|listener| {
        listener.set_nonblocking(true)?;
        Ok(listener)
    });
    listener.map_err(|err| {
        InputError::new(format!("cannot listen on 127.0.0.1:{port}: {err}"))
            .in_source(format!("--port {port}"))
    })
}

/// Serves `kept` on `listener` until Ctrl-C, having said how to connect.
pub(super) fn serve_until_interrupted(
    kept: KeptDatabase,
    report: &Report,
    listener: std::net::TcpListener,
) -> Result<(), InputError> {
    let inspection = Inspection::new(kept)
        .map_err(|why| InputError::new(format!("cannot serve the run's database: {why}")))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| InputError::new(format!("cannot start a tokio runtime: {err}")))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|err| InputError::new(format!("cannot listen: {err}")))?;
        let addr = listener
            .local_addr()
            .map_err(|err| InputError::new(format!("cannot listen: {err}")))?;
        let at = match &report.violation {
            Some(v) => format!(
                "step {} ({} broken at {} ms)",
                v.step, v.invariant, v.sim_time_ms
            ),
            None => format!("its last step ({})", report.steps),
        };
        // Taken before the line to connect is printed: a Ctrl-C from then
        // on stops the server rather than the process.
        let stop = interrupted();
        eprintln!("inspect: the database at {at}: {}", inspection.summary);
        eprintln!("connect with:\n  psql \"{}\"", connection_url(addr));
        eprintln!("Ctrl-C stops the server");
        inspection
            .serve(listener, stop)
            .await
            .map_err(|err| InputError::new(format!("serving on {addr}: {err}")))
    })?;
    eprintln!("inspect: stopped");
    Ok(())
}

/// Takes Ctrl-C now; the future completes at the first one from now on.
/// When the process has a handler already (`fuzz` installs one) it never
/// completes: the server then stops with the process.
fn interrupted() -> impl std::future::Future<Output = ()> {
    let notify = Arc::new(tokio::sync::Notify::new());
    let signalled = notify.clone();
    if ctrlc::set_handler(move || signalled.notify_one()).is_err() {
        eprintln!("inspect: could not take Ctrl-C (a handler is installed): stop it with kill");
    }
    // notify_one keeps a permit for a Ctrl-C that comes before the wait.
    async move { notify.notified().await }
}
