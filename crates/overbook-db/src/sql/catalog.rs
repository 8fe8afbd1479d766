//! Tables, columns, indexes and constraints, and how rows and index
//! entries are laid out as store keys.
//!
//! A row of table `t` is the store row at key `t/<pk>`; an entry of its
//! secondary index `i` is the store row (holding the primary key) at
//! `t@i/<values>` for a unique index (with `<pk>` appended when a value is
//! NULL) and `t@i/<values><pk>` otherwise. Values are encoded so that keys
//! sort as the values do, which turns equality and range conditions into
//! key ranges, and the store's range SIREAD locks into index-range
//! predicate locks.

use super::expr::{Env, Expr};
use super::funcs::Ctx;
use super::value::{encode_key, from_datum, to_datum, SqlType, Value};
use crate::store::DbError;
use crate::store::{Key, KeyRange, Row};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// A column name with a static lifetime (store rows name their columns
/// with `&'static str`), interned once per distinct name.
pub(crate) fn intern(name: &str) -> &'static str {
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = names.get(name) {
        return found;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.insert(leaked);
    leaked
}

#[derive(Clone, Debug)]
pub(crate) struct Column {
    pub(crate) name: &'static str,
    pub(crate) ty: SqlType,
    pub(crate) not_null: bool,
    pub(crate) default: Option<Expr>,
    /// `serial`/`bigserial`: defaults to the next value of its sequence.
    pub(crate) serial: bool,
    /// `GENERATED ALWAYS AS IDENTITY`: only `DEFAULT` may be written to it
    /// (428C9 otherwise, as PostgreSQL's rewriter rejects).
    pub(crate) always: bool,
    /// `GENERATED ALWAYS AS (expr) STORED`: the expression over the row's
    /// columns (immutable, no other generated column), computed on every
    /// INSERT and UPDATE; only `DEFAULT` may be written to it (428C9).
    pub(crate) generated: Option<Expr>,
}

