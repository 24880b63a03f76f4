//! The command line: its commands and flags, parsed by clap.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use plankton::config::CONFIG_ENV;

const SETTINGS_HELP: &str = "\
Settings come from built-in defaults, then FILE (TOML; also PLANKTON_CONFIG),
then PLANKTON_<KEY> / PLANKTON_<SECTION>__<KEY> environment variables.
See etc/plankton.toml for every key.";

/// The image registry: Synnefo's Cyclades/Image API, Glance v1 and a web view.
#[derive(Debug, Parser)]
#[command(name = "plankton", version, after_help = SETTINGS_HELP)]
pub struct Cli {
    /// The configuration file (TOML)
    #[arg(short, long, value_name = "FILE", env = CONFIG_ENV, global = true)]
    pub config: Option<PathBuf>,
    /// What to do (serve when none is given)
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// A subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the image API (the default)
    Serve,
    /// Print the effective configuration and check it
    ///
    /// Prints the settings as TOML (secrets redacted), then checks everything
    /// `serve` would check before it binds; non-zero if anything is invalid.
    Config,
    /// Write a consistent copy of the catalogue to FILE
    ///
    /// The copy is taken in one read transaction while the service keeps
    /// serving and writing. A PostgreSQL catalogue is backed up to a SQLite
    /// file (as `port-db --to FILE`).
    Backup {
        /// The new file to write (it must not exist)
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Check the catalogue and every live image's object
    ///
    /// SQLite's integrity check (on PostgreSQL: the schema's version and
    /// every table and column), then every live image's object read
    /// through and compared with its recorded size and hash.
    Check,
    /// Copy the whole catalogue into an empty SQLite file or PostgreSQL database
    ///
    /// Copies every table of the configured catalogue (`database`) to
    /// TARGET, migrated to the same schema version, keeping every key and
    /// value; the web view's sessions stay behind. TARGET must be empty (a
    /// new file, or a database with no plankton rows) and not the source;
    /// else nothing is written and the exit status is 1. Then point
    /// `database` at TARGET.
    PortDb {
        /// A SQLite file path or a postgresql:// URL
        #[arg(long = "to", value_name = "TARGET")]
        to: String,
    },
    /// Add, list or revoke the offline identity's tokens
    ///
    /// Edits the token file (identity.token_file) in place, atomically; a
    /// running server sees each change within a second.
    #[command(subcommand)]
    Token(TokenCommand),
}

/// `plankton token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Add a fresh random token for a user and print it
    Add {
        /// The user id (1-255 characters of A-Z a-z 0-9 @ . _ -)
        #[arg(value_name = "USER-ID")]
        user_id: String,
        /// The display name (the rest of the line)
        #[arg(value_name = "DISPLAY NAME", trailing_var_arg = true)]
        name: Vec<String>,
    },
    /// List the users and their names, with a short prefix of each token
    List,
    /// Remove every token of a user
    Revoke {
        /// The user id
        #[arg(value_name = "USER-ID")]
        user_id: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_is_the_default_and_config_goes_anywhere() {
        let cli = Cli::try_parse_from(["plankton"]).unwrap();
        assert!(cli.command.is_none());
        let cli = Cli::try_parse_from(["plankton", "check", "-c", "/x.toml"]).unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("/x.toml")));
        assert!(matches!(cli.command, Some(Command::Check)));
        let cli =
            Cli::try_parse_from(["plankton", "port-db", "--to", "postgresql://h/db"]).unwrap();
        assert!(matches!(cli.command, Some(Command::PortDb { to }) if to == "postgresql://h/db"));
        assert!(Cli::try_parse_from(["plankton", "port-db"]).is_err());
        let cli = Cli::try_parse_from(["plankton", "token", "add", "bob", "Bob", "B."]).unwrap();
        match cli.command {
            Some(Command::Token(TokenCommand::Add { user_id, name })) => {
                assert_eq!(
                    (user_id.as_str(), name.join(" ").as_str()),
                    ("bob", "Bob B.")
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
