//! What a statement takes and returns, told before it runs: each `$n`
//! parameter's type and each result column's name and type, as
//! PostgreSQL's Parse and Describe messages report them (see
//! [`crate::pgwire`]). A driver such as tokio-postgres checks the values
//! it binds against these types (a `Uuid` bound to a parameter described
//! as text is refused) and decodes the results by them.
//!
//! Parameter types are inferred from where `$n` stands, as PostgreSQL's
//! parse analysis does for the shapes the engine plans: compared with
//! (or `BETWEEN`, `IN`) an expression of a known type, cast (`$1::int`),
//! an INSERT value or an UPDATE `SET` of a column, `= ANY($1)` against a
//! column (an array of its type), `LIMIT` / `OFFSET` (bigint), an
//! advisory lock key (bigint, or integers for the two-key form). A
//! parameter no context types is text, which is what PostgreSQL
//! resolves an unknown parameter to (`SELECT $1`). Result column types
//! are the ones `CREATE TABLE AS` resolves (see `ctas`); a column whose
//! type the engine cannot tell is described as text and sent in its
//! text form.

use super::ctas::RowTypes;
use super::expr::Expr;
use super::plan::{Access, AdvisoryItem, OrderKey, Prepared, SelectPlan, Source, Statement};
use super::value::{array_of, SqlType};
use super::Value;
use crate::store::DbError;

/// The kind of command a statement is, for its completion tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `SELECT n` (also `VALUES`, a set operation, `SHOW`-like queries).
    Select,
    /// `INSERT 0 n`.
    Insert,
    /// `UPDATE n`.
    Update,
    /// `DELETE n`.
    Delete,
    /// Another statement: its tag is read from its first words.
    Other,
}

/// What a statement takes and returns (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    /// Each `$n`'s type, in order (None: no context types it; text).
    pub params: Vec<Option<SqlType>>,
    /// The result columns' names and types (None for a type the engine
    /// cannot tell); `None` when the statement returns no rows.
    pub columns: Option<Vec<(String, Option<SqlType>)>>,
    /// Its kind, for the completion tag.
    pub command: Command,
}

impl Description {
    /// A statement that takes no parameter and returns no rows.
    pub fn none() -> Description {
        Description {
            params: Vec::new(),
            columns: None,
            command: Command::Other,
        }
    }
}

/// Describes a planned statement.
pub(crate) fn describe(statement: &Statement) -> Description {
    let mut infer = Infer {
        params: vec![None; statement.params],
    };
    let (columns, command) = infer.prepared(&statement.kind, &[]);
    Description {
        params: infer.params,
        columns,
        command,
    }
}

type Columns = Option<Vec<(String, Option<SqlType>)>>;

struct Infer {
    params: Vec<Option<SqlType>>,
}

/// The types of a combined row made of `sources` (stored tables' columns;
/// a virtual source's columns unknown).
fn source_types<'a>(sources: impl Iterator<Item = &'a Source>) -> RowTypes<'static> {
    let mut sources: Vec<&Source> = sources.collect();
    sources.sort_by_key(|s| s.offset);
    let mut columns = Vec::new();
    for s in sources {
        columns.resize(s.offset, None);
        if matches!(s.access, Access::Virtual(_)) {
            continue;
        }
        columns.extend(s.table.columns.iter().map(|c| Some(c.ty)));
    }
    RowTypes { columns, aggs: &[] }
}

fn outputs(types: &RowTypes, items: &[(String, Expr)]) -> Vec<(String, Option<SqlType>)> {
    items
        .iter()
        .map(|(name, e)| (name.clone(), output_type(types, e)))
        .collect()
}

