//! isolationtester's spec files: the lexer and grammar of PostgreSQL's
//! `specscanner.l` and `specparse.y` (PostgreSQL 14), and the checks
//! `isolationtester.c` makes before it runs anything.

use std::fmt;

/// A parsed spec file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The file name without `.spec`.
    pub name: String,
    /// The global `setup` blocks, in order (each sent as one query).
    pub setup: Vec<String>,
    /// The global `teardown` block.
    pub teardown: Option<String>,
    /// The sessions, in file order.
    pub sessions: Vec<SessionSpec>,
    /// The `permutation` lines; empty means every interleaving.
    pub permutations: Vec<Vec<PermStep>>,
}

/// One `session` of a spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSpec {
    /// Its name.
    pub name: String,
    /// Its `setup` block, run on its connection before the steps.
    pub setup: Option<String>,
    /// Its `teardown` block.
    pub teardown: Option<String>,
    /// Its steps.
    pub steps: Vec<StepSpec>,
}

/// One `step NAME { SQL }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepSpec {
    /// Its name (unique in the spec).
    pub name: String,
    /// Its SQL, as written between the braces (several statements allowed).
    pub sql: String,
}

/// A step named in a `permutation` line, with its markers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PermStep {
    /// The step's name.
    pub name: String,
    /// Its `(...)` markers.
    pub blockers: Vec<Blocker>,
}

/// A `(...)` marker of a permutation step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blocker {
    /// `(*)`: reported waiting at first, whatever the server does.
    Once,
    /// `(other)`: reported waiting while step `other` is still active.
    Step(String),
    /// `(other notices N)`: reported waiting until `other`'s session has
    /// sent N more notices.
    Notices(String, u32),
}

/// A spec that does not parse or does not hold together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    /// The file.
    pub file: String,
    /// The line (from 1).
    pub line: usize,
    /// What was wrong or expected.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for SpecError {}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Word(String),
    Quoted(String),
    Int(u32),
    Sql(String),
    Punct(char),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("\"{w}\""),
            Tok::Quoted(q) => format!("quoted name \"{q}\""),
            Tok::Int(n) => format!("number {n}"),
            Tok::Sql(_) => "an SQL block".into(),
            Tok::Punct(c) => format!("\"{c}\""),
        }
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self, Tok::Word(w) if w == kw)
    }
}

const KEYWORDS: [&str; 6] = [
    "permutation",
    "session",
    "setup",
    "step",
    "teardown",
    "notices",
];

/// A lexing error at a line, before the file name is known to it.
type LexError = (usize, String);

/// The quoted identifier opening at `i` (`""` inside for a quote) and
/// where it ends.
fn lex_quoted(chars: &[char], mut i: usize, line: usize) -> Result<(String, usize), LexError> {
    let mut name = String::new();
    i += 1;
    loop {
        match chars.get(i) {
            None => return Err((line, "unterminated quoted identifier".into())),
            Some('\n') => return Err((line, "unexpected newline in quoted identifier".into())),
            Some('"') if chars.get(i + 1) == Some(&'"') => {
                name.push('"');
                i += 2;
            }
            Some('"') => return Ok((name, i + 1)),
            Some(&other) => {
                name.push(other);
                i += 1;
            }
        }
    }
}

/// The SQL block opening at `i` and where it ends, counting its newlines
/// into `line`. As specscanner.l: spaces (not newlines) after the brace
/// and before the closing one are dropped; the block ends at the first
/// `}`.
fn lex_sql_block(
    chars: &[char],
    mut i: usize,
    line: &mut usize,
) -> Result<(String, usize), LexError> {
    let start = *line;
    i += 1;
    while matches!(chars.get(i), Some(' ' | '\t' | '\r' | '\x0c')) {
        i += 1;
    }
    let mut sql = String::new();
    loop {
        match chars.get(i) {
            None => return Err((start, "unterminated SQL block".into())),
            Some('}') => break,
            Some(&other) => {
                if other == '\n' {
                    *line += 1;
                }
                sql.push(other);
                i += 1;
            }
        }
    }
    let kept = sql.trim_end_matches([' ', '\t', '\r', '\x0c']).len();
    sql.truncate(kept);
    Ok((sql, i + 1))
}

