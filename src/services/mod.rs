//! Flows that span the metadata store and the file storage: prepare and
//! complete an upload, deletes, download links, file versions, a principal's
//! data as a whole. Handlers parse, call one of these (or one store method), and render;
//! no HTTP and no XML here.

pub mod deletes;
pub mod downloads;
pub mod health;
pub mod principal_data;
pub mod tokens;
pub mod uploads;
pub mod versions;
pub mod webhooks;

use crate::blob::Blobs;
use crate::domain::quota::Quota;
use crate::store::Store;

/// What the flows share: the metadata store, the file storage, and the
/// settings that shape uploads and links.
pub struct Services {
    pub store: Store,
    pub blobs: Blobs,
    /// The base of every URL nexds hands out.
    pub public_url: String,
    /// Largest file a prepare may declare, in bytes.
    pub max_file_size: u64,
    /// How long an upload form stays valid, in seconds.
    pub upload_form_secs: i64,
    /// Uploads not completed within this many seconds are dropped.
    pub upload_timeout_secs: i64,
    /// Deleted objects are kept this many seconds before the janitor removes them.
    pub retention_secs: i64,
    /// Signs nexds's own download links and the page tokens of listings.
    pub link_secret: Vec<u8>,
    /// The per-owner limits of DESIGN §16.
    pub quota: Quota,
    /// Callers of tokens seen in the last second (`tokens.rs`).
    pub tokens: tokens::TokenCache,
}
