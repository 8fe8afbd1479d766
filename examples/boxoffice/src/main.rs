//! The box office server: `DATABASE_URL=postgres://... boxoffice
//! [--migrate]`, listening on `BOXOFFICE_LISTEN` (default 0.0.0.0:8080).

use boxoffice::{db, router, worker, AppState, Config};
use deadpool_postgres::ConfigConnectImpl;
use tokio_postgres::NoTls;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set")?;
    let pg: tokio_postgres::Config = url.parse()?;
    let pool = db::pool(pg, ConfigConnectImpl { tls: NoTls }, config.pool_size);
    if std::env::args().any(|a| a == "--migrate") {
        db::migrate(&pool)
            .await
            .map_err(|e| format!("migration: {e:?}"))?;
    }
    let listen = std::env::var("BOXOFFICE_LISTEN").unwrap_or_else(|_| "0.0.0.0:8080".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("boxoffice listening on {listen}");
    tokio::spawn(worker::run(pool.clone(), config.clone()));
    axum::serve(listener, router(AppState::new(pool, config)))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
