//! Harness errors: bad scenario files, corpus entries and arguments.
//!
//! Expected domain results (409, 40001...) are never errors, and invariant
//! breaks are [`crate::world::ViolationReport`] values. This type is only for
//! input the harness cannot use; it always says where the input is wrong.

use std::fmt;
use std::path::{Path, PathBuf};

/// Input the harness cannot use, with where it is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// The file (or pseudo-source such as `--set`), if any.
    pub source: Option<String>,
    /// 1-based line, if known.
    pub line: Option<usize>,
    /// 1-based column, if known.
    pub column: Option<usize>,
    /// The field at fault (dotted path), if known.
    pub field: Option<String>,
    /// What is wrong, and what would be right.
    pub message: String,
    /// Further problems found in the same input at the same time, each
    /// with its own source, line and field, so that all are reported at
    /// once (printed after this one, a line each).
    pub also: Box<[InputError]>,
}

impl InputError {
    /// An error with only a message.
    pub fn new(message: impl Into<String>) -> InputError {
        InputError {
            source: None,
            line: None,
            column: None,
            field: None,
            message: message.into(),
            also: Box::default(),
        }
    }

    /// The first of `errors`, carrying the others in [`InputError::also`];
    /// `None` when there are none.
    pub fn all(errors: impl IntoIterator<Item = InputError>) -> Option<InputError> {
        let mut errors = errors.into_iter().flat_map(InputError::into_each);
        let mut first = errors.next()?;
        first.also = errors.collect();
        Some(first)
    }

    /// This error and each of [`InputError::also`], one by one.
    pub fn into_each(mut self) -> Vec<InputError> {
        let also = std::mem::take(&mut self.also).into_vec();
        std::iter::once(self).chain(also).collect()
    }

    /// `change` applied to this error and to each of [`InputError::also`].
    pub fn map_each(self, change: impl Fn(InputError) -> InputError) -> InputError {
        InputError::all(self.into_each().into_iter().map(change))
            .expect("an error is at least itself")
    }

    /// This error (and each of [`InputError::also`]), located in `source`.
    pub fn in_source(mut self, source: impl Into<String>) -> InputError {
        let source = source.into();
        for other in self.also.iter_mut() {
            other.source = Some(source.clone());
        }
        self.source = Some(source);
        self
    }

    /// This error, about `field`.
    pub fn at_field(mut self, field: impl Into<String>) -> InputError {
        self.field = Some(field.into());
        self
    }

    /// This error at a 1-based line and column.
    pub fn at_line(mut self, line: usize, column: usize) -> InputError {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// An error reading a file.
    pub fn io(path: &Path, err: &std::io::Error) -> InputError {
        InputError::new(format!("cannot read: {err}")).in_source(path.display().to_string())
    }

    /// An error writing a file or creating a folder.
    pub fn io_write(path: &Path, err: &std::io::Error) -> InputError {
        InputError::new(format!("cannot write: {err}")).in_source(path.display().to_string())
    }

    /// The file as a path, for callers that need it.
    pub fn source_path(&self) -> Option<PathBuf> {
        self.source.as_ref().map(PathBuf::from)
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(source) = &self.source {
            write!(f, "{source}")?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
                if let Some(column) = self.column {
                    write!(f, ":{column}")?;
                }
            }
            f.write_str(": ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.message)?;
        for other in self.also.iter() {
            write!(f, "\nerror: {other}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}

/// The 1-based line and column of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(offset, |newline| offset - newline - 1)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_found_is_displayed_a_line_each() {
        let err = InputError::all([
            InputError::new("at most 10").at_field("data.rooms"),
            InputError::new("must be at least 1").at_field("data.days"),
        ])
        .unwrap()
        .in_source("--set");
        assert_eq!(
            err.to_string(),
            "--set: field `data.rooms`: at most 10\nerror: --set: field `data.days`: must be at least 1"
        );
        assert_eq!(InputError::all([]), None);
    }

    #[test]
    fn display_names_file_line_and_field() {
        let err = InputError::new("unknown field")
            .in_source("sims/x.toml")
            .at_line(3, 5)
            .at_field("workload.mixx");
        assert_eq!(
            err.to_string(),
            "sims/x.toml:3:5: field `workload.mixx`: unknown field"
        );
    }

    #[test]
    fn line_column_counts_from_one() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 8), (2, 3));
    }
}
