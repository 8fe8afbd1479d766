//! SQL on the simulated store: a PostgreSQL-dialect subset, parsed with
//! `sqlparser`, planned with PostgreSQL's access paths and executed on the
//! MVCC [`Store`].
//!
//! The interface is [`Session`]: `execute(sql, params)` on a connection,
//! with `BEGIN`/`COMMIT`/`ROLLBACK` as statements (or the
//! [`Session::begin`], [`Session::commit`] and [`Session::rollback`]
//! helpers). [`SqlSession`] implements it on the simulated store and
//! [`crate::postgres::PgSession`] on a real PostgreSQL, so a handler
//! written once against `impl Session` runs on both:
//!
//! ```
//! use overbook_db::sql::{Session, SqlDb, Value};
//! use overbook_db::store::{block_on, Isolation};
//!
//! async fn reserve(s: &mut impl Session, auth: &str, n: i64) -> Result<bool, overbook_db::store::DbError> {
//!     s.begin(Isolation::Serializable).await?;
//!     let rows = s
//!         .execute("SELECT used, total FROM auths WHERE id = $1 FOR UPDATE", &[auth.into()])
//!         .await?;
//!     let (used, total) = (rows.int(0, "used").unwrap(), rows.int(0, "total").unwrap());
//!     if used + n > total {
//!         s.rollback().await?;
//!         return Ok(false);
//!     }
//!     s.execute("UPDATE auths SET used = used + $2 WHERE id = $1", &[auth.into(), n.into()])
//!         .await?;
//!     s.commit().await?;
//!     Ok(true)
//! }
//!
//! let db = SqlDb::new_empty();
//! let mut s = db.session();
//! block_on(async {
//!     s.execute("CREATE TABLE auths (id text PRIMARY KEY, used int NOT NULL, total int NOT NULL)", &[]).await.unwrap();
//!     s.execute("INSERT INTO auths VALUES ('a1', 0, 10)", &[]).await.unwrap();
//!     assert!(reserve(&mut s, "a1", 6).await.unwrap());
//!     assert!(!reserve(&mut s, "a1", 6).await.unwrap());
//! });
//! ```
//!
//! What is simulated, and how:
//! - A row is the store row at `table/<pk>`. A table without a primary
//!   key is PostgreSQL's heap: its rows are keyed by a hidden identity
//!   drawn from a non-transactional counter (not shown by `SELECT *`), so
//!   UPDATE and DELETE act on the row they found and concurrent writers of
//!   it meet on its key (waits, Read Committed's re-check of the newest
//!   version, 40001 at the snapshot levels), and a sequential scan returns
//!   rows in heap order (an updated row's new version last).
//!   Secondary and unique indexes are extra keys written in the same
//!   transaction (see `catalog`), so an index scan's range read is the
//!   SSI predicate lock on that index range (the gap included) and a
//!   sequential scan locks the whole table's range.
//! - DDL: `CREATE TABLE [IF NOT EXISTS]`,
//!   `CREATE [UNIQUE] INDEX [IF NOT EXISTS] ... [WHERE pred]` (partial:
//!   entries only for rows satisfying `pred`, uniqueness among those; read
//!   only by queries whose WHERE has each of `pred`'s conjuncts), on
//!   columns or on immutable expressions such as `(lower(email))`,
//!   `(lower(a), b)`, `((a + b))` (see `exprindex`: a unique one
//!   constrains the expression's value, waiting for an uncommitted equal
//!   entry as for columns; a `WHERE` comparing the indexed expression
//!   reads the index and SIREAD-locks that range; `ON CONFLICT
//!   (lower(email))` infers it; 42P17 for `now()`, `random()` and what
//!   PostgreSQL marks stable, such as `date_trunc` of a timestamptz),
//!   `PRIMARY KEY / UNIQUE (...)
//!   INCLUDE (...)`, `DROP TABLE [IF EXISTS] ... [CASCADE | RESTRICT]`
//!   (2BP01 when another table's foreign key depends on it; CASCADE drops
//!   those keys), `DROP INDEX [IF EXISTS]`, and `CREATE EXTENSION [IF NOT
//!   EXISTS]` of btree_gist, pgcrypto and uuid-ossp (others: 0A000),
//!   `CREATE SCHEMA [IF NOT EXISTS]` with qualified names `schema.table`
//!   (`public.t` is `t`) and `DROP SCHEMA [IF EXISTS] ... [CASCADE]`. A
//!   dropped table's rows stay in the store under a prefix no later table
//!   reuses. `ALTER TABLE` (see `alter`): add/drop column, add (checked
//!   against the existing rows, or `NOT VALID`), validate and drop
//!   constraints, set/drop default and NOT NULL, renames, storage
//!   parameters; with PostgreSQL's table lock per action.
//! - DDL inside a transaction block (see `ddlblock`): CREATE TABLE,
//!   CREATE INDEX, DROP TABLE / INDEX (DROP TABLE of an empty partition
//!   alone too), ALTER TABLE (not RENAME / OWNER TO), CREATE / DROP
//!   TRIGGER and FUNCTION, ALTER SEQUENCE. Its table lock is held to the
//!   end of the block; its change is the block's at once and the others'
//!   at COMMIT (they plan without it; a statement of theirs on a changed
//!   table takes its locks first and is planned again once it holds
//!   them); ROLLBACK, ROLLBACK TO and a failed COMMIT undo it. An index
//!   build or row-reading ALTER in a REPEATABLE READ / SERIALIZABLE block
//!   after its first query, and the other DDL (CREATE TABLE AS, types,
//!   schemas, extensions, partitioned-table DDL, roles), are 0A000 there.
//! - A query reads a table through its primary key or the secondary index
//!   whose leading columns its WHERE clause fixes by equality (then one
//!   range), else by a sequential scan; joins are nested loops in FROM
//!   order, later tables looked up with the earlier ones' values. Inner,
//!   `LEFT` / `RIGHT` / `FULL [OUTER]` and `CROSS` joins with `ON`, `USING`
//!   or `NATURAL` (see `joins`: NULL-extended rows; a left join's read of
//!   an inner side that finds nothing still takes its SSI predicate lock).
//! - Aggregates with `FILTER (WHERE ...)` and `DISTINCT` (`count`, `sum`,
//!   `min`, `max`, `avg`, `bool_and`, `bool_or`, `string_agg`,
//!   `array_agg`), `GROUP BY` expressions and output-column numbers (see
//!   `grouping`); `SELECT DISTINCT`, `DISTINCT ON`, `UNION` / `INTERSECT`
//!   / `EXCEPT [ALL]` (see `setops`); window functions `row_number`,
//!   `rank`, `dense_rank`, `lag`, `lead` and aggregates `OVER (PARTITION
//!   BY ... ORDER BY ...)` with the default frame (see `window`).
//! - One SQL statement is one pause point of the store's
//!   [`Pacer`](crate::store::Pacer) (one model-checker step); a statement
//!   that waits for a row lock parks there and resumes in place.
//! - Row locks have PostgreSQL's four strengths and conflict table
//!   (`FOR KEY SHARE`, `FOR SHARE`, `FOR NO KEY UPDATE`, `FOR UPDATE`).
//!   An UPDATE takes NO KEY UPDATE unless it changes a column of a unique
//!   index, DELETE takes UPDATE, and foreign-key checks take KEY SHARE on
//!   the parent row, so referencing inserts and updates of the parent's
//!   other columns go on together. `NOWAIT` (55P03) and `SKIP LOCKED`
//!   work.
//! - Foreign keys (self-references too) with `ON DELETE` / `ON UPDATE`
//!   `NO ACTION | RESTRICT | CASCADE | SET NULL | SET DEFAULT`, run as
//!   PostgreSQL's RI triggers at the end of the statement (see
//!   `referential`: fresh snapshot, the row locks of a DELETE or UPDATE,
//!   40001 at the snapshot levels for a referencing row newer than the
//!   snapshot, cascades depth first).
//! - `DEFERRABLE [INITIALLY DEFERRED | INITIALLY IMMEDIATE]` foreign keys
//!   (see `deferred`): a deferred key's child check (the parent exists,
//!   locked FOR KEY SHARE) and its `NO ACTION` check run at COMMIT, which
//!   fails with 23503 and rolls back when one fails; `RESTRICT` and the
//!   writing actions stay at the end of the statement, as in PostgreSQL.
//!   `SET CONSTRAINTS ALL | name [, ...] DEFERRED | IMMEDIATE` in a block
//!   (IMMEDIATE runs the pending checks at once; a name that is not a
//!   deferrable foreign key is 42809, an unknown one 42704; outside a
//!   block it does nothing, as PostgreSQL only warns); `ROLLBACK TO`
//!   restores the pending checks and modes. `DEFERRABLE` unique and
//!   primary keys are 0A000.
//! - Savepoints: `SAVEPOINT`, `RELEASE [SAVEPOINT]` and `ROLLBACK TO
//!   [SAVEPOINT]`, undoing writes and row locks (back to their earlier
//!   strength) as PostgreSQL aborts a subtransaction; an error inside a
//!   savepoint releases only what came after it, and `ROLLBACK TO`
//!   revives the block; it also releases the advisory transaction locks
//!   and table locks taken after the savepoint and undoes its `SET` and
//!   `SET LOCAL` (session-level advisory locks stay).
//! - Advisory transaction locks: `SELECT pg_advisory_xact_lock($1)`,
//!   `pg_advisory_xact_lock_shared`, `pg_try_advisory_xact_lock[_shared]`
//!   (a boolean), each with one bigint or two integer keys, in a select
//!   list without FROM (other items allowed). They are held to commit or
//!   rollback, queue first come first served (a shared request waits
//!   behind a queued exclusive one), and their waits are edges of the
//!   same wait-for graph as row locks' (40P01 across both). Session-level
//!   `pg_advisory_lock[_shared]`, `pg_try_advisory_lock[_shared]`,
//!   `pg_advisory_unlock[_shared]` (false when not held) and
//!   `pg_advisory_unlock_all()` belong to the connection's backend
//!   ([`crate::store::SessionId`]): held across its transactions and
//!   rollbacks, re-entrant (one unlock per lock), released when the
//!   session is dropped, and kept by a pooled connection (as a real pool
//!   keeps its server connections). The waiting forms may also appear in
//!   a WHERE clause (`WHERE pg_advisory_lock(k) IS NOT NULL`, key without
//!   columns): taken once as the scan starts, after the snapshot
//!   (PostgreSQL calls them per row examined; the store once per
//!   statement, so the re-entrant count can differ).
//! - Table locks (see `locks` and the store's `table_locks`): `LOCK
//!   [TABLE] name [, ...] [IN mode MODE] [NOWAIT]` in the eight modes
//!   with PostgreSQL's conflict table, only in a transaction block
//!   (25P01), held to its end; every statement takes its implicit mode
//!   before its snapshot (ACCESS SHARE to read, ROW SHARE for a locking
//!   read and on the tables a foreign-key check reads, ROW EXCLUSIVE on
//!   the table it writes, ACCESS EXCLUSIVE for `TRUNCATE` and `DROP
//!   TABLE`, SHARE for `CREATE INDEX`); waits queue as in PostgreSQL's
//!   lock manager, with its early deadlock check and soft-deadlock
//!   repair. `TRUNCATE [TABLE] a [, ...] [CASCADE | RESTRICT]` empties
//!   the tables, and at its commit no snapshot sees the old rows (it is
//!   not MVCC-safe in PostgreSQL either). `FOR UPDATE` may come before or
//!   after `LIMIT`, and `OF` may name the query's one table.
//! - `SET [LOCAL | SESSION] name {= | TO} {value | DEFAULT}` and `RESET
//!   name | ALL` (see `settings`): `lock_timeout` and `statement_timeout`
//!   (values as PostgreSQL reads them: ms, or a number with
//!   `us`/`ms`/`s`/`min`/`h`/`d`; 22023 for invalid ones); `SET LOCAL`
//!   lasts to the end of the block, a plain `SET` for the session unless
//!   its block rolls back. A lock wait longer than `lock_timeout` fails
//!   with 55P03, a statement whose lock waits add up to more than
//!   `statement_timeout` with 57014 (a statement takes time in the store
//!   only by waiting), timed on the store's
//!   [`Pacer`](crate::store::Pacer) clock and raced against
//!   `deadlock_timeout` as PostgreSQL does (see
//!   [`crate::store::Timeouts`]). `deadlock_timeout` is the session's own:
//!   a waiter checks for a deadlock once its own timeout has passed, so of
//!   a cycle the transaction whose timeout expires first fails with 40P01.
//!   `enable_seqscan`, `enable_indexscan`, `enable_bitmapscan` and
//!   `enable_indexonlyscan` steer the access path as PostgreSQL's costs
//!   do (both index paths off: a sequential scan, whose SSI predicate lock
//!   covers the table). Harmless parameters drivers and PostgreSQL's
//!   isolation specs send are accepted and shown (`application_name`,
//!   `client_min_messages`, `search_path` = public, `TimeZone` = UTC,
//!   `DateStyle`, parallel-query and cost settings, the other `enable_*`,
//!   placeholders with a dot). `SHOW name` and `current_setting('name' [,
//!   missing_ok])` give PostgreSQL's text forms. A parameter PostgreSQL
//!   does not know: 42704; one it knows that is not modelled, or an
//!   unmodelled value (`TimeZone = 'Europe/Paris'`): 0A000.
//! - `BEGIN [WORK | TRANSACTION]` / `START TRANSACTION` with `ISOLATION
//!   LEVEL ...`, `READ ONLY | READ WRITE`, `[NOT] DEFERRABLE`; `COMMIT
//!   [WORK]`, `END`, `ROLLBACK [WORK]`, `ABORT`. `SET TRANSACTION ...`
//!   changes the open block's modes before its first query (after it, a
//!   different level, READ WRITE or DEFERRABLE is 25001, and so is a change
//!   inside a savepoint), and outside a block does nothing (PostgreSQL
//!   warns). `SET SESSION CHARACTERISTICS AS TRANSACTION ...` and
//!   `default_transaction_isolation` / `_read_only` / `_deferrable` set
//!   the modes of later blocks and of single statements.
//!   `BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE`: the first
//!   statement waits for a safe snapshot, then the transaction runs
//!   without SSI and never fails with 40001 (see
//!   [`TxMode::deferrable`](crate::store::TxMode::deferrable)); DEFERRABLE
//!   has no effect at other levels or without READ ONLY.
//! - Types and functions (see `value`, `funcs`, `time`, `decimal`,
//!   `types`) with PostgreSQL 15's results and SQLSTATEs: enum types
//!   (`CREATE TYPE ... AS ENUM`, `DROP TYPE`), `uuid` (with
//!   `gen_random_uuid()`/`uuid_generate_v4()` drawn from the store's
//!   [`Seed`]), `interval`, `timestamp` without time zone, `char(n)`, `varchar(n)`, exact `numeric(p,s)`
//!   ([`Decimal`]), arrays ([`Value::Array`], also as a parameter: `WHERE
//!   id = ANY($1)`), jsonb operators and functions, text, math and time
//!   functions, `LIKE`/`ILIKE`, `CASE`, casts. Time functions read the
//!   store's [`Pacer`](crate::store::Pacer) clock: simulated time 0 is
//!   2025-01-01 00:00:00 UTC ([`SIM_EPOCH_US`]); `now()` is fixed for a
//!   transaction when it first reads it, `statement_timestamp()` per
//!   statement, `clock_timestamp()` moves; the only time zone is UTC.
//!   Enum values come back to a client as their labels (text).
//! - Generated columns (see `generated`): `col type GENERATED ALWAYS AS
//!   (expr) STORED`, computed from the new row on INSERT and on every
//!   UPDATE (ON CONFLICT DO UPDATE, `UPDATE ... FROM` and a cascaded key
//!   update too; at Read Committed from the row re-read after a wait),
//!   before NOT NULL, CHECK and index entries (unique ones too); writing
//!   it is 428C9 (DEFAULT is allowed), the expression must be immutable
//!   and read no generated column (42P17); `ALTER TABLE ... ADD COLUMN`
//!   computes it for the existing rows, `ALTER COLUMN ... DROP
//!   EXPRESSION [IF EXISTS]` makes it a plain column, and dropping a
//!   column it reads is 2BP01 without CASCADE.
//! - `CREATE TABLE [IF NOT EXISTS] name [(col, ...)] AS query [WITH [NO]
//!   DATA]` (see `ctas`): a table without a primary key whose columns
//!   have the query's names and PostgreSQL's resolved types, filled in
//!   the statement's transaction from the query run with its snapshot
//!   and SSI locks (42P07, 42701, 42601 as PostgreSQL); the query may
//!   read WITH queries (SELECTs), VALUES lists, `generate_series` (its
//!   arguments' integer type) and subqueries in FROM, whose column types
//!   are resolved the same way; a set operation (UNION) or a
//!   data-modifying WITH query is 0A000. `SELECT ... INTO [TABLE] name
//!   FROM ...` is the same statement.
//! - Declarative partitioning (see `partition`): `CREATE TABLE ... PARTITION
//!   BY LIST (col) | RANGE (cols)`, `CREATE TABLE [IF NOT EXISTS] p
//!   PARTITION OF t FOR VALUES IN (...) | FROM (...) TO (...) (MINVALUE /
//!   MAXVALUE too) | DEFAULT`, `ALTER TABLE t ATTACH PARTITION p FOR VALUES
//!   ... | DEFAULT` of an existing table (its columns by name; its rows move
//!   in). The partitioned table keeps its partitions' rows (every unique key
//!   includes the partition key, as PostgreSQL requires: 0A000 otherwise),
//!   so its reads, row locks, SSI locks, indexes, unique keys, `ON
//!   CONFLICT` and foreign keys to and from it are a table's; a row no
//!   partition takes is 23514, an UPDATE into another partition deletes
//!   and re-inserts the row (a Read Committed UPDATE, DELETE or locking
//!   read that waited for it fails with 40001 `tuple to be locked was
//!   already moved to another partition due to concurrent update`; `ON
//!   CONFLICT DO UPDATE` retries its insert), overlapping bounds and a
//!   default partition's rows are checked (42P17, 23514). A statement on
//!   the table locks its partitions too (none pruned), `LOCK TABLE` of it
//!   recurses, `LOCK TABLE`, `VACUUM` and `ANALYZE` take partition names,
//!   `VACUUM (SKIP_LOCKED)` skips a busy partition and `ANALYZE` of the
//!   table waits for ACCESS SHARE on every partition. SELECT, INSERT,
//!   UPDATE, DELETE and locking reads may name a partition itself: they
//!   see its rows only, lock the partition alone (an INSERT ACCESS SHARE
//!   on its table too), and a row written through it outside its bound is
//!   23514 `new row for relation "p" violates partition constraint` (an
//!   UPDATE through a partition does not move a row; transcript
//!   `partition-statement-on-a-partition-waits-for-a-writer-through-the-parent`).
//!   `tableoid::regclass` is the name of the relation a row is in (its
//!   partition's for a partitioned table's row; `tableoid` alone, an OID,
//!   does not resolve).
//!   0A000: `PARTITION BY HASH`, sub-partitioning, key expressions,
//!   `DETACH PARTITION [CONCURRENTLY]`, `TRUNCATE`, `CREATE INDEX` and
//!   foreign keys naming a partition itself, `DROP TABLE` of a partition
//!   without its table, `ALTER TABLE` of a partition other than storage
//!   parameters and triggers, and `CREATE TABLE (LIKE t)`.
//! - User functions and row triggers (see `plpgsql`, `triggers`):
//!   `CREATE [OR REPLACE] FUNCTION name(args) RETURNS type | void |
//!   trigger LANGUAGE sql | plpgsql AS $$...$$` and `DROP FUNCTION [IF
//!   EXISTS] ... [CASCADE]` (one function per name: overloading,
//!   `SETOF`/`TABLE` results and OUT arguments are 0A000), called from
//!   any expression (with the statement's reads only: a write or lock
//!   there is 0A000) or as the whole select list of a `SELECT` without
//!   FROM (with the transaction: `SELECT insert_unique(1, 'a')` writes
//!   and waits). PL/pgSQL: DECLARE, nested blocks, `:=`, IF / ELSIF /
//!   ELSE, WHILE, LOOP, `FOR i IN a..b`, `FOR r IN query`, EXIT /
//!   `CONTINUE [WHEN]`, RETURN, PERFORM, `SELECT ... INTO [STRICT]`, INSERT
//!   / UPDATE / DELETE with variables as parameters, `EXECUTE ... [INTO]
//!   [USING]`, `RAISE EXCEPTION` with `%` formatting, `SQLSTATE` and
//!   `USING ERRCODE / MESSAGE` (other levels send nothing), FOUND, `GET
//!   DIAGNOSTICS ... ROW_COUNT`, `EXCEPTION WHEN` handlers (a savepoint
//!   that a caught error rolls back, with SQLSTATE and SQLERRM). `CREATE [OR
//!   REPLACE] TRIGGER name {BEFORE | AFTER} {INSERT | UPDATE [OF cols] |
//!   DELETE} [OR ...] ON t [FOR EACH {ROW | STATEMENT}] [WHEN (cond)]
//!   EXECUTE {FUNCTION | PROCEDURE} f()` (SHARE ROW EXCLUSIVE on the
//!   table), `ALTER TABLE t {ENABLE | DISABLE} TRIGGER {name | USER |
//!   ALL}` (SHARE ROW EXCLUSIVE; ALL on a table with foreign keys is
//!   0A000) and `DROP TRIGGER [IF EXISTS] name ON t`, with NEW, OLD, TG_OP,
//!   TG_WHEN, TG_LEVEL, TG_NAME, TG_TABLE_NAME: a BEFORE ROW trigger runs
//!   on the row about to be written (after Read Committed's re-check of
//!   a waited-for row) and may change NEW or skip the row; AFTER ROW
//!   triggers fire at the end of the statement, after its foreign-key
//!   actions. A function's statements are nested in the one that called
//!   it: no pause point of their own, their own table locks, and at Read
//!   Committed each takes a new snapshot, as a volatile function's do
//!   (transcript `trigger-function-statements-take-their-own-snapshot`).
//!   Statement triggers (PostgreSQL's default) fire once per statement,
//!   rows or none: BEFORE ones as it starts, AFTER ones after its AFTER
//!   ROW triggers (an `ON CONFLICT DO UPDATE` fires the UPDATE ones too).
//!   A trigger may be on a partition: its row triggers fire for the
//!   partition's rows (written through the partitioned table too), its
//!   statement triggers for statements naming it; a partitioned table's
//!   row triggers fire on each row's partition (TG_TABLE_NAME). An UPDATE
//!   that moves a row to another partition fires the source's BEFORE
//!   DELETE and the destination's BEFORE INSERT row triggers after the
//!   BEFORE UPDATE ones, then AFTER DELETE and AFTER INSERT, no AFTER
//!   UPDATE (transcript
//!   `partition-move-fires-the-source-partitions-delete-trigger-on-the-newest-version`).
//!   `rec.*` in a function's statement is each of the record's fields.
//!   INSTEAD OF and TRUNCATE triggers are 0A000.
//! - `VALUES (...), ...` as a query (with ORDER BY / LIMIT) and as a FROM
//!   item `(VALUES ...) alias [(cols)]`: columns `column1`, ... of the
//!   type PostgreSQL resolves over the rows (an untyped literal takes the
//!   others' type; 42804 for types that cannot be matched, 42601 for rows
//!   of different lengths).
//! - `PREPARE name [(type, ...)] AS statement`, `EXECUTE name [(arg,
//!   ...)]`, `DEALLOCATE [PREPARE] name | ALL` (see `prepare`): the
//!   session's named statements, not transactional, planned at PREPARE
//!   (42P01 there), run with constant arguments cast to the declared
//!   types (42P05, 26000, 42601 as PostgreSQL; `DISCARD ALL` deallocates
//!   them). `PREPARE TRANSACTION` (two-phase commit) is 0A000.
//! - Roles and table privileges (see `roles`): `CREATE ROLE | USER`
//!   (`SUPERUSER` or not; other options accepted), `DROP ROLE [IF
//!   EXISTS]` (2BP01 while it owns a table or holds a grant), `GRANT` /
//!   `REVOKE` of table privileges to roles and PUBLIC, `ALTER TABLE ...
//!   OWNER TO`, `SET [LOCAL] ROLE name | NONE`, `RESET ROLE`, `SET SESSION
//!   AUTHORIZATION name | DEFAULT` (transactional as `SET`; `SHOW role`).
//!   A connection is the superuser `postgres`. A role without superuser
//!   gets PostgreSQL's 42501 for SELECT, INSERT, UPDATE, DELETE and
//!   locking reads without the table privileges, for TRUNCATE and LOCK
//!   TABLE before it would wait for the lock, for `CREATE TABLE` / `CREATE
//!   INDEX` (schema public) and owner-only `ALTER TABLE`; VACUUM and
//!   ANALYZE skip the tables it does not own without waiting; statements
//!   whose checks are not modelled (sequence functions, other DDL, GRANT
//!   by an owner, column privileges, role membership, privileges on
//!   anything but tables) are 0A000. Query privileges are checked before
//!   the statement's table locks are waited for (PostgreSQL checks them
//!   once it holds them).
//! - Sequences (see `sequences`): `CREATE SEQUENCE` with PostgreSQL's
//!   options, `ALTER SEQUENCE ... [RESTART [WITH n]]`, `DROP SEQUENCE
//!   [IF EXISTS] ... [CASCADE]`, `nextval` / `currval` / `lastval` /
//!   `setval` with PostgreSQL's SQLSTATEs, `serial`/`bigserial`/
//!   `smallserial` and identity columns owning `t_c_seq`, `DEFAULT
//!   nextval('s')`, `pg_get_serial_sequence`. `nextval` is not
//!   transactional and takes no SSI lock; `currval` and `lastval` are the
//!   session's ([`crate::store::SessionId`]'s). `ALTER SEQUENCE` in a
//!   block is transactional (SHARE ROW EXCLUSIVE on the sequence to the
//!   block's end; `nextval('s')` / `setval('s', ...)` take ROW EXCLUSIVE
//!   on the sequence they name, so they wait for it); CREATE / DROP
//!   SEQUENCE in a block are 0A000.
//! - Queries inside statements (see `subquery`, `cte`, `join_writes`):
//!   scalar, `[NOT] EXISTS`, `[NOT] IN` and `op ANY | ALL` subqueries,
//!   correlated or not, in any expression of a statement (their reads are
//!   the statement's: its snapshot, SSI predicate locks); `INSERT ...
//!   SELECT`; `WITH` queries (several, SELECT with a locking clause or a
//!   data-modifying one with RETURNING; all parts on one snapshot, none
//!   seeing another's writes; two parts writing one table, and `WITH
//!   RECURSIVE`, are 0A000); `(SELECT ...) alias` and `generate_series` in
//!   FROM and `generate_series` in a select list; `UPDATE ... FROM` and
//!   `DELETE ... USING` (Read Committed re-checks the target's newest
//!   version with the same joined rows); `ON CONFLICT (cols) WHERE pred`
//!   inferring a partial unique index, `ON CONFLICT (lower(x))` an
//!   expression index. A locking clause inside a subquery
//!   is 0A000.
//! - `REINDEX [(VERBOSE)] INDEX | TABLE | SCHEMA name` (see `reindex`):
//!   nothing to rebuild, with PostgreSQL's locks (SHARE on the table,
//!   ACCESS EXCLUSIVE on its indexes, taken as the table's ACCESS
//!   EXCLUSIVE: the store has no index locks), held to the end of a block;
//!   `REINDEX SCHEMA` table by table, outside blocks (25001).
//!   `CONCURRENTLY`, `DATABASE` and `SYSTEM` are 0A000.
//! - `CREATE INDEX ... USING hash (col)`: read only by an equality on its
//!   column (never a range, so a range query scans the table and locks
//!   the relation), not unique, one column (0A000 as PostgreSQL); its SSI
//!   lock covers the key's entries, where PostgreSQL's covers the key's
//!   bucket page. gin, gist, brin and spgist are 0A000.
//! - Parameter and result types before a statement runs (see
//!   [`describe`], [`SqlSession::describe`]): each `$n`'s type from its
//!   context (comparison, cast, INSERT / UPDATE target, `ANY`, `LIMIT`;
//!   text otherwise) and each result column's, as PostgreSQL's Parse and
//!   Describe report them to a driver (see [`crate::pgwire`]).
//! - `pg_locks` and `pg_stat_activity`, only as a picture of one moment:
//!   [`SqlDb::install_activity`] creates them as read-only tables (writes
//!   fail with 55000, as on PostgreSQL's views) holding a
//!   [`crate::store::Store::activity`] (see `activity`), which is how
//!   `overbook replay --inspect` shows the locks of a failing step
//!   (`pg_catalog.pg_locks` names them too). A database without them has
//!   no such relations (42P01): the engine has no live system views, nor
//!   the catalogs (`pg_class`) psql's `\d` reads.
//! - Rejected with 0A000, naming the construct and the statement:
//!   `EXPLAIN`, cursors, `WITH RECURSIVE`, `FOR UPDATE` on a join or in a subquery, window
//!   frames other than the default, the column list of `SET NULL (cols)`
//!   and `SET DEFAULT (cols)` (a parse error), the DDL listed above inside
//!   a transaction block, `SELECT ... FROM` a sequence, and any
//!   statement or expression not listed in
//!   `plan`/`expr`.

