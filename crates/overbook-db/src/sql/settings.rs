//! Session statements and settings: `BEGIN` / `START TRANSACTION` with
//! their transaction modes, `COMMIT` / `END`, `ROLLBACK` / `ABORT`, `SET
//! TRANSACTION`, `SET SESSION CHARACTERISTICS`, `SET [LOCAL | SESSION]`,
//! `RESET`, `SHOW` and `current_setting(...)`. They are parsed here, from
//! tokens, because sqlparser parses neither `ABORT`, `END`, `RESET` nor
//! `DEFERRABLE`, and takes `SET`'s value as an expression where PostgreSQL
//! takes text.

use super::expr::unsupported;
use super::value::err;
use crate::store::{DbError, Isolation, SqlState, Timeouts};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};
use std::collections::BTreeMap;

/// The transaction modes a `BEGIN`, `START TRANSACTION`, `SET TRANSACTION`
/// or `SET SESSION CHARACTERISTICS AS TRANSACTION` names (`None`: not
/// named; the last one named wins, as in PostgreSQL).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TxModes {
    pub(crate) isolation: Option<Isolation>,
    pub(crate) read_only: Option<bool>,
    pub(crate) deferrable: Option<bool>,
}

/// A statement about the session or its transaction.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum SessionStatement {
    /// `BEGIN [WORK | TRANSACTION] [modes]`, `START TRANSACTION [modes]`.
    Begin(TxModes),
    /// `COMMIT [WORK | TRANSACTION]`, `END [WORK | TRANSACTION]`.
    Commit,
    /// `ROLLBACK [WORK | TRANSACTION]`, `ABORT [WORK | TRANSACTION]`.
    Rollback,
    /// `SET TRANSACTION modes`.
    SetTransaction(TxModes),
    /// `SET CONSTRAINTS ALL | name [, ...] DEFERRED | IMMEDIATE`.
    SetConstraints(super::deferred::SetConstraints),
    /// `SET SESSION CHARACTERISTICS AS TRANSACTION modes`: the defaults of
    /// later transactions.
    SetCharacteristics(TxModes),
    /// `SET`, `SET LOCAL`, `RESET`.
    Set(Set),
    /// `SHOW name`.
    Show(Param),
    /// `DISCARD ALL`: `RESET ALL` (and in PostgreSQL also dropping the
    /// session's prepared statements and temporary tables, which the engine
    /// does not have); refused in a transaction block.
    DiscardAll,
}

/// A time parameter, in ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeParam {
    /// `lock_timeout`.
    Lock,
    /// `statement_timeout`.
    Statement,
    /// `deadlock_timeout`.
    Deadlock,
}

/// A planner switch that changes a table's access path (and so the SSI
/// predicate locks a read takes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScanSwitch {
    Seq,
    Index,
    Bitmap,
    IndexOnly,
}

/// A parameter the engine knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Param {
    Time(TimeParam),
    DefaultIsolation,
    DefaultReadOnly,
    DefaultDeferrable,
    /// `transaction_isolation`, `transaction_read_only`,
    /// `transaction_deferrable`: the open transaction's modes (setting one
    /// is `SET TRANSACTION`).
    TxIsolation,
    TxReadOnly,
    TxDeferrable,
    Scan(ScanSwitch),
    /// One of [`PLAIN`]: accepted and shown, with no effect on the
    /// simulation.
    Plain(usize),
    /// A placeholder (`myapp.user_id`): any text, as PostgreSQL keeps it.
    Custom(String),
    /// `role` (`SET ROLE name | NONE`): the current role, when not the
    /// session user (see `roles`).
    Role,
    /// `session_authorization` (`SET SESSION AUTHORIZATION`): the session
    /// user, when not the role the connection logged in as.
    SessionAuthorization,
}

/// A parameter's new value (`Default`: `SET ... TO DEFAULT`, `RESET`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum SetValue {
    Default,
    Ms(u64),
    Bool(bool),
    Isolation(Isolation),
    /// A value in PostgreSQL's `SHOW` form.
    Text(String),
}

/// `SET`, `SET LOCAL` or `RESET` of one parameter (`None`: `RESET ALL`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Set {
    pub(crate) param: Option<Param>,
    pub(crate) value: SetValue,
    /// `SET LOCAL`: until the end of the transaction.
    pub(crate) local: bool,
}

/// The planner switches in force (all on by default, as in PostgreSQL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ScanSettings {
    pub(crate) seqscan: bool,
    pub(crate) indexscan: bool,
    pub(crate) bitmapscan: bool,
    pub(crate) indexonlyscan: bool,
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            seqscan: true,
            indexscan: true,
            bitmapscan: true,
            indexonlyscan: true,
        }
    }
}

impl ScanSettings {
    fn switch(&mut self, switch: ScanSwitch) -> &mut bool {
        match switch {
            ScanSwitch::Seq => &mut self.seqscan,
            ScanSwitch::Index => &mut self.indexscan,
            ScanSwitch::Bitmap => &mut self.bitmapscan,
            ScanSwitch::IndexOnly => &mut self.indexonlyscan,
        }
    }

    /// Whether the planner reads through an index where one applies.
    /// PostgreSQL adds a prohibitive cost to a disabled path and takes the
    /// cheapest one: an index path (plain, index-only or bitmap) while
    /// `enable_indexscan` or `enable_bitmapscan` is on (index-only scans
    /// need `enable_indexscan` too), a sequential scan when both are off
    /// and `enable_seqscan` is on. With all three off every path costs the
    /// same penalty, and on the small tables of a simulation the index
    /// path is still the cheaper.
    pub(crate) fn index_paths(self) -> bool {
        self.indexscan || self.bitmapscan || !self.seqscan
    }
}

/// The session's defaults for new transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DefaultModes {
    pub(crate) isolation: Isolation,
    pub(crate) read_only: bool,
    pub(crate) deferrable: bool,
}

impl Default for DefaultModes {
    fn default() -> Self {
        DefaultModes {
            isolation: Isolation::ReadCommitted,
            read_only: false,
            deferrable: false,
        }
    }
}

/// A session's parameter values.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Settings {
    pub(crate) timeouts: Timeouts,
    pub(crate) defaults: DefaultModes,
    pub(crate) scans: ScanSettings,
    /// Values of [`PLAIN`] parameters other than their defaults.
    plain: BTreeMap<usize, String>,
    /// Placeholder parameters set in the session.
    custom: BTreeMap<String, String>,
    /// `SET ROLE` and `SET SESSION AUTHORIZATION` (None: neither set;
    /// boxed, as a session rarely sets them).
    identity: Option<Box<Identity>>,
}

/// The roles a session has set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Identity {
    /// `SET ROLE`'s role (None: the session user).
    role: Option<String>,
    /// `SET SESSION AUTHORIZATION`'s role (None: the login role).
    session_user: Option<String>,
}

impl Settings {
    /// `SET ROLE`'s role, if set.
    pub(crate) fn role(&self) -> Option<&String> {
        self.identity.as_ref().and_then(|i| i.role.as_ref())
    }

    /// `SET SESSION AUTHORIZATION`'s role, if set.
    pub(crate) fn session_user(&self) -> Option<&String> {
        self.identity.as_ref().and_then(|i| i.session_user.as_ref())
    }

    /// Sets both (`DISCARD ALL`: neither).
    pub(crate) fn set_identity(&mut self, role: Option<String>, session_user: Option<String>) {
        self.identity = (role.is_some() || session_user.is_some())
            .then(|| Box::new(Identity { role, session_user }));
    }

