//! The `plankton` command: arguments, settings, logging, then serve or run a
//! subcommand.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use plankton::commands;
use plankton::config::Settings;
use plankton::startup::Application;

use cli::{Cli, Command, TokenCommand};

/// The log filter without RUST_LOG: info, but not actix's line per malformed
/// request (a hostile client could flood the log with them).
const DEFAULT_LOG: &str = "info,actix_http::h1::dispatcher=off";

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(DEFAULT_LOG)).init();
    // clap prints help and errors itself, ignoring a closed pipe, and exits
    // 0 for --help and --version, 2 for a usage error.
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("plankton: {}", plankton::error::chain(&e));
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Config => commands::config(&settings),
        Command::Backup { file } => commands::backup(&settings, &file),
        Command::Check => commands::check(&settings),
        Command::PortDb { to } => commands::port_db(&settings, &to),
        Command::Token(TokenCommand::Add { user_id, name }) => {
            commands::token_add(&settings, &user_id, &name.join(" "))
        }
        Command::Token(TokenCommand::List) => commands::token_list(&settings),
        Command::Token(TokenCommand::Revoke { user_id }) => {
            commands::token_revoke(&settings, &user_id)
        }
    }
}

fn serve(settings: Settings) -> ExitCode {
    let result = actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).map_err(|e| plankton::error::chain(&e))?;
        app.run_until_stopped().await.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plankton: {e}");
            ExitCode::from(1)
        }
    }
}
