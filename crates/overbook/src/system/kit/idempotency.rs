//! Idempotency keys: the first completed response of an operation is
//! stored under a key of the service's choosing (for example
//! `idempotency/<client>/<key>`) in the same transaction as the operation's
//! effect, so the effect and the record commit together or not at all. A
//! repeat finds the record and gets the stored response.
//!
//! ```
//! use overbook::store::{block_on, Isolation, Key, Schema, Store, StoreConfig};
//! use overbook::system::kit::idempotency::{recall, remember, Recall};
//! use overbook::seed::Seed;
//!
//! let store = Store::new(Schema::default(), StoreConfig::default(), Seed(1));
//! let key = Key::raw("idempotency/7/hold-1");
//! block_on(async {
//!     let mut tx = store.begin(Isolation::Serializable);
//!     assert!(matches!(recall::<String>(&mut tx, &key, "hold seat 3").await.unwrap(), Recall::Fresh));
//!     remember(&mut tx, &key, "hold seat 3", &"held".to_string()).await.unwrap();
//!     tx.commit().await.unwrap();
//!     let mut tx = store.begin(Isolation::Serializable);
//!     match recall::<String>(&mut tx, &key, "hold seat 3").await.unwrap() {
//!         Recall::Replay(stored) => assert_eq!(stored, "held"),
//!         _ => panic!("the stored response is replayed"),
//!     }
//!     assert!(matches!(recall::<String>(&mut tx, &key, "hold seat 4").await.unwrap(), Recall::KeyReused));
//! });
//! ```

use crate::store::{DbError, Key, Row, SqlState, Tx};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// What a request's key resolves to inside its transaction.
#[derive(Debug)]
pub enum Recall<R> {
    /// No earlier completion: do the work (and then [`remember`]).
    Fresh,
    /// A completed earlier request with this key: answer with this.
    Replay(R),
    /// The key was used for a different request (answer 422, do nothing).
    KeyReused,
    /// A record exists but its response does not parse (answer 500).
    Unreadable,
}

impl<R> Recall<R> {
    /// What to answer instead of doing the work: the stored response on a
    /// replay, `refuse(422, why)` for a reused key, `refuse(500, why)` for
    /// an unreadable record; `None` when the request is fresh.
    ///
    /// ```
    /// use overbook::system::kit::idempotency::Recall;
    /// let refuse = |status, why: &str| format!("{status} {why}");
    /// assert_eq!(Recall::<String>::Fresh.answer(refuse), None);
    /// assert_eq!(Recall::Replay("held".to_string()).answer(refuse).as_deref(), Some("held"));
    /// assert!(Recall::<String>::KeyReused.answer(refuse).unwrap().starts_with("422"));
    /// ```
    pub fn answer(self, refuse: impl FnOnce(u16, &str) -> R) -> Option<R> {
        match self {
            Recall::Fresh => None,
            Recall::Replay(stored) => Some(stored),
            Recall::KeyReused => Some(refuse(
                422,
                "the idempotency key was used for a different request",
            )),
            Recall::Unreadable => Some(refuse(500, "the idempotency record is unreadable")),
        }
    }
}

/// Looks the key up. `fingerprint` identifies the request (its body as
/// JSON, say): a record with another fingerprint means the client reused a
/// key.
pub async fn recall<R: DeserializeOwned>(
    tx: &mut Tx,
    key: &Key,
    fingerprint: &str,
) -> Result<Recall<R>, DbError> {
    let Some(row) = tx.get(key).await? else {
        return Ok(Recall::Fresh);
    };
    if row.text("request") != Some(fingerprint) {
        return Ok(Recall::KeyReused);
    }
    Ok(row
        .text("response")
        .and_then(|text| serde_json::from_str::<R>(text).ok())
        .map_or(Recall::Unreadable, Recall::Replay))
}

/// Stores `response` under `key`; call it only for responses worth
/// replaying (a refused operation may succeed when retried later and has
/// no effect to protect). A concurrent request with the same key that
/// committed first makes the insert fail with 23505; that is reported as
/// 40001 so the retry wrapper runs the transaction again, which then
/// replays the winner's response.
pub async fn remember<R: Serialize>(
    tx: &mut Tx,
    key: &Key,
    fingerprint: &str,
    response: &R,
) -> Result<(), DbError> {
    remember_row(tx, key, Row::new(), fingerprint, response).await
}

