//! The metadata store: the units of work the services and handlers call, as
//! traits a backend implements, and the values they pass. Rules (permissions,
//! limits, expiry) are `domain`'s; a backend loads, asks the domain, and writes.
//!
//! Every method is one atomic, isolated unit: a batch checks every item before
//! it writes any, and no other writer can change what it read in between. The
//! SQLite backend gets that from `BEGIN IMMEDIATE` (the database's write lock,
//! whichever connection or process writes); a multi-writer backend must take row
//! locks (`SELECT … FOR UPDATE`) or run serializable transactions.

pub mod migrate;
pub mod postgres;
pub mod sqlite;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::notification::{Notification, NotificationQuery};
use crate::domain::object::Change;
use crate::domain::persistence::PersistenceInfo;
use crate::domain::prepare::PrepareRequest;
use crate::domain::principal_data::{Erased, ListWindow, Listed, OwnedPage, PrincipalData};
use crate::domain::quota::Quota;
use crate::domain::rating::{RateParam, RatingTotals};
use crate::domain::search::{SearchPage, SearchRequest};
use crate::domain::webhook::{Delivery, Outcome};
use crate::domain::{Caller, Object};
use crate::error::{ApiError, ErrorKind};

pub use sqlite::Durability;

/// The configured metadata store; cheap to clone.
pub type Store = Arc<dyn MetadataStore>;

/// Every unit of work of a metadata backend.
pub trait MetadataStore:
    Objects
    + Friends
    + Notifications
    + Uploads
    + Ratings
    + Persistence
    + Search
    + Versions
    + Principals
    + Purge
    + Tokens
    + Health
    + Webhooks
    + Exclusive
    + Send
    + Sync
{
}

impl MetadataStore for sqlite::SqliteStore {}
impl MetadataStore for postgres::PgStore {}

/// Which metadata database to open, and how (DESIGN §11).
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// SQLite keeps `nexds.db` here.
    pub data_dir: PathBuf,
    /// SQLite's commit durability.
    pub durability: Durability,
    /// `postgres://…` selects PostgreSQL; `None` is SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// PostgreSQL connections of this process.
    pub pool_size: usize,
    /// Units of work write their webhook events to the outbox (`NEXDS_WEBHOOK_URL` is set).
    pub webhooks: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Sqlite(#[from] sqlite::OpenError),
    #[error(transparent)]
    Postgres(#[from] postgres::OpenError),
}

/// Opens the configured store, creating or upgrading its schema.
pub fn open_with(options: &StoreOptions) -> Result<Store, OpenError> {
    Ok(match &options.database_url {
        Some(url) => Arc::new(
            postgres::PgStore::open(url, options.pool_size)?.with_webhooks(options.webhooks),
        ),
        None => Arc::new(
            sqlite::SqliteStore::open(&options.data_dir, options.durability)?
                .with_webhooks(options.webhooks),
        ),
    })
}

/// Opens (creating if needed) the embedded SQLite store in `data_dir`; its units
/// of work write no webhook events.
pub fn open(data_dir: &Path, durability: Durability) -> Result<Store, OpenError> {
    open_with(&StoreOptions {
        data_dir: data_dir.to_owned(),
        durability,
        database_url: None,
        pool_size: postgres::DEFAULT_POOL_SIZE,
        webhooks: false,
    })
}

/// Why a unit of work did not happen; either way nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A rule of the domain refused it (not found, permission, limits…).
    #[error(transparent)]
    Refused(ApiError),
    /// The database failed; never the client's fault.
    #[error("metadata store: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<ApiError> for StoreError {
    fn from(err: ApiError) -> Self {
        match err.kind {
            ErrorKind::Unknown => StoreError::Backend(Box::new(err)),
            _ => StoreError::Refused(err),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Refused(err) => err,
            StoreError::Backend(source) => ApiError::internal(source),
        }
    }
}

/// A file queued for deletion by an erase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedFile {
    pub key: String,
    /// From when the janitor deletes it (and forgets it).
    pub due: i64,
}

