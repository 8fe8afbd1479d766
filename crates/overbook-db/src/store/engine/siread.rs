//! The SIREAD locks Serializable transactions hold on key ranges (a scan's
//! predicate lock), kept by the table their keys belong to: a write checks
//! the ranges of its own table only, not every range of every open
//! transaction.

use super::super::types::{Key, KeyRange, TxId};
use std::collections::{BTreeMap, HashMap};

/// Ranges by holder, bucketed by table.
#[derive(Default)]
pub(crate) struct SireadRanges {
    /// Ranges whose keys all share one table part (the text before the
    /// first '/'), by that table part.
    by_table: HashMap<Box<str>, BTreeMap<TxId, Vec<KeyRange>>>,
    /// Ranges that reach past one table (rare: a range the store built
    /// over several tables).
    spanning: BTreeMap<TxId, Vec<KeyRange>>,
}

/// The table part of a key: its text before the first '/'.
fn table_of(key: &str) -> Option<&str> {
    key.find('/').map(|slash| &key[..slash])
}

/// The table every key of `range` belongs to, if there is one: the range
/// starts at `T/...` and ends no later than `T0` ('/' + 1), so every key
/// in it starts with `T/`.
fn table_of_range(range: &KeyRange) -> Option<&str> {
    let table = table_of(range.start.as_str())?;
    let end = range.end.as_str();
    let within = end.len() > table.len()
        && end.starts_with(table)
        && end.as_bytes()[table.len()] <= b'0'
        && (end.as_bytes()[table.len()] == b'/' || end.len() == table.len() + 1);
    within.then_some(table)
}

impl SireadRanges {
    /// `id` holds a SIREAD lock on `range`.
    pub(crate) fn add(&mut self, id: TxId, range: KeyRange) {
        let holders = match table_of_range(&range) {
            Some(table) => self.by_table.entry(table.into()).or_default(),
            None => &mut self.spanning,
        };
        holders.entry(id).or_default().push(range);
    }

    /// Whether no transaction holds a range.
    pub(crate) fn is_empty(&self) -> bool {
        self.by_table.is_empty() && self.spanning.is_empty()
    }

    /// `id` gives up every range it holds (`held`: its own list of them).
    pub(crate) fn remove(&mut self, id: TxId, held: &[KeyRange]) {
        self.spanning.remove(&id);
        for range in held {
            if let Some(table) = table_of_range(range) {
                if let Some(holders) = self.by_table.get_mut(table) {
                    holders.remove(&id);
                    if holders.is_empty() {
                        self.by_table.remove(table);
                    }
                }
            }
        }
    }

    /// The holders and ranges that may hold keys of `table` (`None`: a key
    /// with no table part, which any range may hold). Not boxed: every
    /// Serializable write asks.
    fn candidates<'a>(
        &'a self,
        table: Option<&str>,
    ) -> impl Iterator<Item = (&'a TxId, &'a Vec<KeyRange>)> + 'a {
        let own = table.and_then(|table| self.by_table.get(table));
        let every = table.is_none().then(|| self.by_table.values());
        own.into_iter()
            .chain(every.into_iter().flatten())
            .flatten()
            .chain(&self.spanning)
    }

    /// The holders of a range that contains `key`, each once per range.
    pub(crate) fn holders_of<'a>(&'a self, key: &'a Key) -> impl Iterator<Item = TxId> + 'a {
        self.candidates(table_of(key.as_str()))
            .filter(move |(_, ranges)| ranges.iter().any(|range| range.contains(key)))
            .map(|(&id, _)| id)
    }

    /// The holders of a range that overlaps `page` (a prefix range).
    pub(crate) fn holders_overlapping<'a>(
        &'a self,
        page: &'a KeyRange,
    ) -> impl Iterator<Item = TxId> + 'a {
        self.candidates(table_of_range(page))
            .filter(move |(_, ranges)| {
                ranges
                    .iter()
                    .any(|range| range.start < page.end && page.start < range.end)
            })
            .map(|(&id, _)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: &str, end: &str) -> KeyRange {
        KeyRange {
            start: Key::raw(start),
            end: Key::raw(end),
        }
    }

    #[test]
    fn a_range_belongs_to_a_table_only_when_every_key_in_it_does() {
        assert_eq!(table_of_range(&KeyRange::prefix("acct/")), Some("acct"));
        assert_eq!(table_of_range(&range("acct/001", "acct/009")), Some("acct"));
        assert_eq!(table_of_range(&range("t@idx/a", "t@idx/b")), Some("t@idx"));
        // Past `acct0`: keys of `acct1/...` too.
        assert_eq!(table_of_range(&range("acct/001", "acct1")), None);
        assert_eq!(table_of_range(&range("acct/001", "bcct/")), None);
        assert_eq!(table_of_range(&range("acct", "acct/5")), None);
    }

    #[test]
    fn a_write_finds_the_ranges_that_hold_its_key_and_only_those() {
        let mut ranges = SireadRanges::default();
        ranges.add(1, range("acct/001", "acct/005"));
        ranges.add(2, KeyRange::prefix("log/"));
        ranges.add(3, range("a", "z"));
        fn holders(ranges: &SireadRanges, key: &str) -> Vec<TxId> {
            let key = Key::raw(key);
            let mut ids: Vec<TxId> = ranges.holders_of(&key).collect();
            ids.sort();
            ids
        }
        assert_eq!(holders(&ranges, "acct/003"), vec![1, 3]);
        assert_eq!(holders(&ranges, "acct/007"), vec![3]);
        assert_eq!(holders(&ranges, "log/1"), vec![2, 3]);
        assert_eq!(holders(&ranges, "zz/1"), Vec::<TxId>::new());
        let page = KeyRange::prefix("acct/");
        let mut overlapping: Vec<TxId> = ranges.holders_overlapping(&page).collect();
        overlapping.sort();
        assert_eq!(overlapping, vec![1, 3]);
        ranges.remove(1, &[range("acct/001", "acct/005")]);
        ranges.remove(3, &[range("a", "z")]);
        assert_eq!(holders(&ranges, "acct/003"), Vec::<TxId>::new());
        assert_eq!(holders(&ranges, "log/1"), vec![2]);
    }
}
