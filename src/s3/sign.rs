//! AWS S3 signatures of our own: POST policies (SigV2 and SigV4) and presigned
//! GET URLs, to hand out upload forms and download URLs, and for the local store
//! to judge them as S3 would. Checked against the AWS documentation's vectors.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::s3::error::{S3Code, S3Error};

/// An access key, its secret and the SigV4 region.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("region", &self.region)
            .finish()
    }
}

/// Which AWS signature a form or URL carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureVersion {
    /// HMAC-SHA1 (the spec's `AWSAccessKeyId` + `signature` fields).
    V2,
    /// AWS4-HMAC-SHA256.
    V4,
}

impl std::str::FromStr for SignatureVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "v2" => Ok(SignatureVersion::V2),
            "v4" => Ok(SignatureVersion::V4),
            other => Err(format!("unknown signature version '{other}' (v2, v4)")),
        }
    }
}

/// SigV4 presigned URLs live at most 7 days (S3's limit).
pub const V4_MAX_EXPIRES: i64 = 7 * 86_400;

pub const V4_ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// One condition of a POST policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `{"field": "value"}`
    Eq(String, String),
    /// `["starts-with", "$field", "prefix"]`
    StartsWith(String, String),
    /// `["content-length-range", min, max]`, inclusive.
    ContentLengthRange(u64, u64),
}

impl Condition {
    fn to_json(&self) -> serde_json::Value {
        match self {
            Condition::Eq(field, value) => serde_json::json!({ field: value }),
            Condition::StartsWith(field, prefix) => {
                serde_json::json!(["starts-with", format!("${field}"), prefix])
            }
            Condition::ContentLengthRange(min, max) => {
                serde_json::json!(["content-length-range", min, max])
            }
        }
    }
}

/// `2015-12-30T12:00:00.000Z`, the policy's expiration format.
pub fn policy_time(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].000Z"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// `20151229T000000Z`; always 16 characters (a time out of range gives the epoch).
pub fn amz_date(unix: i64) -> String {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(format).ok())
        .filter(|s| s.len() == 16)
        .unwrap_or_else(|| "19700101T000000Z".to_owned())
}

/// The Base64 policy document: what a POST form carries and what gets signed.
pub fn encode_policy(expires_at: i64, conditions: &[Condition]) -> String {
    let doc = serde_json::json!({
        "expiration": policy_time(expires_at),
        "conditions": conditions.iter().map(Condition::to_json).collect::<Vec<_>>(),
    });
    STANDARD.encode(doc.to_string())
}

/// SigV2: Base64 of HMAC-SHA1.
pub fn sign_v2(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(string_to_sign.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

fn hmac256(key: &[u8], data: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().into()
}

/// SigV4's derived key for one day, region and service.
pub fn signing_key_v4(secret: &str, yyyymmdd: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac256(format!("AWS4{secret}").as_bytes(), yyyymmdd);
    let k_region = hmac256(&k_date, region);
    let k_service = hmac256(&k_region, service);
    hmac256(&k_service, "aws4_request")
}

/// SigV4: hex of HMAC-SHA256 with the derived key.
pub fn sign_v4(key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac256(key, string_to_sign))
}

/// A SigV4 `x-amz-credential`: `<access key>/<yyyymmdd>/<region>/s3/aws4_request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialScope<'a> {
    pub access_key: &'a str,
    pub date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    pub terminator: &'a str,
}

