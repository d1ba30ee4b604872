//! Presigned GET and HEAD URLs judged as S3 judges them: SigV2 query
//! authentication (`AWSAccessKeyId`, `Expires`, `Signature`) and SigV4 query
//! authentication (`X-Amz-*`), against the local store's keys.

use crate::links::same_signature;
use crate::s3::error::{S3Code, S3Error};
use crate::s3::sign::{self, Credentials, V4_MAX_EXPIRES};

/// How far in the future a SigV4 `X-Amz-Date` may be (clock skew, as MinIO and s3s).
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// Query parameters SigV2 signs as sub-resources (botocore `QSAOfInterest`).
const V2_SUBRESOURCES: [&str; 37] = [
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
    "retention",
    "legal-hold",
];

/// A request for an object, as received.
#[derive(Debug, Clone)]
pub struct ObjectRequest<'a> {
    pub method: &'a str,
    /// The URL path, still percent-encoded: `/storage/<bucket>/<key>`.
    pub raw_path: &'a str,
    pub bucket: &'a str,
    /// The key as percent-encoded in the path.
    pub raw_key: &'a str,
    /// The query string, still encoded.
    pub raw_query: &'a str,
    /// Request headers as (lowercase name, value), in the order received.
    pub headers: &'a [(String, String)],
}

impl ObjectRequest<'_> {
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// The query string decoded into pairs, in order (`+` is a space, as S3 reads it).
pub fn query_pairs(raw_query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw_query).unwrap_or_default()
}

fn first<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Percent-decodes a path piece; `None` when it is not UTF-8.
pub fn decode_path(raw: &str) -> Option<String> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// The paths a client may have signed: as sent, and re-encoded the AWS way.
fn path_candidates(raw: &str) -> Vec<String> {
    let mut out = vec![raw.to_owned()];
    if let Some(normal) = decode_path(raw).map(|p| sign::uri_encode(&p, true))
        && normal != raw
    {
        out.push(normal);
    }
    out
}

/// Verifies a presigned request at `now`; `Ok` means S3 would serve it.
pub fn verify(req: &ObjectRequest<'_>, creds: &Credentials, now: i64) -> Result<(), S3Error> {
    let query = query_pairs(req.raw_query);
    let has = |name: &str| query.iter().any(|(k, _)| k == name);
    if has("X-Amz-Signature")
        || has("X-Amz-Credential")
        || has("X-Amz-Algorithm")
        || has("X-Amz-Date")
    {
        verify_v4(req, &query, creds, now)
    } else if has("Signature") || has("AWSAccessKeyId") || has("Expires") {
        verify_v2(req, &query, creds, now)
    } else if req.headers.iter().any(|(n, _)| n == "authorization") {
        Err(S3Error::access_denied(
            "This store takes presigned URLs only; the Authorization header is not supported",
        ))
    } else {
        Err(S3Error::anonymous())
    }
}

fn verify_v2(
    req: &ObjectRequest<'_>,
    query: &[(String, String)],
    creds: &Credentials,
    now: i64,
) -> Result<(), S3Error> {
    let (Some(access_key), Some(expires), Some(signature)) = (
        first(query, "AWSAccessKeyId"),
        first(query, "Expires"),
        first(query, "Signature"),
    ) else {
        return Err(S3Error::access_denied(
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
        ));
    };
    let Ok(expires_at) = expires.parse::<i64>() else {
        return Err(S3Error::access_denied(format!(
            "Invalid date (should be seconds since epoch): {expires}"
        )));
    };
    if access_key != creds.access_key {
        return Err(S3Error::invalid_access_key());
    }
    if now > expires_at {
        return Err(S3Error::expired());
    }
    let one = |name: &str| req.header_values(name).join(",");
    let mut amz: Vec<(&str, String)> = req
        .headers
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| n.starts_with("x-amz-"))
        .map(|n| (n, one(n)))
        .collect();
    amz.sort();
    amz.dedup();
    let amz_headers: String = amz.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let mut subresources: Vec<&(String, String)> = query
        .iter()
        .filter(|(k, _)| V2_SUBRESOURCES.contains(&k.as_str()))
        .collect();
    subresources.sort_by(|a, b| a.0.cmp(&b.0));
    let suffix = if subresources.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = subresources
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        format!("?{}", list.join("&"))
    };
    // SigV2's resource is `/bucket/key`, whatever the endpoint's path prefix.
    for key in path_candidates(req.raw_key) {
        let resource = format!("/{}/{key}{suffix}", req.bucket);
        let string_to_sign = sign::string_to_sign_v2(
            req.method,
            &one("content-md5"),
            &one("content-type"),
            expires,
            &amz_headers,
            &resource,
        );
        if same_signature(
            &sign::sign_v2(&creds.secret_key, &string_to_sign),
            signature,
        ) {
            return Ok(());
        }
    }
    Err(S3Error::signature_mismatch())
}

