//! The `nexds` command line: `serve`, and `token create|list|revoke`, which work
//! on the database directly and so also while the server runs.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::auth;
use crate::config::Settings;
use crate::domain::{self, time};
use crate::janitor;
use crate::startup::{self, Application};
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(name = "nexds", version, about = "NEX DataStore web API v2 server")]
pub struct Cli {
    /// Config file (default: ./nexds.toml when present). NEXDS_* variables override it.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: TokenCommand,
    },
    /// Remove now what the janitor would: uploads never completed, expired objects,
    /// deleted objects past the retention window, and their files. Safe while the server runs.
    Purge,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it alone on stdout.
    Create {
        /// Namespace (game title) the token belongs to.
        #[arg(long)]
        namespace: String,
        /// Make a principal token acting as this principal ID; without it, a title token.
        #[arg(long, value_name = "PID")]
        principal: Option<u32>,
    },
    /// List tokens (never their values).
    List,
    /// Revoke a token, given its id (from `token list`) or the token itself.
    Revoke {
        #[arg(value_name = "TOKEN_OR_ID")]
        token: String,
    },
}

type CliResult = Result<(), Box<dyn std::error::Error>>;

/// Runs a parsed command line.
pub fn run(cli: Cli, settings: Settings) -> CliResult {
    match cli.command {
        Command::Serve => serve(settings),
        Command::Purge => purge(settings),
        Command::Token { action } => {
            let store = Store::open(&settings.data_dir, settings.durability)?;
            token(&store, action)
        }
    }
}

fn serve(settings: Settings) -> CliResult {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings)?;
        app.run().await?;
        log::info!("nexds stopped");
        Ok(())
    })
}

fn purge(settings: Settings) -> CliResult {
    let store = Store::open(&settings.data_dir, settings.durability)?;
    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", settings.listen));
    let blobs = startup::open_blobs(&settings, &public_url)?;
    let report = actix_web::rt::System::new().block_on(janitor::run_once(
        &store,
        &blobs,
        settings.retention(),
        time::now(),
    ))?;
    println!(
        "purged {} uploads never completed, {} expired objects, {} deleted objects, {} old versions; {} files removed",
        report.rows.uploads,
        report.rows.expired,
        report.rows.deleted,
        report.versions,
        report.files
    );
    Ok(())
}

fn token(store: &Store, action: TokenCommand) -> CliResult {
    match action {
        TokenCommand::Create {
            namespace,
            principal,
        } => {
            domain::check_namespace(&namespace)?;
            if principal == Some(0) {
                return Err("principal ID 0 is not a principal".into());
            }
            let token = auth::new_token()?;
            store.create_token(auth::hash_token(&token), &namespace, principal, time::now())?;
            println!("{token}");
        }
        TokenCommand::List => {
            println!(
                "{:>4}  {:<20}  {:<10}  {:<20}  STATUS",
                "ID", "NAMESPACE", "PRINCIPAL", "CREATED"
            );
            for t in store.list_tokens()? {
                let principal = t
                    .principal
                    .map_or_else(|| "title".to_owned(), |p| p.to_string());
                let status = t.revoked_time.map_or_else(
                    || "active".to_owned(),
                    |r| format!("revoked {}", time::format(r)),
                );
                println!(
                    "{:>4}  {:<20}  {:<10}  {:<20}  {status}",
                    t.id,
                    t.namespace,
                    principal,
                    time::format(t.created_time)
                );
            }
        }
        TokenCommand::Revoke { token } => {
            let id = token.parse::<i64>().ok();
            match store.revoke_token(id, auth::hash_token(&token), time::now())? {
                Some(id) => eprintln!("revoked token {id}"),
                None => return Err("no active token with that id or value".into()),
            }
        }
    }
    Ok(())
}