impl<'a> CredentialScope<'a> {
    pub fn parse(text: &'a str) -> Option<CredentialScope<'a>> {
        let mut parts = text.rsplitn(5, '/');
        let terminator = parts.next()?;
        let service = parts.next()?;
        let region = parts.next()?;
        let date = parts.next()?;
        let access_key = parts.next()?;
        let date_ok = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
        (date_ok && !access_key.is_empty()).then_some(CredentialScope {
            access_key,
            date,
            region,
            service,
            terminator,
        })
    }

    /// S3's complaint about a scope that is not this store's, if any.
    pub fn mismatch(&self, region: &str) -> Option<String> {
        let what = if self.region != region {
            format!(
                "the region '{}' is wrong; expecting '{region}'",
                self.region
            )
        } else if self.service != "s3" {
            format!(
                "incorrect service '{}'. This endpoint belongs to 's3'.",
                self.service
            )
        } else if self.terminator != "aws4_request" {
            format!(
                "incorrect terminal '{}'. This endpoint uses 'aws4_request'.",
                self.terminator
            )
        } else {
            return None;
        };
        Some(format!(
            "Error parsing the X-Amz-Credential parameter; {what}"
        ))
    }
}

/// `yyyymmddThhmmssZ` as UNIX seconds.
pub fn parse_amz_date(text: &str) -> Option<i64> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(text, format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// Judges a SigV4 form's or URL's algorithm, credential and date against this
/// store's keys, in S3's order; a malformed or foreign value is refused with
/// `code` (`InvalidArgument` for forms, `AuthorizationQueryParametersError` for
/// URLs). Returns the credential's scope and the signing time.
pub fn check_v4_scope<'a>(
    algorithm: &str,
    credential: &'a str,
    date: &str,
    creds: &Credentials,
    code: S3Code,
) -> Result<(CredentialScope<'a>, i64), S3Error> {
    if algorithm != V4_ALGORITHM {
        return Err(S3Error::new(
            code,
            format!("X-Amz-Algorithm only supports \"{V4_ALGORITHM}\""),
        ));
    }
    let scope = CredentialScope::parse(credential).ok_or_else(|| {
        S3Error::new(
            code,
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; \
             expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
        )
    })?;
    if scope.access_key != creds.access_key {
        return Err(S3Error::invalid_access_key());
    }
    if let Some(message) = scope.mismatch(&creds.region) {
        return Err(S3Error::new(code, message));
    }
    let signed_at = parse_amz_date(date).ok_or_else(|| {
        S3Error::new(
            code,
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
        )
    })?;
    Ok((scope, signed_at))
}

/// What a POST form lets its holder upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostUpload<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub acl: &'a str,
    /// The exact size the file must have.
    pub size: u64,
    pub expires_at: i64,
}

/// The form fields of an S3 browser POST, in the order to post them (the `file`
/// field goes last and is not included). The policy binds the bucket, the exact
/// key, the acl and the exact size.
pub fn post_fields(
    creds: &Credentials,
    version: SignatureVersion,
    upload: &PostUpload<'_>,
    now: i64,
) -> Vec<(String, String)> {
    let mut conditions = vec![
        Condition::Eq("bucket".into(), upload.bucket.into()),
        Condition::Eq("key".into(), upload.key.into()),
        Condition::Eq("acl".into(), upload.acl.into()),
        Condition::ContentLengthRange(upload.size, upload.size),
    ];
    match version {
        SignatureVersion::V2 => {
            let policy = encode_policy(upload.expires_at, &conditions);
            let signature = sign_v2(&creds.secret_key, &policy);
            // The spec's order (12.3.2.5.2.2).
            vec![
                ("policy".into(), policy),
                ("AWSAccessKeyId".into(), creds.access_key.clone()),
                ("signature".into(), signature),
                ("key".into(), upload.key.into()),
                ("acl".into(), upload.acl.into()),
            ]
        }
        SignatureVersion::V4 => {
            let date = amz_date(now);
            let credential = format!(
                "{}/{}/{}/s3/aws4_request",
                creds.access_key,
                &date[..8],
                creds.region
            );
            conditions.push(Condition::Eq("x-amz-algorithm".into(), V4_ALGORITHM.into()));
            conditions.push(Condition::Eq("x-amz-credential".into(), credential.clone()));
            conditions.push(Condition::Eq("x-amz-date".into(), date.clone()));
            let policy = encode_policy(upload.expires_at, &conditions);
            let key = signing_key_v4(&creds.secret_key, &date[..8], &creds.region, "s3");
            let signature = sign_v4(&key, &policy);
            vec![
                ("policy".into(), policy),
                ("x-amz-algorithm".into(), V4_ALGORITHM.into()),
                ("x-amz-credential".into(), credential),
                ("x-amz-date".into(), date),
                ("x-amz-signature".into(), signature),
                ("key".into(), upload.key.into()),
                ("acl".into(), upload.acl.into()),
            ]
        }
    }
}

/// Characters SigV4 leaves as they are: A-Z a-z 0-9 - _ . ~
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

/// AWS URI encoding; `/` is kept in paths and encoded elsewhere.
pub fn uri_encode(text: &str, keep_slash: bool) -> String {
    let set = if keep_slash {
        UNRESERVED_AND_SLASH
    } else {
        UNRESERVED
    };
    utf8_percent_encode(text, set).to_string()
}

