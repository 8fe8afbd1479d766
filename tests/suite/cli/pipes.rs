//! A closed standard output (`overbook list | head -1`) ends every command
//! quietly, as Unix tools end, instead of `println!`'s panic.

use std::process::{Command, Stdio};

/// Runs the binary with its standard output a pipe whose reader is already
/// gone: every write fails with EPIPE, as after `head -1` has exited.
fn with_closed_stdout(args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_overbook"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("the binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn every_command_ends_quietly_when_its_reader_is_gone() {
    let commands: &[&[&str]] = &[
        &["list"],
        &["isolation"],
        &["run", "units-burst", "--seed", "1"],
        &["run", "units-burst", "--seed", "1", "--json"],
        &["fuzz", "units-burst", "--seeds", "1..3", "--jobs", "1"],
        &["explore", "explore-units", "--clients", "2"],
        &["--help"],
    ];
    for args in commands {
        let (code, stderr) = with_closed_stdout(args);
        assert!(
            matches!(code, Some(0 | 141)),
            "`overbook {}` exited {code:?} on a closed pipe (0 or 141 expected): {stderr}",
            args.join(" ")
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "`overbook {}` on a closed pipe: {stderr}",
            args.join(" ")
        );
    }
}
