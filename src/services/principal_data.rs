//! A principal's data as a whole (GS2-Datastore): the listing of one's own
//! objects in every state (describeDataObjects), and for operators the export
//! archive, streamed (dumpUserDataByUserId), and the erase
//! (cleanUserDataByUserId). Export and erase serve the HTTP handlers and the
//! `nexds export` / `nexds erase` commands alike.
//!
//! The archive is a POSIX (ustar) tar: `metainfos.xml`, `persistenceinfos.xml`,
//! `ratings_given.xml`, then `files/<data_id>` for each stored file, by data_id.
//! Its exact size is known before the first byte, and files stream through one
//! chunk at a time.

use std::future::Future;
use std::io;

use bytes::Bytes;
use futures_util::StreamExt;

use crate::blob::Blobs;
use crate::domain::principal_data::{self, Erased, ListWindow, Listed, PrincipalData};
use crate::domain::{Caller, Object};
use crate::error::ApiError;
use crate::links;
use crate::services::Services;
use crate::store::Store;

/// One page of a principal's own objects, and the token of the next page.
pub struct OwnPage {
    pub objects: Vec<Object>,
    pub next_page_token: Option<String>,
}

impl Services {
    /// The objects of `owner` that `filter` admits, by data_id, `limit` at a
    /// time, after the page `page_token` names (a token of this very listing).
    pub async fn list_own_data(
        &self,
        caller: Caller,
        owner: u32,
        filter: Listed,
        limit: usize,
        page_token: Option<&str>,
        now: i64,
    ) -> Result<OwnPage, ApiError> {
        // A token belongs to one listing: namespace, owner and status filter.
        let scope = format!("{}\n{owner}\n{}", caller.namespace, filter.name());
        let after = match page_token.filter(|t| !t.is_empty()) {
            None => 0,
            Some(token) if token.len() > principal_data::PAGE_TOKEN_MAX_CHARS => {
                return Err(ApiError::invalid(format!(
                    "page_token is longer than {} characters",
                    principal_data::PAGE_TOKEN_MAX_CHARS
                )));
            }
            Some(token) => links::page_token_id(&self.link_secret, &scope, token)
                .ok_or_else(|| ApiError::invalid("page_token is not a token of this listing"))?,
        };
        let window = ListWindow {
            now,
            uploads_after: now - self.upload_timeout_secs,
            deleted_since: now - self.retention_secs,
        };
        let page = self
            .store
            .owned_objects(caller.namespace, owner, filter, after, limit, window)
            .await?;
        let next_page_token = match page.objects.last() {
            Some(last) if page.more => {
                Some(links::page_token(&self.link_secret, &scope, last.data_id))
            }
            _ => None,
        };
        Ok(OwnPage {
            objects: page.objects,
            next_page_token,
        })
    }
}

const BLOCK: u64 = 512;
/// Padding and the end of the archive (two zero blocks).
static ZEROS: [u8; 1024] = [0; 1024];

/// Where archive bytes go: an HTTP body, a file, stdout.
pub trait Sink {
    /// Takes one chunk; an error ends the export.
    fn put(&mut self, chunk: Bytes) -> impl Future<Output = io::Result<()>>;
}

/// A sink feeding a channel, whose receiver is a response body. A receiver that
/// is gone (the client hung up) is `BrokenPipe`.
pub struct ChannelSink(pub tokio::sync::mpsc::Sender<io::Result<Bytes>>);