/// A path-style object URL: scheme, host and optional prefix, then `/bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectUrl {
    /// `http://host:port` (no trailing slash).
    pub origin: String,
    /// `host:port` as sent in the Host header.
    pub host: String,
    /// The URL path, not encoded: `/prefix/bucket/key`.
    pub path: String,
    /// SigV2's canonical resource, not encoded: `/bucket/key`, without the
    /// endpoint's path prefix (what S3 and botocore sign).
    pub resource: String,
}

impl ObjectUrl {
    /// `endpoint` is `http://host[:port][/prefix]`.
    pub fn new(endpoint: &str, bucket: &str, key: &str) -> ObjectUrl {
        let endpoint = endpoint.trim_end_matches('/');
        let after_scheme = endpoint
            .split_once("://")
            .map_or(endpoint, |(_, rest)| rest);
        let (host, prefix) = match after_scheme.find('/') {
            Some(i) => (&after_scheme[..i], &after_scheme[i..]),
            None => (after_scheme, ""),
        };
        let origin = &endpoint[..endpoint.len() - prefix.len()];
        ObjectUrl {
            origin: origin.to_owned(),
            host: host.to_owned(),
            path: format!("{prefix}/{bucket}/{key}"),
            resource: format!("/{bucket}/{key}"),
        }
    }

    fn encoded(&self) -> String {
        format!("{}{}", self.origin, uri_encode(&self.path, true))
    }
}

/// SigV2's string to sign for a presigned GET: `GET\n\n\n<expires>\n<resource>`.
pub fn string_to_sign_v2_get(expires_at: i64, resource: &str) -> String {
    string_to_sign_v2("GET", "", "", &expires_at.to_string(), "", resource)
}

/// SigV2's string to sign: `amz_headers` is the canonical `x-amz-*` block (each
/// `name:value\n`), `resource` the encoded `/bucket/key` with its sub-resources.
pub fn string_to_sign_v2(
    method: &str,
    content_md5: &str,
    content_type: &str,
    expires: &str,
    amz_headers: &str,
    resource: &str,
) -> String {
    format!("{method}\n{content_md5}\n{content_type}\n{expires}\n{amz_headers}{resource}")
}

/// A SigV2 presigned GET URL valid until `expires_at`.
pub fn presign_get_v2(creds: &Credentials, url: &ObjectUrl, expires_at: i64) -> String {
    // The resource is signed as it travels: percent-encoded, like the URL path.
    let signature = sign_v2(
        &creds.secret_key,
        &string_to_sign_v2_get(expires_at, &uri_encode(&url.resource, true)),
    );
    format!(
        "{}?AWSAccessKeyId={}&Expires={expires_at}&Signature={}",
        url.encoded(),
        uri_encode(&creds.access_key, false),
        uri_encode(&signature, false)
    )
}

/// SigV4's canonical request for a presigned request signing only `host`.
/// `query` holds every parameter but `X-Amz-Signature`, decoded.
pub fn canonical_request_v4(
    method: &str,
    path: &str,
    query: &[(String, String)],
    host: &str,
) -> String {
    canonical_request_v4_with(
        method,
        &uri_encode(path, true),
        query,
        &[("host".to_owned(), host.to_owned())],
    )
}

/// SigV4's canonical request of a presigned request (payload `UNSIGNED-PAYLOAD`):
/// `encoded_path` as it travels, `query` decoded and without `X-Amz-Signature`,
/// `headers` the signed ones as (lowercase name, value), sorted by name.
pub fn canonical_request_v4_with(
    method: &str,
    encoded_path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    pairs.sort();
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let signed = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    format!("{method}\n{encoded_path}\n{query}\n{canonical_headers}\n{signed}\nUNSIGNED-PAYLOAD")
}