    /// Sets `param` to `value` (`SetValue::Default`: its default). The
    /// transaction parameters are the session's to apply, not settings.
    pub(crate) fn apply(&mut self, param: &Param, value: &SetValue) {
        match (param, value) {
            (Param::Time(time), value) => {
                let ms = match value {
                    SetValue::Ms(ms) => Some(*ms),
                    _ => None,
                };
                match time {
                    TimeParam::Lock => self.timeouts.lock_timeout_ms = ms.unwrap_or(0),
                    TimeParam::Statement => self.timeouts.statement_timeout_ms = ms.unwrap_or(0),
                    TimeParam::Deadlock => self.timeouts.deadlock_timeout_ms = ms,
                }
            }
            (Param::DefaultIsolation, SetValue::Isolation(isolation)) => {
                self.defaults.isolation = *isolation
            }
            (Param::DefaultIsolation, _) => self.defaults.isolation = Isolation::ReadCommitted,
            (Param::DefaultReadOnly, value) => {
                self.defaults.read_only = matches!(value, SetValue::Bool(true))
            }
            (Param::DefaultDeferrable, value) => {
                self.defaults.deferrable = matches!(value, SetValue::Bool(true))
            }
            (Param::TxIsolation | Param::TxReadOnly | Param::TxDeferrable, _) => {}
            (Param::Scan(switch), value) => {
                *self.scans.switch(*switch) = !matches!(value, SetValue::Bool(false))
            }
            (Param::Plain(index), SetValue::Text(text)) if *text != PLAIN[*index].default => {
                self.plain.insert(*index, text.clone());
            }
            (Param::Plain(index), _) => {
                self.plain.remove(index);
            }
            // A reset placeholder stays, empty, as in PostgreSQL.
            (Param::Custom(name), value) => {
                let text = match value {
                    SetValue::Text(text) => text.clone(),
                    _ => String::new(),
                };
                self.custom.insert(name.clone(), text);
            }
            (Param::Role, value) => {
                let role = match value {
                    SetValue::Text(role) => Some(role.clone()),
                    _ => None,
                };
                self.set_identity(role, self.session_user().cloned());
            }
            // A new session user also resets the role, as in PostgreSQL.
            (Param::SessionAuthorization, value) => {
                let user = match value {
                    SetValue::Text(user) if user != super::roles::BOOTSTRAP => Some(user.clone()),
                    _ => None,
                };
                self.set_identity(None, user);
            }
        }
    }

    /// `RESET ALL`: every parameter back to its default (placeholders to
    /// empty).
    pub(crate) fn reset_all(&mut self) {
        let custom = std::mem::take(&mut self.custom);
        // RESET ALL leaves the role and the session user (PostgreSQL's
        // GUC_NO_RESET_ALL); DISCARD ALL resets them itself.
        let identity = self.identity.take();
        *self = Settings::default();
        self.identity = identity;
        self.custom = custom
            .into_keys()
            .map(|name| (name, String::new()))
            .collect();
    }

    /// `SHOW param`, except the transaction parameters (the session's to
    /// answer); `deadlock_default_ms` is the store's `deadlock_timeout`.
    /// `None`: a placeholder never set (42704).
    pub(crate) fn show(&self, param: &Param, deadlock_default_ms: u64) -> Option<String> {
        Some(match param {
            Param::Time(TimeParam::Lock) => show_ms(self.timeouts.lock_timeout_ms),
            Param::Time(TimeParam::Statement) => show_ms(self.timeouts.statement_timeout_ms),
            Param::Time(TimeParam::Deadlock) => show_ms(
                self.timeouts
                    .deadlock_timeout_ms
                    .unwrap_or(deadlock_default_ms),
            ),
            Param::DefaultIsolation => show_isolation(self.defaults.isolation).to_string(),
            Param::DefaultReadOnly => show_bool(self.defaults.read_only).to_string(),
            Param::DefaultDeferrable => show_bool(self.defaults.deferrable).to_string(),
            Param::TxIsolation | Param::TxReadOnly | Param::TxDeferrable => return None,
            Param::Scan(switch) => show_bool(*self.scans.clone().switch(*switch)).to_string(),
            Param::Plain(index) => self
                .plain
                .get(index)
                .cloned()
                .unwrap_or_else(|| PLAIN[*index].default.to_string()),
            Param::Custom(name) => return self.custom.get(name).cloned(),
            Param::Role => self.role().cloned().unwrap_or_else(|| "none".into()),
            Param::SessionAuthorization => self
                .session_user()
                .cloned()
                .unwrap_or_else(|| super::roles::BOOTSTRAP.into()),
        })
    }
}

/// A time in ms as PostgreSQL shows it: in the largest unit that divides
/// it exactly (`1s`, `1500ms`, `1min`), `0` for none.
pub(crate) fn show_ms(ms: u64) -> String {
    if ms == 0 {
        return "0".to_string();
    }
    const UNITS: [(u64, &str); 4] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "min"),
        (1_000, "s"),
    ];
    for (unit_ms, unit) in UNITS {
        if ms.is_multiple_of(unit_ms) {
            return format!("{}{unit}", ms / unit_ms);
        }
    }
    format!("{ms}ms")
}

fn show_bool(value: bool) -> &'static str {
    if value {
        "on"
    } else {
        "off"
    }
}

/// An isolation level as `SHOW transaction_isolation` names it.
pub(crate) fn show_isolation(isolation: Isolation) -> &'static str {
    match isolation {
        Isolation::ReadCommitted => "read committed",
        Isolation::RepeatableRead => "repeatable read",
        Isolation::Serializable => "serializable",
    }
}

/// How a [`PLAIN`] parameter's values are read and shown.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Bool,
    /// An integer in a range (a fraction rounds, as PostgreSQL rounds it).
    Int(i64, i64),
    /// A real at least this.
    Real(f64),
    /// One of these words (shown lower case).
    Enum(&'static [&'static str]),
    /// A memory size; a bare number counts this many kB.
    Size(u64),
    /// Only these values (lower case, as written, to the shown form);
    /// any other is a behaviour the engine does not model (0A000).
    Only(&'static [(&'static str, &'static str)]),
    /// Any text.
    Text,
    /// Shown, never set (55P02).
    Fixed,
}

/// A parameter accepted (or only shown) without an effect on the
/// simulation: what drivers send on connecting and PostgreSQL's isolation
/// specs set to steer plans the store does not have (parallel query,
/// costs, join methods).
struct Plain {
    /// As `SHOW` heads its column.
    name: &'static str,
    kind: Kind,
    default: &'static str,
}

const fn plain(name: &'static str, kind: Kind, default: &'static str) -> Plain {
    Plain {
        name,
        kind,
        default,
    }
}

const MESSAGE_LEVELS: &[&str] = &[
    "debug5", "debug4", "debug3", "debug2", "debug1", "log", "notice", "warning", "error",
];

