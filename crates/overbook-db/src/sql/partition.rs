//! Declarative partitioning: `CREATE TABLE ... PARTITION BY LIST | RANGE
//! (cols)`, `CREATE TABLE p PARTITION OF t FOR VALUES IN (...) | FROM
//! (...) TO (...) | DEFAULT`, and `ALTER TABLE t ATTACH PARTITION p FOR
//! VALUES ...` of an existing table.
//!
//! A partitioned table keeps its partitions' rows itself, in its own key
//! space; a partition is a name for the rows its bound routes to it. This
//! is what PostgreSQL's partitioning looks like from outside as long as
//! every unique index includes the partition key (which PostgreSQL
//! requires, 0A000 otherwise): uniqueness per partition is uniqueness of
//! the whole table, one index range of the parent is the union of its
//! partitions' ranges, and the row locks, SSI predicate locks and Read
//! Committed re-checks of a table apply unchanged. What differs from one
//! table is modelled on top:
//! - every row written must have a partition (23514 `no partition of
//!   relation "t" found for row`, see [`Partitioning::route`]);
//! - an UPDATE that changes a row's partition is PostgreSQL's delete and
//!   insert: a heap row gets a new identity, and a Read Committed writer
//!   or locker that waited for the row fails with 40001 `tuple to be
//!   locked was already moved to another partition due to concurrent
//!   update` instead of following it (see `exec::lock_row`);
//! - a statement on the partitioned table takes its table lock on every
//!   partition too (PostgreSQL locks the partitions it does not prune at
//!   plan time; the store prunes none, which can only wait more), and
//!   `LOCK TABLE` of the partitioned table locks its partitions.
//!
//! Not modelled, and 0A000 naming the construct: `PARTITION BY HASH`,
//! sub-partitioning, partition keys that are expressions, `DETACH
//! PARTITION`, a statement that names a partition directly other than
//! `LOCK TABLE`, `VACUUM` and `ANALYZE`, and DROP TABLE of a partition
//! without its partitioned table.

use super::catalog::{Catalog, Table};
use super::expr::{unsupported, BinOp, Compiler, Env, Expr, Scope};
use super::funcs::Ctx;
use super::plan::{Prepared, Statement};
use super::settings::ScanSettings;
use super::value::{coerce, compare, err, Value};
use super::SqlDb;
use crate::store::{DbError, Isolation, SessionId, SqlState};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};
use std::cmp::Ordering;
use std::sync::Arc;

/// How rows are assigned to partitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// `PARTITION BY LIST (col)`: by membership in each partition's list.
    List,
    /// `PARTITION BY RANGE (cols)`: by the key's place between bounds.
    Range,
}

/// One end of a range partition's bound, per key column.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RangeDatum {
    Min,
    Value(Value),
    Max,
}

/// A partition's bound: `FOR VALUES ...` or `DEFAULT`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Bound {
    /// `IN (v, ...)` (NULL allowed: the partition of NULL keys).
    List(Vec<Value>),
    /// `FROM (...) TO (...)`: lower inclusive, upper exclusive.
    Range {
        from: Vec<RangeDatum>,
        to: Vec<RangeDatum>,
    },
    /// `DEFAULT`: the rows no other partition takes.
    Default,
}

/// A partition: its name and bound.
#[derive(Clone, Debug)]
pub(crate) struct Partition {
    pub(crate) name: String,
    pub(crate) bound: Bound,
}

/// A statement's view of one partition of a partitioned table (see
/// `Table::view`).
#[derive(Clone, Debug)]
pub(crate) struct View {
    /// The partition's name.
    pub(crate) name: String,
    /// Its position in the partitioned table's partitions.
    pub(crate) index: usize,
}

/// The partitioned table `parent` seen through its partition `name`: a
/// statement on a partition itself reads only the partition's rows, and
/// a row it writes must stay in the partition (23514, see
/// [`outside`]), as PostgreSQL's statements on a partition do.
pub(crate) fn view_of(parent: &Arc<Table>, name: &str) -> Option<Arc<Table>> {
    let p = parent.partitioning.as_ref()?;
    let index = p.partitions.iter().position(|x| x.name == name)?;
    let mut t = (**parent).clone();
    t.view = Some(Arc::new(View {
        name: name.to_string(),
        index,
    }));
    Some(Arc::new(t))
}

/// PostgreSQL's 23514 for a row written through a partition that its
/// bound does not take (ExecPartitionCheck: an INSERT into the
/// partition, or an UPDATE through it that changes the key; it does not
/// move the row). PostgreSQL's detail, "Failing row contains (...).", is
/// not kept: errors here carry a message only.
pub(crate) fn outside(view: &View) -> DbError {
    err(
        SqlState::CheckViolation,
        format!(
            "new row for relation \"{}\" violates partition constraint",
            view.name
        ),
    )
}