/// The run of characters from `i` that `keep` accepts, and where it ends.
fn lex_run(chars: &[char], mut i: usize, keep: impl Fn(char) -> bool) -> (String, usize) {
    let mut run = String::new();
    while let Some(&c) = chars.get(i).filter(|c| keep(**c)) {
        run.push(c);
        i += 1;
    }
    (run, i)
}

fn lex(file: &str, text: &str) -> Result<Vec<(Tok, usize)>, SpecError> {
    let err = |(line, message): LexError| SpecError {
        file: file.to_string(),
        line,
        message,
    };
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = line;
        let tok = match c {
            '\n' => {
                line += 1;
                i += 1;
                continue;
            }
            ' ' | '\t' | '\r' | '\x0c' => {
                i += 1;
                continue;
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' && chars[i] != '\r' {
                    i += 1;
                }
                continue;
            }
            '"' => {
                let (name, end) = lex_quoted(&chars, i, line).map_err(err)?;
                i = end;
                Tok::Quoted(name)
            }
            '{' => {
                let (sql, end) = lex_sql_block(&chars, i, &mut line).map_err(err)?;
                i = end;
                Tok::Sql(sql)
            }
            '(' | ')' | ',' | '*' => {
                i += 1;
                Tok::Punct(c)
            }
            c if c.is_ascii_digit() => {
                let (n, end) = lex_run(&chars, i, |d| d.is_ascii_digit());
                i = end;
                let value = n
                    .parse()
                    .map_err(|_| err((line, format!("number {n} too large"))))?;
                Tok::Int(value)
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let (w, end) = lex_run(&chars, i, |d| d.is_ascii_alphanumeric() || d == '_');
                i = end;
                Tok::Word(w)
            }
            other => {
                return Err(err((line, format!("unexpected character \"{other}\""))));
            }
        };
        out.push((tok, at));
    }
    Ok(out)
}

