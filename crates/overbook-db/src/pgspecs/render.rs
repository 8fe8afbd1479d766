//! A run in isolationtester's output format (PostgreSQL 14), to compare
//! with a spec's expected `.out` files.

use super::run::{Event, PermRun, ResultSet, StepOutput};
use super::spec::{Planned, Spec};

/// Whether libpq's `PQprint` aligns a column as a number: every value
/// made of digits, `.`, `e`, `E`, `-` and spaces, ending in a digit and
/// not starting with `e` (fe-print.c's test).
fn numeric(values: &[&str]) -> bool {
    values.iter().all(|v| {
        let mut last = '0';
        for c in v.chars() {
            last = c;
            if !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | ' ' | '-')) {
                return false;
            }
        }
        !v.starts_with(['e', 'E']) && last.is_ascii_digit()
    })
}

/// A result set as `PQprint` prints it with isolationtester's options
/// (header, aligned, `|` between fields).
pub fn result_set(set: &ResultSet) -> String {
    let mut out = String::new();
    let columns = set.columns.len();
    let value = |r: &Vec<Option<String>>, c: usize| r[c].clone().unwrap_or_default();
    let mut widths = Vec::with_capacity(columns);
    let mut numbers = Vec::with_capacity(columns);
    for c in 0..columns {
        let values: Vec<String> = set.rows.iter().map(|r| value(r, c)).collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        numbers.push(numeric(&refs));
        let width = values
            .iter()
            .map(|v| v.chars().count())
            .chain([set.columns[c].chars().count()])
            .max()
            .unwrap_or(0);
        widths.push(width);
    }
    let cell = |text: &str, c: usize| {
        if numbers[c] {
            format!("{text:>w$}", w = widths[c])
        } else {
            format!("{text:<w$}", w = widths[c])
        }
    };
    let header: Vec<String> = (0..columns).map(|c| cell(&set.columns[c], c)).collect();
    out.push_str(&header.join("|"));
    out.push('\n');
    let border: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&border.join("+"));
    out.push('\n');
    for row in &set.rows {
        let cells: Vec<String> = (0..columns).map(|c| cell(&value(row, c), c)).collect();
        out.push_str(&cells.join("|"));
        out.push('\n');
    }
    let n = set.rows.len();
    out.push_str(&format!("({n} row{})\n\n", if n == 1 { "" } else { "s" }));
    out
}

fn output(out: &StepOutput, text: &mut String) {
    for set in &out.sets {
        text.push_str(&result_set(set));
    }
    if let Some(e) = &out.error {
        text.push_str(&format!("ERROR:  {}\n", primary_message(&e.message)));
    }
}

/// The primary message isolationtester prints: the store appends what
/// PostgreSQL would put in DETAIL (which transactions, which statement)
/// in parentheses after it.
fn primary_message(message: &str) -> &str {
    match message.find(" (") {
        Some(at) if message.ends_with(')') => &message[..at],
        _ => message,
    }
}

/// One permutation's text: from `starting permutation:` to the end of its
/// last step's output.
pub fn permutation(spec: &Spec, perm: &[Planned], run: &PermRun) -> String {
    let names: Vec<&str> = perm
        .iter()
        .map(|p| spec.step(p.session, p.step).name.as_str())
        .collect();
    let mut text = format!("starting permutation: {}\n", names.join(" "));
    for event in &run.events {
        match event {
            Event::Block(out) => output(out, &mut text),
            Event::Issued(pos, waiting) => {
                let step = spec.step(perm[*pos].session, perm[*pos].step);
                if *waiting {
                    text.push_str(&format!("step {}: {} <waiting ...>\n", step.name, step.sql));
                } else {
                    text.push_str(&format!("step {}: {}\n", step.name, step.sql));
                    if let Some(out) = &run.outputs[*pos] {
                        output(out, &mut text);
                    }
                }
            }
            Event::Completed(pos) => {
                let step = spec.step(perm[*pos].session, perm[*pos].step);
                text.push_str(&format!("step {}: <... completed>\n", step.name));
                if let Some(out) = &run.outputs[*pos] {
                    output(out, &mut text);
                }
            }
        }
    }
    text
}

/// An expected output file cut into its permutations' texts (each from
/// `starting permutation:`, trailing blank lines dropped).
pub fn split_expected(text: &str) -> Vec<String> {
    text.split("\nstarting permutation:")
        .skip(1)
        .map(|chunk| normalise(&format!("starting permutation:{chunk}")))
        .collect()
}

/// A permutation's text without trailing blank lines.
pub fn normalise(text: &str) -> String {
    text.trim_end_matches('\n').to_string()
}
