//! A service's own PostgreSQL driver inside the world: tokio-postgres
//! (and the pools built on it) connects over turmoil's TCP to the run's
//! simulated database, which the world serves on PostgreSQL's wire
//! protocol at [`HOST`]:[`PORT`] for a system whose
//! [`System::wire_database`](crate::system::System::wire_database) is
//! true.
//!
//! The seam is the one a turmoil user has: how the service obtains its
//! connections. Production code builds its pool with a connector over
//! real TCP; under overbook the same pool is built with [`connect`] (or,
//! for deadpool-postgres, `Connector` behind the `deadpool` feature):
//!
//! ```no_run
//! # async fn demo() -> Result<(), tokio_postgres::Error> {
//! // On an API host of the world.
//! let (client, connection) = overbook::pg::connect(&overbook::pg::config()).await?;
//! tokio::spawn(connection);
//! let row = client.query_one("SELECT 1 + 1 AS two", &[]).await?;
//! assert_eq!(row.get::<_, i32>("two"), 2);
//! # Ok(()) }
//! ```

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{Client, Config, Connection, NoTls};
use turmoil::net::TcpStream;

/// The database host's name in the world.
pub const HOST: &str = crate::world::DB_HOST;

/// The port the database host serves PostgreSQL's protocol on.
pub const PORT: u16 = 5432;

/// A connection config for the world's database: `host=db port=5432
/// user=overbook dbname=overbook` (the simulated server trusts any user
/// and database name).
pub fn config() -> Config {
    let mut config = Config::new();
    config
        .host(HOST)
        .port(PORT)
        .user("overbook")
        .dbname("overbook");
    config
}

/// The connection a [`connect`] returns: tokio-postgres's over turmoil's
/// TCP stream (or over the stream that failed, for a connect that did).
pub type SimConnection = Connection<SimStream, NoTlsStream>;

/// Connects to the world's database with `config`'s user, database and
/// options (its hosts and ports are ignored: the database is at
/// [`HOST`]:[`PORT`]). Spawn the connection, as with
/// `tokio_postgres::connect`.
///
/// A TCP connect that fails (the database host partitioned away, the
/// network holding) fails as tokio-postgres's own connect would, with a
/// `tokio_postgres::Error` whose source is the `io::Error`: the error is
/// raised through tokio-postgres itself, by a handshake over a stream that
/// returns it, since tokio-postgres builds its errors only from inside.
pub async fn connect(config: &Config) -> Result<(Client, SimConnection), tokio_postgres::Error> {
    let stream = match TcpStream::connect((HOST, PORT)).await {
        Ok(stream) => SimStream::Open(stream),
        Err(err) => SimStream::Failed(Some(err)),
    };
    config.connect_raw(stream, NoTls).await
}

/// A client's side of a connection to the world's database.
#[derive(Debug)]
pub enum SimStream {
    /// Connected.
    Open(TcpStream),
    /// The connect failed with this error, returned by the first read or
    /// write (then a reset).
    Failed(Option<io::Error>),
}

impl SimStream {
    fn failure(&mut self) -> io::Error {
        match self {
            SimStream::Failed(err) => err
                .take()
                .unwrap_or_else(|| io::ErrorKind::ConnectionReset.into()),
            SimStream::Open(_) => unreachable!("only a failed stream fails this way"),
        }
    }
}

impl AsyncRead for SimStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SimStream::Open(stream) => Pin::new(stream).poll_read(cx, buf),
            failed => Poll::Ready(Err(failed.failure())),
        }
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            SimStream::Open(stream) => Pin::new(stream).poll_write(cx, buf),
            failed => Poll::Ready(Err(failed.failure())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SimStream::Open(stream) => Pin::new(stream).poll_flush(cx),
            failed => Poll::Ready(Err(failed.failure())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SimStream::Open(stream) => Pin::new(stream).poll_shutdown(cx),
            SimStream::Failed(_) => Poll::Ready(Ok(())),
        }
    }
}

/// deadpool-postgres's connector for the world's database: build the
/// service's pool with `Manager::from_connect(pg_config, Connector,
/// manager_config)` where production code passes its TLS connector.
#[cfg(feature = "deadpool")]
#[derive(Clone, Copy, Debug, Default)]
pub struct Connector;

#[cfg(feature = "deadpool")]
impl deadpool_postgres::Connect for Connector {
    fn connect(
        &self,
        pg_config: &Config,
    ) -> futures_core::future::BoxFuture<
        '_,
        Result<(Client, tokio::task::JoinHandle<()>), tokio_postgres::Error>,
    > {
        let pg_config = pg_config.clone();
        Box::pin(async move {
            let (client, connection) = connect(&pg_config).await?;
            let task = tokio::spawn(async move {
                // A connection's end (the database closed it, a reset) is
                // seen by the client's next call, as with a real server.
                let _ = connection.await;
            });
            Ok((client, task))
        })
    }
}