const PLAIN: &[Plain] = &[
    plain("application_name", Kind::Text, ""),
    plain("client_min_messages", Kind::Enum(MESSAGE_LEVELS), "notice"),
    plain("log_min_messages", Kind::Enum(MESSAGE_LEVELS), "warning"),
    plain(
        "search_path",
        Kind::Only(&[
            ("public", "public"),
            ("\"$user\", public", "\"$user\", public"),
            ("pg_catalog, public", "pg_catalog, public"),
        ]),
        "\"$user\", public",
    ),
    plain(
        "TimeZone",
        Kind::Only(&[
            ("utc", "UTC"),
            ("etc/utc", "Etc/UTC"),
            ("gmt", "GMT"),
            ("etc/gmt", "Etc/GMT"),
            ("z", "Z"),
        ]),
        "UTC",
    ),
    plain(
        "DateStyle",
        Kind::Only(&[("iso, mdy", "ISO, MDY"), ("iso", "ISO, MDY")]),
        "ISO, MDY",
    ),
    plain(
        "IntervalStyle",
        Kind::Only(&[("postgres", "postgres")]),
        "postgres",
    ),
    plain(
        "client_encoding",
        Kind::Only(&[("utf8", "UTF8"), ("utf-8", "UTF8"), ("unicode", "UTF8")]),
        "UTF8",
    ),
    plain(
        "standard_conforming_strings",
        Kind::Only(&[("on", "on"), ("true", "on"), ("yes", "on"), ("1", "on")]),
        "on",
    ),
    plain("bytea_output", Kind::Only(&[("hex", "hex")]), "hex"),
    plain("extra_float_digits", Kind::Int(-15, 3), "1"),
    plain(
        "synchronous_commit",
        Kind::Enum(&["local", "remote_write", "remote_apply", "on", "off"]),
        "on",
    ),
    plain("max_parallel_workers_per_gather", Kind::Int(0, 1024), "2"),
    plain("max_parallel_workers", Kind::Int(0, 1024), "8"),
    plain("parallel_leader_participation", Kind::Bool, "on"),
    plain("parallel_setup_cost", Kind::Real(0.0), "1000"),
    plain("parallel_tuple_cost", Kind::Real(0.0), "0.1"),
    plain("min_parallel_table_scan_size", Kind::Size(8), "8MB"),
    plain("min_parallel_index_scan_size", Kind::Size(8), "512kB"),
    plain(
        "force_parallel_mode",
        Kind::Enum(&["off", "on", "regress"]),
        "off",
    ),
    plain("seq_page_cost", Kind::Real(0.0), "1"),
    plain("random_page_cost", Kind::Real(0.0), "4"),
    plain("cpu_tuple_cost", Kind::Real(0.0), "0.01"),
    plain("cpu_index_tuple_cost", Kind::Real(0.0), "0.005"),
    plain("cpu_operator_cost", Kind::Real(0.0), "0.0025"),
    plain("effective_cache_size", Kind::Size(8), "4GB"),
    plain("work_mem", Kind::Size(1), "4MB"),
    plain("maintenance_work_mem", Kind::Size(1), "64MB"),
    plain("jit", Kind::Bool, "on"),
    plain("enable_async_append", Kind::Bool, "on"),
    plain("enable_gathermerge", Kind::Bool, "on"),
    plain("enable_hashagg", Kind::Bool, "on"),
    plain("enable_hashjoin", Kind::Bool, "on"),
    plain("enable_incremental_sort", Kind::Bool, "on"),
    plain("enable_material", Kind::Bool, "on"),
    plain("enable_memoize", Kind::Bool, "on"),
    plain("enable_mergejoin", Kind::Bool, "on"),
    plain("enable_nestloop", Kind::Bool, "on"),
    plain("enable_parallel_append", Kind::Bool, "on"),
    plain("enable_parallel_hash", Kind::Bool, "on"),
    plain("enable_partition_pruning", Kind::Bool, "on"),
    plain("enable_partitionwise_aggregate", Kind::Bool, "off"),
    plain("enable_partitionwise_join", Kind::Bool, "off"),
    plain("enable_sort", Kind::Bool, "on"),
    plain("enable_tidscan", Kind::Bool, "on"),
    // Shown only: what the engine is (the PostgreSQL it simulates).
    plain("server_version", Kind::Fixed, "15.0"),
    plain("server_version_num", Kind::Fixed, "150000"),
    plain("server_encoding", Kind::Fixed, "UTF8"),
    plain("integer_datetimes", Kind::Fixed, "on"),
    plain("max_identifier_length", Kind::Fixed, "63"),
    plain("block_size", Kind::Fixed, "8192"),
];

impl Param {
    /// The parameter named `name` (case-insensitive): 42704 for a name
    /// PostgreSQL does not know, 0A000 for one it knows and the engine
    /// does not model.
    pub(crate) fn named(name: &str) -> Result<Param, DbError> {
        let lower = name.to_ascii_lowercase();
        Ok(match lower.as_str() {
            "lock_timeout" => Param::Time(TimeParam::Lock),
            "statement_timeout" => Param::Time(TimeParam::Statement),
            "deadlock_timeout" => Param::Time(TimeParam::Deadlock),
            "default_transaction_isolation" => Param::DefaultIsolation,
            "default_transaction_read_only" => Param::DefaultReadOnly,
            "default_transaction_deferrable" => Param::DefaultDeferrable,
            "transaction_isolation" => Param::TxIsolation,
            "transaction_read_only" => Param::TxReadOnly,
            "transaction_deferrable" => Param::TxDeferrable,
            "enable_seqscan" => Param::Scan(ScanSwitch::Seq),
            "enable_indexscan" => Param::Scan(ScanSwitch::Index),
            "enable_bitmapscan" => Param::Scan(ScanSwitch::Bitmap),
            "enable_indexonlyscan" => Param::Scan(ScanSwitch::IndexOnly),
            "role" => Param::Role,
            "session_authorization" => Param::SessionAuthorization,
            _ => {
                if let Some(index) = PLAIN
                    .iter()
                    .position(|p| p.name.eq_ignore_ascii_case(&lower))
                {
                    return Ok(Param::Plain(index));
                }
                if lower.contains('.') {
                    return Ok(Param::Custom(lower));
                }
                if POSTGRES_PARAMETERS.binary_search(&lower.as_str()).is_ok() {
                    return Err(unsupported(format!("the parameter \"{lower}\"")));
                }
                return Err(err(
                    SqlState::Other("42704"),
                    format!("unrecognized configuration parameter \"{lower}\""),
                ));
            }
        })
    }

    /// The name `SHOW` heads its column with.
    pub(crate) fn name(&self) -> &str {
        match self {
            Param::Time(TimeParam::Lock) => "lock_timeout",
            Param::Time(TimeParam::Statement) => "statement_timeout",
            Param::Time(TimeParam::Deadlock) => "deadlock_timeout",
            Param::DefaultIsolation => "default_transaction_isolation",
            Param::DefaultReadOnly => "default_transaction_read_only",
            Param::DefaultDeferrable => "default_transaction_deferrable",
            Param::TxIsolation => "transaction_isolation",
            Param::TxReadOnly => "transaction_read_only",
            Param::TxDeferrable => "transaction_deferrable",
            Param::Scan(ScanSwitch::Seq) => "enable_seqscan",
            Param::Scan(ScanSwitch::Index) => "enable_indexscan",
            Param::Scan(ScanSwitch::Bitmap) => "enable_bitmapscan",
            Param::Scan(ScanSwitch::IndexOnly) => "enable_indexonlyscan",
            Param::Plain(index) => PLAIN[*index].name,
            Param::Custom(name) => name,
            Param::Role => "role",
            Param::SessionAuthorization => "session_authorization",
        }
    }

    /// `value` (the words of a `SET`, list items joined with `, `) read as
    /// this parameter takes it.
    fn value(&self, items: &[String]) -> Result<SetValue, DbError> {
        let name = self.name().to_string();
        let invalid = |text: &str| {
            err(
                SqlState::Other("22023"),
                format!("invalid value for parameter \"{name}\": \"{text}\""),
            )
        };
        let list_kind = matches!(self, Param::Plain(index) if matches!(PLAIN[*index].kind, Kind::Only(_) | Kind::Text))
            || matches!(self, Param::Custom(_));
        if items.len() > 1 && !list_kind {
            return Err(err(
                SqlState::Other("22023"),
                format!("SET {name} takes only one argument"),
            ));
        }
        let text = items.join(", ");
        let boolean = |text: &str| {
            parse_bool(text).ok_or_else(|| {
                err(
                    SqlState::Other("22023"),
                    format!("parameter \"{name}\" requires a Boolean value"),
                )
            })
        };
        Ok(match self {
            Param::Time(time) => SetValue::Ms(duration_ms(*time, &text)?),
            Param::DefaultIsolation | Param::TxIsolation => {
                SetValue::Isolation(match text.to_ascii_lowercase().as_str() {
                    "serializable" => Isolation::Serializable,
                    "repeatable read" => Isolation::RepeatableRead,
                    // PostgreSQL runs READ UNCOMMITTED as READ COMMITTED.
                    "read committed" | "read uncommitted" => Isolation::ReadCommitted,
                    _ => return Err(invalid(&text)),
                })
            }
            Param::DefaultReadOnly
            | Param::DefaultDeferrable
            | Param::TxReadOnly
            | Param::TxDeferrable
            | Param::Scan(_) => SetValue::Bool(boolean(&text)?),
            Param::Custom(_) => SetValue::Text(text),
            // A role's name, unquoted (`SET ROLE NONE` is its reset).
            Param::Role if text == "none" => SetValue::Default,
            Param::Role | Param::SessionAuthorization => {
                let name = text.strip_prefix('"').and_then(|t| t.strip_suffix('"'));
                SetValue::Text(name.unwrap_or(&text).to_string())
            }
            Param::Plain(index) => {
                let plain = &PLAIN[*index];
                SetValue::Text(match plain.kind {
                    Kind::Bool => show_bool(boolean(&text)?).to_string(),
                    Kind::Int(min, max) => {
                        let number: f64 = text.trim().parse().map_err(|_| invalid(&text))?;
                        let rounded = number.round_ties_even();
                        if !(min as f64..=max as f64).contains(&rounded) {
                            return Err(out_of_range(&text, &name, min, max));
                        }
                        format!("{}", rounded as i64)
                    }
                    Kind::Real(min) => {
                        let number: f64 = text.trim().parse().map_err(|_| invalid(&text))?;
                        if !number.is_finite() || number < min {
                            return Err(invalid(&text));
                        }
                        format!("{number}")
                    }
                    Kind::Enum(words) => words
                        .iter()
                        .find(|w| w.eq_ignore_ascii_case(text.trim()))
                        .ok_or_else(|| invalid(&text))?
                        .to_string(),
                    Kind::Size(unit_kb) => {
                        show_kb(size_kb(&text, unit_kb).ok_or_else(|| invalid(&text))?)
                    }
                    Kind::Only(accepted) => accepted
                        .iter()
                        .find(|(written, _)| written.eq_ignore_ascii_case(text.trim()))
                        .map(|(_, shown)| shown.to_string())
                        .ok_or_else(|| {
                            unsupported(format!(
                                "{name} = '{text}' (only the default behaviour is modelled)"
                            ))
                        })?,
                    Kind::Text => text,
                    Kind::Fixed => {
                        return Err(err(
                            SqlState::Other("55P02"),
                            format!("parameter \"{name}\" cannot be changed"),
                        ))
                    }
                })
            }
        })
    }
}

