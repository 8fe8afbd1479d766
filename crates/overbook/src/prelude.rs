//! What a service's files import: `use overbook::prelude::*;` brings the
//! system API ([`System`] and everything its methods take and return), the
//! kit's settings sections, retry settings, idempotency records and
//! counters, the store's rows, keys and
//! transactions, the seed, and serde's derives for settings, requests and
//! responses.
//!
//! ```
//! use overbook::prelude::*;
//!
//! #[derive(Clone, Debug, Default, Serialize, Deserialize)]
//! struct Section {
//!     retry: RetryConfig,
//! }
//! let key = Key::new("holds", &["7"]);
//! assert_eq!(key.table(), "holds");
//! assert_eq!(Section::default().retry.attempts, 5);
//! ```

pub use crate::seed::Seed;
pub use crate::store::{CommitEvent, DbError, Isolation, Key, KeyRange, Row, Store};
pub use crate::system::kit::{idempotency, next_number, RetryConfig, Sections};
pub use crate::system::{
    BackgroundTask, Bounds, CommittedState, ExploreContext, FromContext, InputError, InvariantInfo,
    Invariants, Message, Reply, ServerContext, System, Tally, Unanswered, UserContext, Variant,
    VariantInfo, Violation,
};
pub use serde::{Deserialize, Serialize};
// In the signatures of `System::checker` and `Invariants::checks`.
pub use std::collections::BTreeMap;
pub use std::sync::Arc;