/// The type of a result column: what `CREATE TABLE AS` resolves, and
/// the functions and subqueries it leaves open (their PostgreSQL result
/// types).
fn output_type(types: &RowTypes, e: &Expr) -> Option<SqlType> {
    use super::funcs::Builtin as B;
    use super::subquery::SubKind;
    types.of(e).or_else(|| match e {
        Expr::Call(b, _) => match b {
            B::Now(_) => Some(SqlType::Timestamp),
            B::CurrentDate => Some(SqlType::Date),
            B::GenRandomUuid => Some(SqlType::Uuid),
            B::Nextval | B::Currval | B::Lastval | B::Setval => Some(SqlType::BigInt),
            B::Concat | B::Format | B::PgGetSerialSequence => Some(SqlType::Text),
            B::JsonbBuildObject | B::ToJsonb => Some(SqlType::Json),
            _ => None,
        },
        Expr::Array(items) => items
            .iter()
            .find_map(|e| output_type(types, e))
            .map(array_of),
        Expr::Agg(n) => {
            let spec = types.aggs.get(*n)?;
            match spec.func {
                super::expr::AggFunc::ArrayAgg => {
                    output_type(types, spec.arg.as_ref()?).map(array_of)
                }
                _ => None,
            }
        }
        Expr::Subquery(sub) => match sub.kind {
            SubKind::Exists | SubKind::Quantified { .. } => Some(SqlType::Bool),
            SubKind::Scalar => {
                let mut outer = types.columns.clone();
                outer.resize(sub.outer_width, None);
                let inner = RowTypes::new(&sub.plan, &outer, &[]).ok()?;
                output_type(&inner, &sub.plan.output.first()?.1)
            }
        },
        _ => None,
    })
}

impl Infer {
    /// Types `$n` (the first context that types it wins).
    fn set(&mut self, n: usize, ty: SqlType) {
        if let Some(slot @ None) = self.params.get_mut(n) {
            // A parameter compared with a varchar(n) or numeric(p,s)
            // column is described without the typmod, as PostgreSQL does.
            *slot = Some(match ty {
                SqlType::Varchar(_) => SqlType::Varchar(0),
                SqlType::Decimal(..) => SqlType::Numeric,
                SqlType::Char(_) => SqlType::Char(0),
                t => t,
            });
        }
    }

