//! Builds the application: opens the store, makes the first title token,
//! binds the listener (port 0 works, for tests) and wires the routes.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use std::sync::Arc;

use crate::blob::{Blobs, LocalBlobs, S3Blobs};
use crate::body::BodyDeadline;
use crate::config::{Settings, StorageKind};
use crate::data_dir::{DataDirLock, LockError};
use crate::domain::time;
use crate::handlers::{self, BodyLimit, MetricsToken};
use crate::services::Services;
use crate::services::webhooks::{self, WebhookTarget};
use crate::store::{self, OpenError, Store};
use crate::{auth, janitor, observe, secrets, telemetry};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Store(#[from] OpenError),
    #[error("cannot listen on {0}: {1}")]
    Listen(String, #[source] std::io::Error),
    #[error("cannot create the first title token: {0}")]
    Bootstrap(String),
    #[error("file storage: {0}")]
    Blobs(String),
    #[error("webhooks: {0}")]
    Webhooks(String),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

/// A bound, not yet running server.
pub struct Application {
    server: Server,
    addr: SocketAddr,
    public_url: String,
    /// Held while the server runs: one server per data dir.
    lock: DataDirLock,
}

impl Application {
    /// Must be called inside an actix system (the server's workers start here).
    pub fn build(settings: Settings) -> Result<Application, StartupError> {
        settings.check_shared_storage()?;
        let lock = DataDirLock::acquire(&settings.data_dir)?;
        let store = store::open_with(&settings.store_options())?;
        bootstrap(&store, &settings)?;

        let listener = TcpListener::bind(&settings.listen)
            .map_err(|e| StartupError::Listen(settings.listen.clone(), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartupError::Listen(settings.listen.clone(), e))?;
        let public_url = settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));

        let blobs = open_blobs(&settings, &public_url)?;
        log::info!("{}", describe_storage(&settings, &blobs));
        janitor::spawn(
            store.clone(),
            blobs.clone(),
            settings.retention(),
            settings.janitor_secs,
        );
        telemetry::install();
        let metrics_token = MetricsToken(settings.metrics_token.as_deref().map(auth::hash_token));
        if let Some(target) = webhook_target(&settings) {
            webhooks::spawn(store.clone(), target)
                .map_err(|e| StartupError::Webhooks(e.to_string()))?;
        }
        let body_limit = BodyLimit(settings.max_body_bytes);
        let body_deadline = BodyDeadline {
            idle: Duration::from_secs(settings.body_timeout_secs),
        };
        let state = web::Data::new(Services {
            store,
            blobs,
            max_file_size: settings.max_file_size,
            public_url: public_url.clone(),
            upload_form_secs: settings.upload_form_secs,
            upload_timeout_secs: settings.upload_timeout_secs,
            retention_secs: settings.retention().deleted_secs,
            link_secret: link_secret(&settings)?,
            quota: settings.quota(),
            tokens: Default::default(),
        });
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(body_limit)
                .app_data(body_deadline)
                .app_data(web::Data::new(metrics_token))
                .wrap(from_fn(observe::observe))
                .configure(handlers::configure)
        })
        .shutdown_timeout(10)
        // Headers must arrive within actix's 5 s; bodies are timed by `body`.
        .max_connections(settings.max_connections);
        if let Some(workers) = settings.workers {
            server = server.workers(workers.max(1));
        }
        let server = server
            .listen(listener)
            .map_err(|e| StartupError::Listen(settings.listen.clone(), e))?
            .run();
        log::info!("nexds listening on http://{addr} (public URL {public_url})");
        Ok(Application {
            server,
            addr,
            public_url,
            lock,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Stops the server from elsewhere (a test ending).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM, then finishes in-flight requests (up to 10 s).
    pub async fn run(self) -> std::io::Result<()> {
        let Application { server, lock, .. } = self;
        let result = server.await;
        drop(lock);
        result
    }
}

/// The configured file store. Logs nothing: the one-shot commands open it too,
/// and only `serve` says where files go ([`describe_storage`]).
pub fn open_blobs(settings: &Settings, public_url: &str) -> Result<Blobs, StartupError> {
    let version = settings.post_signature();
    match settings.storage {
        StorageKind::Local => {
            let store = LocalBlobs::open(
                &settings.data_dir,
                &settings.local_bucket,
                settings.local_access_key.clone(),
                settings.local_secret_key.clone(),
                &settings.local_region,
                version,
                public_url,
            )
            .map_err(|e| StartupError::Blobs(e.to_string()))?;
            Ok(Blobs::Local(Arc::new(store)))
        }
        StorageKind::S3 => {
            let store = S3Blobs::new(&settings.s3, version)
                .map_err(|e| StartupError::Blobs(e.to_string()))?;
            Ok(Blobs::S3(Arc::new(store)))
        }
    }
}

/// Where the server keeps files, for its start-up log.
fn describe_storage(settings: &Settings, blobs: &Blobs) -> String {
    match blobs {
        Blobs::Local(store) => format!(
            "files are kept in {}; uploads go to {}/{}",
            settings.data_dir.join("blobs").display(),
            store.endpoint(),
            store.bucket()
        ),
        Blobs::S3(_) => format!(
            "files are kept in S3 bucket {} at {}",
            settings.s3.bucket, settings.s3.endpoint
        ),
    }
}

/// On the first start with an empty token table, makes the title token of
/// namespace `default` and writes it to `<data>/title-token` (mode 0600).
fn bootstrap(store: &Store, settings: &Settings) -> Result<(), StartupError> {
    let has_tokens = store
        .has_tokens()
        .map_err(|e| StartupError::Bootstrap(e.to_string()))?;
    if has_tokens {
        return Ok(());
    }
    let token = match &settings.bootstrap_token {
        Some(token) => token.clone(),
        None => auth::new_token().map_err(|e| StartupError::Bootstrap(e.to_string()))?,
    };
    // The file first: a token in the database that nobody can read would be lost.
    let path = settings.data_dir.join("title-token");
    secrets::write_private(&path, &format!("{token}\n"))
        .map_err(|e| StartupError::Bootstrap(e.to_string()))?;
    let created = store
        .bootstrap_token(auth::hash_token(&token), time::now())
        .map_err(|e| StartupError::Bootstrap(e.to_string()))?;
    if created {
        log::info!(
            "created the title token of namespace 'default'; it is in {}",
            path.display()
        );
    }
    Ok(())
}

/// Where webhook events go, if `NEXDS_WEBHOOK_URL` is set (its secret is then
/// set too: `Settings` checks it).
fn webhook_target(settings: &Settings) -> Option<WebhookTarget> {
    Some(WebhookTarget {
        url: settings.webhook_url.clone()?,
        secret: settings
            .webhook_secret
            .clone()
            .unwrap_or_default()
            .into_bytes(),
        backoff: settings.webhook_backoff(),
        timeout: Duration::from_secs(settings.webhook_timeout_secs),
    })
}

/// The key of nexds's own download links: `NEXDS_LINK_SECRET`, else `<data>/link-secret`.
fn link_secret(settings: &Settings) -> Result<Vec<u8>, StartupError> {
    if let Some(secret) = &settings.link_secret {
        return Ok(secret.as_bytes().to_vec());
    }
    let text = secrets::read_or_create(&settings.data_dir.join("link-secret"), || {
        secrets::random_chars(
            48,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        )
    })
    .map_err(|e| StartupError::Blobs(e.to_string()))?;
    Ok(text.trim().as_bytes().to_vec())
}
