//! Logging: the logger itself (text or JSON lines, every line written while a
//! request is served naming its request id, clients' mistakes kept below ERROR)
//! and the redaction of signatures, credentials and tokens from logged URLs.
//! The access log line itself is written by [`crate::observe`].

use std::future::Future;
use std::io::Write;

use actix_web::http::{Method, Uri, Version};
use log::kv::{self, Key, Source, Value, VisitSource};
use log::{Level, Log, Metadata, Record};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How log lines look (`NEXDS_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// env_logger's `[time LEVEL target] message key=value…`.
    #[default]
    Text,
    /// One JSON object per line: `time`, `level`, `target`, `message`,
    /// `request_id` (null outside a request), and the line's other fields.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("unknown log format '{other}' (text, json)")),
        }
    }
}

/// The key of the request id in log lines.
pub const REQUEST_ID: &str = "request_id";

/// Fields of the access line that its text message already shows; the text
/// format leaves them out (JSON has them all).
const IN_ACCESS_MESSAGE: [&str; 6] = ["method", "path", "status", "duration_ms", "bytes", "remote"];

tokio::task_local! {
    /// The id of the request whose task is running.
    static CURRENT_REQUEST: String;
}

/// Runs `fut` with `id` as the request id of every line it logs.
pub async fn with_request_id<F: Future>(id: String, fut: F) -> F::Output {
    CURRENT_REQUEST.scope(id, fut).await
}

/// Runs `f` with `id` as the request id of every line it logs.
pub fn with_request_id_sync<T>(id: String, f: impl FnOnce() -> T) -> T {
    CURRENT_REQUEST.sync_scope(id, f)
}

/// Starts logging to stderr at `RUST_LOG` (default `info`), in `format`.
pub fn init(format: LogFormat) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    match format {
        LogFormat::Text => {
            builder.format_key_values(|buf, fields| {
                let mut text = TextFields(String::new());
                let _ = fields.visit(&mut text);
                buf.write_all(text.0.as_bytes())
            });
        }
        LogFormat::Json => {
            builder.format(|buf, record| {
                serde_json::to_writer(&mut *buf, &json_line(record))?;
                writeln!(buf)
            });
        }
    }
    let inner = builder.build();
    let max = inner.filter();
    if log::set_boxed_logger(Box::new(NexdsLogger(inner))).is_ok() {
        log::set_max_level(max);
    }
}

/// The JSON object of one line.
fn json_line(record: &Record<'_>) -> serde_json::Map<String, serde_json::Value> {
    let mut line = serde_json::Map::new();
    let time = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default();
    line.insert("time".into(), time.into());
    line.insert("level".into(), record.level().as_str().into());
    line.insert("target".into(), record.target().into());
    line.insert("message".into(), record.args().to_string().into());
    line.insert(REQUEST_ID.into(), serde_json::Value::Null);
    let mut fields = JsonFields(line);
    let _ = record.key_values().visit(&mut fields);
    fields.0
}

struct JsonFields(serde_json::Map<String, serde_json::Value>);

impl<'kvs> VisitSource<'kvs> for JsonFields {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), kv::Error> {
        let value = if let Some(n) = value.to_u64() {
            n.into()
        } else if let Some(n) = value.to_i64() {
            n.into()
        } else if let Some(x) = value.to_f64() {
            x.into()
        } else if let Some(b) = value.to_bool() {
            b.into()
        } else {
            value.to_string().into()
        };
        self.0.insert(key.as_str().to_owned(), value);
        Ok(())
    }
}

/// ` key=value` for each field the text message does not already show.
struct TextFields(String);

impl<'kvs> VisitSource<'kvs> for TextFields {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), kv::Error> {
        if !IN_ACCESS_MESSAGE.contains(&key.as_str()) {
            self.0.push_str(&format!(" {key}={value}"));
        }
        Ok(())
    }
}

/// The first line of a request, as `%r` writes it, with [`redact_query`] applied.
pub fn request_line(method: &Method, uri: &Uri, version: Version) -> String {
    format!("{method} {} {version:?}", redacted_path(uri))
}

/// The path and query of a request, with [`redact_query`] applied.
pub fn redacted_path(uri: &Uri) -> String {
    match uri.query() {
        None | Some("") => uri.path().to_owned(),
        Some(query) => format!("{}?{}", uri.path(), redact_query(query)),
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

/// env_logger, except that every line logged while a request is served names
/// its request id, and what actix's HTTP/1 layer logs at ERROR about a
/// connection it drops (a request no parser accepts, a head too large, a client
/// gone) is logged at DEBUG: the client's mistake, not the server's fault, and
/// already answered with a 4xx.
struct NexdsLogger(env_logger::Logger);

impl NexdsLogger {
    fn is_client_fault(record: &Record<'_>) -> bool {
        record.level() <= Level::Warn
            && record.target().starts_with("actix_http::h1::dispatcher")
            && record.args().to_string().starts_with("stream error")
    }
}

/// A line's own fields, and the request id first when the line has none.
struct WithRequestId<'a> {
    fields: &'a dyn Source,
    id: Option<&'a str>,
}

impl Source for WithRequestId<'_> {
    fn visit<'kvs>(&'kvs self, visitor: &mut dyn VisitSource<'kvs>) -> Result<(), kv::Error> {
        if let Some(id) = self.id {
            visitor.visit_pair(Key::from_str(REQUEST_ID), Value::from(id))?;
        }
        self.fields.visit(visitor)
    }
}

impl Log for NexdsLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.0.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        let client_fault = Self::is_client_fault(record);
        let level = if client_fault {
            Level::Debug
        } else {
            record.level()
        };
        let fields = record.key_values();
        let id = match fields.get(Key::from_str(REQUEST_ID)) {
            Some(_) => None,
            None => CURRENT_REQUEST.try_with(String::clone).ok(),
        };
        if !client_fault && id.is_none() {
            self.0.log(record);
            return;
        }
        let fields = WithRequestId {
            fields,
            id: id.as_deref(),
        };
        self.0.log(
            &Record::builder()
                .args(*record.args())
                .level(level)
                .target(record.target())
                .module_path(record.module_path())
                .file(record.file())
                .line(record.line())
                .key_values(&fields)
                .build(),
        );
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
            NexdsLogger::is_client_fault(
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
