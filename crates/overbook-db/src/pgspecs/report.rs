//! What `overbook pgspecs` found: per spec, the permutations by class,
//! the store's `.out` matches, a few disagreements; as text, JSON or the
//! README's Markdown.

use crate::conform::{Class, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;

/// A disagreement, with both engines' step outcomes.
#[derive(Clone, Debug, Serialize)]
pub struct Example {
    /// The spec.
    pub spec: String,
    /// The permutation's steps.
    pub permutation: String,
    /// The class and the first difference.
    pub verdict: Verdict,
    /// Per step: `name: outcome` on the store.
    pub store: Vec<String>,
    /// Per step on PostgreSQL.
    pub postgres: Vec<String>,
}

/// What became of one spec.
#[derive(Clone, Debug, Serialize)]
pub struct SpecReport {
    /// The spec's name.
    pub name: String,
    /// Its permutations (all of them, also those not run).
    pub permutations: usize,
    /// The first statement the store rejected (0A000, or not parsed), as
    /// the store words it: the spec was not run on PostgreSQL.
    pub rejected: Option<String>,
    /// That statement's full message.
    pub rejected_statement: Option<String>,
    /// Permutations per class, when compared with PostgreSQL.
    pub classes: BTreeMap<String, usize>,
    /// Permutations of the store's run whose text matches one of the
    /// expected `.out` files, and how many were compared.
    pub out_matching: usize,
    /// See `out_matching`. For a transcript (a spec whose `.out` holds
    /// the lines of `crate::sql::scripts`), the one comparison is the
    /// store's transcript with the recorded one.
    pub out_compared: usize,
    /// For a transcript compared with PostgreSQL: whether the server
    /// gave the recorded transcript again.
    pub transcript_on_postgres: Option<bool>,
    /// Up to a few disagreements.
    pub examples: Vec<Example>,
    /// Permutations cut short or not compared, and why.
    pub notes: Vec<String>,
}

impl SpecReport {
    /// The report of spec `name` of `permutations` permutations, before
    /// anything ran.
    pub fn new(name: &str, permutations: usize) -> SpecReport {
        SpecReport {
            name: name.to_string(),
            permutations,
            rejected: None,
            rejected_statement: None,
            classes: BTreeMap::new(),
            out_matching: 0,
            out_compared: 0,
            transcript_on_postgres: None,
            examples: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// The whole run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Per spec, by name.
    pub specs: Vec<SpecReport>,
    /// Whether PostgreSQL was compared with.
    pub compared: bool,
}

/// Examples kept per spec.
pub(super) const EXAMPLES_PER_SPEC: usize = 3;

impl Report {
    /// Specs run with every statement accepted.
    pub fn accepted(&self) -> usize {
        self.specs.iter().filter(|s| s.rejected.is_none()).count()
    }

    /// Permutations per class over every spec.
    pub fn classes(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for s in &self.specs {
            for (class, n) in &s.classes {
                *out.entry(class.clone()).or_default() += n;
            }
        }
        out
    }

    /// Permutations compared with PostgreSQL.
    pub fn compared_permutations(&self) -> usize {
        self.classes().values().sum()
    }

    /// Permutations in a class.
    pub fn count(&self, class: Class) -> usize {
        self.classes().get(class.name()).copied().unwrap_or(0)
    }

    /// The rejected specs grouped by reason, most common first (then by
    /// reason).
    pub fn rejected_by_reason(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in &self.specs {
            if let Some(reason) = &s.rejected {
                groups
                    .entry(reason.clone())
                    .or_default()
                    .push(s.name.clone());
            }
        }
        let mut out: Vec<(String, Vec<String>)> = groups.into_iter().collect();
        out.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        out
    }

    /// Whether any permutation is unsound.
    pub fn unsound(&self) -> bool {
        self.count(Class::Unsound) > 0
    }

    /// The report as text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for s in &self.specs {
            let mut line = format!("{}: {} permutations", s.name, s.permutations);
            if let Some(reason) = &s.rejected {
                line.push_str(&format!(": rejected: {reason}"));
            } else if !s.classes.is_empty() {
                let parts: Vec<String> =
                    s.classes.iter().map(|(c, n)| format!("{c} {n}")).collect();
                line.push_str(&format!(": {}", parts.join(", ")));
            }
            if s.out_compared > 0 {
                line.push_str(&format!(" (.out {}/{})", s.out_matching, s.out_compared));
            }
            if let Some(same) = s.transcript_on_postgres {
                let verb = if same { "matches" } else { "differs" };
                line.push_str(&format!(" (transcript on PostgreSQL {verb})"));
            }
            out.push_str(&line);
            out.push('\n');
            for note in &s.notes {
                out.push_str(&format!("  note: {note}\n"));
            }
        }
        out.push('\n');
        out.push_str(&self.summary());
        let rejected = self.rejected_by_reason();
        if !rejected.is_empty() {
            out.push_str("\nrejected specs by reason (the first statement the store rejects):\n");
            for (reason, specs) in &rejected {
                out.push_str(&format!(
                    "  {:>3}  {reason}: {}\n",
                    specs.len(),
                    specs.join(", ")
                ));
            }
        }
        let mut examples: Vec<&Example> = self.specs.iter().flat_map(|s| &s.examples).collect();
        examples.sort_by_key(|e| e.verdict.class != Class::Unsound);
        if !examples.is_empty() {
            out.push_str("\ndisagreements (first few):\n");
            for e in examples.iter().take(8) {
                out.push_str(&format!(
                    "  {} [{}]: {}: {}\n    store:      {}\n    PostgreSQL: {}\n",
                    e.spec,
                    e.permutation,
                    e.verdict.class.name(),
                    e.verdict.why,
                    e.store.join("; "),
                    e.postgres.join("; ")
                ));
            }
        }
        out
    }

    /// The totals in a few lines.
    pub fn summary(&self) -> String {
        let total = self.specs.len();
        let accepted = self.accepted();
        let perms: usize = self
            .specs
            .iter()
            .filter(|s| s.rejected.is_none())
            .map(|s| s.permutations)
            .sum();
        let mut out = format!(
            "{accepted} of {total} specs run with every statement accepted ({perms} permutations); {} rejected\n",
            total - accepted
        );
        if self.compared {
            let compared = self.compared_permutations();
            let agree = self.count(Class::Agree);
            let pct = if compared == 0 {
                100.0
            } else {
                100.0 * agree as f64 / compared as f64
            };
            let others: Vec<String> = [
                Class::Unsound,
                Class::Stricter,
                Class::Looser,
                Class::Different,
            ]
            .iter()
            .map(|c| format!("{} {}", c.name(), self.count(*c)))
            .collect();
            out.push_str(&format!(
                "{compared} permutations compared with PostgreSQL: agree {agree} ({pct:.1}%), {}\n",
                others.join(", ")
            ));
        }
        let (m, c): (usize, usize) = self
            .specs
            .iter()
            .fold((0, 0), |(m, c), s| (m + s.out_matching, c + s.out_compared));
        if c > 0 {
            out.push_str(&format!(
                "{m} of {c} permutations of the store print PostgreSQL 14's expected output (.out) exactly\n"
            ));
        }
        out
    }

    /// The README subsection's list: totals, then each rejected spec and
    /// its reason, in Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        for line in self.summary().lines() {
            out.push_str(&format!("- {line}\n"));
        }
        out.push_str("\n| rejected spec | the first statement the store rejects |\n|---|---|\n");
        for s in &self.specs {
            if let Some(reason) = &s.rejected {
                out.push_str(&format!(
                    "| {} | {} |\n",
                    s.name,
                    reason.replace('|', "\\|")
                ));
            }
        }
        out
    }
}
