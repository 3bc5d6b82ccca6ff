//! The `rampart` command: nginx's command line (`-c`, `-p`, `-t`, `-T`, `-q`,
//! `-s`, `-v`, `-V`) so that init scripts, systemd units and logrotate that
//! drive nginx keep working, plus the signal loop of a running server.

use rampart::control::{self, Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::parse(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("rampart: {msg}");
            eprintln!("{}", control::USAGE);
            return ExitCode::from(1);
        }
    };
    match cli.command.clone() {
        Command::Help => {
            eprintln!("{}", control::USAGE);
            ExitCode::SUCCESS
        }
        Command::Version { verbose } => {
            eprintln!("{}", control::version_text(verbose));
            ExitCode::SUCCESS
        }
        Command::Test { dump } => control::test_config(&cli, dump),
        Command::Signal(sig) => control::send_signal(&cli, &sig),
        Command::Run => match control::run(&cli) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                control::startup_error(&cli, &e);
                ExitCode::from(1)
            }
        },
    }
}
