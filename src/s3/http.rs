//! The local store's S3 side (DESIGN §1, §5): browser POST uploads to
//! `/storage/{bucket}` and presigned downloads from `/storage/{bucket}/{key}`,
//! judged and answered as S3 would. With S3 storage these paths do not exist.

use std::cell::Cell;
use std::io;
use std::rc::Rc;

use actix_multipart::{Field, Multipart, MultipartError};
use actix_web::body::SizedStream;
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::blob::LocalBlobs;
use crate::body::{self, BodyDeadline};
use crate::domain::time;
use crate::error::{ApiError, ErrorKind};
use crate::handlers::AppState;
use crate::observe;
use crate::s3::error::{self, S3Code, S3Error};
use crate::s3::post_policy::{self, Form, MAX_PRE_DATA, Success};
use crate::s3::presigned::{self, ObjectRequest};
use crate::s3::sign;

/// What S3 stores when a form names no `Content-Type`.
const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

/// Bytes read past a refusal so the client sees the answer rather than a reset.
const DRAIN_SLACK: u64 = 1 << 20;

/// `POST /storage/{bucket}` (or `…/{bucket}/`): an S3 browser POST upload into the local store.
pub async fn post_object(
    req: HttpRequest,
    state: web::Data<AppState>,
    bucket: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let store = local_store(&state, &req)?;
    let request_id = observe::request_id(&req);
    // A body that stalls, or crawls, is cut off as S3 does (RequestTimeout).
    let deadline = req
        .app_data::<BodyDeadline>()
        .copied()
        .unwrap_or(BodyDeadline {
            idle: std::time::Duration::from_secs(10),
        });
    let length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(state.max_file_size);
    let timed_out = Rc::new(Cell::new(false));
    let payload = body::timed(
        payload,
        deadline.idle,
        deadline.upload_deadline(std::time::Instant::now(), length),
        Rc::clone(&timed_out),
    );
    let result = read_post(store, &bucket, req.headers(), payload, state.max_file_size).await;
    let result = match result {
        Err(_) if timed_out.get() => Err(S3Error::new(
            S3Code::RequestTimeout,
            "Your socket connection to the server was not read from or written to within \
             the timeout period. Idle connections will be closed.",
        )),
        other => other,
    };
    Ok(match result {
        Ok(stored) => post_success(store, &bucket, &stored, &request_id),
        Err(err) => s3_error(&req, &err, &request_id),
    })
}

/// Fuzzing entry point: [`post_object`]'s reading of a body (form, policy, file, drain).
#[doc(hidden)]
pub async fn fuzz_post_body<S>(
    store: &LocalBlobs,
    bucket: &str,
    headers: &HeaderMap,
    payload: S,
    max_file_size: u64,
) -> Result<(), S3Error>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + 'static,
{
    read_post(store, bucket, headers, payload, max_file_size)
        .await
        .map(drop)
}

/// Reads a POST Object body into `store`, then what is left of it.
async fn read_post<S>(
    store: &LocalBlobs,
    bucket: &str,
    headers: &HeaderMap,
    payload: S,
    max_file_size: u64,
) -> Result<Stored, S3Error>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + 'static,
{
    let seen = Rc::new(Cell::new(0u64));
    let counter = Rc::clone(&seen);
    let body = payload.inspect(move |chunk| {
        if let Ok(bytes) = chunk {
            counter.set(counter.get().saturating_add(bytes.len() as u64));
        }
    });
    let mut form = FormStream {
        inner: Multipart::new(headers, body),
        done: false,
    };
    let drain_limit = max_file_size.saturating_add(DRAIN_SLACK);
    let result = if bucket == store.bucket() {
        receive(store, bucket, &mut form, max_file_size, &seen, drain_limit).await
    } else {
        Err(S3Error::no_such_bucket())
    };
    // Fields after the file are ignored, as S3 does; read them so the client gets
    // its answer on a healthy connection.
    form.drain(&seen, drain_limit).await;
    result
}

/// `GET /storage/{bucket}/{key}` and `HEAD`: a presigned download from the local store.
pub async fn get_object(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let store = local_store(&state, &req)?;
    let request_id = observe::request_id(&req);
    Ok(match serve(&req, store, &request_id).await {
        Ok(mut response) => {
            set_header(&mut response, "x-amz-request-id", &request_id);
            response
        }
        Err(err) => s3_error(&req, &err, &request_id),
    })
}

/// Any other method on a storage path.
pub async fn storage_method_not_allowed(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    local_store(&state, &req)?;
    let err = S3Error::new(
        S3Code::MethodNotAllowed,
        "The specified method is not allowed against this resource.",
    );
    Ok(s3_error(&req, &err, &observe::request_id(&req)))
}