/// [`remember`] with extra columns in the record (a client id, a status).
pub async fn remember_row<R: Serialize>(
    tx: &mut Tx,
    key: &Key,
    row: Row,
    fingerprint: &str,
    response: &R,
) -> Result<(), DbError> {
    let row = row.with("request", fingerprint.to_string()).with(
        "response",
        serde_json::to_string(response).unwrap_or_default(),
    );
    match tx.insert(key, row).await {
        Err(error) if error.code == SqlState::UniqueViolation => Err(DbError::new(
            SqlState::SerializationFailure,
            format!("concurrent request with the same idempotency key committed first ({key})"),
        )),
        other => other,
    }
}

/// One request's idempotency record: the key it is stored under and the
/// request's fingerprint (the request as JSON), for the usual round: look
/// it up first in the transaction ([`Record::answer`]), do the work, then
/// store a success ([`Record::remember_success`]) before the commit, or
/// both at once ([`Record::remember_and_commit`]).
///
/// ```
/// use overbook::store::{block_on, Isolation, Key, Schema, Store, StoreConfig};
/// use overbook::system::kit::idempotency::Record;
/// use overbook::seed::Seed;
/// use overbook::system::Reply;
///
/// #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// struct Answer(u16, String);
/// impl Reply for Answer {
///     fn status(&self) -> u16 { self.0 }
/// }
///
/// let store = Store::new(Schema::default(), StoreConfig::default(), Seed(1));
/// let refuse = |status, why: &str| Answer(status, why.to_string());
/// let record = Record::new(Key::raw("idempotency/7/hold-1"), &("hold", 3));
/// block_on(async {
///     let mut tx = store.begin(Isolation::ReadCommitted);
///     assert_eq!(record.answer(&mut tx, refuse).await.unwrap(), None);
///     record.remember_success(&mut tx, &Answer(201, "held".into())).await.unwrap();
///     tx.commit().await.unwrap();
///     let mut tx = store.begin(Isolation::ReadCommitted);
///     let replayed = record.answer(&mut tx, refuse).await.unwrap();
///     assert_eq!(replayed, Some(Answer(201, "held".into())));
///     // A refusal is answered and committed, and not remembered.
///     let other = Record::new(Key::raw("idempotency/8/hold-1"), &("hold", 5));
///     let refused = other.remember_and_commit(tx, Answer(409, "sold out".into())).await;
///     assert_eq!(refused.unwrap().0, 409);
///     let mut tx = store.begin(Isolation::ReadCommitted);
///     assert_eq!(other.answer(&mut tx, refuse).await.unwrap(), None);
///     let replayed = record.answer(&mut tx, refuse).await.unwrap();
///     assert_eq!(replayed, Some(Answer(201, "held".into())));
///     // Another request under the same key is refused.
///     let other = Record::new(Key::raw("idempotency/7/hold-1"), &("hold", 4));
///     assert_eq!(other.answer(&mut tx, refuse).await.unwrap().unwrap().0, 422);
/// });
/// ```
#[derive(Clone, Debug)]
pub struct Record {
    key: Key,
    fingerprint: String,
}

impl Record {
    /// The record of `request` under `key`. A resend is the same request
    /// and replays; another request under the key is refused (422).
    pub fn new(key: Key, request: &impl Serialize) -> Record {
        let fingerprint = serde_json::to_string(request).unwrap_or_default();
        Record { key, fingerprint }
    }

    /// What to answer instead of doing the work ([`recall`], then
    /// [`Recall::answer`] with `refuse`); `None` when the request is fresh.
    pub async fn answer<R: DeserializeOwned>(
        &self,
        tx: &mut Tx,
        refuse: impl FnOnce(u16, &str) -> R,
    ) -> Result<Option<R>, DbError> {
        let recalled = recall(tx, &self.key, &self.fingerprint).await?;
        Ok(recalled.answer(refuse))
    }

    /// [`remember`]s `response` if it is a success (a status below 300): a
    /// refusal may succeed when the request comes again, and has no effect
    /// to protect.
    pub async fn remember_success<R: Serialize + crate::system::Reply>(
        &self,
        tx: &mut Tx,
        response: &R,
    ) -> Result<(), DbError> {
        if response.status() >= 300 {
            return Ok(());
        }
        remember(tx, &self.key, &self.fingerprint, response).await
    }

    /// The end of the round: [`Record::remember_success`] of `response`,
    /// the commit, and `response` to answer with (an error of either is
    /// the attempt's, for the retry wrapper).
    pub async fn remember_and_commit<R: Serialize + crate::system::Reply>(
        &self,
        mut tx: Tx,
        response: R,
    ) -> Result<R, DbError> {
        self.remember_success(&mut tx, &response).await?;
        tx.commit().await?;
        Ok(response)
    }
}