fn out_of_range(text: &str, name: &str, min: i64, max: i64) -> DbError {
    err(
        SqlState::Other("22023"),
        format!("{text} is outside the valid range for parameter \"{name}\" ({min} .. {max})"),
    )
}

/// A boolean as PostgreSQL's `parse_bool` reads it: `on`, `off`, `true`,
/// `false`, `yes`, `no`, `1`, `0`, and unique prefixes of the words.
fn parse_bool(text: &str) -> Option<bool> {
    let lower = text.trim().to_ascii_lowercase();
    let prefix_of =
        |word: &str, at_least: usize| lower.len() >= at_least && word.starts_with(lower.as_str());
    match lower.as_str() {
        "1" => Some(true),
        "0" => Some(false),
        _ if prefix_of("true", 1) || prefix_of("yes", 1) || prefix_of("on", 2) => Some(true),
        _ if prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) => Some(false),
        _ => None,
    }
}

/// A memory size in kB: a number (of `unit_kb` kB) with an optional unit
/// (`B`, `kB`, `MB`, `GB`, `TB`).
fn size_kb(text: &str, unit_kb: u64) -> Option<u64> {
    let trimmed = text.trim();
    let digits = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let number: u64 = trimmed[..digits].parse().ok()?;
    let kb = match trimmed[digits..].trim() {
        "" => number.checked_mul(unit_kb)?,
        "B" => number.div_ceil(1024),
        "kB" => number,
        "MB" => number.checked_mul(1024)?,
        "GB" => number.checked_mul(1024 * 1024)?,
        "TB" => number.checked_mul(1024 * 1024 * 1024)?,
        _ => return None,
    };
    Some(kb)
}

