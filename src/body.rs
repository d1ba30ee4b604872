//! Request bodies that must keep coming: no connection waits forever for a body
//! that stalls. A body is cut off when a chunk takes longer than the idle time,
//! or the whole body passes its deadline; the caller answers the client
//! (408 for the API, S3's `RequestTimeout` for the local store's uploads).

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_util::{Stream, StreamExt};

/// The slowest an upload to the local store may arrive once it started, in
/// bytes per second; a 10 MiB file then has at least 10 minutes.
pub const MIN_UPLOAD_RATE: u64 = 16 * 1024;

/// How long a body may take (app data).
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline {
    /// The longest gap between two chunks, and the time an API body has in all.
    pub idle: Duration,
}

impl BodyDeadline {
    /// When an upload of `length` bytes must have arrived: the idle time, plus
    /// the time its bytes take at [`MIN_UPLOAD_RATE`].
    pub fn upload_deadline(&self, started: Instant, length: u64) -> Instant {
        started + self.idle + Duration::from_secs(length / MIN_UPLOAD_RATE)
    }
}

/// `body`, chunk by chunk, ended by an error (and `timed_out` set) when the next
/// chunk is not there within `idle` or `deadline` passes.
pub fn timed<S>(
    body: S,
    idle: Duration,
    deadline: Instant,
    timed_out: Rc<Cell<bool>>,
) -> impl Stream<Item = Result<Bytes, PayloadError>>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    futures_util::stream::unfold(Some(body), move |body| {
        let timed_out = Rc::clone(&timed_out);
        async move {
            let mut body = body?;
            let wait = idle.min(deadline.saturating_duration_since(Instant::now()));
            match actix_web::rt::time::timeout(wait, body.next()).await {
                Ok(Some(item)) => Some((item, Some(body))),
                Ok(None) => None,
                Err(_) => {
                    timed_out.set(true);
                    let cut = std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the request body stopped coming",
                    );
                    Some((Err(PayloadError::Io(cut)), None))
                }
            }
        }
    })
    // A multipart reader polls again after the end: stay ended.
    .fuse()
}