impl Sink for ChannelSink {
    async fn put(&mut self, chunk: Bytes) -> io::Result<()> {
        self.0
            .send(Ok(chunk))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

/// A sink writing to a file or stdout.
pub struct WriterSink<W>(pub W);

impl<W: tokio::io::AsyncWrite + Unpin> Sink for WriterSink<W> {
    async fn put(&mut self, chunk: Bytes) -> io::Result<()> {
        tokio::io::AsyncWriteExt::write_all(&mut self.0, &chunk).await
    }
}

enum Content {
    Document(Bytes),
    File { key: String, size: u64 },
}

struct Entry {
    path: String,
    mtime: i64,
    content: Content,
}

impl Entry {
    fn size(&self) -> u64 {
        match &self.content {
            Content::Document(bytes) => bytes.len() as u64,
            Content::File { size, .. } => *size,
        }
    }
}

/// An export ready to be written: its documents made, its files found.
pub struct Export {
    entries: Vec<Entry>,
    /// Objects listed in `metainfos.xml`.
    pub objects: usize,
    /// Files in `files/`.
    pub files: usize,
}

/// The documents of the archive for a principal's data and its stored files'
/// sizes, as `(path, bytes)` (the codec's `render::export_documents`).
pub type Documents = fn(&PrincipalData, &[Option<u64>]) -> Vec<(&'static str, Vec<u8>)>;

/// Reads everything `principal` has in `namespace` (one snapshot), renders the
/// documents with `documents`, and finds which files are stored and how large they are.
pub async fn plan_export(
    store: &Store,
    blobs: &Blobs,
    namespace: String,
    principal: u32,
    now: i64,
    documents: Documents,
) -> Result<Export, ApiError> {
    let data = store.principal_data(namespace, principal).await?;
    let mut sizes = Vec::with_capacity(data.objects.len());
    for owned in &data.objects {
        // An upload not yet posted, or a file lost, has no size: it is left out.
        let size = match &owned.object.blob_key {
            Some(key) => blobs.size_of(key).await.map_err(ApiError::internal)?,
            None => None,
        };
        sizes.push(size);
    }
    let mut entries: Vec<Entry> = documents(&data, &sizes)
        .into_iter()
        .map(|(path, bytes)| Entry {
            path: path.to_owned(),
            mtime: now,
            content: Content::Document(Bytes::from(bytes)),
        })
        .collect();
    let mut files = 0;
    for (owned, size) in data.objects.iter().zip(sizes) {
        if let (Some(key), Some(size)) = (&owned.object.blob_key, size) {
            entries.push(Entry {
                path: principal_data::export_file_path(owned.object.data_id),
                mtime: owned.object.updated_time,
                content: Content::File {
                    key: key.clone(),
                    size,
                },
            });
            files += 1;
        }
    }
    Ok(Export {
        entries,
        objects: data.objects.len(),
        files,
    })
}

fn padding(size: u64) -> usize {
    ((BLOCK - size % BLOCK) % BLOCK) as usize
}

fn header(entry: &Entry) -> io::Result<Bytes> {
    let mut header = tar::Header::new_ustar();
    header.set_path(&entry.path)?;
    header.set_size(entry.size());
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(u64::try_from(entry.mtime).unwrap_or(0));
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    Ok(Bytes::copy_from_slice(header.as_bytes()))
}

impl Export {
    /// The exact size of the archive in bytes.
    pub fn size(&self) -> u64 {
        let entries: u64 = self
            .entries
            .iter()
            .map(|e| BLOCK + e.size() + padding(e.size()) as u64)
            .sum();
        entries + ZEROS.len() as u64
    }

    /// Writes the archive to `sink`. A file that vanished or changed size since
    /// [`plan_export`] ends it with an error: the archive is never silently wrong.
    pub async fn write(self, blobs: &Blobs, sink: &mut impl Sink) -> io::Result<()> {
        for entry in self.entries {
            sink.put(header(&entry)?).await?;
            let size = entry.size();
            match entry.content {
                Content::Document(bytes) => sink.put(bytes).await?,
                Content::File { key, size } => copy_file(blobs, &key, size, sink).await?,
            }
            let pad = padding(size);
            if pad > 0 {
                sink.put(Bytes::from_static(&ZEROS[..pad])).await?;
            }
        }
        sink.put(Bytes::from_static(&ZEROS)).await
    }
}

async fn copy_file(blobs: &Blobs, key: &str, size: u64, sink: &mut impl Sink) -> io::Result<()> {
    let mut stream = blobs
        .read(key)
        .await
        .map_err(io::Error::other)?
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("the file {key} disappeared during the export"),
            )
        })?;
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(io::Error::other)?;
        written += chunk.len() as u64;
        if written > size {
            break;
        }
        sink.put(chunk).await?;
    }
    if written != size {
        return Err(io::Error::other(format!(
            "the file {key} changed during the export: {size} bytes expected"
        )));
    }
    Ok(())
}

