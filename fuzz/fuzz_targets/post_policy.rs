//! The S3 POST policy: `post_policy::check` over a form built from fuzzed
//! fields. The target signs the fuzzed policy (SigV2 or SigV4) with the store's
//! keys, so the policy JSON parser and the condition checker are reached.
//! Invariant: errors are fine, panics are not.

#![no_main]

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use nexds::s3::post_policy::{Form, check};
use nexds::s3::sign::{self, Credentials, V4_ALGORITHM};

/// 2013-01-01T00:00:00Z
const NOW: i64 = 1_356_998_400;

#[derive(Debug, Arbitrary)]
enum Signing {
    /// Only the fuzzed fields.
    None,
    /// AWSAccessKeyId, policy and signature (SigV2) of the policy.
    V2,
    /// X-Amz-Algorithm/Credential/Date/Signature (SigV4) of the policy, for `amz_date`.
    V4 { amz_date: String },
}

#[derive(Debug, Arbitrary)]
struct Input {
    signing: Signing,
    /// The policy document; Base64-encoded by the target unless `raw_policy`.
    policy: String,
    raw_policy: bool,
    /// Form fields, pushed before the signing fields (so they may override them).
    fields: Vec<(String, String)>,
    bucket: String,
    filename: Option<String>,
    now_offset: i32,
}

fn creds() -> Credentials {
    Credentials {
        access_key: "AKNEXDS".into(),
        secret_key: "secret".into(),
        region: "us-east-1".into(),
    }
}

fuzz_target!(|input: Input| {
    let creds = creds();
    let mut form = Form::default();
    for (name, value) in &input.fields {
        // A repeated field is refused here, as the multipart reader refuses it.
        let _ = form.push(name, value.clone());
    }
    let policy = if input.raw_policy {
        input.policy.clone()
    } else {
        STANDARD.encode(input.policy.as_bytes())
    };
    match &input.signing {
        Signing::None => {
            let _ = form.push("policy", policy);
        }
        Signing::V2 => {
            let signature = sign::sign_v2(&creds.secret_key, &policy);
            let _ = form.push("AWSAccessKeyId", creds.access_key.clone());
            let _ = form.push("policy", policy);
            let _ = form.push("signature", signature);
        }
        Signing::V4 { amz_date } => {
            let day = amz_date.get(..8).unwrap_or(amz_date);
            let credential = format!(
                "{}/{day}/{}/s3/aws4_request",
                creds.access_key, creds.region
            );
            let key = sign::signing_key_v4(&creds.secret_key, day, &creds.region, "s3");
            let signature = sign::sign_v4(&key, &policy);
            let _ = form.push("x-amz-algorithm", V4_ALGORITHM.to_owned());
            let _ = form.push("x-amz-credential", credential);
            let _ = form.push("x-amz-date", amz_date.clone());
            let _ = form.push("policy", policy);
            let _ = form.push("x-amz-signature", signature);
        }
    }
    let now = NOW + i64::from(input.now_offset);
    if let Ok(grant) = check(&form, &input.bucket, input.filename.as_deref(), &creds, now) {
        // What the upload does with a grant: size limits, the checksum.
        let _ = grant.size_error(grant.min_size.saturating_sub(1));
        let _ = grant.size_error(grant.max_size.saturating_add(1));
        if let Some(mut hasher) = grant.checksum_hasher() {
            hasher.update(input.policy.as_bytes());
            let _ = hasher.verify();
        }
    }
});
