//! S3 browser POST uploads judged as S3 judges them: the form's signature
//! (SigV2 or SigV4), the policy's expiration, every condition, the fields the
//! policy must cover, and the file's size. No HTTP here: the handler streams.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::links::same_signature;
use crate::s3::error::{S3Code, S3Error};
use crate::s3::sign::{self, Credentials};

/// The form fields before the file may hold at most this many bytes (S3's limit).
pub const MAX_PRE_DATA: usize = 20 * 1024;

/// S3 keys are at most 1024 bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// The form fields that came before the file, names as sent.
#[derive(Debug, Default, Clone)]
pub struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// Adds a field; field names are case-insensitive and may not repeat.
    pub fn push(&mut self, name: &str, value: String) -> Result<(), S3Error> {
        if self.get(name).is_some() {
            return Err(S3Error::invalid_argument(format!(
                "The form field '{name}' appears more than once."
            )));
        }
        self.fields.push((name.to_owned(), value));
        Ok(())
    }

    /// The value of a field, whatever the case of its name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// What to answer once the file is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Success {
    /// `success_action_redirect` (or `redirect`): 303 to this URL.
    Redirect(String),
    /// `success_action_status`: 200 or 204 with no body, 201 with a `PostResponse`.
    Status(u16),
}

impl Success {
    /// The redirect target S3 builds: `url?bucket=…&key=…&etag=%22…%22`.
    pub fn location(url: &str, bucket: &str, key: &str, etag_hex: &str) -> String {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!(
            "{url}{sep}bucket={}&key={}&etag=%22{etag_hex}%22",
            sign::uri_encode(bucket, false),
            sign::uri_encode(key, false)
        )
    }
}

/// The body of a `201` answer: where the object is and its ETag.
pub fn post_response_xml(location: &str, bucket: &str, key: &str, etag_hex: &str) -> String {
    let etag = format!("\"{etag_hex}\"");
    crate::s3::error::document(
        "PostResponse",
        true,
        &[
            ("Location", location),
            ("Bucket", bucket),
            ("Key", key),
            ("ETag", &etag),
        ],
    )
}

/// A checksum the form asks S3 to verify (`x-amz-checksum-*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    Sha256(Vec<u8>),
    Sha1(Vec<u8>),
}

/// What a checked form allows: where the file goes, how big it may be, what is kept
/// with it and what to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub key: String,
    /// Inclusive bounds from `content-length-range`; `u64::MAX` when there is none.
    pub min_size: u64,
    pub max_size: u64,
    pub success: Success,
    /// Kept with the object and sent back on GET: `content-type`, `cache-control`,
    /// `content-disposition`, `content-encoding`, `expires`, `x-amz-meta-*`.
    pub headers: Vec<(String, String)>,
    pub checksum: Option<Checksum>,
}

impl Grant {
    /// S3's answer to a file of `size` bytes outside `content-length-range`.
    pub fn size_error(&self, size: u64) -> Option<S3Error> {
        if size > self.max_size {
            Some(S3Error::new(
                S3Code::EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed size",
            ))
        } else if size < self.min_size {
            Some(S3Error::new(
                S3Code::EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed size",
            ))
        } else {
            None
        }
    }

    /// A hasher for the checksum the form asked for, if any.
    pub fn checksum_hasher(&self) -> Option<ChecksumHasher> {
        self.checksum.as_ref().map(|expected| match expected {
            Checksum::Sha256(_) => ChecksumHasher::Sha256(Sha256::new(), expected.clone()),
            Checksum::Sha1(_) => ChecksumHasher::Sha1(Sha1::new(), expected.clone()),
        })
    }
}

/// Hashes the file as it streams, then compares with the form's checksum.
pub enum ChecksumHasher {
    Sha256(Sha256, Checksum),
    Sha1(Sha1, Checksum),
}

impl ChecksumHasher {
    pub fn update(&mut self, data: &[u8]) {
        match self {
            ChecksumHasher::Sha256(h, _) => h.update(data),
            ChecksumHasher::Sha1(h, _) => h.update(data),
        }
    }