mod activity;
mod alter;
pub mod anomaly;
mod catalog;
mod conflict;
mod ctas;
mod cte;
mod ddl;
mod ddlblock;
mod decimal;
mod deferred;
pub mod describe;
mod exec;
mod expr;
mod exprindex;
mod funcs;
mod generated;
mod grouping;
mod join_writes;
mod joins;
mod locks;
mod partition;
mod plan;
pub(crate) use plan::skip_leading_comments;
mod plpgsql;
mod prepare;
mod referential;
mod reindex;
mod roles;
pub mod script;
pub mod scripts;
mod sequences;
mod setops;
mod settings;
mod subquery;
mod time;
mod triggers;
mod types;
mod vacuum;
mod value;
mod window;

pub use decimal::Decimal;
pub use time::{Interval, SIM_EPOCH_US};
pub use types::EnumValue;
pub use value::{canonical_json, Span, SqlType, Value};

use crate::seed::Seed;
use crate::store::{
    block_on, Connection, DbError, Isolation, Pool, Schema, SessionId, SqlState, Store,
    StoreConfig, TableLockMode, Timeouts, Tx, TxMode,
};
use catalog::{Catalog, Table};
use plan::{Prepared, Statement};
use settings::{Param, SetValue, Settings, TxModes};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

/// A DDL statement's object name as the catalog keys it (`public.t` is
/// `t`), or its text when it cannot be read.
fn ddl_object_name(name: &sqlparser::ast::ObjectName) -> String {
    expr::object_name(name).unwrap_or_else(|_| name.to_string())
}

