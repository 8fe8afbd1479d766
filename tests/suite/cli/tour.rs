//! The README's tour: every command in it is known here with the exit
//! code it must give, and those that need no server and write no files
//! are run, so the README cannot drift from what the binary does.

use super::overbook;

/// The tour's commands (`overbook ...`, continuation lines joined,
/// comments dropped), in order.
fn tour_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let tour = readme
        .split("## A short tour")
        .nth(1)
        .expect("a tour section");
    let block = tour
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("a sh block in the tour");
    let joined = block.replace("\\\n", " ");
    joined
        .lines()
        .map(|line| line.split("  #").next().unwrap_or_default().trim())
        .filter(|line| line.starts_with("overbook "))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// What each tour command must exit with, or why it is not run here.
fn expected(command: &str) -> Result<i32, &'static str> {
    let program = command
        .strip_prefix("overbook ")
        .expect("an overbook command");
    let words: Vec<&str> = program.split(' ').collect();
    match words[0] {
        _ if command.contains("$OVERBOOK_PG_URL") => Err("needs PostgreSQL"),
        "fuzz" | "replay" | "shrink" => Err("writes into seeds/ or the working folder"),
        "list" | "isolation" => Ok(0),
        "run" | "explore" => Ok(if command.contains("--variant") { 1 } else { 0 }),
        _ => panic!("a tour command this test does not know: {command}"),
    }
}

#[test]
fn the_tour_commands_exit_as_the_readme_says() {
    let commands = tour_commands();
    assert!(commands.len() >= 10, "{commands:?}");
    let mut ran = 0;
    for command in &commands {
        let code = match expected(command) {
            Ok(code) => code,
            Err(_) => {
                // Not run, but what it names must exist.
                for word in command
                    .split(' ')
                    .filter(|w| w.starts_with("seeds/") && w.ends_with(".toml"))
                {
                    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(word);
                    assert!(path.exists(), "{command}: {word} is not in the repository");
                }
                continue;
            }
        };
        let args: Vec<&str> = command["overbook ".len()..].split(' ').collect();
        let (got, out, err) = overbook(&args);
        assert_eq!(got, code, "`{command}`: {out}{err}");
        assert!(!err.contains("panicked"), "`{command}`: {err}");
        ran += 1;
    }
    assert!(ran >= 6, "{ran} of {commands:?}");
}