/// The rows one purge batch removed, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub uploads: usize,
    pub expired: usize,
    pub deleted: usize,
}

impl Purged {
    pub fn total(&self) -> usize {
        self.uploads + self.expired + self.deleted
    }
}

/// One token as `nexds token list` shows it.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub id: i64,
    pub namespace: String,
    pub principal: Option<u32>,
    pub created_time: i64,
    pub revoked_time: Option<i64>,
}

/// The token `revoke_token` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    pub id: i64,
    /// When it had been revoked already (then nothing changed); `None` if revoked now.
    pub already_revoked: Option<i64>,
}

/// Where an upload stands when its complete arrives.
#[derive(Debug)]
pub enum UploadState {
    /// Waiting for complete: the object as prepared.
    Uploading(Box<Object>),
    /// Completed before (a retried complete succeeds again).
    Complete,
}

/// The file of a completed upload: moved from the key its form posted to
/// (`upload_key`) to `key`, where no form reaches it. What a replay of the form
/// later puts at the upload key is swept by the janitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedFile {
    pub upload_key: String,
    pub key: String,
}

/// One stored version as the history lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    pub version: u32,
    pub size: u64,
    pub blob_key: String,
    pub created_time: i64,
}

/// A version being uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingVersion {
    pub version: u32,
    pub size: u64,
    /// The key its form uploads to.
    pub blob_key: String,
}

/// Units of work of `store/sqlite/objects.rs`.
#[async_trait]
pub trait Objects {
    /// Objects the caller may read, in the order asked; the rest are skipped.
    async fn visible_objects(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        now: i64,
    ) -> Result<Vec<Object>, StoreError>;

    /// One object the caller may read, or the error saying why not.
    async fn readable_object(
        &self,
        caller: Caller,
        id: u64,
        now: i64,
    ) -> Result<Object, StoreError>;

    /// Creates a finished meta-binary-only object; returns its data_id. Refused
    /// (OverCapacity) when its owner would pass `quota`, checked in the same
    /// transaction as the insert.
    async fn create_meta_only(
        &self,
        caller: Caller,
        request: PrepareRequest,
        quota: Quota,
        now: i64,
    ) -> Result<u64, StoreError>;

    /// Creates an object whose file is still to be uploaded (invisible until
    /// complete); returns its data_id and the key its file must have.
    async fn create_upload(
        &self,
        caller: Caller,
        request: PrepareRequest,
        quota: Quota,
        now: i64,
    ) -> Result<(u64, String), StoreError>;

    /// Applies one change to every id, all or nothing; returns how many changed.
    /// A new meta_binary is held to each owner's `quota` in the same transaction.
    async fn change_objects(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        change: Change,
        quota: Quota,
        now: i64,
    ) -> Result<usize, StoreError>;

    /// Deletes every id logically, all or nothing; returns how many.
    async fn delete_objects(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        now: i64,
    ) -> Result<usize, StoreError>;
}

/// Units of work of `store/sqlite/friends.rs`: the friend lists of DESIGN §14.
/// Permission checks read them through `domain::friends::FriendLists` in the
/// transaction of the object they check.
#[async_trait]
pub trait Friends {
    /// Replaces the friend list of `owner` (sorted, without duplicates); returns its length.
    async fn set_friends(
        &self,
        namespace: String,
        owner: u32,
        friends: Vec<u32>,
    ) -> Result<usize, StoreError>;

    /// The friend list of `owner`, in increasing order; empty when it has none.
    async fn friends(&self, namespace: String, owner: u32) -> Result<Vec<u32>, StoreError>;
}

/// Units of work of `store/sqlite/notifications.rs` (DESIGN §15). They are
/// written by the unit of work that makes an object visible (`finish_upload`, and
/// `change_objects` when a title approves), in its transaction.
#[async_trait]
pub trait Notifications {
    /// Up to `query.limit` notifications of `query.recipient` in `namespace` with
    /// an id above `query.since`, oldest first.
    async fn notifications(
        &self,
        namespace: String,
        query: NotificationQuery,
    ) -> Result<Vec<Notification>, StoreError>;