/// 0A000 for a statement whose privilege checks are not modelled, run
/// as a role without superuser.
fn unsupported_as_role(sql: &str) -> DbError {
    DbError::new(
        SqlState::FeatureNotSupported,
        format!("this statement as a role without superuser is not supported by the simulated SQL engine: its privilege checks are not modelled (statement: {})", sql.trim()),
    )
}

/// 42501 for a new object in a schema only its owner may create in:
/// PostgreSQL 15 gives no one but its owner CREATE on schema public.
fn schema_denied(name: &str) -> DbError {
    let schema = name.split_once('.').map_or("public", |(s, _)| s);
    DbError::new(
        SqlState::Other("42501"),
        format!("permission denied for schema {schema}"),
    )
}

/// What a statement returned: column names, rows, and the number of rows
/// an INSERT, UPDATE or DELETE affected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rows {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// The rows, each one value per column.
    pub rows: Vec<Vec<Value>>,
    /// Rows inserted, updated or deleted (0 for other statements).
    pub affected: u64,
}

impl Rows {
    /// Rows with these columns.
    pub fn new(columns: Vec<String>, rows: Vec<Vec<Value>>) -> Rows {
        Rows {
            columns,
            rows,
            affected: 0,
        }
    }

    /// The number of rows returned.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row was returned.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The value of column `column` in row `row`.
    pub fn get(&self, row: usize, column: &str) -> Option<&Value> {
        let c = self.columns.iter().position(|name| name == column)?;
        self.rows.get(row)?.get(c)
    }

    /// Column `column` of row `row` as an integer.
    pub fn int(&self, row: usize, column: &str) -> Option<i64> {
        self.get(row, column).and_then(Value::as_int)
    }
}

/// One connection's way to run SQL: on the simulated store
/// ([`SqlSession`]) or on a real PostgreSQL
/// ([`crate::postgres::PgSession`]). Outside a transaction block each
/// statement runs in a transaction of its own (Read Committed), as in
/// PostgreSQL.
pub trait Session {
    /// Runs one statement with `$1..$n` bound to `params`.
    fn execute(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> impl Future<Output = Result<Rows, DbError>>;

    /// `BEGIN ISOLATION LEVEL ...`.
    fn begin(&mut self, isolation: Isolation) -> impl Future<Output = Result<(), DbError>> {
        async move { self.execute(begin_sql(isolation), &[]).await.map(|_| ()) }
    }

    /// `COMMIT`.
    fn commit(&mut self) -> impl Future<Output = Result<(), DbError>> {
        async move { self.execute("COMMIT", &[]).await.map(|_| ()) }
    }

    /// `ROLLBACK`.
    fn rollback(&mut self) -> impl Future<Output = Result<(), DbError>> {
        async move { self.execute("ROLLBACK", &[]).await.map(|_| ()) }
    }
}

/// The store key of the row of `table` whose primary key columns hold
/// `pk` (already of the columns' types): the layout every table of the
/// simulated engine uses, for invariant checkers that read committed rows.
pub fn row_key(table: &str, pk: &[Value]) -> crate::store::Key {
    let mut text = format!("{table}/");
    for value in pk {
        value::encode_key(&mut text, value);
    }
    crate::store::Key::raw(&text)
}

/// The statements of a script (a simple query's text), split at the
/// semicolons between them (not those inside literals, quoted names or
/// dollar-quoted bodies), empty ones dropped.
pub fn split_statements(script: &str) -> Result<Vec<String>, DbError> {
    plan::split_script(script)
}

/// The `BEGIN` statement of an isolation level.
pub fn begin_sql(isolation: Isolation) -> &'static str {
    match isolation {
        Isolation::ReadCommitted => "BEGIN ISOLATION LEVEL READ COMMITTED",
        Isolation::RepeatableRead => "BEGIN ISOLATION LEVEL REPEATABLE READ",
        Isolation::Serializable => "BEGIN ISOLATION LEVEL SERIALIZABLE",
    }
}

/// A table as `SELECT *` returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableLayout {
    /// The table's name.
    pub name: String,
    /// Its columns, in order.
    pub columns: Vec<String>,
    /// Positions (in `columns`) of its primary key's columns (empty for a
    /// table without a primary key).
    pub primary_key: Vec<usize>,
}

/// Per-database state shared by every handle to one store (kept in the
/// store's [`Store::extension`] slot, so it must not hold the store).
/// Prepared statements by text.
type PlanCache = Mutex<BTreeMap<String, Arc<Statement>>>;

#[derive(Default)]
pub(crate) struct DbShared {
    catalog: Mutex<Catalog>,
    /// Prepared statements by text, shared with the forks of this
    /// database ([`Store::fork`]) while its catalog is the one they were
    /// planned on: a catalog change gives the database a map of its own
    /// (see [`DbShared::clear_cache`]).
    cache: Mutex<Arc<PlanCache>>,
    serials: Mutex<BTreeMap<(String, &'static str), i64>>,
    /// `gen_random_uuid()`'s stream, from the store's seed.
    uuids: Mutex<Option<crate::seed::Rng64>>,
    /// Sequences and the sessions' `currval`s (see `sequences`); locked
    /// after `catalog` when both are.
    sequences: Mutex<sequences::Sequences>,
    /// Roles, table owners and grants (see `roles`).
    roles: Mutex<roles::Roles>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl DbShared {
    /// A copy for a fork of the store (see [`Store::fork`]): the same
    /// catalog, sequences, roles and counters, and the same plan cache
    /// (shared: the catalogs are equal until one of them changes, which
    /// then gets a cache of its own).
    fn fork(&self) -> DbShared {
        DbShared {
            catalog: Mutex::new(self.catalog().clone()),
            cache: Mutex::new(lock(&self.cache).clone()),
            serials: Mutex::new(lock(&self.serials).clone()),
            uuids: Mutex::new(lock(&self.uuids).clone()),
            sequences: Mutex::new(lock(&self.sequences).clone()),
            roles: Mutex::new(lock(&self.roles).clone()),
        }
    }

    /// The prepared statement of `sql`, when it is cached.
    fn cached(&self, sql: &str) -> Option<Arc<Statement>> {
        let cache = lock(&self.cache).clone();
        let found = lock(&cache).get(sql).cloned();
        found
    }

    /// Caches `statement`, the default plan of `sql` on the current catalog.
    fn cache(&self, sql: &str, statement: Arc<Statement>) {
        let cache = lock(&self.cache).clone();
        lock(&cache).insert(sql.to_string(), statement);
    }

    /// Forgets the cached plans after a catalog change. The map may be
    /// shared with forks of the database whose catalog has not changed:
    /// this one gets a new, empty map and leaves theirs alone.
    fn clear_cache(&self) {
        *lock(&self.cache) = Arc::default();
    }

    fn catalog(&self) -> MutexGuard<'_, Catalog> {
        lock(&self.catalog)
    }

    fn table(&self, name: &str) -> Result<Arc<Table>, DbError> {
        self.catalog().tables.get(name).cloned().ok_or_else(|| {
            DbError::new(
                SqlState::UndefinedTable,
                format!("relation \"{name}\" does not exist"),
            )
        })
    }

    /// Forgets the sequences of a dropped table's serial columns (and its
    /// hidden row counter), as dropping a table drops its owned sequences.
    /// Its owner and grants go too (see `roles`).
    fn forget_serials(&self, table: &str) {
        lock(&self.roles).forget_table(table);
        lock(&self.serials).retain(|(t, _), _| t != table);
        lock(&self.sequences).forget_table(table);
    }

    /// A renamed table keeps its serial columns' sequences (and its hidden
    /// row counter).
    /// So does its owner and its grants (see `roles`).
    fn rename_serials(&self, from: &str, to: &str) {
        lock(&self.roles).rename_table(from, to);
        lock(&self.sequences).rename_table(from, to);
        let mut serials = lock(&self.serials);
        let moved: Vec<_> = serials
            .iter()
            .filter(|((t, _), _)| t == from)
            .map(|((_, c), v)| (*c, *v))
            .collect();
        for (column, value) in moved {
            serials.remove(&(from.to_string(), column));
            serials.insert((to.to_string(), column), value);
        }
    }

    /// A renamed serial column keeps its sequence.
    fn rename_serial_column(&self, table: &str, from: &str, to: &'static str) {
        lock(&self.sequences).rename_column(table, from, to);
        let mut serials = lock(&self.serials);
        let found = serials
            .keys()
            .find(|(t, c)| t == table && *c == from)
            .cloned();
        if let Some(key) = found {
            let value = serials.remove(&key).expect("found above");
            serials.insert((table.to_string(), to), value);
        }
    }

    /// The next value of a `serial` / identity column: `nextval` of its
    /// sequence drawn by `session` (see `sequences`), or of the counter
    /// of a column without one (a heap table's hidden row identity).
    fn serial_value(
        &self,
        session: Option<SessionId>,
        table: &str,
        column: &'static str,
    ) -> Result<i64, DbError> {
        let drawn = lock(&self.sequences).next_for_column(session, table, column);
        drawn.unwrap_or_else(|| Ok(self.next_serial(table, column)))
    }

    /// Gives a created or altered table's `serial` / identity columns
    /// their sequences (see `sequences::Sequences::adopt`).
    fn adopt_serials(
        &self,
        catalog: &Catalog,
        table: &Table,
        identity_options: &[(String, sequences::Options)],
    ) -> Result<(), DbError> {
        let mut sequences = lock(&self.sequences);
        sequences.adopt(catalog, table, identity_options)?;
        // Values a column drew before it had a sequence (ALTER TABLE ...
        // ADD COLUMN n serial numbering the existing rows) are taken.
        let mut serials = lock(&self.serials);
        for col in &table.columns {
            if col.name == catalog::ROW_ID {
                continue;
            }
            if let Some(drawn) = serials.remove(&(table.name.clone(), col.name)) {
                sequences.continue_after(&table.name, col.name, drawn);
            }
        }
        Ok(())
    }

    /// The next value of a serial column's sequence (not transactional,
    /// as in PostgreSQL).
    fn next_serial(&self, table: &str, column: &'static str) -> i64 {
        let mut serials = lock(&self.serials);
        let next = serials.entry((table.to_string(), column)).or_insert(0);
        *next += 1;
        *next
    }
}

/// A SQL database on a simulated store: the catalog, a statement cache
/// shared by its sessions, and the store. Cheap to clone; every
/// [`SqlDb::attach`] to one store shares one catalog.
#[derive(Clone)]
pub struct SqlDb {
    store: Store,
    shared: Arc<DbShared>,
}

impl std::fmt::Debug for SqlDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlDb").finish_non_exhaustive()
    }
}

