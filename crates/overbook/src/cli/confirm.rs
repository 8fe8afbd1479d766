//! `confirm`: replay a model checker's counterexample on a real
//! PostgreSQL and say whether the same invariant breaks there.

use super::{set_flags, Context};
use crate::confirm::{confirm, ConfirmError};
use crate::corpus::shell_quote;
use crate::error::InputError;
use crate::explore::service_scenario;
use crate::seed::Seed;
use crate::system::System;

/// Arguments of `confirm`: the exploration's own flags (so that the
/// clients and their requests are the ones the line was found with), the
/// line, and the server.
#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// Scenario file or bundled name, as given to `explore`.
    sim: String,
    /// Service variant, as given to `explore`.
    #[arg(long, default_value = "correct")]
    variant: String,
    /// The schedule line `explore` printed (`dfs:2-clients:0,1,...`).
    #[arg(long, value_name = "LINE")]
    replay: String,
    /// PostgreSQL connection URL (`postgresql://user@host:port/db`); a
    /// fresh schema is created there and dropped afterwards.
    #[arg(long, value_name = "URL")]
    pg: String,
    /// Clients, as given to `explore`.
    #[arg(long, default_value_t = 2)]
    clients: u32,
    /// Requests per client, as given to `explore` (default: the
    /// scenario's `explore.ops`).
    #[arg(long)]
    ops: Option<u32>,
    /// Responses each client may lose, as given to `explore`.
    #[arg(long, value_name = "N")]
    lost_responses: Option<u32>,
    /// Seed, as given to `explore`.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Override a scenario field (repeatable), as given to `explore`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Print the confirmation as JSON.
    #[arg(long)]
    json: bool,
}

pub(super) fn run<S: System>(context: &Context<'_, S>, args: Args) -> u8 {
    match run_inner(context, &args) {
        Ok(code) => code,
        Err(err) => super::usage_error(&err),
    }
}

fn run_inner<S: System>(context: &Context<'_, S>, args: &Args) -> Result<u8, InputError> {
    if args.clients == 0 || args.clients > 8 {
        return Err(InputError::new("must be between 1 and 8").in_source("--clients"));
    }
    if args.ops.is_some_and(|ops| ops == 0 || ops > 8) {
        return Err(InputError::new("must be between 1 and 8").in_source("--ops"));
    }
    if args.lost_responses.is_some_and(|lost| lost > 4) {
        return Err(InputError::new("must be between 0 and 4").in_source("--lost-responses"));
    }
    if !args.pg.starts_with("postgres://") && !args.pg.starts_with("postgresql://") {
        return Err(InputError::new(format!(
            "`{}` is not a PostgreSQL URL (postgresql://user@host:port/db)",
            args.pg
        ))
        .in_source("--pg"));
    }
    let scenario = context.load_scenario(&args.sim, &args.overrides)?;
    let variant = context.variant(&args.variant)?;
    let ops = args.ops.unwrap_or(scenario.explore.ops);
    let mut service = service_scenario(
        context.system,
        &scenario,
        variant,
        Seed(args.seed),
        args.clients,
        ops,
    )?;
    if let Some(lost) = args.lost_responses {
        service.lost_responses_per_client = lost;
    }
    let confirmation = confirm(context.system, &service, &args.replay, &args.pg).map_err(|e| {
        let source = match e {
            ConfirmError::Line(_) => "--replay",
            ConfirmError::Postgres(_) => "--pg",
            ConfirmError::Service(_) => "--variant",
        };
        InputError::new(e.to_string()).in_source(source)
    })?;
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&confirmation).expect("a confirmation serializes")
        );
    } else {
        outln!("{confirmation}");
        if !confirmation.confirmed {
            outln!(
                "explore's replay: {} explore {} --clients {} --ops {ops} --seed {} --variant {}{}{} --replay {}",
                context.program(),
                shell_quote(&args.sim),
                args.clients,
                args.seed,
                variant.name(),
                args.lost_responses
                    .map_or(String::new(), |lost| format!(" --lost-responses {lost}")),
                set_flags(&args.overrides),
                shell_quote(&args.replay)
            );
        }
    }
    Ok(if confirmation.confirmed {
        super::EXIT_FAILURE
    } else {
        super::EXIT_PASS
    })
}