struct Parser<'a> {
    file: &'a str,
    toks: Vec<(Tok, usize)>,
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(t, _)| t)
    }

    fn line(&self) -> usize {
        self.toks
            .get(self.at)
            .or(self.toks.last())
            .map_or(1, |(_, l)| *l)
    }

    fn fail<T>(&self, expected: &str) -> Result<T, SpecError> {
        let found = match self.peek() {
            Some(t) => t.describe(),
            None => "the end of the file".into(),
        };
        Err(SpecError {
            file: self.file.to_string(),
            line: self.line(),
            message: format!("syntax error: expected {expected}, found {found}"),
        })
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        if self.peek().is_some_and(|t| t.keyword(kw)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn sql(&mut self, what: &str) -> Result<String, SpecError> {
        match self.peek() {
            Some(Tok::Sql(s)) => {
                let s = s.clone();
                self.at += 1;
                Ok(s)
            }
            _ => self.fail(&format!("an SQL block {{ ... }} after {what}")),
        }
    }

    fn identifier(&mut self, what: &str) -> Result<String, SpecError> {
        match self.peek() {
            Some(Tok::Quoted(s)) => {
                let s = s.clone();
                self.at += 1;
                Ok(s)
            }
            Some(Tok::Word(w)) if !KEYWORDS.contains(&w.as_str()) => {
                let w = w.clone();
                self.at += 1;
                Ok(w)
            }
            _ => self.fail(what),
        }
    }

    fn spec(&mut self, name: &str) -> Result<Spec, SpecError> {
        let mut spec = Spec {
            name: name.to_string(),
            setup: Vec::new(),
            teardown: None,
            sessions: Vec::new(),
            permutations: Vec::new(),
        };
        while self.eat_keyword("setup") {
            spec.setup.push(self.sql("setup")?);
        }
        if self.eat_keyword("teardown") {
            spec.teardown = Some(self.sql("teardown")?);
        }
        while self.eat_keyword("session") {
            let name = self.identifier("a session name")?;
            let setup = if self.eat_keyword("setup") {
                Some(self.sql("setup")?)
            } else {
                None
            };
            let mut steps = Vec::new();
            while self.eat_keyword("step") {
                let name = self.identifier("a step name")?;
                let sql = self.sql("the step name")?;
                steps.push(StepSpec { name, sql });
            }
            if steps.is_empty() {
                return self.fail("\"step\" (a session needs at least one)");
            }
            let teardown = if self.eat_keyword("teardown") {
                Some(self.sql("teardown")?)
            } else {
                None
            };
            spec.sessions.push(SessionSpec {
                name,
                setup,
                teardown,
                steps,
            });
        }
        if spec.sessions.is_empty() {
            return self.fail("\"setup\", \"teardown\" or \"session\"");
        }
        while self.eat_keyword("permutation") {
            let mut steps = Vec::new();
            while matches!(self.peek(), Some(Tok::Quoted(_)))
                || matches!(self.peek(), Some(Tok::Word(w)) if !KEYWORDS.contains(&w.as_str()))
            {
                let name = self.identifier("a step name")?;
                let mut blockers = Vec::new();
                if self.peek() == Some(&Tok::Punct('(')) {
                    self.at += 1;
                    loop {
                        if self.peek() == Some(&Tok::Punct('*')) {
                            self.at += 1;
                            blockers.push(Blocker::Once);
                        } else {
                            let other = self.identifier("a step name, or * in a marker")?;
                            if self.eat_keyword("notices") {
                                match self.peek() {
                                    Some(Tok::Int(n)) => {
                                        let n = *n;
                                        self.at += 1;
                                        blockers.push(Blocker::Notices(other, n));
                                    }
                                    _ => return self.fail("a number after \"notices\""),
                                }
                            } else {
                                blockers.push(Blocker::Step(other));
                            }
                        }
                        match self.peek() {
                            Some(Tok::Punct(',')) => self.at += 1,
                            Some(Tok::Punct(')')) => {
                                self.at += 1;
                                break;
                            }
                            _ => return self.fail("\",\" or \")\" in a marker"),
                        }
                    }
                }
                steps.push(PermStep { name, blockers });
            }
            if steps.is_empty() {
                return self.fail("a step name after \"permutation\"");
            }
            spec.permutations.push(steps);
        }
        if self.peek().is_some() {
            return self.fail("\"session\" or \"permutation\"");
        }
        Ok(spec)
    }
}

/// A step of a permutation resolved to its session and step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    /// The session (index into [`Spec::sessions`]).
    pub session: usize,
    /// The step (index into that session's steps).
    pub step: usize,
    /// The markers, blocker steps resolved to positions in the
    /// permutation.
    pub blockers: Vec<Resolved>,
}

/// A marker with its step resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// `(*)`.
    Once,
    /// Reported waiting while the step at this session and step index is
    /// active.
    Step(usize, usize),
    /// `(other notices N)`: reported waiting until the session has sent N
    /// notices (engines here send none, so it waits to the end).
    Notices(usize, u32),
}

