//! The local store's POST Object upload: a fuzzed multipart/form-data body
//! (fixed boundary, fuzzed chunking) read by the real handler code through
//! actix-multipart, the policy check, the file into a scratch store, the drain.
//! Invariant: errors are fine, panics are not.

#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use actix_web::error::PayloadError;
use actix_web::http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use nexds::blob::local::LocalBlobs;
use nexds::s3::fuzz_post_body;
use nexds::s3::sign::SignatureVersion;

const BOUNDARY: &str = "nexdsfuzz";
const BUCKET: &str = "nexds";
/// Small, so the size limits are reached.
const MAX_FILE_SIZE: u64 = 4096;
/// 2100-01-01T00:00:00Z: the signed forms the target builds stay valid.
const FAR_FUTURE: i64 = 4_102_444_800;

/// The scratch store, under fuzz/target (kept between runs, never committed).
fn store() -> &'static LocalBlobs {
    static STORE: OnceLock<LocalBlobs> = OnceLock::new();
    STORE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/post_object-store");
        LocalBlobs::open(
            &dir,
            BUCKET,
            Some("AKNEXDS".into()),
            Some("secret".into()),
            "us-east-1",
            SignatureVersion::V2,
            "http://127.0.0.1:8080",
        )
        .expect("the scratch store opens")
    })
}

thread_local! {
    /// The handler's kind of runtime: one thread, `!Send` futures.
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
}

fn part(body: &mut Vec<u8>, name: &str, value: &str) {
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
        .as_bytes(),
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((&chunking, rest)) = rest.split_first() else {
        return;
    };
    let store = store();
    // Bit 0: start with the fields of a valid signed form for key `k/<n>`, so
    // the file part is reached; bit 1: then a file part header; bit 2: end with
    // the closing boundary. The fuzzed bytes go in between.
    let mut body = Vec::new();
    if mode & 1 != 0 {
        let size = u64::from(chunking) * 3;
        let form = store.upload_form(&format!("k/{}", mode >> 3), size, 0, FAR_FUTURE);
        for (name, value) in &form.fields {
            part(&mut body, name, value);
        }
    }
    if mode & 2 != 0 {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(rest);
    if mode & 4 != 0 {
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    }
    // Chunks of 1 to 64 bytes, so the parser meets every split of its tokens.
    let chunk = usize::from(chunking % 64) + 1;
    let chunks: Vec<Result<Bytes, PayloadError>> = body
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("multipart/form-data; boundary=nexdsfuzz"),
    );
    RUNTIME.with(|runtime| {
        let _ = runtime.block_on(fuzz_post_body(
            store,
            BUCKET,
            &headers,
            futures_util::stream::iter(chunks),
            MAX_FILE_SIZE,
        ));
    });
});
