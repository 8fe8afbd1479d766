//! Splitting SQL text into statements as PostgreSQL's lexer sees them:
//! semicolons inside quotes, quoted identifiers, dollar quoting
//! (`$$ ... $$`, `$tag$ ... $tag$`) and comments do not end a statement.

/// One statement of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// Its text, from its first token to its last (no terminating `;`).
    pub sql: String,
    /// The line (from 1) where its first token is.
    pub line: usize,
}

/// Whether `c` may continue a dollar-quote tag.
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Past the comment at `i` (`--` to the end of the line, or a `/* */`
/// block, nested as PostgreSQL nests them), or `None` when no comment
/// starts there; counts the newlines it skips into `line`.
fn skip_comment(chars: &[char], mut i: usize, line: &mut usize) -> Option<usize> {
    let next = chars.get(i + 1).copied();
    if chars[i] == '-' && next == Some('-') {
        while i < chars.len() && chars[i] != '\n' {
            i += 1;
        }
        return Some(i);
    }
    if chars[i] != '/' || next != Some('*') {
        return None;
    }
    let mut depth = 0;
    while i < chars.len() {
        if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                break;
            }
        } else {
            if chars[i] == '\n' {
                *line += 1;
            }
            i += 1;
        }
    }
    Some(i)
}

/// Past the string or quoted identifier opening at `i` (its quote
/// doubled inside; an `E'...'` string's backslash escapes); counts the
/// newlines it holds into `line`.
fn skip_quoted(chars: &[char], mut i: usize, line: &mut usize) -> usize {
    let c = chars[i];
    let escapes = c == '\''
        && i > 0
        && matches!(chars[i - 1], 'e' | 'E')
        && (i < 2 || !tag_char(chars[i - 2]));
    i += 1;
    while i < chars.len() {
        let d = chars[i];
        if d == '\n' {
            *line += 1;
        }
        if escapes && d == '\\' {
            i += 2;
            continue;
        }
        if d == c {
            if chars.get(i + 1) == Some(&c) {
                i += 2;
                continue;
            }
            break;
        }
        i += 1;
    }
    i + 1
}

/// Past the `$tag$ ... $tag$` opening at `i`, or just past the `$` when
/// none opens there (`$1` is a parameter); counts the newlines it holds
/// into `line`.
fn skip_dollar_quote(chars: &[char], mut i: usize, line: &mut usize) -> usize {
    let mut j = i + 1;
    while j < chars.len() && tag_char(chars[j]) {
        j += 1;
    }
    let tag_ok =
        chars.get(j) == Some(&'$') && !chars.get(i + 1).is_some_and(|d| d.is_ascii_digit());
    if !tag_ok {
        return i + 1;
    }
    let tag: Vec<char> = chars[i..=j].to_vec();
    i = j + 1;
    while i < chars.len() {
        if chars[i..].starts_with(&tag) {
            return i + tag.len();
        }
        if chars[i] == '\n' {
            *line += 1;
        }
        i += 1;
    }
    i
}

/// The statements of `text`, in order; empty ones (only spaces and
/// comments between semicolons) left out.
pub fn split(text: &str) -> Vec<Statement> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    // Where the current statement's first token is, in chars and lines.
    let mut start: Option<(usize, usize)> = None;
    let mut i = 0;
    let finish = |from: Option<(usize, usize)>, to: usize, out: &mut Vec<Statement>| {
        if let Some((at, line)) = from {
            let sql: String = chars[at..to].iter().collect();
            let sql = sql.trim_end().to_string();
            if !sql.is_empty() {
                out.push(Statement { sql, line });
            }
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if let Some(after) = skip_comment(&chars, i, &mut line) {
            i = after;
            continue;
        }
        if c == ';' {
            finish(start.take(), i, &mut out);
            i += 1;
            continue;
        }
        if start.is_none() {
            start = Some((i, line));
        }
        i = match c {
            '\'' | '"' => skip_quoted(&chars, i, &mut line),
            '$' if i == 0 || !tag_char(chars[i - 1]) => skip_dollar_quote(&chars, i, &mut line),
            _ => i + 1,
        };
    }
    finish(start, chars.len(), &mut out);
    out
}

/// Whether `sql` has a `$n` parameter outside quotes and comments.
pub fn has_parameters(sql: &str) -> bool {
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\'' | '"' => {
                let q = chars[i];
                i += 1;
                while i < chars.len() && chars[i] != q {
                    i += 1;
                }
                i += 1;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '$' if i == 0 || !tag_char(chars[i - 1]) => {
                if chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                    return true;
                }
                // A dollar quote: skip to its end.
                let mut j = i + 1;
                while j < chars.len() && tag_char(chars[j]) {
                    j += 1;
                }
                if chars.get(j) == Some(&'$') {
                    let tag: Vec<char> = chars[i..=j].to_vec();
                    i = j + 1;
                    while i < chars.len() && !chars[i..].starts_with(&tag) {
                        i += 1;
                    }
                    i += tag.len();
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    false
}