    /// Removes up to `limit` notifications made before `before`; returns how many.
    async fn purge_notifications(&self, before: i64, limit: usize) -> Result<usize, StoreError>;
}

/// Units of work of `store/sqlite/persistence.rs`.
#[async_trait]
pub trait Persistence {
    /// The objects in `slots` of `principal` that the caller may read; empty or
    /// unreadable slots are skipped.
    async fn persistence_infos(
        &self,
        caller: Caller,
        principal: u32,
        slots: Vec<u16>,
        now: i64,
    ) -> Result<Vec<PersistenceInfo>, StoreError>;

    /// One slot: NotFound when empty, else the object's read check decides.
    async fn persistence_info(
        &self,
        caller: Caller,
        principal: u32,
        slot: u16,
        now: i64,
    ) -> Result<PersistenceInfo, StoreError>;

    /// Puts `data_id`, which `principal` must own, in the slot; the object that
    /// held it is released first (deleted, or expiring again from now).
    async fn perpetuate(
        &self,
        caller: Caller,
        principal: u32,
        slot: u16,
        data_id: u64,
        delete_last_object: bool,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Empties the slot, releasing its object; returns how many objects were released (0 or 1).
    async fn unperpetuate(
        &self,
        caller: Caller,
        principal: u32,
        slot: u16,
        delete_last_object: bool,
        now: i64,
    ) -> Result<usize, StoreError>;
}

/// Units of work of `store/sqlite/principal_data.rs`.
#[async_trait]
pub trait Principals {
    /// Up to `limit` objects of `owner` after `after`, by data_id, that `filter`
    /// and `window` admit; `more` tells whether others follow.
    async fn owned_objects(
        &self,
        namespace: String,
        owner: u32,
        filter: Listed,
        after: u64,
        limit: usize,
        window: ListWindow,
    ) -> Result<OwnedPage, StoreError>;

    /// Everything kept about `principal` in `namespace`, read in one snapshot.
    async fn principal_data(
        &self,
        namespace: String,
        principal: u32,
    ) -> Result<PrincipalData, StoreError>;

    /// Removes everything `principal` owns or gave in `namespace`, in one
    /// transaction: the ratings they gave (taken back from the totals), their rating
    /// locks, their persistence slots, and their objects in every state, whose file
    /// keys are queued in `blob_deletions`. Returns the counts (files: 0, the caller
    /// deletes them) and the queued files.
    ///
    /// An upload's POST form stays valid `form_secs` after its prepare, and storage
    /// takes it without asking nexds: such a key is due only when its form expires,
    /// so the janitor undoes a POST that comes after the erase.
    async fn erase_principal(
        &self,
        namespace: String,
        principal: u32,
        now: i64,
        form_secs: i64,
    ) -> Result<(Erased, Vec<QueuedFile>), StoreError>;
}

/// Units of work of `store/sqlite/purge.rs`.
#[async_trait]
pub trait Purge {
    /// Removes up to `limit` rows of each kind that are due, queueing their files.
    /// `uploads_before`: uploads created before this are abandoned; `deleted_before`:
    /// deletions older than this are past retention.
    async fn purge_batch(
        &self,
        now: i64,
        uploads_before: i64,
        deleted_before: i64,
        limit: usize,
    ) -> Result<Purged, StoreError>;

    /// Up to `limit` queued file keys that are due at `now`.
    async fn queued_blob_deletions(
        &self,
        limit: usize,
        now: i64,
    ) -> Result<Vec<String>, StoreError>;

    /// Forgets a queued key once its file is gone.
    async fn blob_deleted(&self, key: String) -> Result<(), StoreError>;

    /// The files (current and every version) of objects deleted at or after
    /// `deleted_since`, as `(data_id, key)`: the caller hides those whose key is
    /// not hidden yet (DESIGN §4: a delete takes effect at once, downloads too).
    async fn files_of_deleted(&self, deleted_since: i64) -> Result<Vec<(u64, String)>, StoreError>;

