//! A ticket box office: events with a capacity, holds on seats that
//! expire, orders confirmed from holds, cancellations, and a background
//! worker that sweeps expired holds and carries out queued jobs (sending
//! tickets, refunds).
//!
//! The HTTP API ([`routes::router`]):
//!
//! | route | does |
//! |---|---|
//! | `GET /events` | the events to come, with their free seats |
//! | `POST /events` | creates an event (`name`, `capacity`, `starts_in_s`) |
//! | `GET /events/{event_id}` | the event, its seats in use and free |
//! | `POST /events/{event_id}/holds` | holds `seats` for the configured hold time (`Idempotency-Key` honoured) |
//! | `GET /holds/{hold_id}` | a hold |
//! | `DELETE /holds/{hold_id}` | releases a hold |
//! | `POST /holds/{hold_id}/confirm` | turns a live hold into an order (again: the same order) |
//! | `POST /orders/{order_id}/cancel` | cancels an order, frees its seats, queues a refund |
//!
//! The binary (`src/main.rs`) serves it on a TCP listener over a
//! deadpool-postgres pool; [`db::pool`] takes the connector, so a caller
//! decides how connections are made.

pub mod config;
pub mod db;
pub mod error;
pub mod routes;
pub mod worker;

pub use config::{Config, Flaws};
pub use routes::{router, AppState};
