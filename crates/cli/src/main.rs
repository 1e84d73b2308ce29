//! `hexcover`: the command line that wires hexcover's stages together.

mod args;
mod coverage_cmd;
mod csv_table;
mod evaluate_cmd;
mod export_cmd;
mod ingest_cmd;
mod links_input;
mod optimize_cmd;
mod optimize_geo;
mod pmtiles_cmd;
mod predict_cmd;
mod progress;
mod run;
mod serve_cmd;
mod train_cmd;

use std::io::IsTerminal;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = args::Cli::parse();
    // `run` is the unattended batch job: away from a terminal (where it
    // shows spinners) its stage lines are structured logs by default.
    let default_filter = match args.command {
        args::Command::Run(_) if !std::io::stderr().is_terminal() => "warn,hexcover::run=info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HEXCOVER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .init();
    let result = match args.command {
        args::Command::Ingest(a) => ingest_cmd::run(&a),
        args::Command::Export(a) => export_cmd::run(&a),
        args::Command::Optimize(a) => optimize_cmd::run(&a),
        args::Command::Train(a) => train_cmd::run(&a),
        args::Command::Evaluate(a) => evaluate_cmd::run(&a),
        args::Command::Predict(a) => predict_cmd::run(&a),
        args::Command::Coverage(a) => coverage_cmd::run(&a),
        args::Command::Serve(a) => serve_cmd::run(&a),
        args::Command::Run(a) => run::run(&a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hexcover: error: {}", one_line(&err));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and those of its causes that its message does not already
/// include (our error types print their source inline), on one line.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !line.contains(&cause) {
            line.push_str(": ");
            line.push_str(&cause);
        }
    }
    line.replace('\n', " ")
}