    /// Records that the file `key` of `data_id` now lives at `moved_to`.
    async fn file_moved(
        &self,
        data_id: u64,
        key: String,
        moved_to: String,
    ) -> Result<(), StoreError>;
}

/// Units of work of `store/sqlite/ratings.rs`.
#[async_trait]
pub trait Ratings {
    /// Applies every rating in order, all or nothing; returns each slot's state after it.
    async fn rate(
        &self,
        caller: Caller,
        params: Vec<RateParam>,
        now: i64,
    ) -> Result<Vec<RatingTotals>, StoreError>;

    /// Resets every slot of every id to its initial value, all or nothing; needs
    /// update permission. Ratings given and locks are cleared too.
    async fn reset_ratings(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        now: i64,
    ) -> Result<usize, StoreError>;
}

/// Units of work of `store/sqlite/search.rs`.
#[async_trait]
pub trait Search {
    /// The caller's page of `request` and the exact number of matches it may see.
    async fn search(
        &self,
        caller: Caller,
        request: SearchRequest,
        now: i64,
    ) -> Result<SearchPage, StoreError>;
}

/// A turn at background work that one process at a time does for every node;
/// it ends when this is dropped (or the process dies).
pub struct Turn {
    _held: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl Turn {
    /// A turn that holds nothing: the only process on its database.
    pub fn alone() -> Turn {
        Turn { _held: None }
    }

    /// A turn that lasts as long as `held` lives.
    pub fn holding(held: impl std::any::Any + Send + Sync) -> Turn {
        Turn {
            _held: Some(Box::new(held)),
        }
    }
}

/// Background work one process at a time (DESIGN §11: every node runs the
/// janitor, never two at once).
#[async_trait]
pub trait Exclusive {
    /// The janitor's turn: at once (SQLite has one server per database), or, with
    /// several nodes, when no other process holds it. With `wait` it waits for the
    /// turn; without, `None` if another process has it now.
    async fn janitor_turn(&self, wait: bool) -> Result<Option<Turn>, StoreError>;
}

/// Whether the backend answers, for `GET /health/ready`.
#[async_trait]
pub trait Health {
    /// A trivial query through the path requests read by.
    async fn ping(&self) -> Result<(), StoreError>;
}

#[async_trait]
pub trait Tokens {
    /// The caller a token hash stands for, if the token exists and is not revoked.
    async fn caller_for_token(&self, hash: [u8; 32]) -> Result<Option<Caller>, StoreError>;

    /// Stores a new token; returns its id.
    fn create_token(
        &self,
        hash: [u8; 32],
        namespace: &str,
        principal: Option<u32>,
        now: i64,
    ) -> Result<i64, StoreError>;

    /// Does the database hold any token, live or revoked?
    fn has_tokens(&self) -> Result<bool, StoreError>;

    /// Stores the bootstrap title token if the database has no token yet; true if it did.
    fn bootstrap_token(&self, hash: [u8; 32], now: i64) -> Result<bool, StoreError>;

    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;

    /// Was any token, live or revoked, ever made for `namespace`? (A namespace
    /// exists only through its tokens.)
    fn namespace_known(&self, namespace: &str) -> Result<bool, StoreError>;

    /// Revokes the token with this id, or else the token with this hash, unless
    /// it is revoked already. `None` if no token matched.
    fn revoke_token(
        &self,
        id: Option<i64>,
        hash: [u8; 32],
        now: i64,
    ) -> Result<Option<Revocation>, StoreError>;
}

/// Units of work of `store/sqlite/uploads.rs`.
#[async_trait]
pub trait Uploads {
    /// The upload `id` for `caller` to complete. Only the owner or a title token
    /// sees an upload; one older than `timeout` seconds is gone (DESIGN §5).
    async fn upload_for_complete(
        &self,
        caller: Caller,
        id: u64,
        now: i64,
        timeout: i64,
    ) -> Result<UploadState, StoreError>;