/// The local store, or the answer to an unknown path when storage is S3.
fn local_store<'a>(state: &'a AppState, req: &HttpRequest) -> Result<&'a LocalBlobs, ApiError> {
    state.blobs.local().ok_or_else(|| {
        ApiError::new(
            ErrorKind::NoSuchEndpoint,
            format!("no endpoint {} {}", req.method(), req.path()),
        )
    })
}

/// A multipart body that is never polled again once it ended or failed.
struct FormStream {
    inner: Multipart,
    done: bool,
}

impl FormStream {
    async fn next(&mut self) -> Option<Result<Field, MultipartError>> {
        if self.done {
            return None;
        }
        let item = self.inner.next().await;
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }

    /// Reads and drops what is left, up to `limit` bytes of body in all.
    async fn drain(&mut self, seen: &Cell<u64>, limit: u64) {
        while seen.get() <= limit {
            let Some(Ok(mut field)) = self.next().await else {
                return;
            };
            if !discard(&mut field, seen, limit).await {
                return;
            }
        }
    }
}

/// Reads a field to its end unless the body passes `limit`; true if it ended.
async fn discard(field: &mut Field, seen: &Cell<u64>, limit: u64) -> bool {
    loop {
        match field.next().await {
            Some(Ok(_)) if seen.get() <= limit => {}
            Some(Ok(_)) | Some(Err(_)) => return false,
            None => return true,
        }
    }
}

fn malformed() -> S3Error {
    S3Error::new(
        S3Code::MalformedPOSTRequest,
        "The body of your POST request is not well-formed multipart/form-data.",
    )
}

/// A stored upload.
struct Stored {
    key: String,
    etag: String,
    success: Success,
}

/// Reads the form, judges it when the file part starts, streams the file to a
/// temporary file within the size the policy allows, then renames it into place.
async fn receive(
    store: &LocalBlobs,
    bucket: &str,
    form_stream: &mut FormStream,
    max_file_size: u64,
    seen: &Cell<u64>,
    drain_limit: u64,
) -> Result<Stored, S3Error> {
    let mut form = Form::default();
    let mut pre_data = 0usize;
    let mut file = loop {
        let mut field = match form_stream.next().await {
            None => {
                return Err(S3Error::new(
                    S3Code::IncorrectNumberOfFilesInPostRequest,
                    "POST requires exactly one file upload per request.",
                ));
            }
            Some(Err(_)) => return Err(malformed()),
            Some(Ok(field)) => field,
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name.eq_ignore_ascii_case("file") {
            break field;
        }
        pre_data += name.len();
        let mut value = Vec::new();
        loop {
            match field.next().await {
                Some(Ok(chunk)) => {
                    pre_data += chunk.len();
                    if pre_data > MAX_PRE_DATA {
                        discard(&mut field, seen, drain_limit).await;
                        return Err(S3Error::new(
                            S3Code::MaxPostPreDataLengthExceeded,
                            "Your POST request fields preceeding the upload file was too large.",
                        ));
                    }
                    value.extend_from_slice(&chunk);
                }
                Some(Err(_)) => return Err(malformed()),
                None => break,
            }
        }
        let value = String::from_utf8(value).map_err(|_| {
            S3Error::invalid_argument(format!("The form field '{name}' is not UTF-8 text."))
        })?;
        form.push(&name, value)?;
    };

    let filename = file
        .content_disposition()
        .and_then(|cd| cd.get_filename())
        .map(str::to_owned);
    let judged = post_policy::check(
        &form,
        bucket,
        filename.as_deref(),
        store.credentials(),
        time::now(),
    );
    let grant = match judged {
        Ok(grant) if store.key_is_storable(&grant.key).await => grant,
        Ok(grant) => {
            discard(&mut file, seen, drain_limit).await;
            return Err(S3Error::invalid_argument(format!(
                "This store cannot keep the key '{}' (a path segment is '.', '..' or empty, \
                 or it clashes with a stored key's folder).",
                grant.key
            )));
        }
        Err(err) => {
            discard(&mut file, seen, drain_limit).await;
            return Err(err);
        }
    };
    let limit = grant.max_size.min(max_file_size);
    let mut upload = store.begin_upload().await.map_err(|e| {
        log::error!("local store: cannot create an upload file: {e}");
        S3Error::internal()
    })?;
    let mut checksum = grant.checksum_hasher();
    loop {
        let chunk: Bytes = match file.next().await {
            Some(Ok(chunk)) => chunk,
            Some(Err(_)) => return Err(malformed()),
            None => break,
        };
        let size = upload.size().saturating_add(chunk.len() as u64);
        if size > limit {
            // Stop writing; the temporary file goes when `upload` is dropped.
            discard(&mut file, seen, drain_limit).await;
            return Err(grant.size_error(size).unwrap_or_else(|| {
                S3Error::new(
                    S3Code::EntityTooLarge,
                    "Your proposed upload exceeds the maximum allowed size",
                )
            }));
        }
        if let Some(hasher) = checksum.as_mut() {
            hasher.update(&chunk);
        }
        upload.write(&chunk).await.map_err(|e| {
            log::error!("local store: cannot write an upload: {e}");
            S3Error::internal()
        })?;
    }
    if let Some(err) = grant.size_error(upload.size()) {
        return Err(err);
    }
    if let Some(hasher) = checksum {
        hasher.verify()?;
    }
    let etag = upload
        .commit(store, &grant.key, grant.headers.clone())
        .await
        .map_err(|e| {
            log::error!("local store: cannot store {}: {e}", grant.key);
            S3Error::internal()
        })?;
    log::info!("local store: stored {} ({etag})", grant.key);
    Ok(Stored {
        key: grant.key,
        etag,
        success: grant.success,
    })
}

/// The answer S3 gives to a stored upload: a redirect, or 200/201/204.
fn post_success(
    store: &LocalBlobs,
    bucket: &str,
    stored: &Stored,
    request_id: &str,
) -> HttpResponse {
    let location = format!(
        "{}/{bucket}/{}",
        store.endpoint(),
        sign::uri_encode(&stored.key, true)
    );
    let etag = format!("\"{}\"", stored.etag);
    let mut response = match &stored.success {
        Success::Redirect(url) => HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                Success::location(url, bucket, &stored.key, &stored.etag),
            ))
            .finish(),
        Success::Status(201) => HttpResponse::Created()
            .insert_header((header::CONTENT_TYPE, error::CONTENT_TYPE))
            .insert_header((header::LOCATION, location.as_str()))
            .body(post_policy::post_response_xml(
                &location,
                bucket,
                &stored.key,
                &stored.etag,
            )),
        Success::Status(200) => HttpResponse::Ok()
            .insert_header((header::LOCATION, location.as_str()))
            .finish(),
        Success::Status(_) => HttpResponse::NoContent()
            .insert_header((header::LOCATION, location.as_str()))
            .finish(),
    };
    set_header(&mut response, "etag", &etag);
    set_header(&mut response, "x-amz-request-id", request_id);
    response
}