    fn prepared(&mut self, kind: &Prepared, ctes: &[Vec<Option<SqlType>>]) -> (Columns, Command) {
        match kind {
            Prepared::Select(plan) => (Some(self.select(plan, &[], ctes, &[])), Command::Select),
            Prepared::SetOp(plan) => (Some(self.set_op(plan, ctes)), Command::Select),
            Prepared::Insert(plan) => (self.insert(plan, ctes), Command::Insert),
            Prepared::Update(plan) => {
                let row = source_types(plan.from.iter().chain([&plan.source]));
                for s in plan.from.iter().chain([&plan.source]) {
                    self.access(s, &row);
                }
                if let Some(f) = &plan.filter {
                    self.expr(f, &row, Some(SqlType::Bool));
                }
                for (c, e) in &plan.sets {
                    let ty = plan.source.table.columns.get(*c).map(|c| c.ty);
                    self.expr(e, &row, ty);
                }
                (
                    self.returning(&row, plan.returning.as_deref()),
                    Command::Update,
                )
            }
            Prepared::Delete(plan) => {
                let row = source_types(plan.using.iter().chain([&plan.source]));
                for s in plan.using.iter().chain([&plan.source]) {
                    self.access(s, &row);
                }
                if let Some(f) = &plan.filter {
                    self.expr(f, &row, Some(SqlType::Bool));
                }
                (
                    self.returning(&row, plan.returning.as_deref()),
                    Command::Delete,
                )
            }
            Prepared::With(with) => {
                let mut types: Vec<Vec<Option<SqlType>>> = Vec::new();
                for (part, _) in &with.ctes {
                    let (columns, _) = self.prepared(part, &types);
                    types.push(
                        columns
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(_, t)| t)
                            .collect(),
                    );
                }
                self.prepared(&with.main, &types)
            }
            Prepared::AdvisoryLock(plan) => (Some(self.advisory(plan)), Command::Select),
            Prepared::Show(param) => (
                Some(vec![(param.name().to_string(), Some(SqlType::Text))]),
                Command::Other,
            ),
            _ => (None, Command::Other),
        }
    }

    /// A set operation's columns: the first branch's types.
    fn set_op(
        &mut self,
        plan: &super::setops::SetOpPlan,
        ctes: &[Vec<Option<SqlType>>],
    ) -> Vec<(String, Option<SqlType>)> {
        let mut first = None;
        self.set_tree(&plan.tree, ctes, &mut first);
        for e in plan.limit.iter().chain(&plan.offset) {
            self.expr(e, &RowTypes::empty(), Some(SqlType::BigInt));
        }
        let types = first.unwrap_or_default();
        plan.columns
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), types.get(i).copied().flatten()))
            .collect()
    }

    /// An INSERT's parameters take their target columns' types (in
    /// `VALUES`, the query, `ON CONFLICT DO UPDATE`); its columns are its
    /// RETURNING list's.
    fn insert(&mut self, plan: &super::plan::InsertPlan, ctes: &[Vec<Option<SqlType>>]) -> Columns {
        let table = &plan.table;
        let row = RowTypes {
            columns: table.columns.iter().map(|c| Some(c.ty)).collect(),
            aggs: &[],
        };
        let target_types: Vec<Option<SqlType>> = plan
            .targets
            .iter()
            .map(|&c| table.columns.get(c).map(|c| c.ty))
            .collect();
        for values in &plan.rows {
            for (e, ty) in values.iter().zip(&target_types) {
                self.expr(e, &RowTypes::empty(), *ty);
            }
        }
        if let Some(select) = &plan.select {
            self.select(select, &[], ctes, &target_types);
        }
        if let Some((_, super::plan::ConflictAction::Update { sets, filter })) = &plan.conflict {
            // The existing row, then EXCLUDED.
            let mut both = row.columns.clone();
            both.extend(row.columns.iter().copied());
            let both = RowTypes {
                columns: both,
                aggs: &[],
            };
            for (c, e) in sets {
                self.expr(e, &both, table.columns.get(*c).map(|c| c.ty));
            }
            if let Some(f) = filter {
                self.expr(f, &both, Some(SqlType::Bool));
            }
        }
        self.returning(&row, plan.returning.as_deref())
    }

    /// A RETURNING list's columns (none without one), its parameters
    /// typed by context.
    fn returning(&mut self, row: &RowTypes, returning: Option<&[(String, Expr)]>) -> Columns {
        returning.map(|items| {
            items.iter().for_each(|(_, e)| self.expr(e, row, None));
            outputs(row, items)
        })
    }

    /// The columns of `SELECT pg_advisory_...(...)`: a lock function's
    /// key is bigint (one argument) or two integers.
    fn advisory(&mut self, plan: &super::plan::AdvisoryPlan) -> Vec<(String, Option<SqlType>)> {
        let none = RowTypes::empty();
        let mut columns = Vec::new();
        for (name, item) in &plan.items {
            let key = |infer: &mut Infer, key: &[Expr]| {
                let ty = if key.len() == 1 {
                    SqlType::BigInt
                } else {
                    SqlType::Integer
                };
                key.iter().for_each(|e| infer.expr(e, &none, Some(ty)));
            };
            let ty = match item {
                // void: described as text (its text form is empty).
                AdvisoryItem::Lock { key: k, wait, .. } => {
                    key(self, k);
                    (!wait).then_some(SqlType::Bool)
                }
                AdvisoryItem::Unlock { key: k, .. } => {
                    key(self, k);
                    Some(SqlType::Bool)
                }
                AdvisoryItem::UnlockAll => None,
                AdvisoryItem::Value(e) => {
                    self.expr(e, &none, None);
                    none.of(e)
                }
            };
            columns.push((name.clone(), ty));
        }
        columns
    }

    fn set_tree(
        &mut self,
        tree: &super::setops::SetTree,
        ctes: &[Vec<Option<SqlType>>],
        first: &mut Option<Vec<Option<SqlType>>>,
    ) {
        match tree {
            super::setops::SetTree::Leaf(plan) => {
                let columns = self.select(plan, &[], ctes, &[]);
                if first.is_none() {
                    *first = Some(columns.into_iter().map(|(_, t)| t).collect());
                }
            }
            super::setops::SetTree::Op { left, right, .. } => {
                self.set_tree(left, ctes, first);
                self.set_tree(right, ctes, first);
            }
        }
    }

    /// Types the parameters of a SELECT (`expected`: the types its output
    /// columns are assigned to, for `INSERT ... SELECT $1`) and returns
    /// its output columns.
    fn select(
        &mut self,
        plan: &SelectPlan,
        outer: &[Option<SqlType>],
        ctes: &[Vec<Option<SqlType>>],
        expected: &[Option<SqlType>],
    ) -> Vec<(String, Option<SqlType>)> {
        let types = RowTypes::new(plan, outer, ctes).unwrap_or_else(|_| RowTypes::empty());
        for s in &plan.sources {
            self.access(s, &types);
            if let Access::Virtual(v) = &s.access {
                match v.as_ref() {
                    super::cte::Virtual::Series(a, b, c) => {
                        for e in [a, b].into_iter().chain(c) {
                            self.expr(e, &types, None);
                        }
                    }
                    super::cte::Virtual::Derived(inner, width) => {
                        let mut outer = types.columns.clone();
                        outer.resize(*width, None);
                        self.select(inner, &outer, ctes, &[]);
                    }
                    super::cte::Virtual::Values(rows, column_types) => {
                        for row in rows {
                            for (e, ty) in row.iter().zip(column_types) {
                                self.expr(e, &types, *ty);
                            }
                        }
                    }
                    super::cte::Virtual::Cte(_) => {}
                }
            }
        }
        for step in &plan.joins {
            if let Some(on) = &step.on {
                self.expr(on, &types, Some(SqlType::Bool));
            }
        }
        if let Some(f) = &plan.filter {
            self.expr(f, &types, Some(SqlType::Bool));
        }
        for (i, (_, e)) in plan.output.iter().enumerate() {
            self.expr(e, &types, expected.get(i).copied().flatten());
        }
        for w in &plan.windows {
            for e in w.args.iter().chain(&w.partition) {
                self.expr(e, &types, None);
            }
            for (e, _, _) in &w.order {
                self.expr(e, &types, None);
            }
        }
        if let Some(g) = &plan.grouping {
            for e in &g.by {
                self.expr(e, &types, None);
            }
            for agg in &g.aggs {
                for e in agg.arg.iter().chain(&agg.delimiter) {
                    self.expr(e, &types, None);
                }
                if let Some(f) = &agg.filter {
                    self.expr(f, &types, Some(SqlType::Bool));
                }
            }
            if let Some(h) = &g.having {
                self.expr(h, &types, Some(SqlType::Bool));
            }
        }
        for o in &plan.order {
            if let OrderKey::Expr(e) = &o.key {
                self.expr(e, &types, None);
            }
        }
        for e in plan.limit.iter().chain(&plan.offset) {
            self.expr(e, &types, Some(SqlType::BigInt));
        }
        outputs(&types, &plan.output)
    }

    /// The parameters of an index read: each key part has its column's
    /// type.
    fn access(&mut self, source: &Source, types: &RowTypes) {
        match &source.access {
            Access::Index {
                index,
                eq,
                lower,
                upper,
            } => {
                let Some(index) = source.table.indexes.get(*index) else {
                    return;
                };
                let column_type = |i: usize| {
                    index
                        .columns
                        .get(i)
                        .and_then(|&c| source.table.columns.get(c))
                        .map(|c| c.ty)
                };
                for (i, e) in eq.iter().enumerate() {
                    self.expr(e, types, column_type(i));
                }
                let next = column_type(eq.len());
                for (e, _) in lower.iter().chain(upper) {
                    self.expr(e, types, next);
                }
            }
            Access::Exclusion(e) => self.expr(e, types, Some(SqlType::Bool)),
            Access::Seq | Access::Virtual(_) => {}
        }
    }

    /// Types the parameters in `e`; `expected` is the type its context
    /// gives it.
    fn expr(&mut self, e: &Expr, types: &RowTypes, expected: Option<SqlType>) {
        // The type of the other side of a comparison or an arithmetic:
        // what it is, when it is not itself a parameter.
        let known = |e: &Expr| match e {
            Expr::Param(_) => None,
            e => types.of(e),
        };
        match e {
            Expr::Param(n) => {
                if let Some(ty) = expected {
                    self.set(*n, ty);
                }
            }
            Expr::Cast(inner, ty) => self.expr(inner, types, Some(*ty)),
            Expr::Bin(_, a, b) => {
                // varchar has no operators of its own: PostgreSQL resolves
                // `code = $1` with text's, so the parameter is text.
                let operand = |t: Option<SqlType>| match t {
                    Some(SqlType::Varchar(_)) => Some(SqlType::Text),
                    t => t,
                };
                let (ta, tb) = (operand(known(a)), operand(known(b)));
                self.expr(a, types, tb);
                self.expr(b, types, ta);
            }
            Expr::Not(a) => self.expr(a, types, Some(SqlType::Bool)),
            Expr::Neg(a) => self.expr(a, types, expected),
            Expr::IsNull(a, _) | Expr::IsBool(a, _, _) => self.expr(a, types, None),
            Expr::InList(x, list, _) => {
                let ty = known(x).or_else(|| list.iter().find_map(known));
                self.expr(x, types, ty);
                list.iter().for_each(|e| self.expr(e, types, ty));
            }
            Expr::Between(x, lo, hi, _) => {
                let ty = known(x).or_else(|| known(lo)).or_else(|| known(hi));
                for e in [x, lo, hi] {
                    self.expr(e, types, ty);
                }
            }
            Expr::AnyAll(_, _, x, array) => {
                let elem = known(x);
                self.expr(x, types, None);
                self.expr(array, types, elem.map(array_of));
            }
            Expr::Func(super::expr::Func::Coalesce | super::expr::Func::Nullif, args) => {
                let ty = expected.or_else(|| args.iter().find_map(known));
                args.iter().for_each(|a| self.expr(a, types, ty));
            }
            Expr::Func(_, args) | Expr::Call(_, args) | Expr::UserCall(_, args) => {
                args.iter().for_each(|a| self.expr(a, types, None));
            }
            Expr::Array(items) => {
                let elem = match expected {
                    Some(SqlType::Array(t)) => Some(*t),
                    _ => None,
                };
                items.iter().for_each(|a| self.expr(a, types, elem));
            }
            Expr::Case(arms, otherwise) => {
                for (when, then) in arms {
                    self.expr(when, types, Some(SqlType::Bool));
                    self.expr(then, types, expected);
                }
                if let Some(e) = otherwise {
                    self.expr(e, types, expected);
                }
            }
            Expr::Subquery(sub) => {
                let mut outer = types.columns.clone();
                outer.resize(sub.outer_width, None);
                self.select(&sub.plan, &outer, &[], &[]);
            }
            Expr::Const(_) | Expr::Col(_) | Expr::Agg(_) | Expr::Default => {}
        }
    }
}

/// Parses PostgreSQL's text form of a value of type `ty` (a text-format
/// parameter, or a value to send in the binary format).
pub fn parse_text(text: &str, ty: SqlType) -> Result<Value, DbError> {
    super::value::parse_text(text, ty)
}

/// An explicit cast of `value` to `ty` (`value::ty`).
pub fn cast(value: &Value, ty: SqlType) -> Result<Value, DbError> {
    super::value::cast(value, ty)
}
