//! Serializability checker (in progress).