/// Verifies a presigned GET or HEAD and serves the file, with Range support.
async fn serve(
    req: &HttpRequest,
    store: &LocalBlobs,
    request_id: &str,
) -> Result<HttpResponse, S3Error> {
    // The path as received, still encoded: `/storage/<bucket>/<key>`.
    let raw_path = req.path();
    let rest = raw_path.strip_prefix("/storage/").unwrap_or_default();
    let (raw_bucket, raw_key) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket = presigned::decode_path(raw_bucket).unwrap_or_default();
    if bucket != store.bucket() {
        return Err(S3Error::no_such_bucket());
    }
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let signed = ObjectRequest {
        method: req.method().as_str(),
        raw_path,
        bucket: &bucket,
        raw_key,
        raw_query: req.query_string(),
        headers: &headers,
    };
    presigned::verify(&signed, store.credentials(), time::now())?;

    let key = presigned::decode_path(raw_key).ok_or_else(S3Error::no_such_key)?;
    let path = store.path_for(&key).ok_or_else(S3Error::no_such_key)?;
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Err(S3Error::no_such_key());
        }
        Err(e) => {
            log::error!("local store: cannot open {key}: {e}");
            return Err(S3Error::internal());
        }
    };
    let stat = file.metadata().await.map_err(|e| {
        log::error!("local store: cannot stat {key}: {e}");
        S3Error::internal()
    })?;
    if !stat.is_file() {
        return Err(S3Error::no_such_key());
    }
    let meta = store.object_meta(&key, &stat).await.map_err(|e| {
        log::error!("local store: cannot read the ETag of {key}: {e}");
        S3Error::internal()
    })?;
    let etag = format!("\"{}\"", meta.etag);
    let modified = stat
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let last_modified = crate::blob::http_date(modified);
    if let Some(answer) = preconditions(req, &etag, modified) {
        return answer.map(|mut response| {
            set_header(&mut response, "last-modified", &last_modified);
            response
        });
    }

    let size = stat.len();
    let range = match req.headers().get(header::RANGE).map(HeaderValue::as_bytes) {
        None => None,
        Some(value) => match http_range::HttpRange::parse_bytes(value, size) {
            Ok(ranges) => ranges.first().map(|r| (r.start, r.length)),
            Err(http_range::HttpRangeParseError::NoOverlap) => {
                let mut refused = s3_error(
                    req,
                    &S3Error::new(
                        S3Code::InvalidRange,
                        "The requested range is not satisfiable",
                    ),
                    request_id,
                );
                set_header(&mut refused, "content-range", &format!("bytes */{size}"));
                return Ok(refused);
            }
            // S3 serves the whole object when the Range header makes no sense.
            Err(http_range::HttpRangeParseError::InvalidRange) => None,
        },
    };
    let (offset, length) = range.unwrap_or((0, size));
    if offset > 0 {
        file.seek(io::SeekFrom::Start(offset)).await.map_err(|e| {
            log::error!("local store: cannot seek in {key}: {e}");
            S3Error::internal()
        })?;
    }
    let mut response = if range.is_some() {
        HttpResponse::PartialContent()
    } else {
        HttpResponse::Ok()
    };
    if range.is_some() {
        response.insert_header((
            header::CONTENT_RANGE,
            format!("bytes {offset}-{}/{size}", offset + length - 1),
        ));
    }
    let mut response = response
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::ETAG, etag.as_str()))
        .insert_header((header::LAST_MODIFIED, last_modified.as_str()))
        .insert_header((header::CONTENT_TYPE, DEFAULT_CONTENT_TYPE))
        .body(SizedStream::new(length, file_chunks(file, length)));
    for (name, value) in &meta.headers {
        set_header(&mut response, name, value);
    }
    // `response-*` query parameters override headers of signed requests (S3 GetObject).
    for (name, value) in presigned::query_pairs(req.query_string()) {
        if let Some(header) = name.strip_prefix("response-")
            && matches!(
                header,
                "content-type"
                    | "content-language"
                    | "expires"
                    | "cache-control"
                    | "content-disposition"
                    | "content-encoding"
            )
        {
            set_header(&mut response, header, &value);
        }
    }
    Ok(response)
}