impl Spec {
    /// Parses `text`, the contents of `file`.
    pub fn parse(file: &str, text: &str) -> Result<Spec, SpecError> {
        let name = std::path::Path::new(file)
            .file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(".spec").to_string())
            .unwrap_or_else(|| file.to_string());
        let toks = lex(file, text)?;
        let mut parser = Parser { file, toks, at: 0 };
        let spec = parser.spec(&name)?;
        spec.check(file, text)?;
        Ok(spec)
    }

    fn find(&self, name: &str) -> Option<(usize, usize)> {
        self.sessions.iter().enumerate().find_map(|(s, session)| {
            let i = session.steps.iter().position(|st| st.name == name)?;
            Some((s, i))
        })
    }

    /// The checks isolationtester makes: unique step names, permutation
    /// steps and markers naming steps of the permutation, no marker on a
    /// step of the same session.
    fn check(&self, file: &str, text: &str) -> Result<(), SpecError> {
        let line_of = |needle: &str| {
            text.find(needle)
                .map_or(1, |at| text[..at].matches('\n').count() + 1)
        };
        let err = |line, message: String| SpecError {
            file: file.to_string(),
            line,
            message,
        };
        let mut seen: Vec<&str> = Vec::new();
        for session in &self.sessions {
            for step in &session.steps {
                if seen.contains(&step.name.as_str()) {
                    return Err(err(
                        line_of(&format!("step {}", step.name)),
                        format!("duplicate step name \"{}\"", step.name),
                    ));
                }
                seen.push(&step.name);
            }
        }
        for permutation in &self.permutations {
            for p in permutation {
                if self.find(&p.name).is_none() {
                    return Err(err(
                        line_of("permutation"),
                        format!("undefined step \"{}\" specified in permutation", p.name),
                    ));
                }
                for b in &p.blockers {
                    let other = match b {
                        Blocker::Once => continue,
                        Blocker::Step(o) | Blocker::Notices(o, _) => o,
                    };
                    if !permutation.iter().any(|q| &q.name == other) {
                        return Err(err(
                            line_of("permutation"),
                            format!(
                                "undefined blocking step \"{other}\" referenced in permutation step \"{}\"",
                                p.name
                            ),
                        ));
                    }
                    let (own, _) = self.find(&p.name).expect("checked above");
                    let (theirs, _) = self.find(other).expect("in the permutation");
                    if own == theirs && matches!(b, Blocker::Step(_)) {
                        return Err(err(
                            line_of("permutation"),
                            format!(
                                "permutation step \"{}\" cannot block on its own session",
                                p.name
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Every permutation isolationtester runs: the listed ones, or, when
    /// none is listed, every interleaving of the sessions' steps (each
    /// session's steps in order), in isolationtester's order.
    pub fn plan(&self) -> Vec<Vec<Planned>> {
        if self.permutations.is_empty() {
            let mut out = Vec::new();
            let mut piles = vec![0; self.sessions.len()];
            let mut current = Vec::new();
            self.interleave(&mut piles, &mut current, &mut out);
            return out;
        }
        self.permutations
            .iter()
            .map(|permutation| {
                permutation
                    .iter()
                    .map(|p| {
                        let (session, step) = self.find(&p.name).expect("checked at parse");
                        let blockers = p
                            .blockers
                            .iter()
                            .map(|b| match b {
                                Blocker::Once => Resolved::Once,
                                Blocker::Step(o) => {
                                    let (s, i) = self.find(o).expect("checked at parse");
                                    Resolved::Step(s, i)
                                }
                                Blocker::Notices(o, n) => {
                                    let (s, _) = self.find(o).expect("checked at parse");
                                    Resolved::Notices(s, *n)
                                }
                            })
                            .collect();
                        Planned {
                            session,
                            step,
                            blockers,
                        }
                    })
                    .collect()
            })
            .collect()
    }

    fn interleave(
        &self,
        piles: &mut [usize],
        current: &mut Vec<Planned>,
        out: &mut Vec<Vec<Planned>>,
    ) {
        let mut found = false;
        for s in 0..self.sessions.len() {
            if piles[s] < self.sessions[s].steps.len() {
                current.push(Planned {
                    session: s,
                    step: piles[s],
                    blockers: Vec::new(),
                });
                piles[s] += 1;
                self.interleave(piles, current, out);
                piles[s] -= 1;
                current.pop();
                found = true;
            }
        }
        if !found {
            out.push(current.clone());
        }
    }

    /// How many permutations [`Spec::plan`] gives, without building them
    /// (a multinomial coefficient when none is listed).
    pub fn permutation_count(&self) -> u128 {
        if !self.permutations.is_empty() {
            return self.permutations.len() as u128;
        }
        let mut count: u128 = 1;
        let mut placed: u128 = 0;
        for session in &self.sessions {
            for k in 1..=session.steps.len() as u128 {
                placed += 1;
                count = count.saturating_mul(placed) / k;
            }
        }
        count
    }

    /// The step at a session and index.
    pub fn step(&self, session: usize, step: usize) -> &StepSpec {
        &self.sessions[session].steps[step]
    }
}