/// A size in kB as PostgreSQL shows it: in the largest unit that divides
/// it exactly.
fn show_kb(kb: u64) -> String {
    if kb == 0 {
        return "0".to_string();
    }
    for (unit_kb, unit) in [(1u64 << 30, "TB"), (1 << 20, "GB"), (1 << 10, "MB")] {
        if kb.is_multiple_of(unit_kb) {
            return format!("{}{unit}", kb / unit_kb);
        }
    }
    format!("{kb}kB")
}
/// Every parameter PostgreSQL 15 knows (`SELECT lower(name) FROM
/// pg_settings`), sorted: a `SET` of one the engine does not model is 0A000
/// (PostgreSQL would take it), of any other name 42704 (PostgreSQL does
/// not know it either).
const POSTGRES_PARAMETERS: &[&str] = &[
    "allow_in_place_tablespaces",
    "allow_system_table_mods",
    "application_name",
    "archive_cleanup_command",
    "archive_command",
    "archive_library",
    "archive_mode",
    "archive_timeout",
    "array_nulls",
    "authentication_timeout",
    "autovacuum",
    "autovacuum_analyze_scale_factor",
    "autovacuum_analyze_threshold",
    "autovacuum_freeze_max_age",
    "autovacuum_max_workers",
    "autovacuum_multixact_freeze_max_age",
    "autovacuum_naptime",
    "autovacuum_vacuum_cost_delay",
    "autovacuum_vacuum_cost_limit",
    "autovacuum_vacuum_insert_scale_factor",
    "autovacuum_vacuum_insert_threshold",
    "autovacuum_vacuum_scale_factor",
    "autovacuum_vacuum_threshold",
    "autovacuum_work_mem",
    "backend_flush_after",
    "backslash_quote",
    "backtrace_functions",
    "bgwriter_delay",
    "bgwriter_flush_after",
    "bgwriter_lru_maxpages",
    "bgwriter_lru_multiplier",
    "block_size",
    "bonjour",
    "bonjour_name",
    "bytea_output",
    "check_function_bodies",
    "checkpoint_completion_target",
    "checkpoint_flush_after",
    "checkpoint_timeout",
    "checkpoint_warning",
    "client_connection_check_interval",
    "client_encoding",
    "client_min_messages",
    "cluster_name",
    "commit_delay",
    "commit_siblings",
    "compute_query_id",
    "config_file",
    "constraint_exclusion",
    "cpu_index_tuple_cost",
    "cpu_operator_cost",
    "cpu_tuple_cost",
    "cursor_tuple_fraction",
    "data_checksums",
    "data_directory",
    "data_directory_mode",
    "data_sync_retry",
    "datestyle",
    "db_user_namespace",
    "deadlock_timeout",
    "debug_assertions",
    "debug_discard_caches",
    "debug_pretty_print",
    "debug_print_parse",
    "debug_print_plan",
    "debug_print_rewritten",
    "default_statistics_target",
    "default_table_access_method",
    "default_tablespace",
    "default_text_search_config",
    "default_toast_compression",
    "default_transaction_deferrable",
    "default_transaction_isolation",
    "default_transaction_read_only",
    "dynamic_library_path",
    "dynamic_shared_memory_type",
    "effective_cache_size",
    "effective_io_concurrency",
    "enable_async_append",
    "enable_bitmapscan",
    "enable_gathermerge",
    "enable_hashagg",
    "enable_hashjoin",
    "enable_incremental_sort",
    "enable_indexonlyscan",
    "enable_indexscan",
    "enable_material",
    "enable_memoize",
    "enable_mergejoin",
    "enable_nestloop",
    "enable_parallel_append",
    "enable_parallel_hash",
    "enable_partition_pruning",
    "enable_partitionwise_aggregate",
    "enable_partitionwise_join",
    "enable_seqscan",
    "enable_sort",
    "enable_tidscan",
    "escape_string_warning",
    "event_source",
    "exit_on_error",
    "extension_destdir",
    "external_pid_file",
    "extra_float_digits",
    "force_parallel_mode",
    "from_collapse_limit",
    "fsync",
    "full_page_writes",
    "geqo",
    "geqo_effort",
    "geqo_generations",
    "geqo_pool_size",
    "geqo_seed",
    "geqo_selection_bias",
    "geqo_threshold",
    "gin_fuzzy_search_limit",
    "gin_pending_list_limit",
    "hash_mem_multiplier",
    "hba_file",
    "hot_standby",
    "hot_standby_feedback",
    "huge_page_size",
    "huge_pages",
    "ident_file",
    "idle_in_transaction_session_timeout",
    "idle_session_timeout",
    "ignore_checksum_failure",
    "ignore_invalid_pages",
    "ignore_system_indexes",
    "in_hot_standby",
    "integer_datetimes",
    "intervalstyle",
    "jit",
    "jit_above_cost",
    "jit_debugging_support",
    "jit_dump_bitcode",
    "jit_expressions",
    "jit_inline_above_cost",
    "jit_optimize_above_cost",
    "jit_profiling_support",
    "jit_provider",
    "jit_tuple_deforming",
    "join_collapse_limit",
    "krb_caseins_users",
    "krb_server_keyfile",
    "lc_collate",
    "lc_ctype",
    "lc_messages",
    "lc_monetary",
    "lc_numeric",
    "lc_time",
    "listen_addresses",
    "lo_compat_privileges",
    "local_preload_libraries",
    "lock_timeout",
    "log_autovacuum_min_duration",
    "log_checkpoints",
    "log_connections",
    "log_destination",
    "log_directory",
    "log_disconnections",
    "log_duration",
    "log_error_verbosity",
    "log_executor_stats",
    "log_file_mode",
    "log_filename",
    "log_hostname",
    "log_line_prefix",
    "log_lock_waits",
    "log_min_duration_sample",
    "log_min_duration_statement",
    "log_min_error_statement",
    "log_min_messages",
    "log_parameter_max_length",
    "log_parameter_max_length_on_error",
    "log_parser_stats",
    "log_planner_stats",
    "log_recovery_conflict_waits",
    "log_replication_commands",
    "log_rotation_age",
    "log_rotation_size",
    "log_startup_progress_interval",
    "log_statement",
    "log_statement_sample_rate",
    "log_statement_stats",
    "log_temp_files",
    "log_timezone",
    "log_transaction_sample_rate",
    "log_truncate_on_rotation",
    "logging_collector",
    "logical_decoding_work_mem",
    "maintenance_io_concurrency",
    "maintenance_work_mem",
    "max_connections",
    "max_files_per_process",
    "max_function_args",
    "max_identifier_length",
    "max_index_keys",
    "max_locks_per_transaction",
    "max_logical_replication_workers",
    "max_parallel_maintenance_workers",
    "max_parallel_workers",
    "max_parallel_workers_per_gather",
    "max_pred_locks_per_page",
    "max_pred_locks_per_relation",
    "max_pred_locks_per_transaction",
    "max_prepared_transactions",
    "max_replication_slots",
    "max_slot_wal_keep_size",
    "max_stack_depth",
    "max_standby_archive_delay",
    "max_standby_streaming_delay",
    "max_sync_workers_per_subscription",
    "max_wal_senders",
    "max_wal_size",
    "max_worker_processes",
    "min_dynamic_shared_memory",
    "min_parallel_index_scan_size",
    "min_parallel_table_scan_size",
    "min_wal_size",
    "old_snapshot_threshold",
    "parallel_leader_participation",
    "parallel_setup_cost",
    "parallel_tuple_cost",
    "password_encryption",
    "plan_cache_mode",
    "port",
    "post_auth_delay",
    "pre_auth_delay",
    "primary_conninfo",
    "primary_slot_name",
    "promote_trigger_file",
    "quote_all_identifiers",
    "random_page_cost",
    "recovery_end_command",
    "recovery_init_sync_method",
    "recovery_min_apply_delay",
    "recovery_prefetch",
    "recovery_target",
    "recovery_target_action",
    "recovery_target_inclusive",
    "recovery_target_lsn",
    "recovery_target_name",
    "recovery_target_time",
    "recovery_target_timeline",
    "recovery_target_xid",
    "recursive_worktable_factor",
    "remove_temp_files_after_crash",
    "restart_after_crash",
    "restore_command",
    "restrict_nonsystem_relation_kind",
    "row_security",
    "search_path",
    "segment_size",
    "seq_page_cost",
    "server_encoding",
    "server_version",
    "server_version_num",
    "session_preload_libraries",
    "session_replication_role",
    "shared_buffers",
    "shared_memory_size",
    "shared_memory_size_in_huge_pages",
    "shared_memory_type",
    "shared_preload_libraries",
    "ssl",
    "ssl_ca_file",
    "ssl_cert_file",
    "ssl_ciphers",
    "ssl_crl_dir",
    "ssl_crl_file",
    "ssl_dh_params_file",
    "ssl_ecdh_curve",
    "ssl_key_file",
    "ssl_library",
    "ssl_max_protocol_version",
    "ssl_min_protocol_version",
    "ssl_passphrase_command",
    "ssl_passphrase_command_supports_reload",
    "ssl_prefer_server_ciphers",
    "standard_conforming_strings",
    "statement_timeout",
    "stats_fetch_consistency",
    "superuser_reserved_connections",
    "synchronize_seqscans",
    "synchronous_commit",
    "synchronous_standby_names",
    "syslog_facility",
    "syslog_ident",
    "syslog_sequence_numbers",
    "syslog_split_messages",
    "tcp_keepalives_count",
    "tcp_keepalives_idle",
    "tcp_keepalives_interval",
    "tcp_user_timeout",
    "temp_buffers",
    "temp_file_limit",
    "temp_tablespaces",
    "timezone",
    "timezone_abbreviations",
    "trace_notify",
    "trace_recovery_messages",
    "trace_sort",
    "track_activities",
    "track_activity_query_size",
    "track_commit_timestamp",
    "track_counts",
    "track_functions",
    "track_io_timing",
    "track_wal_io_timing",
    "transaction_deferrable",
    "transaction_isolation",
    "transaction_read_only",
    "transform_null_equals",
    "unix_socket_directories",
    "unix_socket_group",
    "unix_socket_permissions",
    "update_process_title",
    "vacuum_cost_delay",
    "vacuum_cost_limit",
    "vacuum_cost_page_dirty",
    "vacuum_cost_page_hit",
    "vacuum_cost_page_miss",
    "vacuum_defer_cleanup_age",
    "vacuum_failsafe_age",
    "vacuum_freeze_min_age",
    "vacuum_freeze_table_age",
    "vacuum_multixact_failsafe_age",
    "vacuum_multixact_freeze_min_age",
    "vacuum_multixact_freeze_table_age",
    "wal_block_size",
    "wal_buffers",
    "wal_compression",
    "wal_consistency_checking",
    "wal_decode_buffer_size",
    "wal_init_zero",
    "wal_keep_size",
    "wal_level",
    "wal_log_hints",
    "wal_receiver_create_temp_slot",
    "wal_receiver_status_interval",
    "wal_receiver_timeout",
    "wal_recycle",
    "wal_retrieve_retry_interval",
    "wal_segment_size",
    "wal_sender_timeout",
    "wal_skip_threshold",
    "wal_sync_method",
    "wal_writer_delay",
    "wal_writer_flush_after",
    "work_mem",
    "xmlbinary",
    "xmloption",
    "zero_damaged_pages",
];

fn syntax_error(sql: &str) -> DbError {
    err(
        SqlState::SyntaxError,
        format!("syntax error in \"{}\"", sql.trim()),
    )
}

/// The statement's tokens, whitespace and a final semicolon dropped.
fn solid_tokens(sql: &str) -> Result<Vec<Token>, DbError> {
    let dialect = PostgreSqlDialect {};
    let mut tokens: Vec<Token> = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    if tokens.last() == Some(&Token::SemiColon) {
        tokens.pop();
    }
    Ok(tokens)
}