    /// `400 BadDigest` when the file is not what the form announced.
    pub fn verify(self) -> Result<(), S3Error> {
        let (ok, name) = match self {
            ChecksumHasher::Sha256(h, Checksum::Sha256(want)) => {
                (h.finalize().as_slice() == want.as_slice(), "SHA256")
            }
            ChecksumHasher::Sha1(h, Checksum::Sha1(want)) => {
                (h.finalize().as_slice() == want.as_slice(), "SHA1")
            }
            _ => (false, "checksum"),
        };
        if ok {
            Ok(())
        } else {
            Err(S3Error::new(
                S3Code::BadDigest,
                format!("The {name} you specified did not match the calculated checksum."),
            ))
        }
    }
}

/// Fields that need no condition (AWS `sigv4-HTTPPOSTConstructPolicy`).
fn exempt(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "file" | "policy" | "signature" | "x-amz-signature" | "awsaccesskeyid"
    ) || lower.starts_with("x-ignore-")
}

/// Canned ACLs S3 accepts in the `acl` field.
const CANNED_ACLS: [&str; 8] = [
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
];

/// Fields S3 keeps with the object as headers.
fn stored_header(name: &str) -> bool {
    matches!(
        name,
        "content-type" | "cache-control" | "content-disposition" | "content-encoding" | "expires"
    ) || name.starts_with("x-amz-meta-")
}

/// One policy condition, as parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cond {
    /// Field name lowercased, without `$`; `shown` is how AWS prints it back.
    Eq {
        field: String,
        value: String,
        shown: String,
    },
    StartsWith {
        field: String,
        prefix: String,
        shown: String,
    },
    Range {
        min: u64,
        max: u64,
    },
}

/// A decoded policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Policy {
    expiration: i64,
    conditions: Vec<Cond>,
}

fn shown(op: &str, field: &str, value: &str) -> String {
    let q = |s: &str| Value::String(s.to_owned()).to_string();
    format!("[{}, {}, {}]", q(op), q(&format!("${field}")), q(value))
}

fn parse_policy(policy_b64: &str) -> Result<Policy, S3Error> {
    let compact: String = policy_b64
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| S3Error::invalid_policy("Invalid Base64 Encoding"))?;
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|e| S3Error::invalid_policy(format!("Invalid JSON: {e}")))?;
    let Some(doc) = doc.as_object() else {
        return Err(S3Error::invalid_policy("the policy must be a JSON object"));
    };
    // Both names are case-sensitive (s3-tests: expires/condition is case sensitive).
    let expiration = match doc.get("expiration") {
        None => return Err(S3Error::invalid_policy("Policy missing expiration.")),
        // ISO 8601 in UTC: `2007-12-01T12:00:00.000Z` (RFC 3339 would also take a space).
        Some(Value::String(text))
            if text.as_bytes().get(10) == Some(&b'T') && text.ends_with('Z') =>
        {
            OffsetDateTime::parse(text, &Rfc3339)
                .map_err(|_| {
                    S3Error::invalid_policy(format!("Invalid 'expiration' value: '{text}'"))
                })?
                .unix_timestamp()
        }
        Some(Value::String(text)) => {
            return Err(S3Error::invalid_policy(format!(
                "Invalid 'expiration' value: '{text}'"
            )));
        }
        Some(other) => {
            return Err(S3Error::invalid_policy(format!(
                "Invalid 'expiration' value: '{other}'"
            )));
        }
    };
    let Some(Value::Array(list)) = doc.get("conditions") else {
        return Err(S3Error::invalid_policy("Policy missing conditions."));
    };
    let conditions = list.iter().map(parse_condition).collect::<Result<_, _>>()?;
    Ok(Policy {
        expiration,
        conditions,
    })
}