impl SqlDb {
    /// SQL over `store` (which should hold no key-value data of its own
    /// under the SQL tables' names). The same as [`SqlDb::attach`].
    pub fn new(store: Store) -> SqlDb {
        SqlDb::attach(&store)
    }

    /// The SQL database of `store`: its tables are the ones created through
    /// any handle to the same store, so a server can attach to the store
    /// its harness set up (the harness's `System::sql_schema`).
    pub fn attach(store: &Store) -> SqlDb {
        SqlDb {
            store: store.clone(),
            shared: store.forkable_extension(DbShared::default, |shared| {
                let shared = shared
                    .downcast_ref::<DbShared>()
                    .expect("the SQL layer's extension is its DbShared");
                Arc::new(shared.fork())
            }),
        }
    }

    /// SQL over a fresh store with the default configuration and seed 0.
    pub fn new_empty() -> SqlDb {
        SqlDb::new(Store::new(
            Schema::default(),
            StoreConfig::default(),
            Seed(0),
        ))
    }

    /// The store underneath.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A new connection, outside any pool.
    pub fn session(&self) -> SqlSession {
        SqlSession {
            db: self.clone(),
            block: None,
            settings: Settings::default(),
            session: self.store.new_session(),
            prepared: Box::default(),
            _connection: None,
        }
    }

    /// A connection from `pool` (waiting for a free one, or 53300 when too
    /// many wait), to the SQL database of the pool's store; the pool slot
    /// is held until the session is dropped, as with node-postgres's
    /// `pool.connect()` and `client.release()`.
    pub async fn connect(pool: &Pool) -> Result<SqlSession, DbError> {
        let mut connection = pool.connect().await?;
        let db = SqlDb::attach(pool.store());
        Ok(SqlSession {
            session: connection.session(pool.store()),
            db,
            block: None,
            settings: Settings::default(),
            prepared: Box::default(),
            _connection: Some(connection),
        })
    }

    /// Runs a script of `CREATE TABLE` and `CREATE INDEX` statements
    /// (separated by semicolons) on a store nothing else uses yet: the
    /// setup of a service's schema. Index backfills run as transactions of
    /// their own, so call it before installing a pacer that waits on a
    /// scheduler. An error names the statement that failed.
    pub fn install(&self, script: &str) -> Result<(), DbError> {
        let statements = plan::split_script(script)?;
        for statement in statements {
            let mut session = self.session();
            block_on(session.execute(&statement, &[])).map_err(|mut e| {
                if !e.message.contains("(statement: ") {
                    e.message = format!("{} (statement: {})", e.message, statement.trim());
                }
                e
            })?;
        }
        Ok(())
    }

    /// Loads one row of `table` (values in column order, as `INSERT INTO
    /// table VALUES (...)` takes them) straight into the committed state,
    /// outside any transaction, with its index entries: for a service's
    /// data set before anything runs. Values are coerced to the columns'
    /// types; NOT NULL, CHECK and key uniqueness are checked, foreign keys
    /// and exclusion constraints are not (setup data is expected to hold
    /// them).
    pub fn load(&self, table: &str, values: &[Value]) -> Result<(), DbError> {
        let table = self.shared.table(table)?;
        if values.len() != table.visible() {
            return Err(DbError::new(
                SqlState::SyntaxError,
                format!(
                    "table \"{}\" has {} columns, the loaded row {}",
                    table.name,
                    table.visible(),
                    values.len()
                ),
            ));
        }
        let mut values = table
            .columns
            .iter()
            .zip(values)
            .map(|(column, value)| value::coerce(value, column.ty))
            .collect::<Result<Vec<_>, _>>()?;
        if table.heap {
            // A heap row's hidden identity and position (see
            // `catalog::ROW_ID`).
            for _ in 0..2 {
                values.push(Value::Int(
                    self.shared.next_serial(&table.name, catalog::ROW_ID),
                ));
            }
        }
        let ctx = funcs::Ctx::new(&self.store, &self.shared, None);
        exec::check_row(
            &table,
            &values,
            exec::Bound {
                values: &[],
                ctx: &ctx,
            },
        )?;
        for index in 0..table.indexes.len() {
            let key = table.index_key(index, &values)?;
            if (index == 0 || table.indexes[index].unique)
                && !(table.heap && index == 0)
                && table.has_entry(index, &values)?
                && self.store.read_committed(&key).is_some()
            {
                return Err(DbError::new(
                    SqlState::UniqueViolation,
                    format!(
                        "duplicate key value violates unique constraint \"{}\" (loading table \"{}\")",
                        table.indexes[index].name, table.name
                    ),
                ));
            }
        }
        for index in 1..table.indexes.len() {
            if table.has_entry(index, &values)? {
                self.store
                    .load(table.index_key(index, &values)?, table.entry_row(&values));
            }
        }
        self.store
            .load(table.row_key(&values), table.to_row(&values));
        Ok(())
    }

    /// Every table, each after the tables its foreign keys refer to (the
    /// order to insert a copy of the data in), by name among equals.
    pub fn tables(&self) -> Vec<TableLayout> {
        let tables: Vec<Arc<catalog::Table>> =
            self.shared.catalog().tables.values().cloned().collect();
        let mut ordered: Vec<TableLayout> = Vec::with_capacity(tables.len());
        // Each pass places every table whose parents are placed; a cycle
        // of foreign keys (not creatable here) ends the loop by its bound.
        for _ in 0..=tables.len() {
            for table in &tables {
                let placed = |name: &str| ordered.iter().any(|t| t.name == name);
                if placed(&table.name) {
                    continue;
                }
                if table
                    .foreign_keys
                    .iter()
                    .all(|fk| fk.parent == table.name || placed(&fk.parent))
                {
                    ordered.push(TableLayout {
                        name: table.name.clone(),
                        columns: table.columns[..table.visible()]
                            .iter()
                            .map(|c| c.name.to_string())
                            .collect(),
                        primary_key: if table.heap {
                            Vec::new()
                        } else {
                            table.pk().to_vec()
                        },
                    });
                }
            }
        }
        ordered
    }

    /// Parses and plans `sql` against the tables as they are, without
    /// running it: how a statement with `$n` parameters is checked, as a
    /// driver's prepare checks it (`overbook sql-check`). The error is the
    /// statement's 0A000 or other planning error.
    pub fn check(&self, sql: &str) -> Result<(), DbError> {
        self.prepare(sql, settings::ScanSettings::default())
            .map(|_| ())
    }

    /// The prepared statement for `sql`, from the cache or parsed now.
    /// Plans under planner switches other than the defaults are not
    /// cached: the cache holds the default plan of each text.
    fn prepare(&self, sql: &str, scans: settings::ScanSettings) -> Result<Arc<Statement>, DbError> {
        self.prepare_as(sql, scans, None)
    }

    /// [`SqlDb::prepare`] for `viewer`'s session: planned against the
    /// catalog without the other sessions' uncommitted DDL (see
    /// `ddlblock`). While any block's DDL is pending the cache is passed
    /// by: plans then differ between sessions.
    fn prepare_as(
        &self,
        sql: &str,
        scans: settings::ScanSettings,
        viewer: Option<SessionId>,
    ) -> Result<Arc<Statement>, DbError> {
        let catalog = self.shared.catalog();
        let default_plan = scans == settings::ScanSettings::default() && catalog.pending.is_empty();
        if default_plan {
            if let Some(found) = self.shared.cached(sql) {
                return Ok(found);
            }
        }
        let seen = match viewer {
            Some(viewer) => ddlblock::view(&catalog, viewer),
            None => Cow::Borrowed(&*catalog),
        };
        let mut statement = types::with_types(&seen.types, || plan::prepare(sql, &seen, scans))?;
        drop(seen);
        drop(catalog);
        sequences::lock_sequences(&mut statement, sql, &lock(&self.shared.sequences));
        let statement = Arc::new(statement);
        if default_plan && statement.cacheable() {
            self.shared.cache(sql, statement.clone());
        }
        Ok(statement)
    }
}

/// Where [`SqlSession::route`] took a statement.
enum Routed {
    /// Run by a parser of its own: its result.
    Done(Rows),
    /// Planned: to run.
    Planned(Arc<Statement>),
}

struct Block {
    tx: Tx,
    read_only: bool,
    /// `DEFERRABLE` was asked for (`SHOW transaction_deferrable`).
    deferrable: bool,
    failed: bool,
    /// A query ran in it (PostgreSQL: the first snapshot is set), after
    /// which `SET TRANSACTION` may no longer change the isolation level.
    queried: bool,
    /// `SET LOCAL` values in force until the block ends, later ones last.
    local: Vec<(Param, SetValue)>,
    /// The session's settings when the block began: a block that rolls
    /// back undoes its plain `SET`s too, as in PostgreSQL.
    /// (Boxed: a session is a variant of `system::kit::Connection`, kept
    /// small.)
    settings_at_begin: Box<Settings>,
    /// Each open savepoint's name with the session's settings and the
    /// block's `SET LOCAL`s when it was set: `ROLLBACK TO` puts both
    /// back, as PostgreSQL undoes a subtransaction's `SET`s, and the
    /// deferred constraints as they were.
    savepoints: Vec<SavedSettings>,
    /// Deferred constraint checks and `SET CONSTRAINTS` modes.
    deferred: deferred::Deferred,
}

/// A savepoint's name, the session's settings, the block's `SET LOCAL`s
/// and its deferred constraints when it was set.
/// The last is the session's count of pending DDL changes then (see
/// `ddlblock`).
type SavedSettings = (
    String,
    Settings,
    Vec<(Param, SetValue)>,
    deferred::Deferred,
    usize,
);

/// A connection to a [`SqlDb`]: in or out of a transaction block.
pub struct SqlSession {
    db: SqlDb,
    /// (Boxed: a session is a variant of `system::kit::Connection`, kept
    /// small.)
    block: Option<Box<Block>>,
    /// The session's `SET` values (`SET LOCAL` ones live in the block).
    settings: Settings,
    /// Its backend: the owner of its session-level advisory locks (a
    /// pooled connection's, which keeps them when the session goes back
    /// to the pool, as a real pool keeps its server connections).
    session: SessionId,
    /// Its `PREPARE`d statements, by name (see `prepare`; boxed, as most
    /// sessions have none).
    prepared: Box<prepare::Statements>,
    /// The pool slot this session holds, if it came from a pool.
    _connection: Option<Connection>,
}

impl Drop for SqlSession {
    /// A connection of its own closes with the session, and PostgreSQL
    /// releases a closed backend's session-level advisory locks.
    fn drop(&mut self) {
        if self.block.take().is_some() {
            self.finish_ddl(false);
        }
        if self._connection.is_none() {
            self.db.store.end_session(self.session);
            lock(&self.db.shared.sequences).end_session(self.session);
        }
    }
}

impl std::fmt::Debug for SqlSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlSession")
            .field("in_transaction", &self.block.is_some())
            .finish()
    }
}

fn on_off(value: bool) -> &'static str {
    if value {
        "on"
    } else {
        "off"
    }
}

fn writes(kind: &Prepared) -> Option<&'static str> {
    match kind {
        Prepared::Insert(_) => Some("INSERT"),
        Prepared::Update(_) => Some("UPDATE"),
        Prepared::Delete(_) => Some("DELETE"),
        Prepared::Truncate(_) => Some("TRUNCATE TABLE"),
        Prepared::Select(s) if s.lock.is_some() => Some("SELECT FOR UPDATE"),
        Prepared::With(w) => w
            .ctes
            .iter()
            .map(|(p, _)| p)
            .chain(std::iter::once(&w.main))
            .find_map(writes),
        _ => None,
    }
}

/// A 0A000 names the statement it refused, as the engine's other
/// refusals of DDL do.
fn with_statement_text(mut e: DbError, sql: &str) -> DbError {
    if e.code == SqlState::FeatureNotSupported {
        e.message = format!("{} (statement: {})", e.message, sql.trim());
    }
    e
}

/// Whether a query takes row locks (`FOR UPDATE`/`FOR SHARE`, in its main
/// query or a WITH query).
fn locks_rows(kind: &Prepared) -> bool {
    match kind {
        Prepared::Select(plan) => plan.lock.is_some(),
        Prepared::With(with) => {
            matches!(&with.main, Prepared::Select(plan) if plan.lock.is_some())
                || with
                    .ctes
                    .iter()
                    .any(|(p, _)| matches!(p, Prepared::Select(plan) if plan.lock.is_some()))
        }
        _ => false,
    }
}

/// Inserts `CREATE TABLE ... AS`'s rows into its new table `name`, in the
/// statement's transaction `tx`, and commits it (the commit's result).
async fn fill_new_table(
    db: &SqlDb,
    session: SessionId,
    mut tx: Tx,
    deferred: &mut deferred::Deferred,
    name: &str,
    rows: Vec<Vec<Value>>,
) -> Result<u64, DbError> {
    let table = db.shared.table(name)?;
    if !rows.is_empty() {
        let insert = plan::InsertPlan {
            targets: (0..table.visible()).collect(),
            table,
            rows: rows
                .into_iter()
                .map(|row| row.into_iter().map(expr::Expr::Const).collect())
                .collect(),
            select: None,
            conflict: None,
            returning: None,
        };
        let insert = Statement::new(Prepared::Insert(Box::new(insert)), 0);
        run(db, session, &mut tx, deferred, &insert, &[]).await?;
    }
    tx.commit().await
}