/// `length` bytes of `file` from where it stands, in chunks of at most 64 KiB.
fn file_chunks(
    file: tokio::fs::File,
    length: u64,
) -> impl futures_util::Stream<Item = Result<Bytes, io::Error>> + 'static {
    futures_util::stream::unfold((file, length), |(mut file, left)| async move {
        if left == 0 {
            return None;
        }
        let mut buf = vec![0u8; usize::try_from(left.min(64 * 1024)).unwrap_or(64 * 1024)];
        match file.read(&mut buf).await {
            Ok(0) => Some((Err(io::ErrorKind::UnexpectedEof.into()), (file, 0))),
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), (file, left - n as u64)))
            }
            Err(e) => Some((Err(e), (file, 0))),
        }
    })
}

/// The conditional headers against the object's ETag and mtime, in RFC 9110's
/// order, as S3 answers them: 412 for a failed `If-Match`/`If-Unmodified-Since`,
/// 304 for a matching `If-None-Match` or an unmodified `If-Modified-Since`.
fn preconditions(
    req: &HttpRequest,
    etag: &str,
    modified: i64,
) -> Option<Result<HttpResponse, S3Error>> {
    let listed = |name: header::HeaderName| -> Option<bool> {
        let values: Vec<&str> = req
            .headers()
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .collect();
        if values.is_empty() {
            return None;
        }
        Some(
            values
                .iter()
                .flat_map(|v| v.split(','))
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == "*" || t == etag),
        )
    };
    let date = |name: header::HeaderName| -> Option<i64> {
        let text = req.headers().get(name)?.to_str().ok()?;
        let parsed: std::time::SystemTime = text.parse::<header::HttpDate>().ok()?.into();
        let secs = parsed.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
        i64::try_from(secs).ok()
    };
    let failed = || {
        Some(Err(S3Error::new(
            S3Code::PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold",
        )))
    };
    let not_modified = || {
        Some(Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish()))
    };
    match listed(header::IF_MATCH) {
        Some(false) => return failed(),
        Some(true) => {}
        None => {
            if date(header::IF_UNMODIFIED_SINCE).is_some_and(|since| modified > since) {
                return failed();
            }
        }
    }
    match listed(header::IF_NONE_MATCH) {
        Some(true) => not_modified(),
        Some(false) => None,
        None if date(header::IF_MODIFIED_SINCE).is_some_and(|since| modified <= since) => {
            not_modified()
        }
        None => None,
    }
}

fn set_header(response: &mut HttpResponse, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
        response.headers_mut().insert(name, value);
    }
}

/// S3's error answer; a HEAD gets the status and headers only.
fn s3_error(req: &HttpRequest, err: &S3Error, request_id: &str) -> HttpResponse {
    if err.code == S3Code::InternalError {
        log::error!("local store: {err}");
    } else {
        log::debug!("local store refused {} {}: {err}", req.method(), req.path());
    }
    err.response(request_id, req.method() == actix_web::http::Method::HEAD)
}