fn parse_condition(cond: &Value) -> Result<Cond, S3Error> {
    match cond {
        Value::Object(map) => {
            let mut entries = map.iter();
            let (Some((field, value)), None) = (entries.next(), entries.next()) else {
                return Err(S3Error::invalid_policy(
                    "Invalid Simple-Condition: Simple-Conditions must have exactly one \
                     property specified.",
                ));
            };
            let Value::String(value) = value else {
                return Err(S3Error::invalid_policy(format!(
                    "Invalid Simple-Condition: value of '{field}' must be a string."
                )));
            };
            Ok(Cond::Eq {
                field: field.to_ascii_lowercase(),
                value: value.clone(),
                shown: shown("eq", field, value),
            })
        }
        Value::Array(items) => {
            let op = items.first().and_then(Value::as_str).unwrap_or_default();
            match op.to_ascii_lowercase().as_str() {
                "eq" | "starts-with" => {
                    let [_, Value::String(field), Value::String(value)] = items.as_slice() else {
                        return Err(S3Error::invalid_policy(format!(
                            "Invalid '{op}' condition: {cond}"
                        )));
                    };
                    let Some(name) = field.strip_prefix('$') else {
                        return Err(S3Error::invalid_policy(format!(
                            "Invalid '{op}' condition: the field must start with '$': {cond}"
                        )));
                    };
                    let lower = name.to_ascii_lowercase();
                    Ok(if op.eq_ignore_ascii_case("eq") {
                        Cond::Eq {
                            field: lower,
                            value: value.clone(),
                            shown: shown("eq", name, value),
                        }
                    } else {
                        Cond::StartsWith {
                            field: lower,
                            prefix: value.clone(),
                            shown: shown("starts-with", name, value),
                        }
                    })
                }
                "content-length-range" => {
                    let bound = |v: &Value| match v {
                        Value::Number(n) => n.as_u64(),
                        Value::String(s) => s.trim().parse::<u64>().ok(),
                        _ => None,
                    };
                    match items.as_slice() {
                        [_, min, max] => match (bound(min), bound(max)) {
                            (Some(min), Some(max)) => Ok(Cond::Range { min, max }),
                            _ => Err(S3Error::invalid_policy(format!(
                                "Invalid content-length-range: {cond}"
                            ))),
                        },
                        _ => Err(S3Error::invalid_policy(format!(
                            "content-length-range takes a minimum and a maximum: {cond}"
                        ))),
                    }
                }
                _ => Err(S3Error::invalid_policy(format!(
                    "Invalid condition operator: {cond}"
                ))),
            }
        }
        other => Err(S3Error::invalid_policy(format!(
            "Invalid condition: {other}"
        ))),
    }
}

/// Checks the signature of a form and returns its policy text.
fn verify_signature<'f>(form: &'f Form, creds: &Credentials) -> Result<&'f str, S3Error> {
    let v4 = ["x-amz-signature", "x-amz-credential", "x-amz-algorithm"]
        .iter()
        .any(|f| form.has(f));
    let v2 = ["signature", "awsaccesskeyid", "policy"]
        .iter()
        .any(|f| form.has(f));
    let need =
        |name: &str, shown: &str| form.get(name).ok_or_else(|| S3Error::missing_field(shown));
    if v4 {
        let algorithm = need("x-amz-algorithm", "X-Amz-Algorithm")?;
        let credential = need("x-amz-credential", "X-Amz-Credential")?;
        let date = need("x-amz-date", "X-Amz-Date")?;
        let signature = need("x-amz-signature", "X-Amz-Signature")?;
        let policy = need("policy", "Policy")?;
        let (scope, _) =
            sign::check_v4_scope(algorithm, credential, date, creds, S3Code::InvalidArgument)?;
        let key = sign::signing_key_v4(&creds.secret_key, scope.date, &creds.region, "s3");
        if !same_signature(&sign::sign_v4(&key, policy), signature) {
            return Err(S3Error::signature_mismatch());
        }
        Ok(policy)
    } else if v2 {
        let access_key = need("awsaccesskeyid", "AWSAccessKeyId")?;
        let signature = need("signature", "Signature")?;
        let policy = need("policy", "Policy")?;
        if access_key != creds.access_key {
            return Err(S3Error::invalid_access_key());
        }
        if !same_signature(&sign::sign_v2(&creds.secret_key, policy), signature) {
            return Err(S3Error::signature_mismatch());
        }
        Ok(policy)
    } else {
        // No policy, no signature: an anonymous upload, and this store has no public bucket.
        Err(S3Error::anonymous())
    }
}

