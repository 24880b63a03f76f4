//! The `plankton` command: arguments, settings, logging, then serve or run a
//! subcommand.

use std::path::PathBuf;
use std::process::ExitCode;

use plankton::commands;
use plankton::config::{Settings, CONFIG_ENV};
use plankton::startup::Application;

const USAGE: &str = "usage: plankton [--config FILE] [COMMAND]

Commands:
  serve          serve the image API (the default)
  config         print the effective configuration (secrets redacted) and
                 check the paths it names; non-zero if it is invalid
  backup FILE    write a consistent copy of the catalogue to FILE while the
                 service keeps running
  check          check the database's integrity and every live image's
                 object against its recorded size and hash

Settings come from built-in defaults, then FILE (TOML; also PLANKTON_CONFIG),
then PLANKTON_<KEY> / PLANKTON_<SECTION>__<KEY> environment variables.
See etc/plankton.toml for every key.";

/// The log filter without RUST_LOG: info, but not actix's line per malformed
/// request (a hostile client could flood the log with them).
const DEFAULT_LOG: &str = "info,actix_http::h1::dispatcher=off";

/// What the command line asks for.
enum Command {
    Serve,
    Config,
    Backup(PathBuf),
    Check,
}

fn parse_args() -> Result<(Option<PathBuf>, Command), String> {
    let mut args = std::env::args_os().skip(1);
    let mut config = std::env::var_os(CONFIG_ENV).map(PathBuf::from);
    let mut command = None;
    while let Some(arg) = args.next() {
        let text = arg.to_str().map(str::to_owned);
        let next_is_command = command.is_none();
        match text.as_deref() {
            Some("--config") | Some("-c") => {
                let file = args.next().ok_or("--config needs a FILE")?;
                config = Some(PathBuf::from(file));
            }
            Some(s) if s.starts_with("--config=") => config = Some(PathBuf::from(&s[9..])),
            Some("--help") | Some("-h") => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            Some("--version") | Some("-V") => {
                println!("plankton {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            Some("serve") if next_is_command => command = Some(Command::Serve),
            Some("config") if next_is_command => command = Some(Command::Config),
            Some("check") if next_is_command => command = Some(Command::Check),
            Some("backup") if next_is_command => {
                let file = args.next().ok_or("backup needs a FILE")?;
                command = Some(Command::Backup(PathBuf::from(file)));
            }
            _ => return Err(format!("unexpected argument {}", arg.to_string_lossy())),
        }
    }
    Ok((config, command.unwrap_or(Command::Serve)))
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(DEFAULT_LOG)).init();
    let (config, command) = match parse_args() {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("plankton: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let settings = match Settings::load(config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("plankton: {}", plankton::error::chain(&e));
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Serve => serve(settings),
        Command::Config => commands::config(&settings),
        Command::Backup(file) => commands::backup(&settings, &file),
        Command::Check => commands::check(&settings),
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
