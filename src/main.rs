//! The `rampart` command: nginx's command line (`-c`, `-p`, `-t`, `-T`, `-q`,
//! `-s`, `-v`, `-V`) so that init scripts, systemd units and logrotate that
//! drive nginx keep working, plus the signal loop of a running server, and
//! `rampart convert FILE` (nginx.conf → rampart.toml).

use rampart::control::{self, Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("convert") {
        return match args.as_slice() {
            [_, file] => control::convert(std::path::Path::new(file)),
            _ => {
                eprintln!("rampart: usage: rampart convert FILE");
                ExitCode::from(1)
            }
        };
    }
    let cli = match Cli::parse(args.into_iter()) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("rampart: {msg}");
            eprintln!("{}", control::USAGE);
            return ExitCode::from(1);
        }
    };
    if let Some(g) = &cli.globals {
        if let Err(e) = rampart::model::set_globals(g) {
            control::startup_error(&cli, &e.to_string());
            return ExitCode::from(1);
        }
    }
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