/// Judges the form of an upload to `bucket` (the URL's) whose file part is named
/// `filename`, at `now`: the order of the checks is S3's.
pub fn check(
    form: &Form,
    bucket: &str,
    filename: Option<&str>,
    creds: &Credentials,
    now: i64,
) -> Result<Grant, S3Error> {
    let raw_key = form
        .get("key")
        .ok_or_else(|| S3Error::missing_field("key"))?;
    let policy_text = verify_signature(form, creds)?;
    if form.has("x-amz-security-token") {
        // The store's keys are long-lived; it never issues session tokens.
        return Err(S3Error::new(
            S3Code::InvalidToken,
            "The provided token is malformed or otherwise invalid.",
        ));
    }
    let policy = parse_policy(policy_text)?;
    if now > policy.expiration {
        return Err(S3Error::policy("Policy expired."));
    }

    let key = raw_key.replace("${filename}", filename.unwrap_or(""));
    let value_of = |field: &str| -> String {
        match field {
            "bucket" => bucket.to_owned(),
            "key" => key.clone(),
            other => form.get(other).unwrap_or("").to_owned(),
        }
    };
    let (mut min_size, mut max_size) = (0u64, u64::MAX);
    let mut covered: Vec<&str> = Vec::new();
    for cond in &policy.conditions {
        match cond {
            Cond::Eq {
                field,
                value,
                shown,
            } => {
                if value_of(field) != *value {
                    return Err(S3Error::policy(format!("Policy Condition failed: {shown}")));
                }
                covered.push(field);
            }
            Cond::StartsWith {
                field,
                prefix,
                shown,
            } => {
                if !value_of(field).starts_with(prefix.as_str()) {
                    return Err(S3Error::policy(format!("Policy Condition failed: {shown}")));
                }
                covered.push(field);
            }
            Cond::Range { min, max } => {
                min_size = min_size.max(*min);
                max_size = max_size.min(*max);
            }
        }
    }
    // SigV4: the policy itself must pin the algorithm, credential and date.
    if form.has("x-amz-signature") {
        for field in ["x-amz-algorithm", "x-amz-credential", "x-amz-date"] {
            let pinned = policy.conditions.iter().any(
                |c| matches!(c, Cond::Eq { field: f, value, .. } if f == field && *value == value_of(field)),
            );
            if !pinned {
                return Err(S3Error::policy(format!(
                    "Policy Condition failed: {}",
                    shown("eq", field, &value_of(field))
                )));
            }
        }
    }
    let mut extra: Vec<&str> = Vec::new();
    if !covered.contains(&"bucket") {
        extra.push("bucket");
    }
    for (name, _) in &form.fields {
        let lower = name.to_ascii_lowercase();
        if !exempt(name) && lower != "bucket" && !covered.contains(&lower.as_str()) {
            extra.push(name);
        }
    }
    if !extra.is_empty() {
        return Err(S3Error::policy(format!(
            "Extra input fields: {}",
            extra.join(", ")
        )));
    }

    if key.is_empty() {
        return Err(S3Error::invalid_argument(
            "User key must have a length greater than 0.",
        ));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(S3Error::new(
            S3Code::KeyTooLongError,
            "Your key is too long",
        ));
    }
    if let Some(acl) = form.get("acl")
        && !CANNED_ACLS.contains(&acl)
    {
        return Err(S3Error::invalid_argument(format!(
            "The canned ACL '{acl}' is not one S3 knows."
        )));
    }
    let headers = stored_headers(form)?;
    Ok(Grant {
        key,
        min_size,
        max_size,
        success: success(form),
        headers,
        checksum: checksum(form)?,
    })
}

fn stored_headers(form: &Form) -> Result<Vec<(String, String)>, S3Error> {
    let mut headers = Vec::new();
    for (name, value) in &form.fields {
        let lower = name.to_ascii_lowercase();
        if !stored_header(&lower) {
            continue;
        }
        let printable = value.chars().all(|c| c == '\t' || !c.is_control());
        let name_ok = lower
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !printable || !name_ok {
            return Err(S3Error::invalid_argument(format!(
                "The form field '{name}' cannot be kept as an HTTP header."
            )));
        }
        headers.push((lower, value.clone()));
    }
    Ok(headers)
}