/// `tableoid::regclass` of a row of `table` at `offset` in the combined
/// row: the table's name, or for a partitioned table the name of the
/// partition its key routes to (a CASE over the partitions' bounds).
pub(crate) fn tableoid(table: &Table, offset: usize) -> Result<Expr, DbError> {
    let name = |n: &str| Expr::Const(Value::Text(n.into()));
    if let Some(view) = &table.view {
        return Ok(name(&view.name));
    }
    let Some(p) = &table.partitioning else {
        return Ok(name(&table.name));
    };
    let col = |i: usize| Box::new(Expr::Col(offset + p.columns[i]));
    let mut arms = Vec::new();
    let mut default = Expr::Const(Value::Null);
    for part in &p.partitions {
        let cond = match &part.bound {
            Bound::Default => {
                default = name(&part.name);
                continue;
            }
            Bound::List(values) => {
                let listed: Vec<Expr> = values
                    .iter()
                    .filter(|v| !v.is_null())
                    .map(|v| Expr::Const(v.clone()))
                    .collect();
                let mut cond = Expr::InList(col(0), listed, false);
                if values.iter().any(Value::is_null) {
                    cond = Expr::Bin(
                        BinOp::Or,
                        Box::new(cond),
                        Box::new(Expr::IsNull(col(0), false)),
                    );
                }
                cond
            }
            Bound::Range { from, to } if p.columns.len() == 1 => {
                let mut cond = Expr::Const(Value::Bool(true));
                if let RangeDatum::Value(v) = &from[0] {
                    let ge = Expr::Bin(BinOp::Ge, col(0), Box::new(Expr::Const(v.clone())));
                    cond = Expr::Bin(BinOp::And, Box::new(cond), Box::new(ge));
                }
                if let RangeDatum::Value(v) = &to[0] {
                    let lt = Expr::Bin(BinOp::Lt, col(0), Box::new(Expr::Const(v.clone())));
                    cond = Expr::Bin(BinOp::And, Box::new(cond), Box::new(lt));
                }
                cond
            }
            Bound::Range { .. } => {
                return Err(unsupported(
                    "tableoid of a table partitioned by several columns",
                ))
            }
        };
        arms.push((cond, name(&part.name)));
    }
    Ok(Expr::Case(arms, Some(Box::new(default))))
}

/// A partitioned table's key and partitions.
#[derive(Clone, Debug)]
pub(crate) struct Partitioning {
    pub(crate) strategy: Strategy,
    /// The key columns (positions in the table).
    pub(crate) columns: Vec<usize>,
    pub(crate) partitions: Vec<Partition>,
}

impl Partitioning {
    /// The partition (its position) a row with `values` belongs to, as
    /// PostgreSQL's tuple routing finds it: a range key with a NULL goes
    /// only to the default partition.
    pub(crate) fn route(&self, values: &[Value]) -> Option<usize> {
        let key: Vec<&Value> = self.columns.iter().map(|&c| &values[c]).collect();
        let found = self
            .partitions
            .iter()
            .position(|p| bound_holds(&p.bound, &key));
        found.or_else(|| {
            self.partitions
                .iter()
                .position(|p| p.bound == Bound::Default)
        })
    }

    /// Where the partition of a row with `values` comes in a scan of the
    /// partitioned table: PostgreSQL appends its partitions in the order
    /// of their bounds (a list partition by its least value, a range one
    /// by its lower bound, the default one last), so a query without ORDER
    /// BY returns the rows partition by partition.
    pub(crate) fn scan_rank(&self, values: &[Value]) -> usize {
        let Some(mine) = self.route(values) else {
            return usize::MAX;
        };
        let before = |a: &Bound, b: &Bound| -> bool {
            match (a, b) {
                (_, Bound::Default) => !matches!(a, Bound::Default),
                (Bound::Default, _) => false,
                (Bound::List(x), Bound::List(y)) => {
                    let least = |l: &Vec<Value>| {
                        l.iter()
                            .filter(|v| !v.is_null())
                            .min_by(|p, q| compare(p, q).ok().flatten().unwrap_or(Ordering::Equal))
                            .cloned()
                    };
                    match (least(x), least(y)) {
                        (Some(p), Some(q)) => {
                            compare(&p, &q).ok().flatten() == Some(Ordering::Less)
                        }
                        // A partition of NULL alone comes after the others.
                        (Some(_), None) => true,
                        _ => false,
                    }
                }
                (Bound::Range { from: f, .. }, Bound::Range { from: g, .. }) => {
                    range_cmp(f, g) == Ordering::Less
                }
                _ => false,
            }
        };
        let bound = &self.partitions[mine].bound;
        self.partitions
            .iter()
            .filter(|p| before(&p.bound, bound))
            .count()
    }

