//! Readiness (DESIGN §12): whether the metadata database and the file storage
//! answer, each asked once with a short deadline.

use std::future::Future;
use std::time::Duration;

use crate::services::Services;

/// How long each backend may take to answer before it counts as failed.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// One backend that did not answer, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// `metadata database` or `file storage`.
    pub what: &'static str,
    pub why: String,
}

impl Services {
    /// The backends that do not answer now; empty when ready. Both are asked at once.
    pub async fn readiness(&self) -> Vec<Failed> {
        let database = check("metadata database", self.store.ping());
        let storage = check("file storage", self.blobs.ping());
        let (database, storage) = futures_util::future::join(database, storage).await;
        database.into_iter().chain(storage).collect()
    }
}

async fn check<E: std::fmt::Display>(
    what: &'static str,
    call: impl Future<Output = Result<(), E>>,
) -> Option<Failed> {
    let why = match tokio::time::timeout(READY_TIMEOUT, call).await {
        Ok(Ok(())) => return None,
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {} s", READY_TIMEOUT.as_secs()),
    };
    Some(Failed { what, why })
}
