//! Operations tests: the real `plankton` binary as an operator runs it:
//! subcommands, signals, logs, health, and an installed tree.

mod cli;
mod process;
mod signals;
mod subcommands;
#[path = "../support/mod.rs"]
mod support;