    /// Makes an uploaded object visible with its sealed file, if it was created
    /// after `created_after`. The deadline is checked again here, on the writer, so
    /// an upload the janitor may already be dropping (file first) never becomes
    /// visible without its file. An object not under review is posted now: its
    /// notifications are written in the same transaction (DESIGN §15).
    async fn finish_upload(
        &self,
        id: u64,
        file: SealedFile,
        created_after: i64,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Counts a download reference on each object (urlinfo), all or nothing, and
    /// returns them. Objects without a file are InvalidArgument (DESIGN §5).
    async fn refer_objects(
        &self,
        caller: Caller,
        ids: Vec<u64>,
        now: i64,
    ) -> Result<Vec<Object>, StoreError>;

    /// A live object with a file, whoever asks (download links carry their own signature).
    async fn object_with_file(&self, id: u64, now: i64) -> Result<Option<Object>, StoreError>;
}

/// Units of work of `store/sqlite/versions.rs`.
#[async_trait]
pub trait Versions {
    /// Starts the upload of the next version; the current one stays downloadable.
    /// Its size replaces the current one's in the owner's `quota`.
    /// A version still uploading is replaced (its file is queued for deletion).
    async fn prepare_version(
        &self,
        caller: Caller,
        id: u64,
        size: u64,
        quota: Quota,
        now: i64,
    ) -> Result<PendingVersion, StoreError>;

    /// The version being uploaded, for its complete; one older than `timeout` is gone.
    async fn version_to_complete(
        &self,
        caller: Caller,
        id: u64,
        now: i64,
        timeout: i64,
    ) -> Result<PendingVersion, StoreError>;

    /// Makes an uploaded version current, if it is still pending and was created
    /// after `created_after` (re-checked on the writer, as for complete).
    async fn finish_version(
        &self,
        id: u64,
        pending: PendingVersion,
        file: SealedFile,
        created_after: i64,
        now: i64,
    ) -> Result<(), StoreError>;

    /// The stored versions of an object the caller may read, newest first.
    async fn versions(
        &self,
        caller: Caller,
        id: u64,
        now: i64,
    ) -> Result<(Object, Vec<VersionInfo>), StoreError>;

    /// One stored version, for a download of it.
    async fn stored_version(
        &self,
        id: u64,
        version: u32,
    ) -> Result<Option<VersionInfo>, StoreError>;

    /// Makes a stored earlier version current again.
    async fn restore_version(
        &self,
        caller: Caller,
        id: u64,
        version: u32,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Sets the current version to what storage really holds (GS2 restoreDataObject).
    async fn reconcile_version(
        &self,
        id: u64,
        version: u32,
        size: u64,
        blob_key: String,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Removes versions still uploading after `uploads_before` and superseded
    /// versions past `superseded_before`; the delete trigger queues their files.
    async fn purge_versions(
        &self,
        uploads_before: i64,
        superseded_before: i64,
        limit: usize,
    ) -> Result<usize, StoreError>;
}

/// Units of work of `store/sqlite/webhooks.rs`: the delivery side of the webhook
/// outbox. Events are written by the other units of work, in their own transaction
/// (SQLite: `webhooks::Outbox::enqueue`).
#[async_trait]
pub trait Webhooks {
    /// Leases up to `limit` due events until `now_ms + lease_ms`, oldest first:
    /// not waiting for a retry, not leased by another node, and each the oldest
    /// undelivered event of its object. Atomic, so two nodes never hold one row at
    /// once (a multi-writer backend: `FOR UPDATE SKIP LOCKED`).
    async fn claim_webhook_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Records attempts in one transaction: delivered and given-up rows go, the
    /// others wait for their retry. A failure of a row whose lease has passed to
    /// another node changes nothing.
    async fn settle_webhook_deliveries(
        &self,
        outcomes: Vec<(Delivery, Outcome)>,
    ) -> Result<(), StoreError>;

    /// Events not delivered yet.
    async fn webhook_backlog(&self) -> Result<usize, StoreError>;
}
