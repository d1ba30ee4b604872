//! The `nexds` command line: `serve`, and `token create|list|revoke`, `purge`,
//! `export` and `erase`, which work on the database directly and so also while the
//! server runs.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::auth;
use crate::config::Settings;
use crate::domain::{self, time};
use crate::janitor;
use crate::services::principal_data::{self, WriterSink};
use crate::startup::{self, Application};
use crate::store::{self, Revocation, Store};
use crate::xml::render;

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
    /// Run the server (one per data dir).
    Serve,
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: TokenCommand,
    },
    /// Remove now what the janitor would: uploads never completed, expired objects,
    /// deleted objects past the retention window, and their files. Safe while the server runs.
    Purge,
    /// Write everything a principal has in a namespace to a tar archive (objects in
    /// every state with their files, persistence slots, ratings given).
    Export {
        /// Namespace (game title) of the principal; some token must have been made for it.
        #[arg(long)]
        namespace: String,
        /// Principal ID whose data is exported (1-4294967295).
        #[arg(long, value_name = "PID")]
        principal: u32,
        /// Archive to write (first as FILE.partial, renamed when complete); `-` for stdout.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Remove everything a principal has in a namespace, for good, and print the counts.
    /// Asks no confirmation.
    Erase {
        /// Namespace (game title) of the principal; some token must have been made for it.
        #[arg(long)]
        namespace: String,
        /// Principal ID whose data is erased (1-4294967295).
        #[arg(long, value_name = "PID")]
        principal: u32,
    },
    /// Copy the SQLite database of a data dir into the empty PostgreSQL database of
    /// NEXDS_DATABASE_URL, keeping every id and the data_id sequence, then verify
    /// every table's count (one transaction: nothing is kept if anything differs).
    /// No server may run on that data dir meanwhile. Files are not copied (README,
    /// Running several nodes).
    MigrateToPostgres {
        /// The data dir whose nexds.db is copied.
        #[arg(long, value_name = "DATA_DIR")]
        from: PathBuf,
    },
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
        /// The token's id, as `token list` shows it, or the token itself.
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
        Command::Export {
            namespace,
            principal,
            out,
        } => export(settings, namespace, principal, &out),
        Command::Erase {
            namespace,
            principal,
        } => erase(settings, namespace, principal),
        Command::MigrateToPostgres { from } => migrate_to_postgres(&settings, &from),
        Command::Token { action } => {
            let store = store::open_with(&settings.store_options())?;
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
    let (store, blobs) = open_data(&settings)?;
    let report = actix_web::rt::System::new().block_on(janitor::run_once(
        &store,
        &blobs,
        settings.retention(),
        time::now(),
    ))?;
    println!(
        "purged {} uploads never completed, {} expired objects, {} deleted objects, {} old versions, {} old notifications; {} files removed",
        report.rows.uploads,
        report.rows.expired,
        report.rows.deleted,
        report.versions,
        report.notifications,
        report.files
    );
    Ok(())
}

/// The store and the file store, opened as the server opens them.
fn open_data(
    settings: &Settings,
) -> Result<(Store, crate::blob::Blobs), Box<dyn std::error::Error>> {
    // An erase beside the server reports its deletions as the server would.
    let store = store::open_with(&settings.store_options())?;
    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", settings.listen));
    let blobs = startup::open_blobs(settings, &public_url)?;
    Ok((store, blobs))
}

fn migrate_to_postgres(settings: &Settings, from: &Path) -> CliResult {
    let Some(url) = &settings.database_url else {
        return Err("set NEXDS_DATABASE_URL to the PostgreSQL database to copy into".into());
    };
    if !from.join("nexds.db").exists() {
        return Err(format!("{} holds no nexds.db", from.display()).into());
    }
    // No server writes the source while it is copied.
    let _lock = crate::data_dir::DataDirLock::acquire(from)?;
    let source = store::sqlite::SqliteStore::open(from, settings.durability)?;
    let target = store::postgres::PgStore::open(url, settings.database_pool_size)?;
    let started = std::time::Instant::now();
    let census = store::migrate::migrate(&source, &target)?;
    for (table, rows) in &census.rows {
        println!("{table}: {rows} rows");
    }
    for (table, last) in &census.sequences {
        println!("{table}: next id after {last}");
    }
    println!(
        "copied and verified in {:.1} s into {}",
        started.elapsed().as_secs_f64(),
        crate::config::redact_url_password(url)
    );
    Ok(())
}

fn check_principal_args(namespace: &str, principal: u32) -> CliResult {
    domain::check_namespace(namespace)?;
    if principal == 0 {
        return Err("principal ID 0 is not a principal".into());
    }
    Ok(())
}

/// A namespace exists only through its tokens: one that never had any is a typo.
fn check_namespace_known(store: &Store, namespace: &str) -> CliResult {
    if store.namespace_known(namespace)? {
        Ok(())
    } else {
        Err(format!(
            "unknown namespace '{namespace}': no token was ever created for it \
             (`nexds token list` shows the namespaces that have tokens)"
        )
        .into())
    }
}

fn export(settings: Settings, namespace: String, principal: u32, out: &Path) -> CliResult {
    check_principal_args(&namespace, principal)?;
    let (store, blobs) = open_data(&settings)?;
    check_namespace_known(&store, &namespace)?;
    let to_stdout = out.as_os_str() == "-";
    // A file is written beside its final name and renamed when complete, so a
    // failed export never leaves an archive that looks whole.
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let written = actix_web::rt::System::new().block_on(async {
        // The file first: a path that cannot be written fails before any work.
        let file = if to_stdout {
            None
        } else {
            Some(
                tokio::fs::File::create(&partial)
                    .await
                    .map_err(|e| format!("cannot write {}: {e}", partial.display()))?,
            )
        };
        let export = principal_data::plan_export(
            &store,
            &blobs,
            namespace.clone(),
            principal,
            time::now(),
            render::export_documents,
        )
        .await?;
        let summary = (export.objects, export.files, export.size());
        match file {
            None => {
                let mut sink = WriterSink(tokio::io::stdout());
                export.write(&blobs, &mut sink).await?;
                tokio::io::AsyncWriteExt::flush(&mut sink.0).await?;
            }
            Some(file) => {
                let failed = |e: std::io::Error| format!("cannot write {}: {e}", partial.display());
                let mut sink = WriterSink(tokio::io::BufWriter::new(file));
                export.write(&blobs, &mut sink).await.map_err(failed)?;
                tokio::io::AsyncWriteExt::flush(&mut sink.0)
                    .await
                    .map_err(failed)?;
                sink.0.get_ref().sync_all().await.map_err(failed)?;
                tokio::fs::rename(&partial, out).await.map_err(|e| {
                    format!(
                        "cannot rename {} to {}: {e}",
                        partial.display(),
                        out.display()
                    )
                })?;
            }
        }
        Ok::<_, Box<dyn std::error::Error>>(summary)
    });
    let (objects, files, bytes) = match written {
        Ok(summary) => summary,
        Err(e) => {
            if !to_stdout {
                let _ = std::fs::remove_file(&partial);
            }
            return Err(e);
        }
    };
    eprintln!(
        "exported {objects} objects and {files} files of principal {principal} in namespace \
         {namespace} ({bytes} bytes) to {}",
        if to_stdout {
            "stdout".into()
        } else {
            out.display().to_string()
        }
    );
    Ok(())
}

fn erase(settings: Settings, namespace: String, principal: u32) -> CliResult {
    check_principal_args(&namespace, principal)?;
    let (store, blobs) = open_data(&settings)?;
    check_namespace_known(&store, &namespace)?;
    let erased = actix_web::rt::System::new().block_on(principal_data::erase(
        &store,
        &blobs,
        namespace,
        principal,
        time::now(),
        settings.upload_form_secs,
    ))?;
    println!(
        "erased {} objects, {} files, {} ratings, {} persistence slots",
        erased.objects, erased.files, erased.ratings, erased.persistence
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
                Some(Revocation {
                    id,
                    already_revoked: None,
                }) => eprintln!("revoked token {id}"),
                Some(Revocation {
                    id,
                    already_revoked: Some(when),
                }) => eprintln!("token {id} was already revoked at {}", time::format(when)),
                None => return Err("no token with that id or value".into()),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument of `cmd` and its subcommands, by command path, that has no help text.
    fn undocumented(cmd: &clap::Command, path: &str) -> Vec<String> {
        let path = format!("{path} {}", cmd.get_name());
        let mut missing: Vec<String> = cmd
            .get_arguments()
            .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
            .filter(|a| a.get_help().is_none())
            .map(|a| format!("{path} {}", a.get_id()))
            .collect();
        for sub in cmd.get_subcommands() {
            missing.extend(undocumented(sub, &path));
        }
        missing
    }

    #[test]
    fn every_option_of_every_command_is_described_in_its_help() {
        let cli = Cli::command();
        cli.clone().debug_assert();
        assert_eq!(undocumented(&cli, ""), Vec::<String>::new());
    }
}