async fn run(
    db: &SqlDb,
    session: SessionId,
    tx: &mut Tx,
    deferred: &mut deferred::Deferred,
    statement: &Statement,
    params: &[Value],
) -> Result<Rows, DbError> {
    let mut ctx = funcs::Ctx::new(&db.store, &db.shared, tx.sql_time_ms());
    ctx.session = Some(session);
    let prelude = locks::prelude(statement, params, &ctx);
    match prelude {
        Ok((relations, advisory)) => tx.sql_prelude(relations, advisory),
        Err(e) => return Err(tx.sql_fail(e)),
    }
    ctx.reader = Some(tx.sql_reader());
    let mut exec = exec::Exec {
        tx,
        params: exec::Bound {
            values: params,
            ctx: &ctx,
        },
        db: &db.shared,
        ri_events: Vec::new(),
        deferred,
        trigger_events: Vec::new(),
    };
    let result = match &statement.kind {
        Prepared::Select(plan) => exec.select(plan).await,
        Prepared::SetOp(plan) => exec.set_op(plan).await,
        Prepared::Insert(plan) => exec.insert(plan).await,
        Prepared::Update(plan) => exec.update(plan).await,
        Prepared::Delete(plan) => exec.delete(plan).await,
        Prepared::With(plan) => exec.with(plan).await,
        Prepared::AdvisoryLock(arg) => exec.advisory_lock(arg).await,
        Prepared::Truncate(plan) => locks::truncate(exec.tx, plan).await,
        _ => unreachable!("only data statements run in a transaction"),
    };
    // Referential actions fire at the end of the statement, as
    // PostgreSQL's RI triggers (AFTER ROW) do.
    // (Most statements queue none: skip the boxed future then.)
    // Then AFTER ROW triggers (see `triggers`).
    let result = match result {
        Ok(rows) if exec.ri_events.is_empty() && exec.trigger_events.is_empty() => Ok(rows),
        Ok(rows) => exec.end_of_statement().await.map(|()| rows),
        Err(e) => Err(e),
    };
    // Enum values reach a client as their labels, as tokio-postgres
    // reads them.
    let result = result.map(|mut rows| {
        for row in &mut rows.rows {
            row.iter_mut().for_each(value::labels_as_text);
        }
        rows
    });
    // now() is the same for the rest of the transaction.
    if let Some(ms) = ctx.tx_ms() {
        tx.set_sql_time_ms(ms);
    }
    // An error fails the transaction, as in PostgreSQL (the store has
    // already failed it for its own errors; this covers the SQL layer's).
    result.map_err(|e| tx.sql_fail(e))
}

impl SqlSession {
    /// Whether a transaction block is open.
    pub fn in_transaction(&self) -> bool {
        self.block.is_some()
    }

    /// Whether the open transaction block has failed (statements are
    /// refused with 25P02 until it ends, and its COMMIT rolls back): the
    /// `E` of the wire protocol's ReadyForQuery.
    pub fn transaction_failed(&self) -> bool {
        self.block.as_ref().is_some_and(|block| block.failed)
    }

