//! `nexds`: parse the command line, load settings, start logging (in their format), run.

use clap::Parser;
use nexds::cli::{self, Cli};
use nexds::config::Settings;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = Settings::load(cli.config.as_deref())
        .map_err(Into::into)
        .and_then(|settings| {
            nexds::logging::init(settings.log_format);
            cli::run(cli, settings)
        });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("nexds: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