fn query_error(message: impl Into<String>) -> S3Error {
    S3Error::new(S3Code::AuthorizationQueryParametersError, message)
}

fn verify_v4(
    req: &ObjectRequest<'_>,
    query: &[(String, String)],
    creds: &Credentials,
    now: i64,
) -> Result<(), S3Error> {
    let (
        Some(algorithm),
        Some(credential),
        Some(date),
        Some(expires),
        Some(signed_headers),
        Some(signature),
    ) = (
        first(query, "X-Amz-Algorithm"),
        first(query, "X-Amz-Credential"),
        first(query, "X-Amz-Date"),
        first(query, "X-Amz-Expires"),
        first(query, "X-Amz-SignedHeaders"),
        first(query, "X-Amz-Signature"),
    )
    else {
        return Err(query_error(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, \
             X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
             X-Amz-Expires parameters.",
        ));
    };
    let (scope, signed_at) = sign::check_v4_scope(
        algorithm,
        credential,
        date,
        creds,
        S3Code::AuthorizationQueryParametersError,
    )?;
    if !date.starts_with(scope.date) {
        return Err(query_error(
            "Invalid credential date. Date is not the same as X-Amz-Date.",
        ));
    }
    let Ok(lifetime) = expires.parse::<i64>() else {
        return Err(query_error("X-Amz-Expires should be a number"));
    };
    if lifetime < 0 {
        return Err(query_error("X-Amz-Expires must be non-negative"));
    }
    if lifetime > V4_MAX_EXPIRES {
        return Err(query_error(
            "X-Amz-Expires must be less than a week (in seconds) that is; 604800",
        ));
    }
    if signed_at > now.saturating_add(MAX_SKEW_SECS) {
        return Err(S3Error::access_denied("Request is not valid yet"));
    }
    if now > signed_at.saturating_add(lifetime) {
        return Err(S3Error::expired());
    }
    let mut names: Vec<String> = signed_headers
        .split(';')
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    if !names.iter().any(|n| n == "host") {
        return Err(S3Error::access_denied(
            "There were headers present in the request which were not signed",
        ));
    }
    let headers: Vec<(String, String)> = names
        .into_iter()
        .map(|name| {
            let value = req
                .header_values(&name)
                .iter()
                .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join(",");
            (name, value)
        })
        .collect();
    let unsigned: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .cloned()
        .collect();
    let key = sign::signing_key_v4(&creds.secret_key, scope.date, &creds.region, "s3");
    let scope_text = format!("{}/{}/s3/aws4_request", scope.date, creds.region);
    for path in path_candidates(req.raw_path) {
        let canonical = sign::canonical_request_v4_with(req.method, &path, &unsigned, &headers);
        let expected = sign::sign_v4(
            &key,
            &sign::string_to_sign_v4(date, &scope_text, &canonical),
        );
        if same_signature(&expected, signature) {
            return Ok(());
        }
    }
    Err(S3Error::signature_mismatch())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::sign::ObjectUrl;

    fn creds() -> Credentials {
        Credentials {
            access_key: "NEXDSAK".into(),
            secret_key: "SECRET/+x".into(),
            region: "us-east-1".into(),
        }
    }

    fn split(url: &str) -> (String, String) {
        let path_and_query = url.trim_start_matches("http://127.0.0.1:8080");
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        (path.to_owned(), query.to_owned())
    }

    fn judge(method: &str, url: &str, now: i64) -> Result<(), S3Error> {
        let (path, query) = split(url);
        let raw_key = path.trim_start_matches("/storage/nexds/").to_owned();
        let headers = vec![("host".to_owned(), "127.0.0.1:8080".to_owned())];
        let req = ObjectRequest {
            method,
            raw_path: &path,
            bucket: "nexds",
            raw_key: &raw_key,
            raw_query: &query,
            headers: &headers,
        };
        verify(&req, &creds(), now)
    }

    const NOW: i64 = 1_795_286_828; // 2026-11-21T18:47:08Z

    #[test]
    fn botocores_presigned_urls_pass_and_tampered_ones_fail() {
        // Printed by boto3 1.44.5 with these keys (see sign.rs for the same vectors).
        let v2 = "http://127.0.0.1:8080/storage/nexds/objects/a%20b%2Bc~%21.bin?AWSAccessKeyId=NEXDSAK&Signature=WrDI4Fmkd6WtXIJKs%2B4ZJDi%2FRkQ%3D&Expires=1795287128";
        let v4 = "http://127.0.0.1:8080/storage/nexds/objects/a%20b%2Bc~%21.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=NEXDSAK%2F20261121%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261121T184708Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=11a6bd3beb3c3112e1096c57240b29a252143913f78fd529bd6c9a4eb5d5c19d";
        let with_override = "http://127.0.0.1:8080/storage/nexds/k?response-content-type=text%2Fplain&AWSAccessKeyId=NEXDSAK&Signature=g3Xj7CAhEVNx7gyC3wztHEt0vj0%3D&Expires=1795287128";
        for url in [v2, v4, with_override] {
            assert_eq!(judge("GET", url, NOW), Ok(()), "{url}");
            // HEAD is another method: S3 refuses a GET signature for it.
            assert_eq!(
                judge("HEAD", url, NOW).unwrap_err().code,
                S3Code::SignatureDoesNotMatch
            );
            let other_key = url.replace("a%20b", "a%20c").replace("/k?", "/j?");
            assert_eq!(
                judge("GET", &other_key, NOW).unwrap_err().code,
                S3Code::SignatureDoesNotMatch
            );
            assert_eq!(judge("GET", url, NOW + 301), Err(S3Error::expired()));
        }
    }

    #[test]
    fn our_own_urls_pass() {
        let url = ObjectUrl::new("http://127.0.0.1:8080/storage", "nexds", "objects/1 +.bin");
        let v2 = sign::presign_get_v2(&creds(), &url, NOW + 60);
        let v4 = sign::presign_get_v4(&creds(), &url, NOW, 60);
        assert_eq!(judge("GET", &v2, NOW), Ok(()));
        assert_eq!(judge("GET", &v4, NOW), Ok(()));
    }

    #[test]
    fn malformed_v4_parameters_are_named() {
        let url = ObjectUrl::new("http://127.0.0.1:8080/storage", "nexds", "k");
        let v4 = sign::presign_get_v4(&creds(), &url, NOW, 60);
        let cases = [
            (
                "X-Amz-Expires=60",
                "X-Amz-Expires=604801",
                S3Code::AuthorizationQueryParametersError,
            ),
            (
                "X-Amz-SignedHeaders=host",
                "X-Amz-SignedHeaders=x-amz-date",
                S3Code::AccessDenied,
            ),
            ("NEXDSAK%2F", "OTHER%2F", S3Code::InvalidAccessKeyId),
            (
                "us-east-1",
                "eu-west-1",
                S3Code::AuthorizationQueryParametersError,
            ),
            (
                "%2F20261121%2F",
                "%2F20261120%2F",
                S3Code::AuthorizationQueryParametersError,
            ),
            (
                "&X-Amz-Date=20261121T184708Z",
                "",
                S3Code::AuthorizationQueryParametersError,
            ),
        ];
        for (from, to, code) in cases {
            let bad = v4.replace(from, to);
            assert_ne!(bad, v4);
            assert_eq!(judge("GET", &bad, NOW).unwrap_err().code, code, "{bad}");
        }
        assert_eq!(
            judge("GET", "http://127.0.0.1:8080/storage/nexds/k", NOW),
            Err(S3Error::anonymous())
        );
        assert_eq!(
            judge("GET", &v4, NOW - MAX_SKEW_SECS - 1)
                .unwrap_err()
                .message,
            "Request is not valid yet"
        );
    }
}
