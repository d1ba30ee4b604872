//! Presigned GET/HEAD downloads: `presigned::verify` of an `ObjectRequest`
//! built from a fuzzed key, query and headers; the query is either fuzzed
//! alone or a valid SigV2/SigV4 presigned query of the key with fuzzed bytes
//! after it, so both the parsing and the signature checks are reached.
//! Invariant: errors are fine, panics are not.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use nexds::s3::presigned::{ObjectRequest, verify};
use nexds::s3::sign::{self, Credentials, ObjectUrl};

/// 2013-01-01T00:00:00Z
const NOW: i64 = 1_356_998_400;
const ENDPOINT: &str = "http://127.0.0.1:8080/storage";
const BUCKET: &str = "nexds";

#[derive(Debug, Arbitrary)]
enum Query {
    /// The fuzzed query alone.
    Raw,
    /// A valid SigV2 presigned query for the key, then the fuzzed query.
    V2 { expires_in: i32 },
    /// A valid SigV4 presigned query for the key, then the fuzzed query.
    V4 { expires_in: i32 },
}

#[derive(Debug, Arbitrary)]
struct Input {
    head: bool,
    key: String,
    /// Used as the raw (still percent-encoded) key when set, else the key encoded.
    raw_key: Option<String>,
    query: Query,
    extra_query: String,
    headers: Vec<(String, String)>,
    host_header: bool,
    now_offset: i32,
}

fn creds() -> Credentials {
    Credentials {
        access_key: "NEXDSAK".into(),
        secret_key: "SECRET/+x".into(),
        region: "us-east-1".into(),
    }
}

fuzz_target!(|input: Input| {
    let creds = creds();
    let url = ObjectUrl::new(ENDPOINT, BUCKET, &input.key);
    let signed = match input.query {
        Query::Raw => None,
        Query::V2 { expires_in } => Some(sign::presign_get_v2(
            &creds,
            &url,
            NOW + i64::from(expires_in),
        )),
        Query::V4 { expires_in } => Some(sign::presign_get_v4(
            &creds,
            &url,
            NOW,
            i64::from(expires_in),
        )),
    };
    // The URL's path and query as the server sees them.
    let (path, query) = match &signed {
        Some(full) => {
            let path_and_query = full.strip_prefix(&url.origin).unwrap_or(full);
            let (path, query) = path_and_query
                .split_once('?')
                .unwrap_or((path_and_query, ""));
            let query = if input.extra_query.is_empty() {
                query.to_owned()
            } else {
                format!("{query}&{}", input.extra_query)
            };
            (path.to_owned(), query)
        }
        None => (sign::uri_encode(&url.path, true), input.extra_query.clone()),
    };
    let raw_path = match &input.raw_key {
        Some(raw) => format!("/storage/{BUCKET}/{raw}"),
        None => path,
    };
    let raw_key = raw_path
        .strip_prefix(&format!("/storage/{BUCKET}/"))
        .unwrap_or(&raw_path)
        .to_owned();
    let mut headers: Vec<(String, String)> = input.headers.clone();
    if input.host_header {
        headers.push(("host".to_owned(), url.host.clone()));
    }
    let req = ObjectRequest {
        method: if input.head { "HEAD" } else { "GET" },
        raw_path: &raw_path,
        bucket: BUCKET,
        raw_key: &raw_key,
        raw_query: &query,
        headers: &headers,
    };
    let _ = verify(&req, &creds, NOW + i64::from(input.now_offset));
});