    /// The names of the partitions, in order of creation.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.partitions.iter().map(|p| p.name.as_str())
    }

    /// A new partition's bound must not overlap an existing one's (42P17,
    /// PostgreSQL's check_new_partition_bound), and a range must not be
    /// empty.
    pub(crate) fn check_new(&self, name: &str, bound: &Bound) -> Result<(), DbError> {
        let overlap = |other: &str| {
            err(
                SqlState::Other("42P17"),
                format!("partition \"{name}\" would overlap partition \"{other}\""),
            )
        };
        match bound {
            Bound::Default => {
                if let Some(p) = self.partitions.iter().find(|p| p.bound == Bound::Default) {
                    return Err(err(
                        SqlState::Other("42P17"),
                        format!(
                            "partition \"{name}\" conflicts with existing default partition \"{}\"",
                            p.name
                        ),
                    ));
                }
            }
            Bound::List(values) => {
                for p in &self.partitions {
                    if let Bound::List(theirs) = &p.bound {
                        if values.iter().any(|v| theirs.iter().any(|w| same(v, w))) {
                            return Err(overlap(&p.name));
                        }
                    }
                }
            }
            Bound::Range { from, to } => {
                if range_cmp(from, to) != Ordering::Less {
                    return Err(err(
                        SqlState::Other("42P17"),
                        format!("empty range bound specified for partition \"{name}\""),
                    ));
                }
                for p in &self.partitions {
                    if let Bound::Range { from: f, to: t } = &p.bound {
                        if range_cmp(from, t) == Ordering::Less
                            && range_cmp(f, to) == Ordering::Less
                        {
                            return Err(overlap(&p.name));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether two bound values are the same (NULL equals NULL in a list).
fn same(a: &Value, b: &Value) -> bool {
    match (a.is_null(), b.is_null()) {
        (true, true) => true,
        (false, false) => compare(a, b).ok().flatten() == Some(Ordering::Equal),
        _ => false,
    }
}

fn datum_cmp(a: &RangeDatum, b: &RangeDatum) -> Ordering {
    match (a, b) {
        (RangeDatum::Min, RangeDatum::Min) | (RangeDatum::Max, RangeDatum::Max) => Ordering::Equal,
        (RangeDatum::Min, _) | (_, RangeDatum::Max) => Ordering::Less,
        (_, RangeDatum::Min) | (RangeDatum::Max, _) => Ordering::Greater,
        (RangeDatum::Value(x), RangeDatum::Value(y)) => {
            compare(x, y).ok().flatten().unwrap_or(Ordering::Equal)
        }
    }
}

/// Bounds compare column by column; after a MINVALUE or MAXVALUE the
/// later columns do not matter.
fn range_cmp(a: &[RangeDatum], b: &[RangeDatum]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = datum_cmp(x, y);
        if o != Ordering::Equal || !matches!(x, RangeDatum::Value(_)) {
            return o;
        }
    }
    Ordering::Equal
}

fn bound_holds(bound: &Bound, key: &[&Value]) -> bool {
    match bound {
        Bound::Default => false,
        Bound::List(values) => values.iter().any(|v| same(v, key[0])),
        Bound::Range { from, to } => {
            if key.iter().any(|v| v.is_null()) {
                return false;
            }
            let row: Vec<RangeDatum> = key
                .iter()
                .map(|v| RangeDatum::Value((*v).clone()))
                .collect();
            range_cmp(from, &row) != Ordering::Greater && range_cmp(&row, to) == Ordering::Less
        }
    }
}

/// A partitioning statement, parsed.
#[derive(Clone, Debug)]
pub(crate) enum Ddl {
    /// `CREATE TABLE ... (...) PARTITION BY strategy (cols)`: `create` is
    /// the statement without its PARTITION BY clause.
    CreatePartitioned {
        create: String,
        name: String,
        strategy: Strategy,
        columns: Vec<String>,
    },
    /// `CREATE TABLE [IF NOT EXISTS] name PARTITION OF parent bound`.
    CreatePartition {
        name: String,
        parent: String,
        bound: BoundSpec,
        if_not_exists: bool,
    },
    /// `ALTER TABLE parent ATTACH PARTITION name bound`.
    Attach {
        parent: String,
        name: String,
        bound: BoundSpec,
    },
}

/// A bound as written, before its values are coerced to the key's types.
#[derive(Clone, Debug)]
pub(crate) enum BoundSpec {
    List(Vec<String>),
    Range { from: Vec<String>, to: Vec<String> },
    Default,
}

fn syntax(near: &str) -> DbError {
    err(
        SqlState::SyntaxError,
        format!("syntax error at or near \"{near}\""),
    )
}

fn tokens(sql: &str) -> Option<Vec<Token>> {
    let dialect = PostgreSqlDialect {};
    Some(
        Tokenizer::new(&dialect, sql)
            .tokenize()
            .ok()?
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon | Token::EOF))
            .collect(),
    )
}

fn is_word(t: Option<&Token>, word: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// A possibly qualified name starting at `at` (folded as PostgreSQL
/// folds unquoted names; `public.` dropped), and the position after it.
fn name_at(tokens: &[Token], mut at: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    loop {
        let Some(Token::Word(w)) = tokens.get(at) else {
            return None;
        };
        if w.quote_style.is_some() {
            name.push_str(&w.value);
        } else {
            name.push_str(&w.value.to_ascii_lowercase());
        }
        at += 1;
        if matches!(tokens.get(at), Some(Token::Period)) {
            name.push('.');
            at += 1;
        } else {
            break;
        }
    }
    let name = name
        .strip_prefix("public.")
        .map(str::to_string)
        .unwrap_or(name);
    Some((name, at))
}

/// The comma-separated items inside the parentheses opening at `at`, as
/// text, and the position after the closing one.
fn paren_items(tokens: &[Token], at: usize) -> Result<(Vec<String>, usize), DbError> {
    if !matches!(tokens.get(at), Some(Token::LParen)) {
        return Err(syntax(
            &tokens
                .get(at)
                .map_or("end of input".into(), |t| t.to_string()),
        ));
    }
    let mut items = Vec::new();
    let mut current = String::new();
    let mut depth = 0;
    let mut i = at + 1;
    while let Some(t) = tokens.get(i) {
        match t {
            Token::LParen => depth += 1,
            Token::RParen if depth == 0 => {
                items.push(std::mem::take(&mut current));
                return Ok((items, i + 1));
            }
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                items.push(std::mem::take(&mut current));
                i += 1;
                continue;
            }
            _ => {}
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&t.to_string());
        i += 1;
    }
    Err(syntax("end of input"))
}

/// `FOR VALUES ...` or `DEFAULT` at `at`.
fn bound_at(tokens: &[Token], at: usize) -> Result<(BoundSpec, usize), DbError> {
    if is_word(tokens.get(at), "default") {
        return Ok((BoundSpec::Default, at + 1));
    }
    if !(is_word(tokens.get(at), "for") && is_word(tokens.get(at + 1), "values")) {
        return Err(syntax(
            &tokens
                .get(at)
                .map_or("end of input".into(), |t| t.to_string()),
        ));
    }
    let at = at + 2;
    if is_word(tokens.get(at), "in") {
        let (items, next) = paren_items(tokens, at + 1)?;
        return Ok((BoundSpec::List(items), next));
    }
    if is_word(tokens.get(at), "from") {
        let (from, next) = paren_items(tokens, at + 1)?;
        if !is_word(tokens.get(next), "to") {
            return Err(syntax("end of input"));
        }
        let (to, next) = paren_items(tokens, next + 1)?;
        return Ok((BoundSpec::Range { from, to }, next));
    }
    if is_word(tokens.get(at), "with") {
        return Err(unsupported(
            "hash partitioning (FOR VALUES WITH (MODULUS ..., REMAINDER ...))",
        ));
    }
    Err(syntax(
        &tokens
            .get(at)
            .map_or("end of input".into(), |t| t.to_string()),
    ))
}

/// Where a top-level `PARTITION BY` starts in `sql` (outside parentheses,
/// quotes and strings), as a byte offset.
fn partition_by_offset(sql: &str) -> Option<usize> {
    let lower = sql.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let (mut depth, mut i) = (0i32, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' => {
                let q = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    i += 1;
                }
            }
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'p' if depth == 0
                && lower[i..].starts_with("partition")
                && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric() && bytes[i - 1] != b'_') =>
            {
                let after_word = &lower[i + "partition".len()..];
                let rest = after_word.trim_start();
                if rest.len() < after_word.len() && rest.starts_with("by") {
                    let after = &rest[2..];
                    if after.starts_with(|c: char| c.is_whitespace() || c == '(') {
                        return Some(i);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Parses a partitioning statement; `None` when `sql` is not one.
pub(crate) fn parse(sql: &str) -> Option<Result<Ddl, DbError>> {
    let head = sql.trim_start();
    let first: Vec<String> = head
        .split_whitespace()
        .take(2)
        .map(str::to_ascii_lowercase)
        .collect();
    match first.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["create", "table"] => {}
        ["alter", "table"] => {
            let lower = head.to_ascii_lowercase();
            if !lower.contains("partition") {
                return None;
            }
            let tokens = tokens(sql)?;
            return parse_alter(&tokens);
        }
        _ => return None,
    }
    let tokens = tokens(sql)?;
    let mut at = 2;
    let mut if_not_exists = false;
    if is_word(tokens.get(at), "if") {
        if_not_exists = true;
        at += 3;
    }
    let (name, after) = name_at(&tokens, at)?;
    if matches!(tokens.get(after), Some(Token::LParen)) && is_word(tokens.get(after + 1), "like") {
        return Some(Err(unsupported("CREATE TABLE ... (LIKE table)")));
    }
    if is_word(tokens.get(after), "partition") && is_word(tokens.get(after + 1), "of") {
        return Some(create_partition(&tokens, name, after + 2, if_not_exists));
    }
    let offset = partition_by_offset(sql)?;
    Some(create_partitioned(sql, offset, name))
}

fn create_partition(
    tokens: &[Token],
    name: String,
    at: usize,
    if_not_exists: bool,
) -> Result<Ddl, DbError> {
    let (parent, at) = name_at(tokens, at).ok_or_else(|| syntax("PARTITION OF"))?;
    if matches!(tokens.get(at), Some(Token::LParen)) {
        return Err(unsupported(
            "column and constraint definitions in CREATE TABLE ... PARTITION OF",
        ));
    }
    let (bound, at) = bound_at(tokens, at)?;
    if is_word(tokens.get(at), "partition") {
        return Err(unsupported(
            "sub-partitioning (CREATE TABLE ... PARTITION OF ... PARTITION BY)",
        ));
    }
    if let Some(t) = tokens.get(at) {
        return Err(unsupported(format!(
            "CREATE TABLE ... PARTITION OF with options after its bound (at \"{t}\")"
        )));
    }
    Ok(Ddl::CreatePartition {
        name,
        parent,
        bound,
        if_not_exists,
    })
}

fn create_partitioned(sql: &str, offset: usize, name: String) -> Result<Ddl, DbError> {
    let clause = &sql[offset..];
    let tokens = tokens(clause).ok_or_else(|| syntax("PARTITION BY"))?;
    let strategy = match tokens.get(2) {
        Some(t) if is_word(Some(t), "list") => Strategy::List,
        Some(t) if is_word(Some(t), "range") => Strategy::Range,
        Some(t) if is_word(Some(t), "hash") => {
            return Err(unsupported("PARTITION BY HASH (hash partitioning)"))
        }
        Some(t) => {
            return Err(err(
                SqlState::Other("22023"),
                format!(
                    "unrecognized partitioning strategy \"{}\"",
                    t.to_string().to_ascii_lowercase()
                ),
            ))
        }
        None => return Err(syntax("end of input")),
    };
    let (items, next) = paren_items(&tokens, 3)?;
    if let Some(t) = tokens.get(next) {
        return Err(unsupported(format!(
            "CREATE TABLE ... PARTITION BY with options after it (at \"{t}\")"
        )));
    }
    let mut columns = Vec::new();
    for item in items {
        let item_tokens = super::partition::tokens(&item).unwrap_or_default();
        match name_at(&item_tokens, 0) {
            Some((c, n)) if n == item_tokens.len() && !c.contains('.') => columns.push(c),
            _ => {
                return Err(unsupported(format!(
                    "a partition key expression or operator class ({item})"
                )))
            }
        }
    }
    if strategy == Strategy::List && columns.len() != 1 {
        return Err(err(
            SqlState::Other("42P17"),
            "cannot use \"list\" partition strategy with more than one column",
        ));
    }
    Ok(Ddl::CreatePartitioned {
        create: sql[..offset].to_string(),
        name,
        strategy,
        columns,
    })
}

fn parse_alter(tokens: &[Token]) -> Option<Result<Ddl, DbError>> {
    let mut at = 2;
    if is_word(tokens.get(at), "if") && is_word(tokens.get(at + 1), "exists") {
        at += 2;
    }
    if is_word(tokens.get(at), "only") {
        at += 1;
    }
    let (parent, at) = name_at(tokens, at)?;
    if is_word(tokens.get(at), "detach") && is_word(tokens.get(at + 1), "partition") {
        let concurrently = tokens[at..]
            .iter()
            .any(|t| is_word(Some(t), "concurrently"));
        return Some(Err(unsupported(if concurrently {
            "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY"
        } else {
            "ALTER TABLE ... DETACH PARTITION"
        })));
    }
    if !(is_word(tokens.get(at), "attach") && is_word(tokens.get(at + 1), "partition")) {
        return None;
    }
    Some((|| {
        let (name, at) = name_at(tokens, at + 2).ok_or_else(|| syntax("ATTACH PARTITION"))?;
        let (bound, at) = bound_at(tokens, at)?;
        if let Some(t) = tokens.get(at) {
            return Err(syntax(&t.to_string()));
        }
        Ok(Ddl::Attach {
            parent,
            name,
            bound,
        })
    })())
}

/// A bound's value: a constant expression, coerced to the key column's
/// type (MINVALUE / MAXVALUE in a range bound).
fn bound_value(text: &str, table: &Table, column: usize) -> Result<RangeDatum, DbError> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("minvalue") {
        return Ok(RangeDatum::Min);
    }
    if t.eq_ignore_ascii_case("maxvalue") {
        return Ok(RangeDatum::Max);
    }
    let dialect = PostgreSqlDialect {};
    let parsed = Parser::new(&dialect)
        .try_with_sql(t)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?;
    let scope = Scope::default();
    let mut c = Compiler::new(&scope);
    let compiled = c.compile(&parsed).map_err(|_| {
        err(
            SqlState::Other("42P17"),
            "cannot use column references in partition bound expression",
        )
    })?;
    let ctx = Ctx::default();
    let value = compiled.eval(&Env {
        row: &[],
        params: &[],
        aggs: &[],
        ctx: &ctx,
    })?;
    Ok(RangeDatum::Value(coerce(&value, table.columns[column].ty)?))
}

/// A bound as written, checked against the partitioned table's key.
pub(crate) fn resolve_bound(
    spec: &BoundSpec,
    table: &Table,
    partitioning: &Partitioning,
) -> Result<Bound, DbError> {
    let key = &partitioning.columns;
    let wrong = |what: &str| {
        err(
            SqlState::Other("42P16"),
            format!("invalid bound specification for a {what} partition",),
        )
    };
    match (spec, partitioning.strategy) {
        (BoundSpec::Default, _) => Ok(Bound::Default),
        (BoundSpec::List(items), Strategy::List) => {
            let mut values = Vec::new();
            for item in items {
                match bound_value(item, table, key[0])? {
                    RangeDatum::Value(v) => values.push(v),
                    _ => return Err(wrong("list")),
                }
            }
            Ok(Bound::List(values))
        }
        (BoundSpec::Range { from, to }, Strategy::Range) => {
            let side = |items: &Vec<String>, which: &str| -> Result<Vec<RangeDatum>, DbError> {
                if items.len() != key.len() {
                    return Err(err(
                        SqlState::Other("42P16"),
                        format!("{which} must specify exactly one value per partitioning column"),
                    ));
                }
                items
                    .iter()
                    .zip(key)
                    .map(|(item, &c)| {
                        let d = bound_value(item, table, c)?;
                        if d == RangeDatum::Value(Value::Null) {
                            return Err(err(
                                SqlState::Other("42P17"),
                                "cannot specify NULL in range bound",
                            ));
                        }
                        Ok(d)
                    })
                    .collect()
            };
            Ok(Bound::Range {
                from: side(from, "FROM")?,
                to: side(to, "TO")?,
            })
        }
        (_, Strategy::List) => Err(wrong("list")),
        (_, Strategy::Range) => Err(wrong("range")),
    }
}

/// The key of a partitioned table: its columns, and a check that every
/// unique index includes them (PostgreSQL's 0A000).
pub(crate) fn key_of(
    table: &Table,
    strategy: Strategy,
    names: &[String],
) -> Result<Partitioning, DbError> {
    let mut columns = Vec::new();
    for n in names {
        let c = table
            .column_index(n)
            .filter(|&c| c < table.visible())
            .ok_or_else(|| {
                err(
                    SqlState::UndefinedColumn,
                    format!("column \"{n}\" named in partition key does not exist"),
                )
            })?;
        columns.push(c);
    }
    for i in table.declared_unique() {
        let index = &table.indexes[i];
        // PostgreSQL's detail names the constraint and the column; errors
        // here carry a message only.
        if columns.iter().any(|c| !index.columns.contains(c)) {
            return Err(err(
                SqlState::FeatureNotSupported,
                "unique constraint on partitioned table must include all partitioning columns",
            ));
        }
    }
    if table.exclusion.is_some() {
        return Err(unsupported(
            "an exclusion constraint on a partitioned table",
        ));
    }
    Ok(Partitioning {
        strategy,
        columns,
        partitions: Vec::new(),
    })
}

/// The 23514 error of a row no partition takes (PostgreSQL's detail,
/// "Partition key of the failing row contains (a) = (3).", is not kept:
/// errors here carry a message only).
pub(crate) fn no_partition(table: &Table) -> DbError {
    err(
        SqlState::CheckViolation,
        format!("no partition of relation \"{}\" found for row", table.name),
    )
}

/// Runs a partitioning statement (outside a transaction block, as the
/// engine's other DDL).
pub(crate) async fn run_ddl(
    db: &SqlDb,
    session: SessionId,
    ddl: &Ddl,
    scans: ScanSettings,
) -> Result<(), DbError> {
    match ddl {
        Ddl::CreatePartitioned {
            create,
            name,
            strategy,
            columns,
        } => {
            if relation_exists(db, &db.shared.catalog(), name) {
                // CREATE TABLE's own answer: 42P07, or nothing with IF NOT
                // EXISTS.
                return create_plain(db, create, scans);
            }
            create_plain(db, create, scans)?;
            let mut catalog = db.shared.catalog();
            let table = catalog.tables.get(name).cloned().expect("just made");
            match key_of(&table, *strategy, columns) {
                Ok(p) => {
                    let mut t = (*table).clone();
                    t.partitioning = Some(Arc::new(p));
                    catalog.tables.insert(name.clone(), Arc::new(t));
                    Ok(())
                }
                Err(e) => {
                    catalog.tables.remove(name);
                    drop(catalog);
                    db.shared.forget_serials(name);
                    Err(e)
                }
            }
        }
        Ddl::CreatePartition {
            name,
            parent,
            bound,
            if_not_exists,
        } => {
            let mut catalog = db.shared.catalog();
            if relation_exists(db, &catalog, name) {
                if *if_not_exists {
                    return Ok(());
                }
                return Err(err(
                    SqlState::DuplicateTable,
                    format!("relation \"{name}\" already exists"),
                ));
            }
            let (table, p) = partitioned(&catalog, parent)?;
            let bound = resolve_bound(bound, &table, &p)?;
            p.check_new(name, &bound)?;
            check_default(db, &table, &p, &bound)?;
            add_partition(&mut catalog, &table, &p, name, bound);
            Ok(())
        }
        Ddl::Attach {
            parent,
            name,
            bound,
        } => attach(db, session, parent, name, bound).await,
    }
}

/// CREATE TABLE of the statement without its PARTITION BY.
fn create_plain(db: &SqlDb, create: &str, scans: ScanSettings) -> Result<(), DbError> {
    let statement = db.prepare(create, scans)?;
    let Prepared::CreateTable(c, excludes) = &statement.kind else {
        return Err(unsupported("CREATE TABLE ... PARTITION BY of this form"));
    };
    let types = db.shared.catalog().types.clone();
    super::types::with_types(&types, || super::ddl::create_table(db, c, excludes))
}

fn relation_exists(db: &SqlDb, catalog: &Catalog, name: &str) -> bool {
    catalog.tables.contains_key(name)
        || catalog.partitions.contains_key(name)
        || super::lock(&db.shared.sequences).contains(name)
}

/// The partitioned table `name` and its partitioning.
fn partitioned(catalog: &Catalog, name: &str) -> Result<(Arc<Table>, Partitioning), DbError> {
    let Some(table) = catalog.tables.get(name).cloned() else {
        if catalog.partitions.contains_key(name) {
            return Err(unsupported("sub-partitioning (a partition of a partition)"));
        }
        return Err(err(
            SqlState::UndefinedTable,
            format!("relation \"{name}\" does not exist"),
        ));
    };
    let Some(p) = table.partitioning.clone() else {
        return Err(err(
            SqlState::Other("42P17"),
            format!("\"{name}\" is not partitioned"),
        ));
    };
    Ok((table, (*p).clone()))
}

/// A new bound must not take committed rows the default partition holds
/// (23514, as PostgreSQL's check_default_partition_contents).
fn check_default(
    db: &SqlDb,
    table: &Table,
    p: &Partitioning,
    bound: &Bound,
) -> Result<(), DbError> {
    let Some(default) = p.partitions.iter().find(|d| d.bound == Bound::Default) else {
        return Ok(());
    };
    if *bound == Bound::Default {
        return Ok(());
    }
    for (_, row) in db.store().scan_committed(&table.range()) {
        let values = table.values_of(&row);
        let key: Vec<&Value> = p.columns.iter().map(|&c| &values[c]).collect();
        if bound_holds(bound, &key) {
            return Err(err(
                SqlState::CheckViolation,
                format!(
                    "updated partition constraint for default partition \"{}\" would be violated by some row",
                    default.name
                ),
            ));
        }
    }
    Ok(())
}

fn add_partition(catalog: &mut Catalog, table: &Table, p: &Partitioning, name: &str, bound: Bound) {
    let mut p = p.clone();
    p.partitions.push(Partition {
        name: name.to_string(),
        bound,
    });
    let mut t = table.clone();
    t.partitioning = Some(Arc::new(p));
    catalog.tables.insert(t.name.clone(), Arc::new(t));
    catalog
        .partitions
        .insert(name.to_string(), table.name.clone());
}

/// `ALTER TABLE parent ATTACH PARTITION name bound`: the table's rows
/// (which must fit the bound: 23514) move into the partitioned table,
/// and its name becomes the partition's. Its columns must be the
/// parent's (by name and type, in any order: 42804 otherwise).
async fn attach(
    db: &SqlDb,
    session: SessionId,
    parent: &str,
    name: &str,
    bound: &BoundSpec,
) -> Result<(), DbError> {
    let (table, p, child) = attachable(&db.shared.catalog(), parent, name)?;
    let map = column_map(&table, &child, parent, name)?;
    let bound = resolve_bound(bound, &table, &p)?;
    p.check_new(name, &bound)?;
    let rows: Vec<Vec<Value>> = db
        .store()
        .scan_committed(&child.range())
        .into_iter()
        .map(|(_, row)| {
            let values = child.values_of(&row);
            map.iter().map(|&c| values[c].clone()).collect()
        })
        .collect();
    if bound != Bound::Default {
        for row in &rows {
            let key: Vec<&Value> = p.columns.iter().map(|&c| &row[c]).collect();
            if !bound_holds(&bound, &key) {
                return Err(err(
                    SqlState::CheckViolation,
                    format!("partition constraint of relation \"{name}\" is violated by some row"),
                ));
            }
        }
    }
    check_default(db, &table, &p, &bound)?;
    {
        let mut catalog = db.shared.catalog();
        catalog.tables.remove(name);
        add_partition(&mut catalog, &table, &p, name, bound);
    }
    db.shared.clear_cache();
    if rows.is_empty() {
        return Ok(());
    }
    if let Err(e) = move_rows_in(db, session, parent, rows).await {
        // Back as it was: the table, and the parent without the partition.
        let mut catalog = db.shared.catalog();
        catalog.partitions.remove(name);
        catalog.tables.insert(parent.to_string(), table);
        catalog.tables.insert(name.to_string(), child);
        return Err(e);
    }
    Ok(())
}

/// The partitioned table `parent`, its partitioning and the table `name`
/// to attach, which must be a plain table of its own (no partitions, no
/// foreign keys, CHECK or exclusion constraints).
fn attachable(
    catalog: &Catalog,
    parent: &str,
    name: &str,
) -> Result<(Arc<Table>, Partitioning, Arc<Table>), DbError> {
    let (table, p) = partitioned(catalog, parent)?;
    let Some(child) = catalog.tables.get(name).cloned() else {
        if catalog.partitions.contains_key(name) {
            return Err(err(
                SqlState::Other("42809"),
                format!("\"{name}\" is already a partition"),
            ));
        }
        return Err(err(
            SqlState::UndefinedTable,
            format!("relation \"{name}\" does not exist"),
        ));
    };
    if child.partitioning.is_some() {
        return Err(unsupported(
            "sub-partitioning (attaching a partitioned table)",
        ));
    }
    if !child.foreign_keys.is_empty()
        || !child.referenced_by.is_empty()
        || child.exclusion.is_some()
        || !child.checks.is_empty()
    {
        return Err(unsupported(
            "ATTACH PARTITION of a table with its own foreign keys or CHECK / exclusion constraints",
        ));
    }
    Ok((table, p, child))
}

/// The child's columns, by name, in the parent's order: the same columns
/// of the same types, none missing and none extra.
fn column_map(
    table: &Table,
    child: &Table,
    parent: &str,
    name: &str,
) -> Result<Vec<usize>, DbError> {
    let mut map = Vec::new();
    for column in &table.columns[..table.visible()] {
        let Some(c) = child
            .column_index(column.name)
            .filter(|&c| c < child.visible())
        else {
            return Err(err(
                SqlState::Other("42804"),
                format!("child table is missing column \"{}\"", column.name),
            ));
        };
        if child.columns[c].ty != column.ty {
            return Err(err(
                SqlState::Other("42804"),
                format!(
                    "child table \"{name}\" has different type for column \"{}\"",
                    column.name
                ),
            ));
        }
        map.push(c);
    }
    if let Some(extra) = child.columns[..child.visible()]
        .iter()
        .find(|c| table.column_index(c.name).is_none())
    {
        return Err(err(
            SqlState::Other("42804"),
            format!(
                "table \"{name}\" contains column \"{}\" not found in parent \"{parent}\"",
                extra.name
            ),
        ));
    }
    Ok(map)
}

/// Moves the attached table's rows in, in one transaction of their own
/// (through the partitioned table, so its indexes get their entries).
async fn move_rows_in(
    db: &SqlDb,
    session: SessionId,
    parent: &str,
    rows: Vec<Vec<Value>>,
) -> Result<(), DbError> {
    let parent_table = db.shared.table(parent)?;
    let insert = super::plan::InsertPlan {
        targets: (0..parent_table.visible()).collect(),
        table: parent_table,
        rows: rows
            .into_iter()
            .map(|row| row.into_iter().map(super::expr::Expr::Const).collect())
            .collect(),
        select: None,
        conflict: None,
        returning: None,
    };
    let insert = Statement::new(Prepared::Insert(Box::new(insert)), 0);
    let mut tx = db.store().begin(Isolation::ReadCommitted);
    tx.join_session(session);
    let mut deferred = super::deferred::Deferred::default();
    super::run(db, session, &mut tx, &mut deferred, &insert, &[]).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_partitioning_statements() {
        let Some(Ok(Ddl::CreatePartitioned {
            create,
            strategy,
            columns,
            ..
        })) = parse("CREATE TABLE foo (a int, b text) PARTITION BY LIST(a)")
        else {
            panic!("a partitioned table")
        };
        assert_eq!(create.trim(), "CREATE TABLE foo (a int, b text)");
        assert_eq!((strategy, columns), (Strategy::List, vec!["a".to_string()]));
        let Some(Ok(Ddl::CreatePartition {
            name,
            parent,
            bound,
            ..
        })) = parse("CREATE TABLE foo1 PARTITION OF foo FOR VALUES FROM (1) TO (MAXVALUE)")
        else {
            panic!("a partition")
        };
        assert_eq!((name.as_str(), parent.as_str()), ("foo1", "foo"));
        assert!(matches!(bound, BoundSpec::Range { .. }));
        assert!(matches!(
            parse("alter table t attach partition p default"),
            Some(Ok(Ddl::Attach { .. }))
        ));
        assert!(parse("CREATE TABLE plain (a int)").is_none());
        assert!(parse("ALTER TABLE t ADD COLUMN c int").is_none());
        let hash = parse("CREATE TABLE h (a int) PARTITION BY HASH (a)").unwrap();
        assert_eq!(hash.unwrap_err().code, SqlState::FeatureNotSupported);
        let detach = parse("ALTER TABLE t DETACH PARTITION p CONCURRENTLY").unwrap();
        assert!(detach.unwrap_err().message.contains("CONCURRENTLY"));
    }
}