fn is_word(token: Option<&Token>, word: &str) -> bool {
    matches!(token, Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// The statements this module parses begin with one of these words.
const LEADING_WORDS: [&str; 10] = [
    "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SET", "RESET", "SHOW", "DISCARD",
];

/// A session or transaction statement; `None` for every other statement
/// (and for `ROLLBACK TO SAVEPOINT`, `COMMIT AND CHAIN` and the like,
/// which sqlparser takes).
pub(crate) fn parse_session_statement(sql: &str) -> Result<Option<SessionStatement>, DbError> {
    let head = sql.trim_start();
    let first_len = head
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(head.len());
    if !LEADING_WORDS
        .iter()
        .any(|w| w.eq_ignore_ascii_case(&head[..first_len]))
    {
        return Ok(None);
    }
    let tokens = solid_tokens(sql)?;
    let at = |i: usize| tokens.get(i);
    // `WORK` or `TRANSACTION` after BEGIN, COMMIT, END, ROLLBACK, ABORT.
    let noise = usize::from(is_word(at(1), "WORK") || is_word(at(1), "TRANSACTION"));
    let bare = tokens.len() == 1 + noise;
    let statement = if is_word(at(0), "BEGIN") {
        SessionStatement::Begin(parse_modes(&tokens[1 + noise..], sql)?)
    } else if is_word(at(0), "START") {
        if !is_word(at(1), "TRANSACTION") {
            return Err(syntax_error(sql));
        }
        SessionStatement::Begin(parse_modes(&tokens[2..], sql)?)
    } else if (is_word(at(0), "COMMIT") || is_word(at(0), "END")) && bare {
        SessionStatement::Commit
    } else if (is_word(at(0), "ROLLBACK") || is_word(at(0), "ABORT")) && bare {
        SessionStatement::Rollback
    } else if is_word(at(0), "SHOW") {
        let param = if is_word(at(1), "TIME") && is_word(at(2), "ZONE") && tokens.len() == 3 {
            Param::named("TimeZone")?
        } else if is_word(at(1), "TRANSACTION")
            && is_word(at(2), "ISOLATION")
            && is_word(at(3), "LEVEL")
            && tokens.len() == 4
        {
            Param::TxIsolation
        } else if is_word(at(1), "ALL") && tokens.len() == 2 {
            return Err(unsupported("SHOW ALL"));
        } else {
            let (name, end) = parameter_name(&tokens, 1, sql)?;
            if end != tokens.len() {
                return Err(syntax_error(sql));
            }
            Param::named(&name)?
        };
        SessionStatement::Show(param)
    } else if is_word(at(0), "RESET") {
        let param = if is_word(at(1), "ALL") && tokens.len() == 2 {
            None
        } else if is_word(at(1), "SESSION") && is_word(at(2), "AUTHORIZATION") && tokens.len() == 3
        {
            Some(Param::SessionAuthorization)
        } else if is_word(at(1), "TIME") && is_word(at(2), "ZONE") && tokens.len() == 3 {
            Some(Param::named("TimeZone")?)
        } else {
            let (name, end) = parameter_name(&tokens, 1, sql)?;
            if end != tokens.len() {
                return Err(syntax_error(sql));
            }
            Some(Param::named(&name)?)
        };
        if let Some(param) = &param {
            refuse_fixed(param)?;
        }
        SessionStatement::Set(Set {
            param,
            value: SetValue::Default,
            local: false,
        })
    } else if is_word(at(0), "SET") {
        return parse_set(&tokens, sql).map(Some);
    } else if is_word(at(0), "DISCARD") && is_word(at(1), "ALL") && tokens.len() == 2 {
        SessionStatement::DiscardAll
    } else {
        return Ok(None);
    };
    Ok(Some(statement))
}

/// A `RESET` (or `SET ... TO DEFAULT`) of a parameter that cannot change.
fn refuse_fixed(param: &Param) -> Result<(), DbError> {
    match param {
        Param::Plain(index) if matches!(PLAIN[*index].kind, Kind::Fixed) => Err(err(
            SqlState::Other("55P02"),
            format!("parameter \"{}\" cannot be changed", param.name()),
        )),
        _ => Ok(()),
    }
}

/// A parameter name at `tokens[start..]` (`name` or `prefix.name`, folded
/// to lower case unless quoted), and the index after it.
fn parameter_name(tokens: &[Token], start: usize, sql: &str) -> Result<(String, usize), DbError> {
    let mut name = String::new();
    let mut i = start;
    loop {
        let Some(Token::Word(word)) = tokens.get(i) else {
            return Err(syntax_error(sql));
        };
        if word.quote_style.is_some() {
            name.push_str(&word.value);
        } else {
            name.push_str(&word.value.to_ascii_lowercase());
        }
        i += 1;
        if tokens.get(i) == Some(&Token::Period) {
            name.push('.');
            i += 1;
        } else {
            return Ok((name, i));
        }
    }
}

/// `ALL | name [, ...] DEFERRED | IMMEDIATE` after `SET CONSTRAINTS`.
fn parse_set_constraints(tokens: &[Token], sql: &str) -> Result<SessionStatement, DbError> {
    let (mode, list) = tokens.split_last().ok_or_else(|| syntax_error(sql))?;
    let deferred = if is_word(Some(mode), "DEFERRED") {
        true
    } else if is_word(Some(mode), "IMMEDIATE") {
        false
    } else {
        return Err(syntax_error(sql));
    };
    let names = if let [all] = list {
        if is_word(Some(all), "ALL") {
            None
        } else {
            Some(constraint_names(list, sql)?)
        }
    } else {
        Some(constraint_names(list, sql)?)
    };
    Ok(SessionStatement::SetConstraints(
        super::deferred::SetConstraints { names, deferred },
    ))
}

/// `name [, ...]`, each optionally schema-qualified, folded as PostgreSQL
/// folds identifiers.
fn constraint_names(tokens: &[Token], sql: &str) -> Result<Vec<String>, DbError> {
    let mut names = Vec::new();
    let mut i = 0;
    loop {
        let (name, end) = parameter_name(tokens, i, sql)?;
        names.push(name);
        match tokens.get(end) {
            None => return Ok(names),
            Some(Token::Comma) => i = end + 1,
            Some(_) => return Err(syntax_error(sql)),
        }
    }
}

fn parse_set(tokens: &[Token], sql: &str) -> Result<SessionStatement, DbError> {
    let at = |i: usize| tokens.get(i);
    if is_word(at(1), "TRANSACTION") {
        return Ok(SessionStatement::SetTransaction(parse_modes(
            &tokens[2..],
            sql,
        )?));
    }
    if is_word(at(1), "CONSTRAINTS") {
        return parse_set_constraints(&tokens[2..], sql);
    }
    if is_word(at(1), "SESSION") && is_word(at(2), "CHARACTERISTICS") {
        if !(is_word(at(3), "AS") && is_word(at(4), "TRANSACTION")) {
            return Err(syntax_error(sql));
        }
        return Ok(SessionStatement::SetCharacteristics(parse_modes(
            &tokens[5..],
            sql,
        )?));
    }
    let (local, name_at) = if is_word(at(1), "LOCAL") {
        (true, 2)
    } else if is_word(at(1), "SESSION") {
        (false, 2)
    } else {
        (false, 1)
    };
    let (param, values_at) = if is_word(at(name_at), "TIME") && is_word(at(name_at + 1), "ZONE") {
        // `SET TIME ZONE value` has no `=` or `TO`.
        (Param::named("TimeZone")?, name_at + 2)
    } else if is_word(at(name_at), "ROLE")
        && !(matches!(at(name_at + 1), Some(Token::Eq)) || is_word(at(name_at + 1), "TO"))
    {
        // `SET ROLE name`, without `=` or `TO` either.
        (Param::Role, name_at + 1)
    } else if is_word(at(name_at), "SESSION") && is_word(at(name_at + 1), "AUTHORIZATION") {
        (Param::SessionAuthorization, name_at + 2)
    } else if name_at == 2 && is_word(at(1), "SESSION") && is_word(at(2), "AUTHORIZATION") {
        // `SET SESSION AUTHORIZATION`: SESSION was not a scope.
        (Param::SessionAuthorization, 3)
    } else {
        let (name, end) = parameter_name(tokens, name_at, sql)?;
        let param = Param::named(&name)?;
        if !(matches!(at(end), Some(Token::Eq)) || is_word(at(end), "TO")) {
            return Err(syntax_error(sql));
        }
        (param, end + 1)
    };
    let values: Vec<&[Token]> = tokens[values_at..].split(|t| *t == Token::Comma).collect();
    if let [[only]] = values.as_slice() {
        if is_word(Some(only), "DEFAULT")
            || is_word(Some(only), "LOCAL") && param.name() == "TimeZone"
        {
            refuse_fixed(&param)?;
            return Ok(SessionStatement::Set(Set {
                param: Some(param),
                value: SetValue::Default,
                local,
            }));
        }
    }
    let mut items = Vec::with_capacity(values.len());
    for value in values {
        items.push(match value {
            [Token::SingleQuotedString(s)] => s.clone(),
            [Token::Number(n, _)] => n.clone(),
            [Token::Minus, Token::Number(n, _)] => format!("-{n}"),
            // An identifier is folded unless quoted (and then shown quoted
            // where it names a schema, as search_path shows `"$user"`).
            [Token::Word(w)] if w.quote_style.is_some() => format!("\"{}\"", w.value),
            [Token::Word(w)] => w.value.to_ascii_lowercase(),
            _ => return Err(syntax_error(sql)),
        });
    }
    let value = param.value(&items)?;
    Ok(SessionStatement::Set(Set {
        param: Some(param),
        value,
        local,
    }))
}

/// Transaction modes, separated by commas or spaces.
fn parse_modes(tokens: &[Token], sql: &str) -> Result<TxModes, DbError> {
    let mut modes = TxModes::default();
    let word = |i: usize, w: &str| is_word(tokens.get(i), w);
    let mut i = 0;
    while i < tokens.len() {
        if i > 0 && tokens[i] == Token::Comma {
            i += 1;
            continue;
        }
        if word(i, "ISOLATION") && word(i + 1, "LEVEL") {
            let (level, words) = if word(i + 2, "SERIALIZABLE") {
                (Isolation::Serializable, 1)
            } else if word(i + 2, "REPEATABLE") && word(i + 3, "READ") {
                (Isolation::RepeatableRead, 2)
            } else if word(i + 2, "READ")
                && (word(i + 3, "COMMITTED") || word(i + 3, "UNCOMMITTED"))
            {
                // PostgreSQL runs READ UNCOMMITTED as READ COMMITTED.
                (Isolation::ReadCommitted, 2)
            } else {
                return Err(syntax_error(sql));
            };
            modes.isolation = Some(level);
            i += 2 + words;
        } else if word(i, "READ") && word(i + 1, "ONLY") {
            modes.read_only = Some(true);
            i += 2;
        } else if word(i, "READ") && word(i + 1, "WRITE") {
            modes.read_only = Some(false);
            i += 2;
        } else if word(i, "DEFERRABLE") {
            modes.deferrable = Some(true);
            i += 1;
        } else if word(i, "NOT") && word(i + 1, "DEFERRABLE") {
            modes.deferrable = Some(false);
            i += 2;
        } else {
            return Err(syntax_error(sql));
        }
    }
    Ok(modes)
}

/// A time setting's value in ms, as PostgreSQL's `parse_int` reads it: a
/// number (ms without a unit), optionally followed by a unit (`us`, `ms`,
/// `s`, `min`, `h`, `d`), rounded to whole ms; 0 means no timeout
/// (`deadlock_timeout` must be at least 1 ms).
fn duration_ms(param: TimeParam, text: &str) -> Result<u64, DbError> {
    let param_name = Param::Time(param);
    let name = param_name.name();
    let invalid = |hint: &str| {
        err(
            SqlState::Other("22023"),
            format!("invalid value for parameter \"{name}\": \"{text}\"{hint}"),
        )
    };
    let trimmed = text.trim();
    // The longest prefix that reads as a number, as strtod would take it.
    let number_end = (1..=trimmed.len())
        .rev()
        .filter(|&end| trimmed.is_char_boundary(end))
        .find(|&end| {
            let prefix = &trimmed[..end];
            prefix.parse::<f64>().is_ok()
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        })
        .ok_or_else(|| invalid(""))?;
    let number: f64 = trimmed[..number_end].parse().map_err(|_| invalid(""))?;
    let per_unit_ms = match trimmed[number_end..].trim() {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1_000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return Err(invalid("")),
    };
    let ms = (number * per_unit_ms).round_ties_even();
    if !(f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&ms) {
        return Err(invalid(" (the value exceeds the integer range)"));
    }
    let min_ms = if param == TimeParam::Deadlock {
        1.0
    } else {
        0.0
    };
    if ms < min_ms {
        return Err(err(
            SqlState::Other("22023"),
            format!(
                "{ms} ms is outside the valid range for parameter \"{name}\" ({min_ms} .. 2147483647)"
            ),
        ));
    }
    Ok(ms as u64)
}

/// Whether `sql` may call `current_setting` (any case).
pub(crate) fn mentions_current_setting(sql: &str) -> bool {
    const NAME: &[u8] = b"current_setting";
    // Every statement passes here: compare only where the name's
    // underscore is, a byte rare in SQL text.
    let bytes = sql.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        b == b'_'
            && i >= 7
            && bytes
                .get(i - 7..i - 7 + NAME.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(NAME))
    })
}