/// Erases everything `principal` has in `namespace` (one transaction), then deletes
/// the files it queued, as the janitor does. If a file cannot be deleted the error
/// is returned, its key stays queued and the janitor deletes it on its next run.
/// Uploads whose POST form (`form_secs`) is still valid are deleted now and stay
/// queued until the form expires, when the janitor deletes them again.
pub async fn erase(
    store: &Store,
    blobs: &Blobs,
    namespace: String,
    principal: u32,
    now: i64,
    form_secs: i64,
) -> Result<Erased, ApiError> {
    let (mut erased, files) = store
        .erase_principal(namespace, principal, now, form_secs)
        .await?;
    for file in files {
        if blobs
            .size_of(&file.key)
            .await
            .map_err(ApiError::internal)?
            .is_some()
        {
            erased.files += 1;
        }
        blobs.delete(&file.key).await.map_err(ApiError::internal)?;
        if file.due <= now {
            store.blob_deleted(file.key).await?;
        }
    }
    Ok(erased)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(path: &str, text: &str) -> Entry {
        Entry {
            path: path.to_owned(),
            mtime: 1_356_998_400,
            content: Content::Document(Bytes::from(text.as_bytes().to_vec())),
        }
    }

    struct VecSink(Vec<u8>);

    impl Sink for VecSink {
        async fn put(&mut self, chunk: Bytes) -> io::Result<()> {
            self.0.extend_from_slice(&chunk);
            Ok(())
        }
    }

    fn local_blobs(dir: &std::path::Path) -> Blobs {
        Blobs::Local(std::sync::Arc::new(
            crate::blob::LocalBlobs::open(
                dir,
                "nexds",
                Some("a".into()),
                Some("s".into()),
                "us-east-1",
                crate::s3::sign::SignatureVersion::V2,
                "http://h",
            )
            .unwrap(),
        ))
    }

    fn write(export: Export, blobs: &Blobs) -> (io::Result<()>, Vec<u8>) {
        let mut sink = VecSink(Vec::new());
        let result = actix_web::rt::System::new().block_on(export.write(blobs, &mut sink));
        (result, sink.0)
    }

    #[test]
    fn a_file_that_vanished_or_changed_size_fails_the_export() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = local_blobs(dir.path());
        std::fs::create_dir_all(dir.path().join("blobs/nexds/objects")).unwrap();
        std::fs::write(dir.path().join("blobs/nexds/objects/a.bin"), b"12345").unwrap();
        let file = |key: &str, size| Export {
            entries: vec![Entry {
                path: "files/1".into(),
                mtime: 0,
                content: Content::File {
                    key: key.into(),
                    size,
                },
            }],
            objects: 1,
            files: 1,
        };
        assert!(write(file("objects/a.bin", 5), &blobs).0.is_ok());
        let (gone, _) = write(file("objects/missing.bin", 5), &blobs);
        assert_eq!(gone.unwrap_err().kind(), io::ErrorKind::NotFound);
        assert!(write(file("objects/a.bin", 4), &blobs).0.is_err());
        let (longer, written) = write(file("objects/a.bin", 6), &blobs);
        assert!(longer.is_err());
        assert!(
            written.len() < 512 + 512,
            "nothing past the file is written"
        );
    }

    #[test]
    fn the_archive_is_a_tar_of_the_announced_size() {
        let export = Export {
            entries: vec![
                document("metainfos.xml", "<a/>"),
                document("files/1000000", &"x".repeat(512)),
                document("files/1000001", ""),
            ],
            objects: 2,
            files: 2,
        };
        let size = export.size();
        assert_eq!(size, 3 * 512 + 512 + 512 + 1024);
        let dir = tempfile::tempdir().unwrap();
        let (result, bytes) = write(export, &local_blobs(dir.path()));
        result.unwrap();
        assert_eq!(bytes.len() as u64, size);
        let mut archive = tar::Archive::new(bytes.as_slice());
        let names: Vec<(String, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.path().unwrap().display().to_string(), e.size())
            })
            .collect();
        assert_eq!(
            names,
            [
                ("metainfos.xml".to_owned(), 4),
                ("files/1000000".to_owned(), 512),
                ("files/1000001".to_owned(), 0)
            ]
        );
    }
}