/// SigV4's string to sign.
pub fn string_to_sign_v4(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{V4_ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// A SigV4 presigned GET URL, valid `expires_in` seconds (at most 7 days) from `now`.
pub fn presign_get_v4(creds: &Credentials, url: &ObjectUrl, now: i64, expires_in: i64) -> String {
    let date = amz_date(now);
    let scope = format!("{}/{}/s3/aws4_request", &date[..8], creds.region);
    let query = vec![
        ("X-Amz-Algorithm".to_owned(), V4_ALGORITHM.to_owned()),
        (
            "X-Amz-Credential".to_owned(),
            format!("{}/{scope}", creds.access_key),
        ),
        ("X-Amz-Date".to_owned(), date.clone()),
        (
            "X-Amz-Expires".to_owned(),
            expires_in.clamp(1, V4_MAX_EXPIRES).to_string(),
        ),
        ("X-Amz-SignedHeaders".to_owned(), "host".to_owned()),
    ];
    let canonical = canonical_request_v4("GET", &url.path, &query, &url.host);
    let key = signing_key_v4(&creds.secret_key, &date[..8], &creds.region, "s3");
    let signature = sign_v4(&key, &string_to_sign_v4(&date, &scope, &canonical));
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={}", uri_encode(v, false)))
        .collect::<Vec<_>>()
        .join("&");
    format!("{}?{query}&X-Amz-Signature={signature}", url.encoded())
}

#[cfg(test)]
mod tests {
    use super::*;

    const AK: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn unix(text: &str) -> i64 {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .unwrap()
            .unix_timestamp()
    }

    #[test]
    fn sigv4_post_matches_the_aws_example() {
        // AWS sigv4-post-example: the policy JSON with CRLF line ends.
        let policy_json = [
            "{ \"expiration\": \"2015-12-30T12:00:00.000Z\",",
            "  \"conditions\": [",
            "    {\"bucket\": \"sigv4examplebucket\"},",
            "    [\"starts-with\", \"$key\", \"user/user1/\"],",
            "    {\"acl\": \"public-read\"},",
            "    {\"success_action_redirect\": \"http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html\"},",
            "    [\"starts-with\", \"$Content-Type\", \"image/\"],",
            "    {\"x-amz-meta-uuid\": \"14365123651274\"},",
            "    {\"x-amz-server-side-encryption\": \"AES256\"},",
            "    [\"starts-with\", \"$x-amz-meta-tag\", \"\"],",
            "",
            "    {\"x-amz-credential\": \"AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request\"},",
            "    {\"x-amz-algorithm\": \"AWS4-HMAC-SHA256\"},",
            "    {\"x-amz-date\": \"20151229T000000Z\" }",
            "  ]",
            "}",
        ]
        .join("\r\n");
        let policy = STANDARD.encode(policy_json);
        assert!(policy.starts_with("eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAg"));
        assert!(policy.ends_with("OiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9"));
        let key = signing_key_v4(SECRET, "20151229", "us-east-1", "s3");
        assert_eq!(
            sign_v4(&key, &policy),
            "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
        );
    }

    #[test]
    fn sigv2_post_matches_the_aws_example() {
        let policy = "eyAiZXhwaXJhdGlvbiI6ICIyMDA3LTEyLTAxVDEyOjAwOjAwLjAwMFoiLAogICJjb25kaXRpb25zIjogWwogICAgeyJidWNrZXQiOiAiam9obnNtaXRoIn0sCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci9lcmljLyJdLAogICAgeyJhY2wiOiAicHVibGljLXJlYWQifSwKICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL2pvaG5zbWl0aC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwKICAgIFsic3RhcnRzLXdpdGgiLCAiJENvbnRlbnQtVHlwZSIsICJpbWFnZS8iXSwKICAgIHsieC1hbXotbWV0YS11dWlkIjogIjE0MzY1MTIzNjUxMjc0In0sCiAgICBbInN0YXJ0cy13aXRoIiwgIiR4LWFtei1tZXRhLXRhZyIsICIiXQogIF0KfQo=";
        assert_eq!(
            sign_v2("uV3F3YluFJax1cknvbcGwgjvx4QpvB+leU8dUj2o", policy),
            "0RavWzkygo6QX9caELEqKi9kDbU="
        );
    }

    #[test]
    fn sigv2_query_and_header_signatures_match_the_aws_examples() {
        assert_eq!(
            sign_v2(
                SECRET,
                &string_to_sign_v2_get(1_175_139_620, "/johnsmith/photos/puppy.jpg")
            ),
            "NpgCjnDzrM+WFzoENXmpNDUsSn8="
        );
        assert_eq!(
            sign_v2(
                SECRET,
                "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg"
            ),
            "qgk2+6Sv9/oM7G3qLEjTH1a1l1g="
        );
    }

    #[test]
    fn sigv4_presigned_get_matches_the_aws_example() {
        // sigv4-query-string-auth: virtual-host style, so the bucket is in the host.
        let creds = Credentials {
            access_key: AK.into(),
            secret_key: SECRET.into(),
            region: "us-east-1".into(),
        };
        let url = ObjectUrl {
            origin: "https://examplebucket.s3.amazonaws.com".into(),
            host: "examplebucket.s3.amazonaws.com".into(),
            path: "/test.txt".into(),
            resource: "/examplebucket/test.txt".into(),
        };
        let signed = presign_get_v4(&creds, &url, unix("2013-05-24T00:00:00Z"), 86_400);
        assert!(
            signed.ends_with(
                "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
            ),
            "{signed}"
        );
        assert!(signed.starts_with(
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&\
             X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&\
             X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&"
        ));
    }

    #[test]
    fn post_forms_bind_bucket_key_acl_and_exact_size() {
        let creds = Credentials {
            access_key: "AK".into(),
            secret_key: "SECRET".into(),
            region: "us-east-1".into(),
        };
        let upload = PostUpload {
            bucket: "nexds",
            key: "objects/1",
            acl: "private",
            size: 100,
            expires_at: unix("2013-01-01T00:15:00Z"),
        };
        let now = unix("2013-01-01T00:00:00Z");
        let v2 = post_fields(&creds, SignatureVersion::V2, &upload, now);
        let names: Vec<&str> = v2.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["policy", "AWSAccessKeyId", "signature", "key", "acl"]
        );
        let policy = String::from_utf8(STANDARD.decode(&v2[0].1).unwrap()).unwrap();
        assert_eq!(
            policy,
            "{\"conditions\":[{\"bucket\":\"nexds\"},{\"key\":\"objects/1\"},{\"acl\":\"private\"},\
             [\"content-length-range\",100,100]],\"expiration\":\"2013-01-01T00:15:00.000Z\"}"
        );
        assert_eq!(v2[2].1, sign_v2("SECRET", &v2[0].1));

        let v4 = post_fields(&creds, SignatureVersion::V4, &upload, now);
        let names: Vec<&str> = v4.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "policy",
                "x-amz-algorithm",
                "x-amz-credential",
                "x-amz-date",
                "x-amz-signature",
                "key",
                "acl"
            ]
        );
        assert_eq!(v4[2].1, "AK/20130101/us-east-1/s3/aws4_request");
        let policy = String::from_utf8(STANDARD.decode(&v4[0].1).unwrap()).unwrap();
        assert!(
            policy.contains("{\"x-amz-date\":\"20130101T000000Z\"}"),
            "{policy}"
        );
    }

    #[test]
    fn presigned_gets_behind_a_path_prefix_match_botocore() {
        // boto3 1.44.5, endpoint_url=http://127.0.0.1:8080/storage, path style:
        // SigV2 signs `/bucket/key` without the prefix, SigV4 the whole URL path.
        let creds = Credentials {
            access_key: "NEXDSAK".into(),
            secret_key: "SECRET/+x".into(),
            region: "us-east-1".into(),
        };
        let url = ObjectUrl::new(
            "http://127.0.0.1:8080/storage",
            "nexds",
            "objects/a b+c~!.bin",
        );
        assert_eq!(
            presign_get_v2(&creds, &url, 1_795_287_128),
            "http://127.0.0.1:8080/storage/nexds/objects/a%20b%2Bc~%21.bin?AWSAccessKeyId=NEXDSAK&\
             Expires=1795287128&Signature=WrDI4Fmkd6WtXIJKs%2B4ZJDi%2FRkQ%3D"
        );
        let v4 = presign_get_v4(&creds, &url, unix("2026-11-21T18:47:08Z"), 300);
        assert!(
            v4.ends_with(
                "X-Amz-Signature=11a6bd3beb3c3112e1096c57240b29a252143913f78fd529bd6c9a4eb5d5c19d"
            ),
            "{v4}"
        );
    }

    #[test]
    fn object_urls_keep_a_path_prefix() {
        let url = ObjectUrl::new("http://127.0.0.1:8080/storage/", "nexds", "objects/a b");
        assert_eq!(url.host, "127.0.0.1:8080");
        assert_eq!(url.path, "/storage/nexds/objects/a b");
        assert_eq!(url.resource, "/nexds/objects/a b");
        assert_eq!(
            url.encoded(),
            "http://127.0.0.1:8080/storage/nexds/objects/a%20b"
        );
        let plain = ObjectUrl::new("http://127.0.0.1:3900", "b", "k");
        assert_eq!(plain.path, "/b/k");
        assert_eq!(plain.origin, "http://127.0.0.1:3900");
    }
}
