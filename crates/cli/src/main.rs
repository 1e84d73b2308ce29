//! `hexcover`: the command line that wires hexcover's stages together.

mod args;
mod export_cmd;
mod ingest_cmd;
mod progress;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = args::Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HEXCOVER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let result = match args.command {
        args::Command::Ingest(a) => ingest_cmd::run(&a),
        args::Command::Export(a) => export_cmd::run(&a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // One line: the error and its causes, like ripgrep.
            let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
            eprintln!("hexcover: error: {}", chain.join(": "));
            std::process::ExitCode::FAILURE
        }
    }
}