fn success(form: &Form) -> Success {
    let redirect = form
        .get("success_action_redirect")
        .or_else(|| form.get("redirect"))
        .filter(|url| {
            let lower = url.to_ascii_lowercase();
            (lower.starts_with("http://") || lower.starts_with("https://"))
                && !url.chars().any(char::is_control)
        });
    match (redirect, form.get("success_action_status")) {
        (Some(url), _) => Success::Redirect(url.to_owned()),
        (None, Some(status @ ("200" | "201" | "204"))) => {
            Success::Status(status.parse().unwrap_or(204))
        }
        // S3 answers 204 to a missing or unknown status (s3-tests: set invalid success code).
        (None, _) => Success::Status(204),
    }
}

fn checksum(form: &Form) -> Result<Option<Checksum>, S3Error> {
    for algorithm in ["crc32", "crc32c", "crc64nvme"] {
        let field = format!("x-amz-checksum-{algorithm}");
        if form.has(&field) {
            return Err(S3Error::new(
                S3Code::InvalidRequest,
                format!("{field} is not supported by this store; use SHA256 or SHA1."),
            ));
        }
    }
    let decode = |field: &str, len: usize| -> Result<Option<Vec<u8>>, S3Error> {
        let Some(text) = form.get(field) else {
            return Ok(None);
        };
        match STANDARD.decode(text.trim()) {
            Ok(bytes) if bytes.len() == len => Ok(Some(bytes)),
            _ => Err(S3Error::new(
                S3Code::InvalidRequest,
                format!("Value for {field} header is invalid."),
            )),
        }
    };
    if let Some(sum) = decode("x-amz-checksum-sha256", 32)? {
        return Ok(Some(Checksum::Sha256(sum)));
    }
    Ok(decode("x-amz-checksum-sha1", 20)?.map(Checksum::Sha1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::sign::{Condition, SignatureVersion, V4_ALGORITHM, encode_policy};

    const NOW: i64 = 1_356_998_400; // 2013-01-01T00:00:00Z

    fn creds() -> Credentials {
        Credentials {
            access_key: "AKNEXDS".into(),
            secret_key: "secret".into(),
            region: "us-east-1".into(),
        }
    }

    fn form(fields: &[(&str, &str)]) -> Form {
        let mut form = Form::default();
        for (k, v) in fields {
            form.push(k, (*v).to_owned()).unwrap();
        }
        form
    }

    fn v2_form(policy_json: &str, extra: &[(&str, &str)]) -> Form {
        let policy = STANDARD.encode(policy_json);
        let signature = sign::sign_v2("secret", &policy);
        let mut fields = vec![
            ("key", "foo.txt"),
            ("AWSAccessKeyId", "AKNEXDS"),
            ("policy", policy.as_str()),
            ("signature", signature.as_str()),
        ];
        fields.extend_from_slice(extra);
        form(&fields)
    }

    fn err(result: Result<Grant, S3Error>) -> S3Error {
        result.expect_err("the form is refused")
    }

    #[test]
    fn the_signers_own_forms_pass_in_both_styles() {
        let upload = sign::PostUpload {
            bucket: "nexds",
            key: "objects/1.bin",
            acl: "private",
            size: 3,
            expires_at: NOW + 900,
        };
        for version in [SignatureVersion::V2, SignatureVersion::V4] {
            let fields = sign::post_fields(&creds(), version, &upload, NOW);
            let mut f = Form::default();
            for (k, v) in fields {
                f.push(&k, v).unwrap();
            }
            let grant = check(&f, "nexds", Some("x.bin"), &creds(), NOW).unwrap();
            assert_eq!(grant.key, "objects/1.bin");
            assert_eq!((grant.min_size, grant.max_size), (3, 3));
            assert_eq!(grant.success, Success::Status(204));
            assert!(grant.size_error(3).is_none());
            assert_eq!(grant.size_error(4).unwrap().code, S3Code::EntityTooLarge);
            assert_eq!(grant.size_error(2).unwrap().code, S3Code::EntityTooSmall);
            // Another bucket in the URL fails the bucket condition.
            let e = err(check(&f, "other", None, &creds(), NOW));
            assert_eq!(
                e.message,
                "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$bucket\", \"nexds\"]"
            );
        }
    }

    #[test]
    fn conditions_and_operators_ignore_case_but_values_do_not() {
        let policy = r#"{"expiration":"2013-01-01T00:15:00Z","conditions":[{"bUcKeT":"nexds"},
            ["StArTs-WiTh","$KeY","foo"],["EQ","$Content-Type","text/plain"]]}"#;
        let ok = v2_form(policy, &[("content-type", "text/plain")]);
        assert!(check(&ok, "nexds", None, &creds(), NOW).is_ok());
        let bad = v2_form(policy, &[("Content-Type", "Text/plain")]);
        let e = err(check(&bad, "nexds", None, &creds(), NOW));
        assert_eq!(
            e.message,
            "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$Content-Type\", \"text/plain\"]"
        );
    }

    #[test]
    fn every_field_must_be_covered_and_bucket_always_is_one() {
        let policy =
            r#"{"expiration":"2013-01-01T00:15:00Z","conditions":[["starts-with","$key",""]]}"#;
        let e = err(check(
            &v2_form(policy, &[("x-amz-meta-a", "1"), ("x-ignore-me", "2")]),
            "nexds",
            None,
            &creds(),
            NOW,
        ));
        assert_eq!(e.code, S3Code::AccessDenied);
        assert_eq!(
            e.message,
            "Invalid according to Policy: Extra input fields: bucket, x-amz-meta-a"
        );
    }

    #[test]
    fn policy_documents_are_checked_before_their_conditions() {
        let cases = [
            (
                r#"{"conditions":[]}"#,
                "Invalid Policy: Policy missing expiration.",
            ),
            (
                r#"{"EXPIRATION":"2013-01-01T00:15:00Z","conditions":[]}"#,
                "Invalid Policy: Policy missing expiration.",
            ),
            (
                r#"{"expiration":"2013-01-01T00:15:00Z"}"#,
                "Invalid Policy: Policy missing conditions.",
            ),
            (
                r#"{"expiration":"2013-01-01 00:15:00+00:00","conditions":[]}"#,
                "Invalid Policy: Invalid 'expiration' value: '2013-01-01 00:15:00+00:00'",
            ),
            (
                r#"{"expiration":"2013-01-01T00:15:00Z","conditions":[{}]}"#,
                "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
            ),
            (
                r#"{"expiration":"2013-01-01T00:15:00Z","conditions":[["content-length-range",0]]}"#,
                "Invalid Policy: content-length-range takes a minimum and a maximum: [\"content-length-range\",0]",
            ),
            (
                r#"{"expiration":"2013-01-01T00:15:00Z","conditions":[["content-length-range",-1,0]]}"#,
                "Invalid Policy: Invalid content-length-range: [\"content-length-range\",-1,0]",
            ),
            (
                r#"{"expiration":"2013-01-01T00:15:00Z","conditions":[["in","$key","a"]]}"#,
                "Invalid Policy: Invalid condition operator: [\"in\",\"$key\",\"a\"]",
            ),
            (
                "not json",
                "Invalid Policy: Invalid JSON: expected ident at line 1 column 2",
            ),
        ];
        for (policy, message) in cases {
            let e = err(check(&v2_form(policy, &[]), "nexds", None, &creds(), NOW));
            assert_eq!(
                (e.code, e.message.as_str()),
                (S3Code::InvalidPolicyDocument, message)
            );
        }
        let expired = r#"{"expiration":"2012-12-31T23:59:59.000Z","conditions":[]}"#;
        let e = err(check(&v2_form(expired, &[]), "nexds", None, &creds(), NOW));
        assert_eq!(e.message, "Invalid according to Policy: Policy expired.");
    }

    #[test]
    fn signatures_and_keys_are_checked_first() {
        let policy = STANDARD.encode(r#"{"expiration":"2013-01-01T00:15:00Z","conditions":[]}"#);
        let good = sign::sign_v2("secret", &policy);
        let base = [
            ("key", "k"),
            ("AWSAccessKeyId", "AKNEXDS"),
            ("policy", policy.as_str()),
            ("signature", good.as_str()),
        ];
        let with = |name: &str, value: &str| {
            let fields: Vec<(&str, &str)> = base
                .iter()
                .map(|(k, v)| if *k == name { (*k, value) } else { (*k, *v) })
                .collect();
            err(check(&form(&fields), "nexds", None, &creds(), NOW))
        };
        assert_eq!(
            with("AWSAccessKeyId", "other").code,
            S3Code::InvalidAccessKeyId
        );
        assert_eq!(
            with("signature", "AAAA").code,
            S3Code::SignatureDoesNotMatch
        );
        let without = |name: &str| {
            let fields: Vec<(&str, &str)> =
                base.iter().copied().filter(|(k, _)| *k != name).collect();
            err(check(&form(&fields), "nexds", None, &creds(), NOW))
        };
        assert_eq!(
            without("key").message,
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields."
        );
        assert_eq!(without("signature").code, S3Code::InvalidArgument);
        assert_eq!(
            err(check(&form(&[("key", "k")]), "nexds", None, &creds(), NOW)),
            S3Error::anonymous()
        );
    }

    #[test]
    fn sigv4_forms_need_the_scope_of_this_store_and_pinned_fields() {
        let credential = "AKNEXDS/20130101/us-east-1/s3/aws4_request";
        let signed = |policy_json: &str, credential: &str| {
            let policy = STANDARD.encode(policy_json);
            let key = sign::signing_key_v4("secret", "20130101", "us-east-1", "s3");
            let signature = sign::sign_v4(&key, &policy);
            form(&[
                ("key", "k"),
                ("x-amz-algorithm", V4_ALGORITHM),
                ("x-amz-credential", credential),
                ("x-amz-date", "20130101T000000Z"),
                ("policy", &policy),
                ("x-amz-signature", &signature),
            ])
        };
        let unpinned = r#"{"expiration":"2013-01-01T00:15:00Z","conditions":[{"bucket":"nexds"},{"key":"k"},
            ["starts-with","$x-amz-algorithm",""],["starts-with","$x-amz-credential",""],["starts-with","$x-amz-date",""]]}"#;
        let cases = [
            (
                credential,
                "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$x-amz-algorithm\", \"AWS4-HMAC-SHA256\"]",
            ),
            (
                "AKNEXDS/20130101/eu-west-1/s3/aws4_request",
                "Error parsing the X-Amz-Credential parameter; the region 'eu-west-1' is wrong; expecting 'us-east-1'",
            ),
        ];
        for (credential, message) in cases {
            let e = err(check(
                &signed(unpinned, credential),
                "nexds",
                None,
                &creds(),
                NOW,
            ));
            assert_eq!(e.message, message);
        }
    }

    #[test]
    fn filename_is_substituted_before_the_key_condition() {
        let policy = r#"{"expiration":"2013-01-01T00:15:00Z","conditions":[{"bucket":"nexds"},["starts-with","$key","up/"]]}"#;
        let mut f = v2_form(policy, &[]);
        f.fields[0].1 = "up/${filename}".into();
        let grant = check(&f, "nexds", Some("a.txt"), &creds(), NOW).unwrap();
        assert_eq!(grant.key, "up/a.txt");
    }

    #[test]
    fn success_fields_choose_the_answer() {
        let pick = |fields: &[(&str, &str)]| success(&form(fields));
        assert_eq!(pick(&[]), Success::Status(204));
        assert_eq!(
            pick(&[("success_action_status", "201")]),
            Success::Status(201)
        );
        assert_eq!(
            pick(&[("success_action_status", "404")]),
            Success::Status(204)
        );
        assert_eq!(
            pick(&[
                ("success_action_redirect", "https://x/y"),
                ("success_action_status", "201")
            ]),
            Success::Redirect("https://x/y".into())
        );
        assert_eq!(pick(&[("redirect", "not a url")]), Success::Status(204));
        assert_eq!(
            Success::location("http://h/p?a=1", "b", "k y", "abc"),
            "http://h/p?a=1&bucket=b&key=k%20y&etag=%22abc%22"
        );
    }

    #[test]
    fn encode_policy_round_trips() {
        let text = encode_policy(NOW, &[Condition::ContentLengthRange(1, 2)]);
        let policy = parse_policy(&text).unwrap();
        assert_eq!(policy.expiration, NOW);
        assert_eq!(policy.conditions, vec![Cond::Range { min: 1, max: 2 }]);
    }
}
