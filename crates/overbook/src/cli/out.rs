//! Standard output for every command: one writer that ends quietly when the
//! reader goes away (`overbook list | head -1`), as Unix tools do, where
//! `println!` would panic on the broken pipe.
//!
//! Every command prints through [`outln!`] and [`out!`] (a test keeps
//! `println!` out of `src/cli`). In the binary ([`super::main`]) a closed
//! pipe ends the process at once with exit code 141 (128 + SIGPIPE, what a
//! shell reports for a tool killed by the signal), so `fuzz ... | head`
//! does not sweep on for nobody; through [`super::run`] (tests, wrappers)
//! later output is dropped and the command finishes normally.

use super::EXIT_BROKEN_PIPE;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write found standard output closed: later writes are dropped.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// Set by [`super::main`]: a closed standard output ends the process.
static EXIT_WHEN_CLOSED: AtomicBool = AtomicBool::new(false);

/// Makes a closed standard output end the process (exit
/// [`EXIT_BROKEN_PIPE`]); only the binary's entry point asks for it.
pub(super) fn exit_when_closed() {
    EXIT_WHEN_CLOSED.store(true, Ordering::Relaxed);
}

/// Whether standard output was found closed.
pub(super) fn closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

/// Writes to standard output; on a broken pipe ends quietly (see the
/// module's docs). Any other write error is said once on stderr.
pub(super) fn write(args: fmt::Arguments<'_>) {
    if closed() {
        return;
    }
    let result = std::io::stdout().lock().write_fmt(args);
    let Err(err) = result else { return };
    CLOSED.store(true, Ordering::Relaxed);
    if err.kind() != std::io::ErrorKind::BrokenPipe {
        eprintln!("error: cannot write to standard output: {err}");
    }
    if EXIT_WHEN_CLOSED.load(Ordering::Relaxed) {
        std::process::exit(i32::from(EXIT_BROKEN_PIPE));
    }
}

/// `print!` through the command's writer.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::out::write(format_args!($($arg)*))
    };
}

/// `println!` through the command's writer.
macro_rules! outln {
    () => {
        $crate::cli::out::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::out::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    /// Every command prints through the writer: a `println!` or `print!`
    /// left in `src/cli` would panic again on a closed pipe.
    #[test]
    fn no_command_prints_around_the_writer() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
        let mut offenders = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("src/cli") {
            let path = entry.expect("an entry").path();
            if path.ends_with("out.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a source file");
            for (index, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                let prints = ["println!(", "print!("].iter().any(|m| {
                    code.match_indices(m)
                        .any(|(at, _)| !code[..at].ends_with('e') && !code[..at].ends_with("::"))
                });
                if prints {
                    offenders.push(format!("{}:{}: {line}", path.display(), index + 1));
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "print through outln!/out! (src/cli/out.rs):\n{}",
            offenders.join("\n")
        );
    }
}
