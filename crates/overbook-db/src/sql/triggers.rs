//! Triggers: `CREATE [OR REPLACE] TRIGGER name {BEFORE | AFTER}
//! {INSERT | UPDATE [OF cols] | DELETE} [OR ...] ON table [FOR EACH {ROW |
//! STATEMENT}] [WHEN (cond)] EXECUTE {FUNCTION | PROCEDURE} f()`, `DROP
//! TRIGGER`, `ALTER TABLE t {ENABLE | DISABLE} TRIGGER {name | USER |
//! ALL}`, and their firing.
//!
//! As in PostgreSQL (trigger.c): a table's triggers fire in name order.
//! A BEFORE ROW trigger runs for each row as the statement is about to
//! write it (an INSERT's new row before its constraint checks and ON
//! CONFLICT arbitration; an UPDATE's or DELETE's row once it is locked,
//! after Read Committed's re-check of the newest version), and may
//! replace NEW or return NULL to skip the row. AFTER ROW triggers are
//! queued and fire when the statement ends, after its foreign-key
//! actions, each seeing the statement's effects. Statement triggers
//! (the default) fire once per statement, rows or none: BEFORE ones as
//! its body starts, AFTER ones queued after its row events. The
//! function's own statements are nested in the statement that fired it
//! (see `Exec::run_nested`): same transaction, their table locks, and at
//! Read Committed a snapshot of their own.
//!
//! Partitions: a partition's triggers are kept with its partitioned
//! table's, marked with the partition. PostgreSQL clones a partitioned
//! table's row triggers to every partition and fires a row's triggers on
//! its partition; here a row trigger fires for a row when it is the
//! table's own or its partition's, with TG_TABLE_NAME the partition. An
//! UPDATE moving a row across partitions is a delete and an insert for
//! the row triggers too (see [`Exec::before_move`]).
//!
//! Not modelled (0A000): INSTEAD OF, TRUNCATE triggers, transition
//! tables, constraint triggers, trigger arguments; row triggers do not
//! fire for the writes of foreign-key actions (a cascade into a table
//! with triggers is 0A000) or for `UPDATE ... FROM` / `DELETE ... USING`.

use super::catalog::{Catalog, Table};
use super::exec::Exec;
use super::plan::{Prepared, Statement};
use super::plpgsql::{self, name_of, tokenize, Backend, Function, Rec, TriggerData};
use super::value::{coerce, err, Value};
use super::{Rows, SqlDb};
use crate::store::{DbError, SqlState, TableLockMode};
use sqlparser::tokenizer::Token;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

fn unsupported(what: impl std::fmt::Display) -> DbError {
    super::expr::unsupported(what)
}

/// The statement a trigger fires on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    Insert,
    Update,
    Delete,
}

impl Event {
    fn tg_op(self) -> &'static str {
        match self {
            Event::Insert => "INSERT",
            Event::Update => "UPDATE",
            Event::Delete => "DELETE",
        }
    }
}

/// A trigger.
#[derive(Clone, Debug)]
pub(crate) struct Trigger {
    pub(crate) name: String,
    pub(crate) function: String,
    pub(crate) before: bool,
    pub(crate) events: Vec<Event>,
    /// `UPDATE OF cols` (empty: any UPDATE).
    pub(crate) update_of: Vec<usize>,
    /// `WHEN (cond)`, as a function returning boolean over NEW and OLD.
    pub(crate) when: Option<Arc<Function>>,
    /// `FOR EACH ROW`; else `FOR EACH STATEMENT`.
    pub(crate) row: bool,
    /// The partition it was created on (it is kept with its partitioned
    /// table's triggers): a row trigger fires for the rows of that
    /// partition only, a statement trigger for statements naming it.
    /// `None`: on the table itself (a row trigger of a partitioned table
    /// fires for the rows of every partition, as PostgreSQL clones it to
    /// each).
    pub(crate) partition: Option<String>,
    /// `ALTER TABLE ... DISABLE TRIGGER` clears it.
    pub(crate) enabled: bool,
    /// A partitioned table's row trigger fires as PostgreSQL's clone of it
    /// on each partition, which `ALTER TABLE partition {ENABLE | DISABLE}
    /// TRIGGER` sets apart: those partitions and their state (the same
    /// statement on the partitioned table sets every clone again).
    pub(crate) overrides: Vec<(String, bool)>,
}

impl Trigger {
    fn fires(&self, before: bool, event: Event, set: Option<&[usize]>) -> bool {
        self.before == before
            && self.events.contains(&event)
            && (event != Event::Update
                || self.update_of.is_empty()
                || set.is_none_or(|cols| cols.iter().any(|c| self.update_of.contains(c))))
    }

    /// Whether it fires for a row of `partition` (of a partitioned table;
    /// `None` for a plain table's row).
    fn fires_row(
        &self,
        before: bool,
        event: Event,
        set: Option<&[usize]>,
        partition: Option<&str>,
    ) -> bool {
        let enabled = partition
            .and_then(|p| self.overrides.iter().find(|(q, _)| q == p))
            .map_or(self.enabled, |(_, on)| *on);
        self.row
            && enabled
            && self.fires(before, event, set)
            && self
                .partition
                .as_deref()
                .is_none_or(|p| Some(p) == partition)
    }

    /// Whether it fires for a statement on `table` (a view of a partition
    /// fires the partition's statement triggers, not its parent's).
    fn fires_statement(
        &self,
        before: bool,
        event: Event,
        set: Option<&[usize]>,
        table: &Table,
    ) -> bool {
        !self.row
            && self.enabled
            && self.fires(before, event, set)
            && self.partition.as_deref() == table.view.as_ref().map(|v| v.name.as_str())
    }

