//! Numbers a service hands out itself (a hold's, an invoice's), counted in
//! a row of the store, so that numbering commits or rolls back with the
//! rest of the transaction: no gaps, no number given twice.

use crate::store::{DbError, Key, Row, Tx};

/// The next number of the counter `column` in the row at `key` (0 for a
/// row or column not there yet), moved on by one in `tx`.
///
/// The row is read with a plain read, so the caller must hold the row's
/// lock already (a `get_for_update` of it, or of a row every caller locks
/// first) when running at Read Committed: there two callers that both
/// read the counter before either wrote it would take the same number.
/// At Repeatable Read or Serializable the second writer gets 40001
/// instead, and its retry takes the next number.
///
/// ```
/// use overbook::prelude::*;
/// use overbook::store::{block_on, Schema, StoreConfig};
///
/// let store = Store::new(Schema::default(), StoreConfig::default(), Seed(1));
/// store.load(Key::raw("venue"), Row::new().with("seats", 10));
/// block_on(async {
///     let mut tx = store.begin(Isolation::ReadCommitted);
///     tx.get_for_update(&Key::raw("venue")).await.unwrap();
///     assert_eq!(next_number(&mut tx, &Key::raw("venue"), "next_hold").await, Ok(0));
///     assert_eq!(next_number(&mut tx, &Key::raw("venue"), "next_hold").await, Ok(1));
///     tx.commit().await.unwrap();
/// });
/// let venue = store.read_committed(&Key::raw("venue")).unwrap();
/// assert_eq!((venue.int("seats"), venue.int("next_hold")), (Some(10), Some(2)));
/// ```
pub async fn next_number(tx: &mut Tx, key: &Key, column: &'static str) -> Result<i64, DbError> {
    let row = tx.get(key).await?;
    let n = row.as_ref().and_then(|row| row.int(column)).unwrap_or(0);
    match row {
        Some(row) => tx.update(key, row.with(column, n + 1)).await.map(drop)?,
        None => tx.insert(key, Row::new().with(column, n + 1)).await?,
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Seed;
    use crate::store::{block_on, Isolation, Schema, Store, StoreConfig};

    #[test]
    fn a_missing_row_starts_at_zero_and_a_rolled_back_number_is_given_again() {
        let store = Store::new(Schema::default(), StoreConfig::default(), Seed(1));
        let key = Key::raw("invoices/counter");
        block_on(async {
            let mut tx = store.begin(Isolation::ReadCommitted);
            assert_eq!(next_number(&mut tx, &key, "next").await, Ok(0));
            tx.commit().await.unwrap();
            let mut rolled_back = store.begin(Isolation::ReadCommitted);
            assert_eq!(next_number(&mut rolled_back, &key, "next").await, Ok(1));
            rolled_back.rollback();
            let mut tx = store.begin(Isolation::ReadCommitted);
            assert_eq!(next_number(&mut tx, &key, "next").await, Ok(1), "no gap");
            tx.commit().await.unwrap();
        });
        assert_eq!(store.read_committed(&key).unwrap().int("next"), Some(2));
    }

    #[test]
    fn at_repeatable_read_a_concurrent_taker_fails_instead_of_taking_the_same_number() {
        let store = Store::new(Schema::default(), StoreConfig::default(), Seed(1));
        let key = Key::raw("invoices/counter");
        store.load(key.clone(), Row::new().with("next", 5));
        block_on(async {
            let mut first = store.begin(Isolation::RepeatableRead);
            let mut second = store.begin(Isolation::RepeatableRead);
            // The second's snapshot predates the first's commit.
            assert!(second.get(&key).await.unwrap().is_some());
            assert_eq!(next_number(&mut first, &key, "next").await, Ok(5));
            first.commit().await.unwrap();
            let lost = next_number(&mut second, &key, "next").await.unwrap_err();
            assert!(lost.is_retryable(), "{lost}");
        });
    }
}
