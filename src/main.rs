//! The `plankton` command: arguments, settings, logging, then serve.

use std::path::PathBuf;
use std::process::ExitCode;

use plankton::config::{Settings, CONFIG_ENV};
use plankton::startup::Application;

const USAGE: &str = "usage: plankton [--config FILE]

Serves the image API. Settings come from built-in defaults, then FILE (TOML;
also PLANKTON_CONFIG), then PLANKTON_<KEY> / PLANKTON_<SECTION>__<KEY>
environment variables. See etc/plankton.toml for every key.";

fn parse_args() -> Result<Option<PathBuf>, String> {
    let mut args = std::env::args_os().skip(1);
    let mut config = std::env::var_os(CONFIG_ENV).map(PathBuf::from);
    while let Some(arg) = args.next() {
        match arg.to_str() {
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
            _ => return Err(format!("unexpected argument {}", arg.to_string_lossy())),
        }
    }
    Ok(config)
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let config = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("plankton: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let settings = match Settings::load(config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("plankton: {e}");
            return ExitCode::from(2);
        }
    };
    let result = actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).map_err(|e| e.to_string())?;
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