    /// The relation it is on, for messages.
    fn relation<'t>(&'t self, table: &'t str) -> &'t str {
        self.partition.as_deref().unwrap_or(table)
    }
}

/// The partition a row of `table` is in (`None` when the table is not
/// partitioned): the relation its row triggers fire on in PostgreSQL.
fn partition_of<'t>(table: &'t Table, values: &[Value]) -> Option<&'t str> {
    let p = table.partitioning.as_ref()?;
    p.route(values).map(|i| p.partitions[i].name.as_str())
}

/// Whether `sql` is `ALTER TABLE [IF EXISTS] [ONLY] t {ENABLE | DISABLE}
/// ... TRIGGER ...`.
pub(crate) fn is_alter_trigger(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(9)
        .map(str::to_ascii_lowercase)
        .collect();
    if words.len() < 5 || words[0] != "alter" || words[1] != "table" {
        return false;
    }
    let mut at = 2;
    if words[at] == "if" {
        at += 2;
    }
    if words.get(at).map(String::as_str) == Some("only") {
        at += 1;
    }
    let w = |i: usize| words.get(i).map_or("", String::as_str);
    (w(at + 1) == "enable" || w(at + 1) == "disable")
        && (w(at + 2) == "trigger" || w(at + 3) == "trigger")
}

/// Whether `sql` is `CREATE [OR REPLACE] TRIGGER` or `DROP TRIGGER`.
pub(crate) fn is_trigger_ddl(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(4)
        .map(str::to_ascii_lowercase)
        .collect();
    let w = |i: usize| words.get(i).map_or("", String::as_str);
    match w(0) {
        "create" if w(1) == "or" && w(2) == "replace" => w(3) == "trigger" || w(3) == "constraint",
        "create" => w(1) == "trigger" || (w(1) == "constraint" && w(2) == "trigger"),
        "drop" => w(1) == "trigger",
        _ => false,
    }
}

/// A parsed `CREATE TRIGGER` / `DROP TRIGGER`.
pub(crate) enum TriggerDdl {
    Create {
        or_replace: bool,
        name: String,
        table: String,
        before: bool,
        row: bool,
        events: Vec<Event>,
        update_of: Vec<String>,
        when: Option<String>,
        function: String,
    },
    Drop {
        name: String,
        table: String,
        if_exists: bool,
    },
    /// `ALTER TABLE t {ENABLE | DISABLE} TRIGGER {name | ALL | USER}`.
    Enable {
        table: String,
        which: Which,
        enable: bool,
    },
}

/// The triggers `ALTER TABLE ... ENABLE / DISABLE TRIGGER` names.
pub(crate) enum Which {
    Named(String),
    /// `USER`: every trigger but the foreign keys' internal ones.
    User,
    /// `ALL`: the foreign keys' internal triggers too.
    All,
}

struct Cursor {
    toks: Vec<plpgsql::Tok>,
    pos: usize,
}

