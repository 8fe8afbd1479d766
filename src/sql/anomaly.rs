//! The isolation anomaly scripts in SQL.
