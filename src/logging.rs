//! Logging: the access log, with signatures, credentials and tokens taken out of
//! logged URLs, and the logger itself, which keeps clients' mistakes below ERROR.

use actix_web::dev::ServiceRequest;
use actix_web::middleware::Logger;
use log::{Level, Log, Metadata, Record};

/// Starts logging to stderr at `RUST_LOG` (default `info`).
pub fn init() {
    let inner =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).build();
    let max = inner.filter();
    if log::set_boxed_logger(Box::new(ClientFaultsAtDebug(inner))).is_ok() {
        log::set_max_level(max);
    }
}

/// The access log: one line per request, `%a "%r" %s %b %Dms` with the request
/// line's secrets redacted.
pub fn access_log() -> Logger {
    Logger::new("%a \"%{request}xi\" %s %b %Dms").custom_request_replace("request", request_line)
}

/// The first line of the request, as `%r` writes it, with [`redact_query`] applied.
fn request_line(req: &ServiceRequest) -> String {
    let query = req.query_string();
    if query.is_empty() {
        format!("{} {} {:?}", req.method(), req.path(), req.version())
    } else {
        format!(
            "{} {}?{} {:?}",
            req.method(),
            req.path(),
            redact_query(query),
            req.version()
        )
    }
}

/// `query` with the value of every parameter that is a secret or lets its holder
/// act (signatures of presigned URLs and download links, credentials, tokens)
/// replaced by `REDACTED`; everything else as sent.
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret(name) => format!("{name}=REDACTED"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn is_secret(name: &str) -> bool {
    let name = percent_encoding::percent_decode_str(name)
        .decode_utf8_lossy()
        .to_ascii_lowercase();
    name == "awsaccesskeyid"
        || ["signature", "credential", "token", "secret", "password"]
            .iter()
            .any(|word| name.contains(word))
}

/// env_logger, except that what actix's HTTP/1 layer logs at ERROR about a
/// connection it drops (a request no parser accepts, a head too large, a client
/// gone) is logged at DEBUG: the client's mistake, not the server's fault, and
/// already answered with a 4xx.
struct ClientFaultsAtDebug(env_logger::Logger);

impl ClientFaultsAtDebug {
    fn is_client_fault(record: &Record<'_>) -> bool {
        record.level() <= Level::Warn
            && record.target().starts_with("actix_http::h1::dispatcher")
            && record.args().to_string().starts_with("stream error")
    }
}

impl Log for ClientFaultsAtDebug {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.0.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if Self::is_client_fault(record) {
            self.0.log(
                &Record::builder()
                    .args(*record.args())
                    .level(Level::Debug)
                    .target(record.target())
                    .module_path(record.module_path())
                    .file(record.file())
                    .line(record.line())
                    .build(),
            );
        } else {
            self.0.log(record);
        }
    }

    fn flush(&self) {
        self.0.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_credentials_and_tokens_are_redacted_and_the_rest_kept() {
        assert_eq!(
            redact_query(
                "AWSAccessKeyId=AK&Expires=1700000000&Signature=abc%2Bdef%3D&response-content-type=x"
            ),
            "AWSAccessKeyId=REDACTED&Expires=1700000000&Signature=REDACTED&response-content-type=x"
        );
        assert_eq!(
            redact_query(
                "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fs3\
                 &X-Amz-Date=20260101T000000Z&X-Amz-Security-Token=t&X-Amz-Signature=ff"
            ),
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED\
             &X-Amz-Date=20260101T000000Z&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED"
        );
        assert_eq!(
            redact_query("expires=99&signature=abc&access_token=t&type=1&flag"),
            "expires=99&signature=REDACTED&access_token=REDACTED&type=1&flag"
        );
    }

    #[test]
    fn actix_dropping_a_malformed_request_is_a_client_fault_and_its_own_failures_are_not() {
        let record = |level, target, message: &str| {
            ClientFaultsAtDebug::is_client_fault(
                &Record::builder()
                    .level(level)
                    .target(target)
                    .args(format_args!("{message}"))
                    .build(),
            )
        };
        let dispatcher = "actix_http::h1::dispatcher";
        assert!(record(
            Level::Error,
            dispatcher,
            "stream error: request parse error: invalid Header provided"
        ));
        assert!(!record(
            Level::Error,
            dispatcher,
            "Response payload stream error: disk"
        ));
        assert!(!record(Level::Error, "nexds::janitor", "stream error: x"));
    }
}