impl Cursor {
    fn kw(&self) -> Option<String> {
        self.toks.get(self.pos).and_then(|t| match &t.token {
            Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
            _ => None,
        })
    }
    fn eat(&mut self, kw: &str) -> bool {
        if self.kw().as_deref() == Some(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn eat_tok(&mut self, t: &Token) -> bool {
        if self.toks.get(self.pos).map(|x| &x.token) == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn near(&self) -> DbError {
        let near = self
            .toks
            .get(self.pos)
            .map_or_else(|| "end of input".to_string(), |t| t.token.to_string());
        err(
            SqlState::SyntaxError,
            format!("syntax error at or near \"{near}\""),
        )
    }
    fn expect(&mut self, kw: &str) -> Result<(), DbError> {
        if self.eat(kw) {
            Ok(())
        } else {
            Err(self.near())
        }
    }
    fn name(&mut self) -> Result<String, DbError> {
        let n = self
            .toks
            .get(self.pos)
            .and_then(|t| name_of(&t.token))
            .ok_or_else(|| self.near())?;
        self.pos += 1;
        // `public.t` is `t`.
        if n == "public" && self.eat_tok(&Token::Period) {
            return self.name();
        }
        Ok(n)
    }
}

pub(crate) fn parse(sql: &str) -> Result<TriggerDdl, DbError> {
    let mut c = Cursor {
        toks: tokenize(sql)?,
        pos: 0,
    };
    if c.eat("alter") {
        return parse_enable(&mut c);
    }
    if c.eat("drop") {
        return parse_drop(&mut c);
    }
    c.expect("create")?;
    let or_replace = c.eat("or");
    if or_replace {
        c.expect("replace")?;
    }
    if c.eat("constraint") {
        return Err(unsupported("CREATE CONSTRAINT TRIGGER"));
    }
    c.expect("trigger")?;
    let name = c.name()?;
    let before = if c.eat("before") {
        true
    } else if c.eat("after") {
        false
    } else if c.eat("instead") {
        return Err(unsupported("INSTEAD OF triggers"));
    } else {
        return Err(c.near());
    };
    let (events, update_of) = parse_events(&mut c)?;
    c.expect("on")?;
    let table = c.name()?;
    if c.kw().as_deref() == Some("referencing") {
        return Err(unsupported("transition tables (REFERENCING)"));
    }
    let mut row = false;
    if c.eat("for") {
        c.eat("each");
        if c.eat("row") {
            row = true;
        } else {
            c.expect("statement")?;
        }
    }
    let when = if c.eat("when") {
        Some(parse_when(&mut c)?)
    } else {
        None
    };
    let function = parse_execute(&mut c)?;
    if !row {
        refuse_row_in_statement_when(when.as_deref())?;
    }
    Ok(TriggerDdl::Create {
        or_replace,
        name,
        table,
        before,
        row,
        events,
        update_of,
        when,
        function,
    })
}

/// `ALTER TABLE [IF EXISTS] [ONLY] t {ENABLE | DISABLE} TRIGGER {name |
/// ALL | USER}`, after ALTER.
fn parse_enable(c: &mut Cursor) -> Result<TriggerDdl, DbError> {
    c.expect("table")?;
    if c.eat("if") {
        c.expect("exists")?;
    }
    c.eat("only");
    let table = c.name()?;
    let enable = if c.eat("enable") {
        if c.eat("replica") || c.eat("always") {
            return Err(unsupported(
                "ENABLE REPLICA / ALWAYS TRIGGER (session_replication_role)",
            ));
        }
        true
    } else {
        c.expect("disable")?;
        false
    };
    c.expect("trigger")?;
    let which = if c.eat("all") {
        Which::All
    } else if c.eat("user") {
        Which::User
    } else {
        Which::Named(c.name()?)
    };
    c.eat_tok(&Token::SemiColon);
    if c.pos < c.toks.len() {
        return Err(unsupported(
            "ALTER TABLE with other actions beside ENABLE / DISABLE TRIGGER",
        ));
    }
    Ok(TriggerDdl::Enable {
        table,
        which,
        enable,
    })
}

/// `DROP TRIGGER [IF EXISTS] name ON t [RESTRICT | CASCADE]`, after DROP.
fn parse_drop(c: &mut Cursor) -> Result<TriggerDdl, DbError> {
    c.expect("trigger")?;
    let if_exists = c.eat("if");
    if if_exists {
        c.expect("exists")?;
    }
    let name = c.name()?;
    c.expect("on")?;
    let table = c.name()?;
    if !c.eat("restrict") && c.eat("cascade") {
        // Nothing depends on a trigger.
    }
    c.eat_tok(&Token::SemiColon);
    if c.pos < c.toks.len() {
        return Err(c.near());
    }
    Ok(TriggerDdl::Drop {
        name,
        table,
        if_exists,
    })
}

/// The events a trigger fires on (`INSERT OR UPDATE [OF c, ...] OR
/// DELETE`), and the columns of `UPDATE OF`.
fn parse_events(c: &mut Cursor) -> Result<(Vec<Event>, Vec<String>), DbError> {
    let mut events = Vec::new();
    let mut update_of = Vec::new();
    loop {
        if c.eat("insert") {
            events.push(Event::Insert);
        } else if c.eat("delete") {
            events.push(Event::Delete);
        } else if c.eat("update") {
            events.push(Event::Update);
            if c.eat("of") {
                loop {
                    update_of.push(c.name()?);
                    if !c.eat_tok(&Token::Comma) {
                        break;
                    }
                }
            }
        } else if c.eat("truncate") {
            return Err(unsupported("TRUNCATE triggers"));
        } else {
            return Err(c.near());
        }
        if !c.eat("or") {
            break;
        }
    }
    Ok((events, update_of))
}

/// The condition of `WHEN (cond)`, after WHEN, as text.
fn parse_when(c: &mut Cursor) -> Result<String, DbError> {
    if !c.eat_tok(&Token::LParen) {
        return Err(c.near());
    }
    let start = c.pos;
    let mut depth = 1;
    while let Some(t) = c.toks.get(c.pos) {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            break;
        }
        c.pos += 1;
    }
    let end = c.pos;
    if !c.eat_tok(&Token::RParen) || end == start {
        return Err(c.near());
    }
    Ok(c.toks[start..end]
        .iter()
        .map(|t| t.token.to_string())
        .collect::<Vec<_>>()
        .join(" "))
}

/// The function of `EXECUTE {FUNCTION | PROCEDURE} f()`, which ends the
/// statement.
fn parse_execute(c: &mut Cursor) -> Result<String, DbError> {
    c.expect("execute")?;
    if !c.eat("function") {
        c.expect("procedure")?;
    }
    let function = c.name()?;
    if !c.eat_tok(&Token::LParen) {
        return Err(c.near());
    }
    if !c.eat_tok(&Token::RParen) {
        return Err(unsupported("trigger arguments"));
    }
    c.eat_tok(&Token::SemiColon);
    if c.pos < c.toks.len() {
        return Err(c.near());
    }
    Ok(function)
}

/// PostgreSQL's CreateTriggerFiringOn: a statement trigger's WHEN sees
/// no row.
fn refuse_row_in_statement_when(when: Option<&str>) -> Result<(), DbError> {
    if let Some(cond) = when {
        let words = cond.split(|c: char| !c.is_ascii_alphanumeric() && c != '_');
        if words
            .into_iter()
            .any(|w| w.eq_ignore_ascii_case("new") || w.eq_ignore_ascii_case("old"))
        {
            return Err(err(
                SqlState::Other("42P17"),
                "statement trigger's WHEN condition cannot reference column values",
            ));
        }
    }
    Ok(())
}

/// Runs trigger DDL on the catalog. CREATE TRIGGER takes SHARE ROW
/// EXCLUSIVE on the table, DROP TRIGGER ACCESS EXCLUSIVE, as PostgreSQL.
pub(crate) async fn run_ddl(
    db: &SqlDb,
    ddl: &TriggerDdl,
    timeouts: crate::store::Timeouts,
) -> Result<(), DbError> {
    let (table_name, mode) = match ddl {
        TriggerDdl::Create { table, .. } | TriggerDdl::Enable { table, .. } => {
            (table, TableLockMode::ShareRowExclusive)
        }
        TriggerDdl::Drop { table, .. } => (table, TableLockMode::AccessExclusive),
    };
    // A partition's triggers are kept with its partitioned table's.
    if !db
        .shared
        .catalog()
        .partitions
        .contains_key(table_name.as_str())
    {
        db.shared.table(table_name)?;
    }
    let mut tx = db.store().begin(crate::store::Isolation::ReadCommitted);
    tx.set_timeouts(timeouts);
    tx.sql_lock_table_in_statement(table_name, mode).await?;
    let result = apply(db, ddl);
    if result.is_ok() {
        tx.commit().await?;
    } else {
        tx.rollback();
    }
    result
}

/// The table that keeps the triggers of relation `name` (its partitioned
/// table for a partition), and the partition.
fn holder(
    catalog: &super::catalog::Catalog,
    name: &str,
) -> Result<(Arc<Table>, Option<String>), DbError> {
    let (table, partition) = match catalog.partitions.get(name) {
        Some(parent) => (parent.as_str(), Some(name.to_string())),
        None => (name, None),
    };
    let t = catalog.tables.get(table).cloned().ok_or_else(|| {
        err(
            SqlState::UndefinedTable,
            format!("relation \"{name}\" does not exist"),
        )
    })?;
    Ok((t, partition))
}

pub(crate) fn apply(db: &SqlDb, ddl: &TriggerDdl) -> Result<(), DbError> {
    let mut catalog = db.shared.catalog();
    match ddl {
        TriggerDdl::Create {
            or_replace,
            name,
            table,
            before,
            row,
            events,
            update_of,
            when,
            function,
        } => {
            let (t, partition) = holder(&catalog, table)?;
            check_trigger_function(&catalog, function)?;
            check_trigger_name(&t, name, table, partition.as_deref(), *row, *or_replace)?;
            let update_of = update_of
                .iter()
                .map(|c| {
                    t.column_index(c).ok_or_else(|| {
                        err(
                            SqlState::UndefinedColumn,
                            format!("column \"{c}\" of relation \"{table}\" does not exist"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let when = match when {
                None => None,
                Some(cond) => Some(compile_when(&catalog, name, cond)?),
            };
            let trigger = Arc::new(Trigger {
                name: name.clone(),
                function: function.clone(),
                before: *before,
                events: events.clone(),
                update_of,
                when,
                row: *row,
                partition: partition.clone(),
                enabled: true,
                overrides: Vec::new(),
            });
            let mut t = (*t).clone();
            t.triggers
                .retain(|x| !(x.name == *name && x.partition == partition));
            t.triggers.push(trigger);
            t.triggers.sort_by(|a, b| a.name.cmp(&b.name));
            catalog.tables.insert(t.name.clone(), Arc::new(t));
        }
        TriggerDdl::Drop {
            name,
            table,
            if_exists,
        } => {
            if !drop_trigger(&mut catalog, name, table, *if_exists)? {
                return Ok(());
            }
        }
        TriggerDdl::Enable {
            table,
            which,
            enable,
        } => enable_triggers(&mut catalog, table, which, *enable)?,
    }
    drop(catalog);
    db.shared.clear_cache();
    Ok(())
}

/// The trigger function exists and returns `trigger`.
fn check_trigger_function(catalog: &Catalog, function: &str) -> Result<(), DbError> {
    let f = catalog.functions.get(function).cloned().ok_or_else(|| {
        err(
            SqlState::UndefinedFunction,
            format!("function {function}() does not exist"),
        )
    })?;
    if f.returns != plpgsql::Returns::Trigger {
        return Err(err(
            SqlState::Other("42P17"),
            format!("function {function} must return type trigger"),
        ));
    }
    Ok(())
}

/// Trigger names are unique per relation (OR REPLACE replaces the one of
/// the same relation), and PostgreSQL's partitions hold clones of their
/// parent's row triggers, whose names they share.
fn check_trigger_name(
    t: &Table,
    name: &str,
    table: &str,
    partition: Option<&str>,
    row: bool,
    or_replace: bool,
) -> Result<(), DbError> {
    let same = |x: &Trigger| x.name == name && x.partition.as_deref() == partition;
    let clash = t.triggers.iter().find(|x| {
        x.name == name
            && !same(x)
            && ((x.partition.is_none() && x.row) || (partition.is_none() && row))
    });
    if let Some(x) = clash {
        return Err(err(
            SqlState::Other("42710"),
            format!(
                "trigger \"{name}\" for relation \"{}\" already exists",
                x.partition.as_deref().unwrap_or(table)
            ),
        ));
    }
    let exists = t.triggers.iter().any(|x| same(x));
    if exists && !or_replace {
        return Err(err(
            SqlState::Other("42710"),
            format!("trigger \"{name}\" for relation \"{table}\" already exists"),
        ));
    }
    Ok(())
}

/// A trigger's WHEN condition, compiled as a PL/pgSQL function returning
/// it (it reads NEW and OLD as a trigger function does).
fn compile_when(catalog: &Catalog, name: &str, cond: &str) -> Result<Arc<Function>, DbError> {
    let source = format!(
        "CREATE FUNCTION {name}_when() RETURNS boolean LANGUAGE plpgsql AS $when$BEGIN RETURN ({cond}); END$when$"
    );
    let parsed =
        super::types::with_types(&catalog.types, || plpgsql::parse_create_function(&source))?;
    Ok(Arc::new(parsed.function))
}

/// `DROP TRIGGER`: false when IF EXISTS found none (nothing changed).
fn drop_trigger(
    catalog: &mut Catalog,
    name: &str,
    table: &str,
    if_exists: bool,
) -> Result<bool, DbError> {
    let (t, partition) = holder(catalog, table)?;
    let same = |x: &Arc<Trigger>| x.name == name && x.partition == partition;
    if !t.triggers.iter().any(same) {
        if partition.is_some()
            && t.triggers
                .iter()
                .any(|x| x.name == name && x.row && x.partition.is_none())
        {
            return Err(err(
                SqlState::Other("2BP01"),
                format!(
                    "cannot drop trigger {name} on table {table} because trigger {name} on table {} requires it",
                    t.name
                ),
            ));
        }
        if if_exists {
            return Ok(false);
        }
        return Err(err(
            SqlState::Other("42704"),
            format!("trigger \"{name}\" for table \"{table}\" does not exist"),
        ));
    }
    let mut t = (*t).clone();
    t.triggers.retain(|x| !same(x));
    catalog.tables.insert(t.name.clone(), Arc::new(t));
    Ok(true)
}

/// `ALTER TABLE ... {ENABLE | DISABLE} TRIGGER`: the relation's own
/// triggers, and on a partition its overrides of the clones of its
/// partitioned table's row triggers.
fn enable_triggers(
    catalog: &mut Catalog,
    table: &str,
    which: &Which,
    enable: bool,
) -> Result<(), DbError> {
    let (t, partition) = holder(catalog, table)?;
    let named = |x: &Trigger| match which {
        Which::Named(name) => x.name == *name,
        Which::All | Which::User => true,
    };
    let own = |x: &Trigger| x.partition == partition;
    let clone = |x: &Trigger| partition.is_some() && x.partition.is_none() && x.row;
    if let Which::Named(name) = which {
        if !t.triggers.iter().any(|x| named(x) && (own(x) || clone(x))) {
            return Err(err(
                SqlState::Other("42704"),
                format!("trigger \"{name}\" for table \"{table}\" does not exist"),
            ));
        }
    }
    if matches!(which, Which::All) && (!t.foreign_keys.is_empty() || !t.referenced_by.is_empty()) {
        return Err(unsupported(
            "DISABLE / ENABLE TRIGGER ALL on a table with foreign keys (their internal triggers)",
        ));
    }
    let mut t = (*t).clone();
    for x in &mut t.triggers {
        if !named(x) {
            continue;
        }
        let mut changed = (**x).clone();
        if own(x) {
            changed.enabled = enable;
            // PostgreSQL sets the partitions' clones too.
            changed.overrides.clear();
        } else if clone(x) {
            let p = partition.clone().expect("a partition");
            changed.overrides.retain(|(q, _)| *q != p);
            changed.overrides.push((p, enable));
        } else {
            continue;
        }
        *x = Arc::new(changed);
    }
    catalog.tables.insert(t.name.clone(), Arc::new(t));
    Ok(())
}

/// `CREATE FUNCTION` / `DROP FUNCTION` on the catalog.
pub(crate) fn function_ddl(db: &SqlDb, sql: &str) -> Result<(), DbError> {
    let first = sql.split_whitespace().next().unwrap_or("");
    let mut catalog = db.shared.catalog();
    if first.eq_ignore_ascii_case("drop") {
        let drop = plpgsql::parse_drop_function(sql)?;
        for name in &drop.names {
            let Some(f) = catalog.functions.get(name).cloned() else {
                if drop.if_exists {
                    continue;
                }
                return Err(err(
                    SqlState::UndefinedFunction,
                    format!("function {name}() does not exist"),
                ));
            };
            let users: Vec<(String, String)> = catalog
                .tables
                .values()
                .flat_map(|t| {
                    t.triggers
                        .iter()
                        .filter(|x| x.function == *name)
                        .map(|x| (t.name.clone(), x.name.clone()))
                })
                .collect();
            if !users.is_empty() {
                if !drop.cascade {
                    return Err(err(
                        SqlState::Other("2BP01"),
                        format!(
                            "cannot drop function {} because other objects depend on it",
                            f.signature
                        ),
                    ));
                }
                for (table, _) in &users {
                    let mut t = (*catalog.tables[table]).clone();
                    t.triggers.retain(|x| x.function != *name);
                    catalog.tables.insert(table.clone(), Arc::new(t));
                }
            }
            catalog.functions.remove(name);
        }
    } else {
        let created =
            super::types::with_types(&catalog.types, || plpgsql::parse_create_function(sql))?;
        let f = created.function;
        if let Some(old) = catalog.functions.get(&f.name) {
            if !created.or_replace {
                return Err(err(
                    SqlState::Other("42723"),
                    format!(
                        "function \"{}\" already exists with same argument types",
                        f.name
                    ),
                ));
            }
            if old.signature != f.signature {
                return Err(unsupported(format!(
                    "overloading function {} (another {} exists)",
                    f.signature, old.signature
                )));
            }
            if old.returns != f.returns {
                return Err(err(
                    SqlState::Other("42P13"),
                    "cannot change return type of existing function",
                ));
            }
        }
        catalog.functions.insert(f.name.clone(), Arc::new(f));
    }
    drop(catalog);
    db.shared.clear_cache();
    Ok(())
}

/// An AFTER ROW or AFTER STATEMENT event, fired at the end of the
/// statement.
#[derive(Debug)]
pub(crate) struct AfterEvent {
    table: Arc<Table>,
    event: Event,
    old: Option<Vec<Value>>,
    new: Option<Vec<Value>>,
    set: Option<Vec<usize>>,
    /// A statement's event (no row).
    statement: bool,
}

/// What becomes of a row an UPDATE moves to another partition (see
/// [`Exec::before_move`]).
pub(crate) enum Move {
    /// Moved, with this row (as the destination's BEFORE INSERT triggers
    /// left it).
    To(Vec<Value>),
    /// A BEFORE DELETE trigger of the source partition returned NULL:
    /// the row is not updated.
    Skipped,
}

type Boxed<'s, T> = Pin<Box<dyn Future<Output = Result<T, DbError>> + Send + 's>>;

/// How deep statements may nest through functions and triggers.
const NESTING_MAX: u32 = 64;

fn record(table: &Table, values: &[Value]) -> Rec {
    Rec {
        names: table.columns[..table.visible()]
            .iter()
            .map(|c| c.name.to_string())
            .collect(),
        values: values[..table.columns.len()].to_vec(),
    }
}

impl Exec<'_> {
    /// Runs `table`'s BEFORE ROW triggers of `event` on a row about to be
    /// written: returns the row to write (NEW as the triggers left it),
    /// or `None` when one returned NULL (the row is skipped). For a
    /// DELETE, `new` is the row deleted and comes back unchanged.
    pub(crate) fn before_row<'s>(
        &'s mut self,
        table: &'s Arc<Table>,
        event: Event,
        old: Option<&'s [Value]>,
        new: Vec<Value>,
        set: Option<&'s [usize]>,
    ) -> Boxed<'s, Option<Vec<Value>>> {
        Box::pin(async move {
            // A partitioned table's row triggers fire on the row's
            // partition: the one the row is routed to for an INSERT,
            // the one it is in for an UPDATE or DELETE.
            let partition = match event {
                Event::Insert | Event::Delete => partition_of(table, &new),
                Event::Update => old.and_then(|o| partition_of(table, o)),
            };
            let relation = partition.unwrap_or(&table.name).to_string();
            let mut current = new;
            for trigger in table
                .triggers
                .iter()
                .filter(|t| t.fires_row(true, event, set, partition))
            {
                let (old_rec, new_rec) = match event {
                    Event::Insert => (None, Some(record(table, &current))),
                    Event::Update => (old.map(|o| record(table, o)), Some(record(table, &current))),
                    Event::Delete => (Some(record(table, &current)), None),
                };
                let data = TriggerData {
                    name: trigger.name.clone(),
                    when: "BEFORE",
                    level: "ROW",
                    op: event.tg_op(),
                    table: relation.clone(),
                    new: new_rec,
                    old: old_rec,
                };
                if !self.when_holds(trigger, &data).await? {
                    continue;
                }
                let f = self.trigger_function(trigger)?;
                let mut backend = Backend::Exec(self);
                let (_, returned) = plpgsql::call(&f, Vec::new(), Some(data), &mut backend).await?;
                let Some(rec) = returned else {
                    return Ok(None);
                };
                if event == Event::Delete {
                    continue;
                }
                if rec.values.len() < table.visible() {
                    return Err(err(
                        SqlState::DatatypeMismatch,
                        "returned row structure does not match the structure of the triggering table",
                    ));
                }
                for (i, v) in rec.values.iter().take(table.visible()).enumerate() {
                    current[i] = coerce(v, table.columns[i].ty)?;
                }
            }
            if event != Event::Delete {
                super::generated::compute(
                    table,
                    &mut current,
                    self.params.values,
                    self.params.ctx,
                )?;
            }
            // A routed row that the partition's BEFORE INSERT triggers
            // changed must still fit the partition (PostgreSQL's
            // ExecPartitionCheck after them).
            if event == Event::Insert && table.view.is_none() {
                if let Some(p) = partition {
                    if partition_of(table, &current) != Some(p) {
                        return Err(super::partition::outside(&super::partition::View {
                            name: p.to_string(),
                            index: 0,
                        }));
                    }
                }
            }
            Ok(Some(current))
        })
    }

    /// Whether `table` has BEFORE ROW triggers for `event`.
    pub(crate) fn has_before(table: &Table, event: Event) -> bool {
        !table.triggers.is_empty()
            && table
                .triggers
                .iter()
                .any(|t| t.row && t.before && t.events.contains(&event))
    }

    /// Whether `table` has row triggers (`UPDATE ... FROM` and `DELETE ...
    /// USING` do not fire them: 0A000 there).
    pub(crate) fn has_row_triggers(table: &Table) -> bool {
        table.triggers.iter().any(|t| t.row)
    }

    /// Whether an UPDATE of a row of `table` from `old` to `new` moves it
    /// to another partition (a statement on the partitioned table: one
    /// on a partition itself cannot move a row, 23514).
    pub(crate) fn moves(table: &Table, old: &[Value], new: &[Value]) -> bool {
        table.view.is_none()
            && table.partitioning.as_ref().is_some_and(|p| {
                let to = p.route(new);
                to.is_some() && p.route(old) != to
            })
    }

    /// An UPDATE that moves a row to another partition is PostgreSQL's
    /// DELETE from the source partition and INSERT into the destination
    /// (ExecCrossPartitionUpdate): after the BEFORE UPDATE triggers, the
    /// source's BEFORE DELETE triggers fire (OLD the row as locked), then
    /// the destination's BEFORE INSERT triggers (NEW the updated row).
    pub(crate) async fn before_move(
        &mut self,
        table: &Arc<Table>,
        old: &[Value],
        new: Vec<Value>,
    ) -> Result<Move, DbError> {
        if !Self::has_before(table, Event::Delete) && !Self::has_before(table, Event::Insert) {
            return Ok(Move::To(new));
        }
        if Self::has_before(table, Event::Delete)
            && self
                .before_row(table, Event::Delete, None, old.to_vec(), None)
                .await?
                .is_none()
        {
            return Ok(Move::Skipped);
        }
        match self.before_row(table, Event::Insert, None, new, None).await? {
            Some(new) => Ok(Move::To(new)),
            // PostgreSQL has deleted the row by then and inserts nothing.
            None => Err(unsupported(
                "a BEFORE INSERT trigger returning NULL for a row an UPDATE moves to another partition",
            )),
        }
    }

    /// The AFTER ROW triggers of a row moved to another partition: the
    /// source's AFTER DELETE and the destination's AFTER INSERT ones (no
    /// AFTER UPDATE, as in PostgreSQL).
    pub(crate) fn after_move(&mut self, table: &Arc<Table>, old: &[Value], new: &[Value]) {
        self.after_row(table, Event::Delete, Some(old), None, None);
        self.after_row(table, Event::Insert, None, Some(new), None);
    }

    /// Fires `table`'s BEFORE STATEMENT triggers of `event` (a statement
    /// on a partition itself: the partition's), once per statement, rows
    /// or none.
    pub(crate) fn before_statement<'s>(
        &'s mut self,
        table: &'s Arc<Table>,
        event: Event,
        set: Option<&'s [usize]>,
    ) -> Boxed<'s, ()> {
        Box::pin(async move {
            for trigger in table
                .triggers
                .iter()
                .filter(|t| t.fires_statement(true, event, set, table))
            {
                self.fire_statement(trigger, "BEFORE", table, event).await?;
            }
            Ok(())
        })
    }

    /// Whether `table` has statement triggers (most have none: then a
    /// statement does not look further).
    pub(crate) fn has_statement_triggers(table: &Table) -> bool {
        !table.triggers.is_empty() && table.triggers.iter().any(|t| !t.row)
    }

    /// Queues `table`'s AFTER STATEMENT triggers of `event`, after the
    /// statement's AFTER ROW events (PostgreSQL queues it last).
    pub(crate) fn after_statement(
        &mut self,
        table: &Arc<Table>,
        event: Event,
        set: Option<&[usize]>,
    ) {
        if !table
            .triggers
            .iter()
            .any(|t| t.fires_statement(false, event, set, table))
        {
            return;
        }
        self.trigger_events.push(AfterEvent {
            table: table.clone(),
            event,
            old: None,
            new: None,
            set: set.map(<[usize]>::to_vec),
            statement: true,
        });
    }

    async fn fire_statement(
        &mut self,
        trigger: &Trigger,
        when: &'static str,
        table: &Table,
        event: Event,
    ) -> Result<(), DbError> {
        let data = TriggerData {
            name: trigger.name.clone(),
            when,
            level: "STATEMENT",
            op: event.tg_op(),
            table: trigger.relation(&table.name).to_string(),
            new: None,
            old: None,
        };
        if !self.when_holds(trigger, &data).await? {
            return Ok(());
        }
        let f = self.trigger_function(trigger)?;
        let mut backend = Backend::Exec(self);
        plpgsql::call(&f, Vec::new(), Some(data), &mut backend).await?;
        Ok(())
    }

    /// Queues `table`'s AFTER ROW triggers of `event` for the end of the
    /// statement.
    pub(crate) fn after_row(
        &mut self,
        table: &Arc<Table>,
        event: Event,
        old: Option<&[Value]>,
        new: Option<&[Value]>,
        set: Option<&[usize]>,
    ) {
        if table.triggers.is_empty() {
            return;
        }
        let partition = new.or(old).and_then(|row| partition_of(table, row));
        if !table
            .triggers
            .iter()
            .any(|t| t.fires_row(false, event, set, partition))
        {
            return;
        }
        self.trigger_events.push(AfterEvent {
            table: table.clone(),
            event,
            old: old.map(<[Value]>::to_vec),
            new: new.map(<[Value]>::to_vec),
            set: set.map(<[usize]>::to_vec),
            statement: false,
        });
    }

    /// Fires the queued AFTER ROW triggers, in order.
    pub(crate) fn fire_after(&mut self) -> Boxed<'_, ()> {
        Box::pin(async move {
            let events = std::mem::take(&mut self.trigger_events);
            for e in events {
                if e.statement {
                    for trigger in
                        e.table.triggers.iter().filter(|t| {
                            t.fires_statement(false, e.event, e.set.as_deref(), &e.table)
                        })
                    {
                        self.fire_statement(trigger, "AFTER", &e.table, e.event)
                            .await?;
                    }
                    continue;
                }
                let partition = e
                    .new
                    .as_deref()
                    .or(e.old.as_deref())
                    .and_then(|row| partition_of(&e.table, row));
                for trigger in e
                    .table
                    .triggers
                    .iter()
                    .filter(|t| t.fires_row(false, e.event, e.set.as_deref(), partition))
                {
                    let data = TriggerData {
                        name: trigger.name.clone(),
                        when: "AFTER",
                        level: "ROW",
                        op: e.event.tg_op(),
                        table: partition.unwrap_or(&e.table.name).to_string(),
                        new: e.new.as_deref().map(|v| record(&e.table, v)),
                        old: e.old.as_deref().map(|v| record(&e.table, v)),
                    };
                    if !self.when_holds(trigger, &data).await? {
                        continue;
                    }
                    let f = self.trigger_function(trigger)?;
                    let mut backend = Backend::Exec(self);
                    plpgsql::call(&f, Vec::new(), Some(data), &mut backend).await?;
                }
            }
            Ok(())
        })
    }

    fn trigger_function(&self, trigger: &Trigger) -> Result<Arc<Function>, DbError> {
        self.db
            .catalog()
            .functions
            .get(&trigger.function)
            .cloned()
            .ok_or_else(|| {
                err(
                    SqlState::UndefinedFunction,
                    format!("function {}() does not exist", trigger.function),
                )
            })
    }

    async fn when_holds(&mut self, trigger: &Trigger, data: &TriggerData) -> Result<bool, DbError> {
        let Some(when) = &trigger.when else {
            return Ok(true);
        };
        let mut backend = Backend::Exec(self);
        let (v, _) = plpgsql::call(when, Vec::new(), Some(data.clone()), &mut backend).await?;
        Ok(v == Value::Bool(true))
    }

    /// Runs a statement nested in the current one (a trigger's or a
    /// function's): its table locks, at Read Committed its own snapshot
    /// (the outer statement reads on with its own afterwards), its
    /// foreign-key actions and AFTER triggers at its end.
    pub(crate) fn run_nested<'s>(
        &'s mut self,
        statement: &'s Statement,
        params: &'s [Value],
    ) -> Boxed<'s, Rows> {
        Box::pin(async move {
            // PostgreSQL's max_stack_depth, for a trigger that fires
            // itself without end.
            if self.params.ctx.depth >= NESTING_MAX {
                return Err(err(SqlState::Other("54001"), "stack depth limit exceeded"));
            }
            let (relations, advisory) = super::locks::prelude(statement, params, self.params.ctx)?;
            let view = self.tx.sql_start_nested(relations, advisory).await?;
            let ctx = self.params.ctx.nested(Some(self.tx.sql_reader()));
            let mut exec = Exec {
                tx: &mut *self.tx,
                params: super::exec::Bound {
                    values: params,
                    ctx: &ctx,
                },
                db: self.db,
                ri_events: Vec::new(),
                deferred: &mut *self.deferred,
                trigger_events: Vec::new(),
            };
            let result = match &statement.kind {
                Prepared::Select(plan) => exec.select_body(plan).await,
                Prepared::Insert(plan) => exec.insert_body(plan).await,
                Prepared::Update(plan) => exec.update_body(plan).await,
                Prepared::Delete(plan) => exec.delete_body(plan).await,
                Prepared::AdvisoryLock(plan) => exec.advisory_lock(plan).await,
                _ => Err(unsupported(
                    "this statement inside a function (only SELECT, INSERT, UPDATE and DELETE)",
                )),
            };
            let result = match result {
                Ok(rows) => exec.end_of_statement().await.map(|()| rows),
                Err(e) => Err(e),
            };
            exec.tx.sql_end_nested(view);
            // A now() read first by a function holds for the rest of the
            // transaction.
            if let Some(ms) = ctx.tx_ms() {
                exec.tx.set_sql_time_ms(ms);
            }
            result
        })
    }