    /// Each `$n`'s type and the result columns of `sql`, planned as it
    /// would run now, without running it (see [`describe`]): what the
    /// wire protocol's Parse and Describe report. A planning error fails
    /// an open block, as PostgreSQL's Parse does. Statements the engine
    /// runs with parsers of their own (DDL other than CREATE TABLE /
    /// INDEX, `PREPARE` / `EXECUTE`, `CREATE TABLE AS`) are described as
    /// taking no parameter and returning no rows.
    pub fn describe(&mut self, sql: &str) -> Result<describe::Description, DbError> {
        let sql = plan::skip_leading_comments(sql);
        let own_parser = types::is_type_ddl(sql)
            || sequences::is_sequence_ddl(sql)
            || partition::parse(sql).is_some()
            || triggers::is_alter_trigger(sql)
            || alter::is_alter_table(sql)
            || plpgsql::is_function_ddl(sql)
            || triggers::is_trigger_ddl(sql)
            || vacuum::is_maintenance(sql)
            || reindex::is_reindex(sql)
            || roles::is_role_ddl(sql)
            || prepare::is_command(sql)
            || ctas::parse(sql).is_some();
        if own_parser {
            return Ok(describe::Description::none());
        }
        let scans = self.effective().scans;
        match self.plan_here(sql, scans)? {
            Ok(statement) => Ok(describe::describe(&statement)),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// `sql` planned for this session: its `current_setting` calls
    /// replaced by the session's values, with `scans`' access paths. The
    /// outer error is the substitution's (it has failed the block
    /// already); the inner one the planner's, worded as PostgreSQL words
    /// it (a sequence read as a table), with the block left as it is for
    /// the caller to decide.
    fn plan_here(
        &mut self,
        sql: &str,
        scans: settings::ScanSettings,
    ) -> Result<Result<Arc<Statement>, DbError>, DbError> {
        let substituted;
        let sql = if settings::mentions_current_setting(sql) {
            substituted = self.with_current_settings(sql)?;
            substituted.as_str()
        } else {
            sql
        };
        Ok(self
            .db
            .prepare_as(sql, scans, Some(self.session))
            .map_err(|e| lock(&self.db.shared.sequences).read_as_table(e, sql)))
    }

    /// The database this session is connected to.
    pub fn db(&self) -> &SqlDb {
        &self.db
    }

    /// The timeouts in force now: the session's, overridden by the open
    /// block's `SET LOCAL`s.
    pub fn timeouts(&self) -> Timeouts {
        self.effective().timeouts
    }

    /// The settings in force now: the session's, with the open block's
    /// `SET LOCAL`s applied.
    fn effective(&self) -> Cow<'_, Settings> {
        match &self.block {
            Some(block) if !block.local.is_empty() => {
                let mut settings = self.settings.clone();
                for (param, value) in &block.local {
                    settings.apply(param, value);
                }
                Cow::Owned(settings)
            }
            _ => Cow::Borrowed(&self.settings),
        }
    }

    /// `SHOW param` (and `current_setting`): `None` for a placeholder
    /// never set.
    fn show_value(&self, param: &Param) -> Option<String> {
        let effective = self.effective();
        let defaults = effective.defaults;
        let block = self.block.as_ref();
        Some(match param {
            Param::TxIsolation => {
                settings::show_isolation(block.map_or(defaults.isolation, |b| b.tx.isolation()))
                    .to_string()
            }
            Param::TxReadOnly => {
                on_off(block.map_or(defaults.read_only, |b| b.read_only)).to_string()
            }
            Param::TxDeferrable => {
                on_off(block.map_or(defaults.deferrable, |b| b.deferrable)).to_string()
            }
            other => effective.show(other, self.db.store().config().deadlock_timeout_ms)?,
        })
    }

    fn show(&mut self, param: &Param) -> Result<Rows, DbError> {
        self.refuse_in_failed_block()?;
        let value = self.show_value(param).ok_or_else(|| {
            DbError::new(
                SqlState::Other("42704"),
                format!("unrecognized configuration parameter \"{}\"", param.name()),
            )
        });
        let value = value.map_err(|e| self.fail(e))?;
        Ok(Rows::new(
            vec![param.name().to_string()],
            vec![vec![Value::Text(value.into())]],
        ))
    }

    fn refuse_in_failed_block(&self) -> Result<(), DbError> {
        if self.block.as_ref().is_some_and(|block| block.failed) {
            return Err(DbError::new(
                SqlState::InFailedTransaction,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        Ok(())
    }

    /// `SET TRANSACTION` (or `SET transaction_isolation` and its kin): the
    /// open block's modes, with PostgreSQL's checks. Outside a block
    /// PostgreSQL only warns (25P01) and nothing changes.
    fn set_transaction(&mut self, modes: TxModes) -> Result<Rows, DbError> {
        self.refuse_in_failed_block()?;
        let Some(block) = &mut self.block else {
            return Ok(Rows::default());
        };
        let started = block.queried;
        let in_savepoint = block.tx.in_savepoint();
        let active = |message: &str| DbError::new(SqlState::Other("25001"), message);
        let mut isolation = block.tx.isolation();
        let mut read_only = block.read_only;
        let mut deferrable = block.deferrable;
        let mut refused = None;
        if let Some(level) = modes.isolation.filter(|&level| level != isolation) {
            if started {
                refused = Some(active(
                    "SET TRANSACTION ISOLATION LEVEL must be called before any query",
                ));
            } else if in_savepoint {
                refused = Some(active(
                    "SET TRANSACTION ISOLATION LEVEL must not be called in a subtransaction",
                ));
            }
            isolation = level;
        }
        if let Some(wanted) = modes.read_only {
            if refused.is_none() && read_only && !wanted {
                if in_savepoint {
                    refused = Some(active(
                        "cannot set transaction read-write mode inside a read-only transaction",
                    ));
                } else if started {
                    refused = Some(active(
                        "transaction read-write mode must be set before any query",
                    ));
                }
            }
            read_only = wanted;
        }
        if let Some(wanted) = modes.deferrable {
            if refused.is_none() && in_savepoint {
                refused = Some(active(
                    "SET TRANSACTION [NOT] DEFERRABLE cannot be called within a subtransaction",
                ));
            } else if refused.is_none() && started {
                refused = Some(active(
                    "SET TRANSACTION [NOT] DEFERRABLE must be called before any query",
                ));
            }
            deferrable = wanted;
        }
        if let Some(e) = refused {
            return Err(self.fail(e));
        }
        // After the first query only READ WRITE -> READ ONLY gets here: it
        // refuses later writes; SSI keeps the transaction's standing from
        // its snapshot, as PostgreSQL does.
        if !started {
            block.tx.set_mode(
                isolation,
                TxMode {
                    read_only,
                    deferrable,
                },
            );
        }
        block.read_only = read_only;
        block.deferrable = deferrable;
        Ok(Rows::default())
    }

    /// `SET SESSION CHARACTERISTICS AS TRANSACTION`: the session's
    /// `default_transaction_*` parameters.
    /// `SET CONSTRAINTS`: outside a block only a warning in PostgreSQL
    /// (25P01), so nothing here; in one, the modes change and the pending
    /// checks of the constraints made immediate run at once.
    async fn set_constraints(&mut self, set: &deferred::SetConstraints) -> Result<Rows, DbError> {
        if self.block.is_none() {
            return Ok(Rows::default());
        }
        self.refuse_in_failed_block()?;
        let timeouts = self.timeouts();
        let Some(block) = &mut self.block else {
            return Ok(Rows::default());
        };
        let result = block.deferred.set(&self.db.shared.catalog(), set);
        let result = match result {
            Ok(()) => {
                block.tx.set_timeouts(timeouts);
                deferred::fire_due(
                    &self.db,
                    self.session,
                    &mut block.tx,
                    &mut block.deferred,
                    false,
                )
                .await
            }
            Err(e) => Err(block.tx.sql_fail(e)),
        };
        if result.is_err() {
            block.failed = true;
        }
        result.map(|()| Rows::default())
    }

    fn set_characteristics(&mut self, modes: TxModes) -> Result<Rows, DbError> {
        if let Some(isolation) = modes.isolation {
            self.set(&settings::Set {
                param: Some(Param::DefaultIsolation),
                value: SetValue::Isolation(isolation),
                local: false,
            })?;
        }
        for (param, value) in [
            (Param::DefaultReadOnly, modes.read_only),
            (Param::DefaultDeferrable, modes.deferrable),
        ] {
            if let Some(value) = value {
                self.set(&settings::Set {
                    param: Some(param),
                    value: SetValue::Bool(value),
                    local: false,
                })?;
            }
        }
        self.refuse_in_failed_block()?;
        Ok(Rows::default())
    }

    /// `sql` with its `current_setting(...)` calls evaluated.
    fn with_current_settings(&mut self, sql: &str) -> Result<String, DbError> {
        let substituted =
            settings::substitute_current_settings(sql, |param| self.show_value(param));
        substituted.map_err(|e| self.fail(e))
    }

    /// Ends the block; unless it committed, its `SET`s are undone.
    fn end_block(&mut self, committed: bool) -> Option<Box<Block>> {
        let mut block = self.block.take()?;
        if !committed {
            self.settings = *std::mem::take(&mut block.settings_at_begin);
        }
        Some(block)
    }

    fn set(&mut self, set: &settings::Set) -> Result<Rows, DbError> {
        self.refuse_in_failed_block()?;
        if let (Some(param @ (Param::Role | Param::SessionAuthorization)), SetValue::Text(name)) =
            (&set.param, &set.value)
        {
            let refused = {
                let roles = lock(&self.db.shared.roles);
                let session_user = self.session_user();
                if !roles.exists(name) {
                    Some(DbError::new(
                        SqlState::Other("22023"),
                        format!("role \"{name}\" does not exist"),
                    ))
                } else if *param == Param::Role
                    && !roles.superuser(&session_user)
                    && *name != session_user
                {
                    // Role membership is not modelled: a role may be set
                    // by a superuser session, or be the session user.
                    Some(DbError::new(
                        SqlState::Other("42501"),
                        format!("permission denied to set role \"{name}\""),
                    ))
                } else {
                    None
                }
            };
            if let Some(e) = refused {
                return Err(self.fail(e));
            }
        }
        let Some(param) = &set.param else {
            // RESET ALL.
            self.settings.reset_all();
            if let Some(block) = &mut self.block {
                block.local.clear();
            }
            return Ok(Rows::default());
        };
        let modes = match (param, &set.value) {
            (Param::TxIsolation, SetValue::Isolation(level)) => Some(TxModes {
                isolation: Some(*level),
                ..TxModes::default()
            }),
            (Param::TxReadOnly, SetValue::Bool(read_only)) => Some(TxModes {
                read_only: Some(*read_only),
                ..TxModes::default()
            }),
            (Param::TxDeferrable, SetValue::Bool(deferrable)) => Some(TxModes {
                deferrable: Some(*deferrable),
                ..TxModes::default()
            }),
            // RESET transaction_isolation: nothing to do.
            (Param::TxIsolation | Param::TxReadOnly | Param::TxDeferrable, _) => {
                return Ok(Rows::default())
            }
            _ => None,
        };
        if let Some(modes) = modes {
            // Outside a block the one-statement transaction it would set
            // ends at once: no effect, and no warning either.
            return match self.block {
                Some(_) => self.set_transaction(modes),
                None => Ok(Rows::default()),
            };
        }
        match (&mut self.block, set.local) {
            // PostgreSQL only warns that SET LOCAL outside a block has no
            // effect.
            (None, true) => {}
            (Some(block), true) => block.local.push((param.clone(), set.value.clone())),
            (block, false) => {
                self.settings.apply(param, &set.value);
                // A SET after a SET LOCAL of one parameter wins, for the
                // rest of the block and after it.
                if let Some(block) = block {
                    block.local.retain(|(p, _)| p != param);
                }
            }
        }
        Ok(Rows::default())
    }

    async fn run_statement(&mut self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        let scans = self.effective().scans;
        // A text already planned is an ordinary statement (the statements
        // routed below never reach the plan cache): skip the routing.
        let cached = (scans == settings::ScanSettings::default())
            .then(|| self.db.shared.cached(sql))
            .flatten();
        let mut statement = match cached {
            Some(statement) => statement,
            None => match self.route(sql, scans).await? {
                Routed::Done(rows) => return Ok(rows),
                Routed::Planned(statement) => statement,
            },
        };
        if self.waits_for_ddl(&statement) {
            // Another block's DDL changed its tables: their locks first,
            // then the plan again (see `ddlblock`).
            self.lock_before_planning(&statement).await?;
            statement = match self.route(sql, scans).await? {
                Routed::Done(rows) => return Ok(rows),
                Routed::Planned(statement) => statement,
            };
        }
        self.run_planned(sql, &statement, params).await
    }

    /// A statement text not in the plan cache: the statements with parsers
    /// of their own run here; the rest is planned (with `current_setting`
    /// calls substituted).
    async fn route(&mut self, sql: &str, scans: settings::ScanSettings) -> Result<Routed, DbError> {
        let sql = plan::skip_leading_comments(sql);
        if types::is_type_ddl(sql) {
            return self.type_ddl(sql).map(Routed::Done);
        }
        if sequences::is_sequence_ddl(sql) {
            return self.sequence_ddl(sql).await.map(Routed::Done);
        }
        if let Some(parsed) = partition::parse(sql) {
            return self.partition_ddl(parsed, sql).await.map(Routed::Done);
        }
        if triggers::is_alter_trigger(sql) {
            return self.routine_ddl(sql).await.map(Routed::Done);
        }
        if alter::is_alter_table(sql) {
            return self.alter_table(sql).await.map(Routed::Done);
        }
        if plpgsql::is_function_ddl(sql) || triggers::is_trigger_ddl(sql) {
            return self.routine_ddl(sql).await.map(Routed::Done);
        }
        if vacuum::is_maintenance(sql) {
            return self.maintenance(sql).await.map(Routed::Done);
        }
        if reindex::is_reindex(sql) {
            return self.reindex(sql).await.map(Routed::Done);
        }
        if roles::is_role_ddl(sql) {
            return self.role_ddl(sql).map(Routed::Done);
        }
        if prepare::is_command(sql) {
            return Box::pin(self.prepared_statement(sql))
                .await
                .map(Routed::Done);
        }
        if let Some(parsed) = ctas::parse(sql) {
            let spec = parsed.map_err(|e| self.fail(e))?;
            return self.create_table_as(&spec, sql).await.map(Routed::Done);
        }
        match self.plan_here(sql, scans)? {
            Ok(statement) => Ok(Routed::Planned(statement)),
            Err(e) => {
                if let Some(block) = &mut self.block {
                    block.failed = true;
                    block.tx.sql_fail(e.clone());
                }
                Err(e)
            }
        }
    }

    /// Runs a planned statement (`sql` its text, for messages).
    async fn run_planned(
        &mut self,
        sql: &str,
        statement: &Statement,
        params: &[Value],
    ) -> Result<Rows, DbError> {
        if let Some(role) = self.restricted_role() {
            let checked = self.check_privileges(&role, &statement.kind);
            checked.map_err(|e| self.fail(e))?;
        }
        if params.len() != statement.params {
            return Err(DbError::new(
                SqlState::ProtocolViolation,
                format!(
                    "bind message supplies {} parameters, but prepared statement \"\" requires {}",
                    params.len(),
                    statement.params
                ),
            ));
        }
        match &statement.kind {
            Prepared::Begin(modes) => {
                // BEGIN inside a block is only a warning in PostgreSQL.
                if self.block.is_none() {
                    self.begin_block(modes);
                }
                Ok(Rows::default())
            }
            Prepared::Commit => self.commit_block().await,
            Prepared::Rollback => {
                if let Some(block) = self.end_block(false) {
                    block.tx.rollback();
                    self.finish_ddl(false);
                }
                Ok(Rows::default())
            }
            Prepared::Savepoint(name)
            | Prepared::ReleaseSavepoint(name)
            | Prepared::RollbackToSavepoint(name) => {
                self.savepoint_statement(&statement.kind, name)
            }
            Prepared::LockTable(lock) => {
                let timeouts = self.timeouts();
                // Boxed, as the DDL below: a rare statement's large future.
                Box::pin(self.lock_table(lock, timeouts)).await
            }
            Prepared::Set(set) => self.set(set),
            Prepared::SetTransaction(modes) => self.set_transaction(*modes),
            Prepared::SetConstraints(set) => Box::pin(self.set_constraints(set)).await,
            Prepared::SetCharacteristics(modes) => self.set_characteristics(*modes),
            Prepared::Show(param) => self.show(param),
            Prepared::DiscardAll => {
                if self.block.is_some() {
                    let e = DbError::new(
                        SqlState::Other("25001"),
                        "DISCARD ALL cannot run inside a transaction block",
                    );
                    return Err(self.fail(e));
                }
                self.settings.reset_all();
                // DISCARD ALL is SET SESSION AUTHORIZATION DEFAULT too.
                self.settings.set_identity(None, None);
                self.prepared.clear();
                Ok(Rows::default())
            }
            Prepared::CreateTable(..)
            | Prepared::CreateIndex(_)
            | Prepared::Drop(_)
            | Prepared::CreateExtension { .. }
            | Prepared::CreateSchema { .. } => {
                // Boxed: its future is large, and the statements every
                // transaction runs would carry its size otherwise.
                Box::pin(self.run_ddl(sql, statement)).await
            }
            _ => {
                let timeouts = self.timeouts();
                self.run_data_statement(statement, params, timeouts).await
            }
        }
    }

    /// Opens a transaction block with `modes` (the session's defaults
    /// for what they leave out).
    fn begin_block(&mut self, modes: &settings::TxModes) {
        let defaults = self.settings.defaults;
        let isolation = modes.isolation.unwrap_or(defaults.isolation);
        let read_only = modes.read_only.unwrap_or(defaults.read_only);
        let deferrable = modes.deferrable.unwrap_or(defaults.deferrable);
        let mut tx = self.db.store().begin_with(
            isolation,
            TxMode {
                read_only,
                deferrable,
            },
        );
        tx.join_session(self.session);
        self.block = Some(Box::new(Block {
            tx,
            read_only,
            deferrable,
            failed: false,
            queried: false,
            local: Vec::new(),
            settings_at_begin: Box::new(self.settings.clone()),
            savepoints: Vec::new(),
            deferred: deferred::Deferred::default(),
        }));
    }

    /// `COMMIT`: the block's deferred checks, then its commit; a failed
    /// block (or a failed check or commit) rolls back instead.
    async fn commit_block(&mut self) -> Result<Rows, DbError> {
        let committing = self.block.as_ref().is_some_and(|block| !block.failed);
        match self.end_block(committing) {
            None => Ok(Rows::default()),
            // COMMIT of a failed block rolls back, without an error.
            Some(block) if block.failed => {
                block.tx.rollback();
                self.finish_ddl(false);
                Ok(Rows::default())
            }
            Some(mut block) => {
                let settings = *block.settings_at_begin;
                // Deferred checks run first: one that fails fails
                // the COMMIT, which rolls back.
                let checked = deferred::fire_due(
                    &self.db,
                    self.session,
                    &mut block.tx,
                    &mut block.deferred,
                    true,
                )
                .await;
                if let Err(e) = checked {
                    block.tx.rollback();
                    self.finish_ddl(false);
                    self.settings = settings;
                    return Err(e);
                }
                let result = block.tx.commit().await.map(|_| Rows::default());
                // (Nothing ran between the commit and this: the
                // block's DDL becomes everyone's with its rows.)
                self.finish_ddl(result.is_ok());
                if result.is_err() {
                    self.settings = settings;
                }
                result
            }
        }
    }

    /// `SAVEPOINT`, `RELEASE SAVEPOINT` and `ROLLBACK TO SAVEPOINT` (`kind`
    /// says which) of the savepoint `name`.
    fn savepoint_statement(&mut self, kind: &Prepared, name: &str) -> Result<Rows, DbError> {
        let Some(block) = &mut self.block else {
            let what = match kind {
                Prepared::Savepoint(_) => "SAVEPOINT",
                Prepared::ReleaseSavepoint(_) => "RELEASE SAVEPOINT",
                _ => "ROLLBACK TO SAVEPOINT",
            };
            return Err(DbError::new(
                SqlState::Other("25P01"),
                format!("{what} can only be used in transaction blocks"),
            ));
        };
        let result = match kind {
            Prepared::Savepoint(_) => block.tx.sql_savepoint(name),
            Prepared::ReleaseSavepoint(_) => block.tx.sql_release_savepoint(name),
            _ => block.tx.sql_rollback_to_savepoint(name),
        };
        match &result {
            Ok(()) => {
                let catalog = self.db.shared.catalog();
                let mark = ddlblock::mark(&catalog, self.session);
                drop(catalog);
                let undo_to = locks::savepoint_settings(kind, block, &mut self.settings, mark);
                // ROLLBACK TO undoes the DDL made after the
                // savepoint, as its subtransaction aborts.
                if let Some(keep) = undo_to.filter(|&keep| keep < mark) {
                    let undone =
                        ddlblock::rollback(&mut self.db.shared.catalog(), self.session, keep);
                    self.finish_undo(undone);
                }
            }
            // SAVEPOINT and RELEASE in a failed block are refused
            // without changing anything; a missing savepoint fails
            // the block.
            Err(e) if e.code != SqlState::InFailedTransaction => block.failed = true,
            Err(_) => {}
        }
        result.map(|()| Rows::default())
    }

    /// `CREATE TABLE`, `CREATE INDEX`, `DROP`, `CREATE EXTENSION` and
    /// `CREATE SCHEMA`, outside a block.
    async fn run_ddl(&mut self, sql: &str, statement: &Statement) -> Result<Rows, DbError> {
        if self.block.is_some() {
            return self.ddl_in_block(sql, &statement.kind).await;
        }
        // Held (when it had to be waited for) until the DDL is done.
        let _ddl_lock = locks::ddl_lock(&self.db, &statement.kind, self.timeouts()).await?;
        let types = self.db.shared.catalog().types.clone();
        let result = match &statement.kind {
            Prepared::CreateTable(create, excludes) => {
                types::with_types(&types, || ddl::create_table(&self.db, create, excludes))
            }
            Prepared::CreateIndex(create) => {
                ddl::create_index(&self.db, create, None).await.map(|_| ())
            }
            Prepared::Drop(spec) => ddl::drop_objects(&self.db, spec).map(|dropped| {
                for name in dropped {
                    self.db.shared.forget_serials(&name);
                }
            }),
            Prepared::CreateExtension {
                name,
                if_not_exists,
            } => ddl::create_extension(&self.db, name, *if_not_exists),
            Prepared::CreateSchema {
                name,
                if_not_exists,
            } => ddl::create_schema(&self.db, name, *if_not_exists),
            _ => unreachable!("run_planned calls this for DDL only"),
        };
        self.db.shared.clear_cache();
        result.map(|_| Rows::default()).map_err(|mut e| {
            // PostgreSQL's own 0A000s keep their message.
            if e.code == SqlState::FeatureNotSupported && e.message.contains("simulated SQL engine")
            {
                e.message = format!("{} (statement: {})", e.message, sql.trim());
            }
            e
        })
    }

    /// A query or DML statement, in the open block or a transaction of
    /// its own.
    async fn run_data_statement(
        &mut self,
        statement: &Statement,
        params: &[Value],
        timeouts: Timeouts,
    ) -> Result<Rows, DbError> {
        match &mut self.block {
            Some(block) => {
                block.queried = true;
                if block.failed {
                    return Err(DbError::new(
                            SqlState::InFailedTransaction,
                            "current transaction is aborted, commands ignored until end of transaction block",
                        ));
                }
                if let (true, Some(what)) = (block.read_only, writes(&statement.kind)) {
                    let e = DbError::new(
                        SqlState::ReadOnlySqlTransaction,
                        format!("cannot execute {what} in a read-only transaction"),
                    );
                    return Err(self.fail(e));
                }
                block.tx.set_timeouts(timeouts);
                let result = run(
                    &self.db,
                    self.session,
                    &mut block.tx,
                    &mut block.deferred,
                    statement,
                    params,
                )
                .await;
                if result.is_err() {
                    block.failed = true;
                }
                result
            }
            None => {
                let defaults = self.settings.defaults;
                if let (true, Some(what)) = (defaults.read_only, writes(&statement.kind)) {
                    return Err(DbError::new(
                        SqlState::ReadOnlySqlTransaction,
                        format!("cannot execute {what} in a read-only transaction"),
                    ));
                }
                let mut tx = self.db.store().begin_with(
                    defaults.isolation,
                    TxMode {
                        read_only: defaults.read_only,
                        deferrable: defaults.deferrable,
                    },
                );
                tx.join_session(self.session);
                tx.set_timeouts(timeouts);
                let mut deferred = deferred::Deferred::default();
                let rows = run(
                    &self.db,
                    self.session,
                    &mut tx,
                    &mut deferred,
                    statement,
                    params,
                )
                .await?;
                // A statement of its own commits at once: its deferred
                // checks run now.
                deferred::fire_due(&self.db, self.session, &mut tx, &mut deferred, true).await?;
                tx.commit().await?;
                Ok(rows)
            }
        }
    }

    /// `CREATE TABLE ... AS query` (see `ctas`): DDL, outside a block as
    /// the engine's other DDL. The query runs in the statement's own
    /// transaction (the session's default isolation), whose snapshot and
    /// SSI locks it reads with; the new table and its rows are written in
    /// that transaction, and the table is gone again when it fails.
    async fn create_table_as(
        &mut self,
        spec: &ctas::CreateTableAs,
        sql: &str,
    ) -> Result<Rows, DbError> {
        if self.block.is_some() {
            let e = DbError::new(
                SqlState::FeatureNotSupported,
                format!("DDL inside a transaction block is not supported by the simulated SQL engine (statement: {})", sql.trim()),
            );
            return Err(self.fail(e));
        }
        if self.restricted_role().is_some() {
            return Err(schema_denied(&spec.name));
        }
        if self.ctas_target_exists(spec)? {
            // IF NOT EXISTS: PostgreSQL's notice, and nothing done.
            return Ok(Rows::default());
        }
        let with_statement = |e: DbError| with_statement_text(e, sql);
        let statement = self
            .db
            .prepare_as(&spec.query, self.effective().scans, Some(self.session))
            .map_err(with_statement)?;
        if statement.params > 0 {
            return Err(DbError::new(
                SqlState::Other("42P02"),
                "there is no parameter $1",
            ));
        }
        if locks_rows(&statement.kind) {
            return Err(with_statement(expr::unsupported(
                "CREATE TABLE ... AS of a locking query (FOR UPDATE / FOR SHARE)",
            )));
        }
        let columns = ctas::columns(&statement.kind, &spec.columns).map_err(with_statement)?;
        let types = self.db.shared.catalog().types.clone();
        let create = types::with_types(&types, || ctas::definition(&spec.name, &columns))?;
        let defaults = self.settings.defaults;
        if defaults.read_only {
            return Err(DbError::new(
                SqlState::ReadOnlySqlTransaction,
                "cannot execute CREATE TABLE AS in a read-only transaction",
            ));
        }
        let mut tx = self.db.store().begin_with(
            defaults.isolation,
            TxMode {
                read_only: defaults.read_only,
                deferrable: defaults.deferrable,
            },
        );
        tx.join_session(self.session);
        tx.set_timeouts(self.timeouts());
        // A table made by CREATE TABLE AS has no foreign keys: nothing
        // its statements write is checked later.
        let mut deferred = deferred::Deferred::default();
        let rows = if spec.with_data {
            run(
                &self.db,
                self.session,
                &mut tx,
                &mut deferred,
                &statement,
                &[],
            )
            .await?
        } else {
            Rows::default()
        };
        let made = types::with_types(&types, || ddl::create_table(&self.db, &create, &[]));
        self.db.shared.clear_cache();
        if let Err(e) = made {
            tx.rollback();
            return Err(e);
        }
        let count = rows.rows.len() as u64;
        let filled = fill_new_table(
            &self.db,
            self.session,
            tx,
            &mut deferred,
            &spec.name,
            rows.rows,
        )
        .await;
        if let Err(e) = filled {
            // The table is made in the transaction that failed.
            self.db.shared.catalog().tables.remove(&spec.name);
            self.db.shared.forget_serials(&spec.name);
            self.db.shared.clear_cache();
            return Err(e);
        }
        Ok(Rows {
            affected: count,
            ..Rows::default()
        })
    }

    /// Whether `CREATE TABLE ... AS`'s table (or a sequence of its name)
    /// exists already: true with `IF NOT EXISTS`, 42P07 without.
    fn ctas_target_exists(&self, spec: &ctas::CreateTableAs) -> Result<bool, DbError> {
        let catalog = self.db.shared.catalog();
        if catalog.tables.contains_key(&spec.name)
            || lock(&self.db.shared.sequences).contains(&spec.name)
        {
            if spec.if_not_exists {
                return Ok(true);
            }
            return Err(DbError::new(
                SqlState::DuplicateTable,
                format!("relation \"{}\" already exists", spec.name),
            ));
        }
        Ok(false)
    }

    /// `CREATE TYPE ... AS ENUM` / `DROP TYPE`: DDL, outside a block
    /// as the engine's other DDL.
    fn type_ddl(&mut self, sql: &str) -> Result<Rows, DbError> {
        if self.block.is_some() {
            let e = DbError::new(
                SqlState::FeatureNotSupported,
                format!("DDL inside a transaction block is not supported by the simulated SQL engine (statement: {})", sql.trim()),
            );
            return Err(self.fail(e));
        }
        if self.restricted_role().is_some() {
            return Err(unsupported_as_role(sql));
        }
        let ddl = types::parse_type_ddl(sql)?;
        let mut catalog = self.db.shared.catalog();
        let tables: Vec<Arc<Table>> = catalog.tables.values().cloned().collect();
        let in_use = |id: u32| {
            tables
                .iter()
                .find(|t| t.columns.iter().any(|c| types::uses_enum(c.ty, id)))
                .map(|t| t.name.clone())
        };
        types::run_type_ddl(&ddl, &mut catalog.types, in_use)?;
        drop(catalog);
        self.db.shared.clear_cache();
        Ok(Rows::default())
    }

    /// `CREATE` / `ALTER` / `DROP SEQUENCE` (see `sequences`): DDL,
    /// outside a block as the engine's other DDL (PostgreSQL's ALTER
    /// SEQUENCE is transactional, which is not modelled).
    async fn sequence_ddl(&mut self, sql: &str) -> Result<Rows, DbError> {
        if self.restricted_role().is_some() {
            return Err(self.fail(unsupported_as_role(sql)));
        }
        let ddl = sequences::parse(sql).map_err(|e| self.fail(e))?;
        if self.block.is_some() {
            if let sequences::SequenceDdl::Alter { name, .. } = &ddl {
                let name = name.clone();
                return self.alter_sequence_in_block(&ddl, &name).await;
            }
            let e = DbError::new(
                SqlState::FeatureNotSupported,
                format!("CREATE / DROP SEQUENCE inside a transaction block is not supported by the simulated SQL engine (statement: {})", sql.trim()),
            );
            return Err(self.fail(e));
        }
        let mut catalog = self.db.shared.catalog();
        let changed = lock(&self.db.shared.sequences).run_ddl(&catalog, &ddl)?;
        for table in changed {
            catalog.tables.insert(table.name.clone(), Arc::new(table));
        }
        drop(catalog);
        self.db.shared.clear_cache();
        Ok(Rows::default())
    }

    /// `CREATE TABLE ... PARTITION BY`, `... PARTITION OF` and `ALTER
    /// TABLE ... ATTACH PARTITION` (see `partition`): DDL, outside a block
    /// as the engine's other DDL.
    async fn partition_ddl(
        &mut self,
        parsed: Result<partition::Ddl, DbError>,
        sql: &str,
    ) -> Result<Rows, DbError> {
        // PostgreSQL's own 0A000 (a unique key without the partition
        // key) keeps its message; the engine's names the statement.
        let with_statement = |mut e: DbError| {
            if e.code == SqlState::FeatureNotSupported && e.message.contains("simulated SQL engine")
            {
                e.message = format!("{} (statement: {})", e.message, sql.trim());
            }
            e
        };
        if self.block.is_some() {
            let e = DbError::new(
                SqlState::FeatureNotSupported,
                format!("DDL inside a transaction block is not supported by the simulated SQL engine (statement: {})", sql.trim()),
            );
            return Err(self.fail(e));
        }
        let ddl = parsed.map_err(with_statement)?;
        let scans = self.effective().scans;
        let result = partition::run_ddl(&self.db, self.session, &ddl, scans).await;
        self.db.shared.clear_cache();
        result.map(|()| Rows::default()).map_err(with_statement)
    }

    /// `ALTER TABLE` of a partition or a partitioned table, where it
    /// differs from a table's: a partition takes storage parameters
    /// (nothing to apply, as for a table) and nothing else; a partitioned
    /// table cannot be renamed or lose a column (its partitions and key
    /// name them). `None`: an ordinary ALTER TABLE.
    fn alter_partitioned(
        &mut self,
        plan: &alter::AlterPlan,
        sql: &str,
    ) -> Option<Result<Rows, DbError>> {
        let catalog = self.db.shared.catalog();
        let refused = if catalog.partitions.contains_key(&plan.table) {
            if plan
                .actions
                .iter()
                .all(|a| matches!(a, alter::Action::StorageParameters))
            {
                return Some(Ok(Rows::default()));
            }
            "ALTER TABLE of a partition other than SET / RESET (storage parameters)"
        } else if catalog
            .tables
            .get(&plan.table)
            .is_some_and(|t| t.partitioning.is_some())
            && plan.actions.iter().any(|a| {
                matches!(
                    a,
                    alter::Action::DropColumn { .. } | alter::Action::RenameTable(_)
                )
            })
        {
            "ALTER TABLE ... DROP COLUMN / RENAME TO of a partitioned table"
        } else {
            return None;
        };
        drop(catalog);
        let e = expr::unsupported(refused);
        Some(Err(DbError::new(
            e.code,
            format!("{} (statement: {})", e.message, sql.trim()),
        )))
    }

    /// `ALTER TABLE` (see `alter`): DDL, outside a block as the engine's
    /// other DDL.
    async fn alter_table(&mut self, sql: &str) -> Result<Rows, DbError> {
        self.refuse_in_failed_block()?;
        let plan = alter::parse_alter(sql).map_err(|mut e| {
            if e.code == SqlState::FeatureNotSupported {
                e.message = format!("{} (statement: {})", e.message, sql.trim());
            }
            self.fail(e)
        })?;
        if let Some(role) = self.restricted_role() {
            // The owner check comes before the lock, as PostgreSQL's
            // name lookup callback makes it.
            if plan
                .actions
                .iter()
                .any(|a| matches!(a, alter::Action::OwnerTo(_)))
            {
                return Err(unsupported_as_role(sql));
            }
            let owner = lock(&self.db.shared.roles).check_owner(&role, &plan.table);
            owner.map_err(|e| self.fail(e))?;
        }
        if let Some(done) = self.alter_partitioned(&plan, sql) {
            return done.map_err(|e| self.fail(e));
        }
        if self.block.is_some() {
            return self.alter_in_block(&plan, sql).await;
        }
        let types = self.db.shared.catalog().types.clone();
        let timeouts = self.timeouts();
        alter::alter_table(&self.db, &plan, &types, timeouts)
            .await
            .map(|()| Rows::default())
            .map_err(|mut e| {
                if e.code == SqlState::FeatureNotSupported {
                    e.message = format!("{} (statement: {})", e.message, sql.trim());
                }
                e
            })
    }

    /// The current role: `SET ROLE`'s, else the session user.
    fn current_role(&self) -> String {
        let effective = self.effective();
        effective
            .role()
            .or(effective.session_user())
            .cloned()
            .unwrap_or_else(|| roles::BOOTSTRAP.to_string())
    }

    /// The session user: `SET SESSION AUTHORIZATION`'s, else the login
    /// role.
    fn session_user(&self) -> String {
        let effective = self.effective();
        effective
            .session_user()
            .cloned()
            .unwrap_or_else(|| roles::BOOTSTRAP.to_string())
    }

    /// The current role when it is not a superuser (whose statements have
    /// their privileges checked, see `roles`).
    fn restricted_role(&self) -> Option<String> {
        // The common case: the login superuser, with no lock taken.
        let effective = self.effective();
        if effective.role().is_none() && effective.session_user().is_none() {
            return None;
        }
        let role = self.current_role();
        (!lock(&self.db.shared.roles).superuser(&role)).then_some(role)
    }

    /// 42501 (or 0A000 where not modelled) unless `role`, not a
    /// superuser, may run `kind` (see `roles`). Checked before the
    /// statement waits for its table locks: PostgreSQL checks TRUNCATE's,
    /// LOCK TABLE's and the owner-only DDL's then too, and a query's and
    /// a DML statement's once it holds them (so the store fails those
    /// without waiting behind a conflicting table lock).
    fn check_privileges(&self, role: &str, kind: &Prepared) -> Result<(), DbError> {
        let roles = lock(&self.db.shared.roles);
        match kind {
            Prepared::Begin(_)
            | Prepared::Commit
            | Prepared::Rollback
            | Prepared::Savepoint(_)
            | Prepared::ReleaseSavepoint(_)
            | Prepared::RollbackToSavepoint(_)
            | Prepared::Set(_)
            | Prepared::SetTransaction(_)
            | Prepared::SetConstraints(_)
            | Prepared::SetCharacteristics(_)
            | Prepared::Show(_)
            | Prepared::DiscardAll => Ok(()),
            Prepared::Truncate(plan) => plan
                .tables
                .iter()
                .try_for_each(|t| roles.check(role, &t.name, roles::TRUNCATE)),
            Prepared::LockTable(plan) => plan
                .tables
                .iter()
                .try_for_each(|t| roles::check_lock(&roles, role, t, plan.mode)),
            Prepared::CreateTable(create, _) => {
                let name = ddl_object_name(&create.name);
                Err(schema_denied(&name))
            }
            // The owner may index its table only in a schema it may
            // create in, which public is not.
            Prepared::CreateIndex(create) => {
                let table = ddl_object_name(&create.table_name);
                roles.check_owner(role, &table)?;
                Err(schema_denied(&table))
            }
            Prepared::Drop(_) | Prepared::CreateExtension { .. } | Prepared::CreateSchema { .. } => {
                Err(expr::unsupported(
                    "DROP, CREATE EXTENSION and CREATE SCHEMA as a role without superuser (their privilege checks are not modelled)",
                ))
            }
            data => roles::check_data(&roles, role, data),
        }
    }

    /// `REINDEX INDEX | TABLE | SCHEMA` (see `reindex`): nothing to
    /// rebuild, PostgreSQL's locks taken.
    async fn reindex(&mut self, sql: &str) -> Result<Rows, DbError> {
        self.refuse_in_failed_block()?;
        let with_statement = |e: DbError| with_statement_text(e, sql);
        let target = reindex::parse(sql).map_err(|e| self.fail(with_statement(e)))?;
        let names = self.reindex_tables(&target)?;
        if let Some(role) = self.restricted_role() {
            let roles = lock(&self.db.shared.roles);
            let owned = match target {
                reindex::Target::Schema(_) => Err(expr::unsupported(
                    "REINDEX SCHEMA as a role without superuser (its privilege checks are not modelled)",
                )),
                _ => names.iter().try_for_each(|t| roles.check_owner(&role, t)),
            };
            drop(roles);
            owned.map_err(|e| self.fail(with_statement(e)))?;
        }
        let timeouts = self.timeouts();
        for name in names {
            // A table REINDEX SCHEMA listed and another session dropped
            // meanwhile is passed over, as PostgreSQL does.
            let Ok(table) = self.db.shared.table(&name) else {
                continue;
            };
            let indexed = !table.heap || table.indexes.len() > 1;
            let mode = if indexed {
                TableLockMode::AccessExclusive
            } else {
                TableLockMode::Share
            };
            let wanted = [(table.name.clone(), mode)];
            match &mut self.block {
                Some(block) => {
                    block.tx.set_timeouts(timeouts);
                    if let Err(e) = block.tx.sql_lock_tables(&wanted, false).await {
                        block.failed = true;
                        return Err(e);
                    }
                }
                None => self.lock_and_release(&wanted, timeouts).await?,
            }
        }
        Ok(Rows::default())
    }

    /// The tables whose indexes a REINDEX rebuilds (the block fails on an
    /// unknown name, as PostgreSQL's does).
    fn reindex_tables(&mut self, target: &reindex::Target) -> Result<Vec<String>, DbError> {
        Ok(match target {
            reindex::Target::Table(name) => {
                let table = self.db.shared.table(name).map_err(|e| self.fail(e))?;
                vec![table.name.clone()]
            }
            reindex::Target::Index(name) => {
                let catalog = self.db.shared.catalog();
                let owner = catalog.tables.values().find(|t| {
                    let schema = t.name.split_once('.').map(|(s, _)| s);
                    t.indexes.iter().any(|i| {
                        !i.name.is_empty()
                            && (i.name == *name
                                || schema.is_some_and(|s| format!("{s}.{}", i.name) == *name))
                    })
                });
                match owner {
                    Some(t) => vec![t.name.clone()],
                    None => {
                        drop(catalog);
                        let e = DbError::new(
                            SqlState::UndefinedTable,
                            format!("relation \"{name}\" does not exist"),
                        );
                        return Err(self.fail(e));
                    }
                }
            }
            reindex::Target::Schema(schema) => {
                if self.block.is_some() {
                    let e = DbError::new(
                        SqlState::Other("25001"),
                        "REINDEX SCHEMA cannot run inside a transaction block",
                    );
                    return Err(self.fail(e));
                }
                let catalog = self.db.shared.catalog();
                if schema != "public" && !catalog.schemas.contains(schema) {
                    return Err(DbError::new(
                        SqlState::Other("3F000"),
                        format!("schema \"{schema}\" does not exist"),
                    ));
                }
                let prefix = format!("{schema}.");
                catalog
                    .tables
                    .keys()
                    .filter(|t| match schema.as_str() {
                        "public" => !t.contains('.'),
                        _ => t.starts_with(&prefix),
                    })
                    .cloned()
                    .collect()
            }
        })
    }

    /// `CREATE ROLE`, `DROP ROLE`, `GRANT` and `REVOKE` (see `roles`):
    /// DDL, outside a block as the engine's other DDL, and run by a
    /// superuser.
    fn role_ddl(&mut self, sql: &str) -> Result<Rows, DbError> {
        self.refuse_in_failed_block()?;
        let with_statement = |mut e: DbError| {
            if e.code == SqlState::FeatureNotSupported {
                e.message = format!("{} (statement: {})", e.message, sql.trim());
            }
            e
        };
        if self.block.is_some() {
            let e = DbError::new(
                SqlState::FeatureNotSupported,
                format!("DDL inside a transaction block is not supported by the simulated SQL engine (statement: {})", sql.trim()),
            );
            return Err(self.fail(e));
        }
        let ddl = roles::parse(sql).map_err(with_statement)?;
        if self.restricted_role().is_some() {
            return Err(with_statement(expr::unsupported(
                "CREATE ROLE, DROP ROLE, GRANT and REVOKE as a role without superuser (their privilege checks are not modelled)",
            )));
        }
        let current = self.current_role();
        let catalog = self.db.shared.catalog();
        let exists = |t: &str| catalog.tables.contains_key(t);
        lock(&self.db.shared.roles).run(&ddl, &exists, &current)?;
        Ok(Rows::default())
    }

    /// `PREPARE`, `EXECUTE` and `DEALLOCATE` (see `prepare`).
    async fn prepared_statement(&mut self, sql: &str) -> Result<Rows, DbError> {
        let command = prepare::parse(sql).map_err(|mut e| {
            if e.code == SqlState::FeatureNotSupported {
                e.message = format!("{} (statement: {})", e.message, sql.trim());
            }
            self.fail(e)
        })?;
        self.refuse_in_failed_block()?;
        match command {
            prepare::Command::Prepare { name, types, sql } => {
                if self.prepared.contains_key(&name) {
                    return Err(self.fail(prepare::exists(&name)));
                }
                // Planned now: a missing table or column fails here, as
                // PostgreSQL analyzes the statement at PREPARE.
                let planned = self
                    .db
                    .prepare_as(&sql, self.effective().scans, Some(self.session));
                let statement = planned.map_err(|e| self.fail(e))?;
                match &statement.kind {
                    Prepared::Select(_)
                    | Prepared::SetOp(_)
                    | Prepared::Insert(_)
                    | Prepared::Update(_)
                    | Prepared::Delete(_)
                    | Prepared::With(_)
                    | Prepared::AdvisoryLock(_) => {}
                    _ => {
                        let first = sql.split_whitespace().next().unwrap_or_default();
                        let e = DbError::new(
                            SqlState::SyntaxError,
                            format!("syntax error at or near \"{first}\""),
                        );
                        return Err(self.fail(e));
                    }
                }
                let params = statement.params.max(types.len());
                self.prepared
                    .insert(name, prepare::PreparedStatement { sql, types, params });
                Ok(Rows::default())
            }
            prepare::Command::Execute { name, args } => {
                let Some(stmt) = self.prepared.get(&name).cloned() else {
                    return Err(self.fail(prepare::missing(&name)));
                };
                if args.len() != stmt.params {
                    return Err(self.fail(prepare::wrong_count(&name)));
                }
                let mut values = Vec::with_capacity(args.len());
                for (i, arg) in args.iter().enumerate() {
                    let v = self.argument(arg).map_err(|e| self.fail(e))?;
                    let v = match stmt.types.get(i) {
                        Some(ty) => value::coerce(&v, *ty).map_err(|e| self.fail(e))?,
                        None => v,
                    };
                    values.push(v);
                }
                // Parameters declared and not used are not bound.
                let used =
                    self.db
                        .prepare_as(&stmt.sql, self.effective().scans, Some(self.session));
                let used = used.map_err(|e| self.fail(e))?.params;
                values.truncate(used);
                self.run_statement(&stmt.sql, &values).await
            }
            prepare::Command::Deallocate(None) => {
                self.prepared.clear();
                Ok(Rows::default())
            }
            prepare::Command::Deallocate(Some(name)) => match self.prepared.remove(&name) {
                Some(_) => Ok(Rows::default()),
                None => Err(self.fail(prepare::missing(&name))),
            },
        }
    }

    /// The value of an `EXECUTE` argument: an expression over no table.
    fn argument(&self, text: &str) -> Result<Value, DbError> {
        let statement = self.db.prepare_as(
            &format!("SELECT {text}"),
            self.effective().scans,
            Some(self.session),
        )?;
        let Prepared::Select(plan) = &statement.kind else {
            return Err(expr::unsupported(format!("the EXECUTE argument {text}")));
        };
        let [(_, e)] = plan.output.as_slice() else {
            return Err(DbError::new(
                SqlState::SyntaxError,
                format!("syntax error at or near \"{text}\""),
            ));
        };
        if !plan.sources.is_empty() || statement.params > 0 || e.has_subquery() {
            return Err(expr::unsupported(format!(
                "an EXECUTE argument that is not a constant expression ({text})"
            )));
        }
        let tx_ms = self.block.as_ref().and_then(|b| b.tx.sql_time_ms());
        let ctx = funcs::Ctx::new(&self.db.store, &self.db.shared, tx_ms);
        let env = expr::Env {
            row: &[],
            params: &[],
            aggs: &[],
            ctx: &ctx,
        };
        e.eval(&env).map(|mut v| {
            value::labels_as_text(&mut v);
            v
        })
    }

    /// `CREATE FUNCTION`, `DROP FUNCTION`, `CREATE TRIGGER`, `DROP
    /// TRIGGER` (see `plpgsql`, `triggers`): DDL, outside a block as the
    /// engine's other DDL.
    async fn routine_ddl(&mut self, sql: &str) -> Result<Rows, DbError> {
        if self.block.is_some() {
            return self.routine_ddl_in_block(sql).await;
        }
        let with_statement = |mut e: DbError| {
            if e.code == SqlState::FeatureNotSupported {
                e.message = format!("{} (statement: {})", e.message, sql.trim());
            }
            e
        };
        if plpgsql::is_function_ddl(sql) {
            return triggers::function_ddl(&self.db, sql)
                .map(|()| Rows::default())
                .map_err(with_statement);
        }
        let ddl = triggers::parse(sql).map_err(with_statement)?;
        triggers::run_ddl(&self.db, &ddl, self.timeouts())
            .await
            .map(|()| Rows::default())
            .map_err(with_statement)
    }

    /// `VACUUM` / `ANALYZE` (see `vacuum`): VACUUM refuses a transaction
    /// block (25001), ANALYZE in one does nothing.
    async fn maintenance(&mut self, sql: &str) -> Result<Rows, DbError> {
        let m = vacuum::parse(sql)?;
        if let Some(block) = &self.block {
            if block.failed {
                return Err(DbError::new(
                    SqlState::InFailedTransaction,
                    "current transaction is aborted, commands ignored until end of transaction block",
                ));
            }
            if m.vacuum {
                let e = DbError::new(
                    SqlState::Other("25001"),
                    "VACUUM cannot run inside a transaction block",
                );
                return Err(self.fail(e));
            }
            for name in &m.tables {
                if self.db.shared.catalog().partitions.contains_key(name) {
                    continue;
                }
                if let Err(e) = self.db.shared.table(name) {
                    return Err(self.fail(e));
                }
            }
            return Ok(Rows::default());
        }
        let mut m = m;
        if let Some(role) = self.restricted_role() {
            // A table the role does not own is skipped with a warning
            // (PostgreSQL's "skipping ... only table or database owner can
            // vacuum it"), before its lock is asked for.
            for name in &m.tables {
                self.db.shared.table(name)?;
            }
            let roles = lock(&self.db.shared.roles);
            if m.tables.is_empty() {
                m.tables = self.db.shared.catalog().tables.keys().cloned().collect();
            }
            m.tables.retain(|t| roles.owns(&role, t));
            if m.tables.is_empty() {
                return Ok(Rows::default());
            }
        }
        vacuum::run(&self.db, &m, self.timeouts()).await?;
        Ok(Rows::default())
    }

    fn fail(&mut self, e: DbError) -> DbError {
        if let Some(block) = &mut self.block {
            block.failed = true;
            return block.tx.sql_fail(e);
        }
        e
    }
}

impl Session for SqlSession {
    fn execute(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> impl Future<Output = Result<Rows, DbError>> {
        self.run_statement(sql, params)
    }
}

#[cfg(test)]
mod alter_tests;
#[cfg(test)]
mod ddlblock_tests;
#[cfg(test)]
mod deferred_tests;
#[cfg(test)]
mod exprindex_tests;
#[cfg(test)]
mod fork_tests;
#[cfg(test)]
mod generated_tests;
#[cfg(test)]
mod indexes_tests;
#[cfg(test)]
mod partition_tests;
#[cfg(test)]
mod plpgsql_tests;
#[cfg(test)]
mod prepare_tests;
#[cfg(test)]
mod queries_tests;
#[cfg(test)]
mod referential_tests;
#[cfg(test)]
mod roles_tests;
#[cfg(test)]
mod sequences_tests;
#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod types_tests;