/// `sql` with each `current_setting('name' [, missing_ok])` replaced by
/// the value `lookup` gives (a text literal, or NULL for a missing
/// parameter when `missing_ok` is true), as PostgreSQL evaluates the
/// stable function once per statement. A name that is not a literal is
/// rejected (0A000).
pub(crate) fn substitute_current_settings(
    sql: &str,
    lookup: impl Fn(&Param) -> Option<String>,
) -> Result<String, DbError> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?;
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    // Indexes of the non-whitespace tokens from `i` on.
    let solid_from = |from: usize| {
        (from..tokens.len())
            .filter(|&j| !matches!(tokens[j], Token::Whitespace(_)))
            .take(6)
            .collect::<Vec<usize>>()
    };
    while i < tokens.len() {
        if !is_word(Some(&tokens[i]), "current_setting") {
            out.push_str(&tokens[i].to_string());
            i += 1;
            continue;
        }
        let next = solid_from(i + 1);
        let token = |k: usize| next.get(k).map(|&j| &tokens[j]);
        let (name, missing_ok, end) = match (token(0), token(1), token(2), token(3), token(4)) {
            (
                Some(Token::LParen),
                Some(Token::SingleQuotedString(name)),
                Some(Token::RParen),
                ..,
            ) => (name.clone(), false, next[2]),
            (
                Some(Token::LParen),
                Some(Token::SingleQuotedString(name)),
                Some(Token::Comma),
                Some(Token::Word(flag)),
                Some(Token::RParen),
            ) if flag.quote_style.is_none() => {
                let missing_ok = match flag.value.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(unsupported("current_setting with a computed missing_ok")),
                };
                (name.clone(), missing_ok, next[4])
            }
            _ => {
                return Err(unsupported(
                    "current_setting of a name that is not a literal",
                ))
            }
        };
        let value = match Param::named(&name) {
            Ok(param) => lookup(&param),
            Err(e) if e.code.code() == "42704" => None,
            Err(e) => return Err(e),
        };
        match value {
            Some(text) => {
                out.push('\'');
                out.push_str(&text.replace('\'', "''"));
                out.push('\'');
            }
            None if missing_ok => out.push_str("NULL"),
            None => {
                return Err(err(
                    SqlState::Other("42704"),
                    format!(
                        "unrecognized configuration parameter \"{}\"",
                        name.to_ascii_lowercase()
                    ),
                ))
            }
        }
        i = end + 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> Result<u64, String> {
        duration_ms(TimeParam::Lock, text).map_err(|e| e.code.code().to_string())
    }

    fn statement(sql: &str) -> Result<Option<SessionStatement>, String> {
        parse_session_statement(sql).map_err(|e| e.code.code().to_string())
    }

    fn set(sql: &str) -> Result<(Option<Param>, SetValue, bool), String> {
        match statement(sql)? {
            Some(SessionStatement::Set(set)) => Ok((set.param, set.value, set.local)),
            other => panic!("{sql} parsed as {other:?}"),
        }
    }

    #[test]
    fn durations_read_as_postgres_reads_them() {
        // Checked with SHOW on PostgreSQL 15.
        assert_eq!(ms("100"), Ok(100));
        assert_eq!(ms("1.5s"), Ok(1500));
        assert_eq!(ms("1 s"), Ok(1000));
        assert_eq!(ms("1min"), Ok(60_000));
        assert_eq!(ms("100us"), Ok(0));
        assert_eq!(ms("0.4ms"), Ok(0));
        assert_eq!(ms("1e3"), Ok(1000));
        assert_eq!(ms("2h"), Ok(7_200_000));
        assert_eq!(ms("abc"), Err("22023".into()));
        assert_eq!(ms("true"), Err("22023".into()));
        assert_eq!(ms("1 sec"), Err("22023".into()));
        assert_eq!(ms("-1"), Err("22023".into()));
        assert_eq!(ms("3000000000"), Err("22023".into()));
        // deadlock_timeout is at least 1 ms.
        assert!(duration_ms(TimeParam::Deadlock, "0").is_err());
        assert_eq!(duration_ms(TimeParam::Deadlock, "100s").ok(), Some(100_000));
    }

    #[test]
    fn values_show_as_postgres_shows_them() {
        // SHOW on PostgreSQL 15 after SET lock_timeout = 60000, 1500,
        // '90min'; deadlock_timeout's default.
        assert_eq!(show_ms(60_000), "1min");
        assert_eq!(show_ms(1_500), "1500ms");
        assert_eq!(show_ms(5_400_000), "90min");
        assert_eq!(show_ms(1_000), "1s");
        assert_eq!(show_ms(0), "0");
        assert_eq!(show_kb(8 * 1024), "8MB");
        assert_eq!(show_kb(512), "512kB");
        let shown = |sql: &str| {
            let (param, value, _) = set(sql).unwrap();
            let mut settings = Settings::default();
            let param = param.unwrap();
            settings.apply(&param, &value);
            settings.show(&param, 1000).unwrap()
        };
        assert_eq!(shown("SET parallel_tuple_cost = 0.5e1"), "5");
        assert_eq!(shown("SET max_parallel_workers_per_gather = 3.5"), "4");
        assert_eq!(shown("SET min_parallel_table_scan_size = 0"), "0");
        assert_eq!(shown("SET enable_seqscan = 'of'"), "off");
        assert_eq!(shown("set enable_seqscan=off"), "off");
        assert_eq!(shown("SET enable_nestloop TO 0"), "off");
        assert_eq!(shown("SET client_min_messages = WARNING"), "warning");
        assert_eq!(shown("SET datestyle = 'iso'"), "ISO, MDY");
        assert_eq!(
            shown("SET search_path = \"$user\", public"),
            "\"$user\", public"
        );
        assert_eq!(shown("SET application_name = 'x y'"), "x y");
        assert_eq!(shown("SET TIME ZONE 'UTC'"), "UTC");
        assert_eq!(shown("SET deadlock_timeout = 100"), "100ms");
        assert_eq!(
            shown("SET default_transaction_isolation TO serializable"),
            "serializable"
        );
        assert_eq!(shown("SET myapp.user_id = 42"), "42");
    }

    #[test]
    fn set_statements_parse() {
        assert_eq!(
            set("SET LOCAL lock_timeout = '1ms'"),
            Ok((Some(Param::Time(TimeParam::Lock)), SetValue::Ms(1), true))
        );
        assert_eq!(
            set("SET SESSION lock_timeout TO DEFAULT"),
            Ok((Some(Param::Time(TimeParam::Lock)), SetValue::Default, false))
        );
        assert_eq!(set("RESET ALL"), Ok((None, SetValue::Default, false)));
        assert_eq!(
            set("SET default_transaction_isolation = 'repeatable read'"),
            Ok((
                Some(Param::DefaultIsolation),
                SetValue::Isolation(Isolation::RepeatableRead),
                false
            ))
        );
        // As PostgreSQL 15 answers each.
        assert_eq!(set("SET lock_timeout = 1, 2"), Err("22023".into()));
        assert_eq!(set("SET lock_timeout"), Err("42601".into()));
        assert_eq!(set("SET foo = 1"), Err("42704".into()));
        assert_eq!(set("SET server_version = '1'"), Err("55P02".into()));
        assert_eq!(set("SET enable_seqscan = 2"), Err("22023".into()));
        assert_eq!(
            set("SET default_transaction_isolation = 'foo'"),
            Err("22023".into())
        );
        assert_eq!(set("SET deadlock_timeout = 0"), Err("22023".into()));
        // Known to PostgreSQL, not modelled here.
        assert_eq!(
            set("SET idle_in_transaction_session_timeout = 5"),
            Err("0A000".into())
        );
        assert_eq!(set("SET TimeZone = 'Europe/Paris'"), Err("0A000".into()));
        assert_eq!(set("SET search_path = booking"), Err("0A000".into()));
        assert_eq!(statement("SELECT 1"), Ok(None));
        assert_eq!(statement("SETTLE"), Ok(None));
    }

    #[test]
    fn transaction_statements_parse() {
        let modes = |isolation, read_only, deferrable| TxModes {
            isolation,
            read_only,
            deferrable,
        };
        assert_eq!(
            statement("BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE"),
            Ok(Some(SessionStatement::Begin(modes(
                Some(Isolation::Serializable),
                Some(true),
                Some(true)
            ))))
        );
        assert_eq!(
            statement(
                "start transaction isolation level repeatable read, read write, not deferrable;"
            ),
            Ok(Some(SessionStatement::Begin(modes(
                Some(Isolation::RepeatableRead),
                Some(false),
                Some(false)
            ))))
        );
        assert_eq!(
            statement("BEGIN WORK"),
            Ok(Some(SessionStatement::Begin(TxModes::default())))
        );
        assert_eq!(
            statement("BEGIN TRANSACTION ISOLATION LEVEL READ UNCOMMITTED"),
            Ok(Some(SessionStatement::Begin(modes(
                Some(Isolation::ReadCommitted),
                None,
                None
            ))))
        );
        for sql in ["COMMIT", "commit work", "END", "END TRANSACTION"] {
            assert_eq!(statement(sql), Ok(Some(SessionStatement::Commit)), "{sql}");
        }
        for sql in ["ROLLBACK", "ABORT", "abort work;", "ROLLBACK TRANSACTION"] {
            assert_eq!(
                statement(sql),
                Ok(Some(SessionStatement::Rollback)),
                "{sql}"
            );
        }
        // Left to sqlparser.
        assert_eq!(statement("ROLLBACK TO SAVEPOINT a"), Ok(None));
        assert_eq!(
            statement("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
            Ok(Some(SessionStatement::SetTransaction(modes(
                Some(Isolation::Serializable),
                None,
                None
            ))))
        );
        assert_eq!(
            statement("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"),
            Ok(Some(SessionStatement::SetCharacteristics(modes(
                None,
                Some(true),
                None
            ))))
        );
        assert_eq!(
            statement("SHOW TRANSACTION ISOLATION LEVEL"),
            Ok(Some(SessionStatement::Show(Param::TxIsolation)))
        );
        assert_eq!(statement("SHOW foo"), Err("42704".into()));
        assert_eq!(
            statement("BEGIN ISOLATION LEVEL SNAPSHOT"),
            Err("42601".into())
        );
        assert_eq!(statement("START"), Err("42601".into()));
    }

    #[test]
    fn booleans_read_as_postgres_reads_them() {
        for (text, want) in [
            ("on", Some(true)),
            ("of", Some(false)),
            ("o", None),
            ("t", Some(true)),
            ("FALSE", Some(false)),
            ("1", Some(true)),
            ("0", Some(false)),
            ("2", None),
            ("yes", Some(true)),
            ("n", Some(false)),
        ] {
            assert_eq!(parse_bool(text), want, "{text}");
        }
    }

    #[test]
    fn current_setting_calls_become_literals() {
        let lookup = |param: &Param| match param {
            Param::Time(TimeParam::Deadlock) => Some("1s".to_string()),
            _ => None,
        };
        assert_eq!(
            substitute_current_settings(
                "SELECT current_setting('deadlock_timeout'), 'current_setting(1)'",
                lookup
            )
            .unwrap(),
            "SELECT '1s', 'current_setting(1)'"
        );
        assert_eq!(
            substitute_current_settings("SELECT current_setting('my.x', true)", lookup).unwrap(),
            "SELECT NULL"
        );
        let code = |sql: &str| {
            substitute_current_settings(sql, lookup)
                .unwrap_err()
                .code
                .code()
                .to_string()
        };
        assert_eq!(code("SELECT current_setting('nope')"), "42704");
        assert_eq!(code("SELECT current_setting($1)"), "0A000");
        assert!(mentions_current_setting("select CURRENT_SETTING('x')"));
        assert!(!mentions_current_setting("select 1"));
    }

    #[test]
    fn the_postgres_parameter_list_is_sorted() {
        assert!(POSTGRES_PARAMETERS.windows(2).all(|w| w[0] < w[1]));
    }
}