    /// What fires when a statement ends: foreign-key actions, then AFTER
    /// ROW triggers (PostgreSQL's RI triggers sort first by name).
    pub(crate) async fn end_of_statement(&mut self) -> Result<(), DbError> {
        if !self.ri_events.is_empty() {
            self.fire_referential(0).await?;
        }
        if !self.trigger_events.is_empty() {
            self.fire_after().await?;
        }
        Ok(())
    }

    /// A select list without FROM that calls user functions: each call
    /// runs with the transaction (its statements may write and wait).
    pub(crate) async fn select_calls(
        &mut self,
        plan: &super::plan::SelectPlan,
    ) -> Result<Rows, DbError> {
        let columns: Vec<String> = plan.output.iter().map(|(n, _)| n.clone()).collect();
        let mut row = Vec::with_capacity(plan.output.len());
        for (_, x) in &plan.output {
            let v = match x {
                super::expr::Expr::UserCall(f, args) => {
                    let e = super::exec::env(&[], self.params);
                    let args = args
                        .iter()
                        .map(|a| a.eval(&e))
                        .collect::<Result<Vec<_>, _>>()?;
                    if f.returns == plpgsql::Returns::Trigger {
                        return Err(trigger_called(f));
                    }
                    let mut backend = Backend::Exec(self);
                    plpgsql::call(f, args, None, &mut backend).await?.0
                }
                x => x.eval(&super::exec::env(&[], self.params))?,
            };
            row.push(v);
        }
        if let Some(filter) = &plan.filter {
            if !filter.is_true(&super::exec::env(&[], self.params))? {
                return Ok(Rows::new(columns, Vec::new()));
            }
        }
        Ok(Rows::new(columns, vec![row]))
    }
}

pub(crate) fn trigger_called(f: &Function) -> DbError {
    let _ = f;
    err(
        SqlState::FeatureNotSupported,
        "trigger functions can only be called as triggers",
    )
}

/// Whether a FROM-less query's select list calls a user function at its
/// top (then [`Exec::select_calls`] runs it).
pub(crate) fn calls_functions(plan: &super::plan::SelectPlan) -> bool {
    plan.sources.is_empty()
        && plan.grouping.is_none()
        && plan
            .output
            .iter()
            .any(|(_, x)| matches!(x, super::expr::Expr::UserCall(..)))
}