impl Column {
    /// Whether an INSERT or UPDATE may write only `DEFAULT` to it: an
    /// identity `GENERATED ALWAYS` or a generated column.
    pub(crate) fn default_only(&self) -> bool {
        self.always || self.generated.is_some()
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Index {
    pub(crate) name: String,
    pub(crate) columns: Vec<usize>,
    pub(crate) unique: bool,
    /// `t/` for the primary key, `t@name/` for a secondary index (with
    /// `~n` before the `/` when an earlier, dropped object had that prefix:
    /// see [`Catalog::fresh_prefix`]).
    pub(crate) prefix: String,
    /// Whether a PRIMARY KEY or UNIQUE constraint owns it (DROP INDEX
    /// refuses it then), rather than CREATE INDEX.
    pub(crate) constraint: bool,
    /// A partial index's `WHERE` predicate (over the table's columns):
    /// only rows for which it is true have an entry, so a unique one
    /// constrains those rows only.
    pub(crate) predicate: Option<Expr>,
    /// An expression index's key, one part per key column (a plain
    /// column as `Expr::Col`); empty for an index on columns, whose key is
    /// `columns`. `columns` is empty for an expression index, so that what
    /// finds an index by its columns (foreign keys, `ON CONFLICT (a, b)`,
    /// the key columns of a lock's strength) passes it by, as PostgreSQL
    /// does (see `exprindex`).
    pub(crate) expressions: Vec<super::exprindex::KeyPart>,
    /// `USING hash`: one key column, never unique, and usable only by an
    /// equality on its key (PostgreSQL's hash index has no order). Its
    /// entries, SSI locks included, are a btree's here: a scan locks the
    /// key's entries, where PostgreSQL locks the key's whole bucket page
    /// (so another value hashed to that bucket conflicts there too).
    pub(crate) hash: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct ForeignKey {
    pub(crate) name: String,
    pub(crate) columns: Vec<usize>,
    pub(crate) parent: String,
    /// The parent's unique index (0: its primary key) the key refers to,
    /// and the parent columns in the order of `columns`.
    pub(crate) parent_index: usize,
    pub(crate) parent_columns: Vec<usize>,
    /// What deleting a referenced parent row does to the referencing rows.
    pub(crate) on_delete: super::referential::Action,
    /// What changing a referenced parent key does to the referencing rows.
    pub(crate) on_update: super::referential::Action,
    /// `DEFERRABLE`: `SET CONSTRAINTS` may defer its checks to the commit.
    pub(crate) deferrable: bool,
    /// `INITIALLY DEFERRED`: its checks wait for the commit unless `SET
    /// CONSTRAINTS` makes it immediate (see `deferred`).
    pub(crate) initially_deferred: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Check {
    pub(crate) name: String,
    pub(crate) expr: Expr,
}

#[derive(Clone, Debug)]
pub(crate) struct Exclusion {
    pub(crate) name: String,
    pub(crate) group: usize,
    pub(crate) range: usize,
}

/// A table: columns, the primary key as index 0, secondary indexes,
/// constraints, and the foreign keys of other tables that refer to it.
#[derive(Clone, Debug)]
pub(crate) struct Table {
    pub(crate) name: String,
    pub(crate) columns: Vec<Column>,
    pub(crate) indexes: Vec<Index>,
    pub(crate) foreign_keys: Vec<ForeignKey>,
    pub(crate) checks: Vec<Check>,
    pub(crate) exclusion: Option<Exclusion>,
    /// (child table, its foreign key's position) for every key that
    /// refers to this table.
    pub(crate) referenced_by: Vec<(String, usize)>,
    /// Whether the table has no primary key (PostgreSQL's plain heap):
    /// then its last two columns are hidden, [`ROW_ID`] (the row's
    /// identity, what index 0 is on) and [`ROW_POSITION`] (where its
    /// current version lies in the heap, which a sequential scan returns
    /// rows in), and `SELECT *` does not show them.
    pub(crate) heap: bool,
    /// `PARTITION BY`: the partition key and the partitions (see
    /// `partition`). A partitioned table's partitions keep their rows in
    /// it: a partition is a name for the rows its bound routes to it.
    pub(crate) partitioning: Option<Arc<super::partition::Partitioning>>,
    /// Its row triggers (see `triggers`), in name order, the order
    /// PostgreSQL fires them in. Empty for most tables: statements on
    /// them never look further.
    pub(crate) triggers: Vec<Arc<super::triggers::Trigger>>,
    /// A statement that names a partition itself reads and writes its
    /// partitioned table through a view of it: the partitioned table with
    /// this set to the partition, so that a scan keeps only the rows its
    /// bound routes to it and a row written must stay in it (see
    /// `partition`). `None` for every table in the catalog.
    pub(crate) view: Option<Arc<super::partition::View>>,
}

/// The hidden identity column of a table without a primary key: drawn
/// from a per-table counter that is not transactional (like PostgreSQL's
/// tuple ids), never changed by an UPDATE, so that concurrent writers of
/// one row meet on one store key as they meet on one tuple's update chain.
pub(crate) const ROW_ID: &str = "@row";

/// The hidden heap position of a table without a primary key: drawn anew
/// from the same counter by every INSERT and UPDATE, as PostgreSQL puts a
/// row's new version after the existing ones, so that a sequential scan
/// returns rows in the order PostgreSQL's does on a small table.
pub(crate) const ROW_POSITION: &str = "@position";

impl Table {
    /// The name a statement knows the table by: the partition's, for a
    /// view of one partition.
    pub(crate) fn shown_name(&self) -> &str {
        self.view.as_ref().map_or(&self.name, |v| &v.name)
    }

    /// Whether a row with `values` is one this table holds: every row,
    /// except for a view of a partition.
    pub(crate) fn holds(&self, values: &[Value]) -> bool {
        match (&self.view, &self.partitioning) {
            (Some(v), Some(p)) => p.route(values) == Some(v.index),
            _ => true,
        }
    }

    pub(crate) fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    pub(crate) fn pk(&self) -> &[usize] {
        &self.indexes[0].columns
    }

    /// How many columns a user sees (`SELECT *`, `INSERT` without a
    /// column list): all but a heap table's two hidden ones.
    pub(crate) fn visible(&self) -> usize {
        if self.heap {
            self.columns.len() - 2
        } else {
            self.columns.len()
        }
    }

    /// The hidden heap-position column, for a table without a primary key.
    pub(crate) fn position_column(&self) -> Option<usize> {
        self.heap.then(|| self.columns.len() - 1)
    }

    /// The unique indexes a user declared (a heap table's hidden identity
    /// index is not one: nothing can duplicate a fresh identity).
    pub(crate) fn declared_unique(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.indexes.len()).filter(|&i| self.indexes[i].unique && !(self.heap && i == 0))
    }

    /// The whole table as a key range (a sequential scan).
    pub(crate) fn range(&self) -> KeyRange {
        KeyRange::prefix(&self.indexes[0].prefix)
    }

    /// The store row of `values` (one per column, already coerced).
    pub(crate) fn to_row(&self, values: &[Value]) -> Row {
        let mut row = Row::new();
        for (column, value) in self.columns.iter().zip(values) {
            row.set(column.name, to_datum(value));
        }
        row
    }

    /// The values of a store row, one per column.
    pub(crate) fn values_of(&self, row: &Row) -> Vec<Value> {
        let mut out = Vec::with_capacity(self.columns.len());
        let mut stored = row.columns();
        for column in &self.columns {
            let value = match stored.next() {
                Some((name, datum)) if name == column.name => from_datum(datum, column.ty),
                _ => row
                    .get(column.name)
                    .map_or(Value::Null, |d| from_datum(d, column.ty)),
            };
            out.push(value);
        }
        out
    }

    /// The key of index `index` for a row with `values` (an expression
    /// index's expressions evaluated over the row, which may fail).
    pub(crate) fn index_key(&self, index: usize, values: &[Value]) -> Result<Key, DbError> {
        let idx = &self.indexes[index];
        if idx.expressions.is_empty() {
            let parts = idx.columns.iter().map(|&c| &values[c]);
            return Ok(self.encode_entry(index, parts, values));
        }
        let computed = self.key_values(index, values)?;
        Ok(self.encode_entry(index, computed.iter(), values))
    }

    /// The key of index `index` with key values `parts` for a row with
    /// `values`: the row's primary key follows when the index is not
    /// unique or a value is NULL.
    fn encode_entry<'v>(
        &self,
        index: usize,
        parts: impl ExactSizeIterator<Item = &'v Value>,
        values: &[Value],
    ) -> Key {
        let idx = &self.indexes[index];
        let mut text = String::with_capacity(idx.prefix.len() + 24 * parts.len());
        text.push_str(&idx.prefix);
        let mut has_null = false;
        for v in parts {
            has_null |= v.is_null();
            encode_key(&mut text, v);
        }
        if index > 0 && (!idx.unique || has_null) {
            for &c in self.pk() {
                encode_key(&mut text, &values[c]);
            }
        }
        Key::raw(&text)
    }

    /// Whether a row with `values` has an entry in index `index`: always,
    /// but for a partial index only when its predicate is true (NULL
    /// counts as false, as in PostgreSQL). A predicate reads only the
    /// row's columns and immutable functions (CREATE INDEX refuses
    /// others), so it needs no clock, parameters or catalog.
    pub(crate) fn has_entry(&self, index: usize, values: &[Value]) -> Result<bool, DbError> {
        let Some(predicate) = &self.indexes[index].predicate else {
            return Ok(true);
        };
        let ctx = Ctx::default();
        predicate.is_true(&Env {
            row: values,
            params: &[],
            aggs: &[],
            ctx: &ctx,
        })
    }

    /// The row key for a row with `values`.
    pub(crate) fn row_key(&self, values: &[Value]) -> Key {
        self.encode_entry(0, self.pk().iter().map(|&c| &values[c]), values)
    }

    /// A secondary index entry: the row's primary key columns.
    pub(crate) fn entry_row(&self, values: &[Value]) -> Row {
        let mut row = Row::new();
        for &c in self.pk() {
            row.set(self.columns[c].name, to_datum(&values[c]));
        }
        row
    }

    /// The row key an index entry points to.
    pub(crate) fn key_of_entry(&self, entry: &Row) -> Key {
        let mut text = self.indexes[0].prefix.clone();
        for &c in self.pk() {
            let column = &self.columns[c];
            let value = entry
                .get(column.name)
                .map_or(Value::Null, |d| from_datum(d, column.ty));
            encode_key(&mut text, &value);
        }
        Key::raw(&text)
    }

    /// The key prefix of index `index` with its first columns equal to
    /// `values` (already coerced).
    pub(crate) fn index_prefix(&self, index: usize, values: &[Value]) -> String {
        // Room for the values (an integer takes 17 bytes), so the key
        // is not reallocated as it grows.
        let prefix = &self.indexes[index].prefix;
        let mut text = String::with_capacity(prefix.len() + 24 * values.len() + 24);
        text.push_str(prefix);
        for v in values {
            encode_key(&mut text, v);
        }
        text
    }

    /// Whether a statement on one row key of this table touches only that
    /// key (no index entries, foreign keys or exclusion checks), so the
    /// model checker may treat it as a single-key step.
    pub(crate) fn single_key(&self) -> bool {
        self.indexes.len() == 1
            && self.foreign_keys.is_empty()
            && self.referenced_by.is_empty()
            && self.exclusion.is_none()
    }
}

/// Every table, by name.
#[derive(Clone, Default)]
pub(crate) struct Catalog {
    pub(crate) tables: std::collections::BTreeMap<String, Arc<Table>>,
    /// User-defined (enum) types by name, to their interned ids.
    pub(crate) types: std::collections::BTreeMap<String, u32>,
    /// Every key prefix (without its `/`) a table or index ever had: a
    /// dropped table's rows stay in the store as they were (the store
    /// cannot forget committed versions), so an object made later under
    /// the same name must not see them.
    used_prefixes: BTreeSet<String>,
    /// The extensions `CREATE EXTENSION` installed.
    pub(crate) extensions: BTreeSet<String>,
    /// The schemas `CREATE SCHEMA` made (besides `public`).
    pub(crate) schemas: BTreeSet<String>,
    /// Every partition, by name, to its partitioned table's name.
    pub(crate) partitions: std::collections::BTreeMap<String, String>,
    /// User functions (`CREATE FUNCTION`, see `plpgsql`), one per name.
    pub(crate) functions: std::collections::BTreeMap<String, Arc<super::plpgsql::Function>>,
    /// The catalog changes of DDL run inside transaction blocks not yet
    /// ended, in the order they were made (see `ddlblock`).
    pub(crate) pending: Vec<super::ddlblock::Pending>,
}

impl Catalog {
    /// A key prefix for a new table or index named `base` (`t` or
    /// `t@index`): `base/` itself the first time, `base~n/` after a drop.
    pub(crate) fn fresh_prefix(&mut self, base: &str) -> String {
        let mut candidate = base.to_string();
        let mut n = 0;
        while self.used_prefixes.contains(&candidate) {
            n += 1;
            candidate = format!("{base}~{n}");
        }
        self.used_prefixes.insert(candidate.clone());
        candidate.push('/');
        candidate
    }
}

impl Table {
    /// The key prefix of the table's rows, without its `/`: what its
    /// secondary indexes' prefixes start with.
    pub(crate) fn base(&self) -> &str {
        self.indexes[0]
            .prefix
            .strip_suffix('/')
            .unwrap_or(&self.indexes[0].prefix)
    }
}
