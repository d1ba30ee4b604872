//! Golden cases under `fixtures/<endpoint>/<case>/`, written in the spec's own
//! request/response form:
//!
//! - `setup.http` (optional): requests run first, separated by `###` lines. A
//!   `# alias 10` line binds the `<data_id>` its answer returns to the spec's id 10.
//! - `request.http`: the request under test (`METHOD PATH`, headers, blank line, body).
//! - `response.http`: the expected status line, headers checked if given, and body.
//!
//! `# as principal N` / `# as nobody` choose the caller (default: the title token);
//! `# post file of N bytes` on a prepare step uploads N bytes with the form it got,
//! as a console would; other `#` lines are comments. Spec ids in data_id positions (the path segment after
//! metainfo/, data/, passwordinfo/, urlinfo/, complete/; `data_ids=`; `<data_id>`) are
//! replaced by the real ids. Bodies are compared as XML after normalising: data_ids
//! back to their alias (others to `ID`), times to `TIME` (except 9999-12-31),
//! passwords to `PASSWORD`, and the changing parts of upload forms and URLs to their names.
//! `NEXDS_BLESS=1` rewrites the `response.http` of the cases that differ, from the server.

use nexds_test_macros::backends;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::helpers::{Resp, TestApp, spawn_app};

/// Element names whose values are ids of data.
const ID_SEGMENTS: [&str; 5] = ["metainfo", "data", "passwordinfo", "urlinfo", "complete"];

#[derive(Debug, Default)]
struct HttpText {
    directives: Vec<String>,
    start_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

/// Splits a `.http` file into blocks at `###` lines.
fn parse_http_file(text: &str) -> Vec<HttpText> {
    let mut blocks = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.starts_with("###") {
            blocks.push(std::mem::take(&mut current));
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    blocks.push(current);
    blocks
        .iter()
        .filter(|b| {
            b.lines()
                .any(|l| !l.trim().is_empty() && !l.starts_with('#'))
        })
        .map(|b| parse_block(b))
        .collect()
}

fn parse_block(block: &str) -> HttpText {
    let mut out = HttpText::default();
    let mut lines = block.lines().peekable();
    while let Some(line) = lines.peek() {
        if line.trim().is_empty() {
            lines.next();
        } else if let Some(d) = line.strip_prefix('#') {
            out.directives.push(d.trim().to_owned());
            lines.next();
        } else {
            break;
        }
    }
    out.start_line = lines.next().unwrap_or("").trim().to_owned();
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out.body = lines.collect::<Vec<_>>().join("\n").trim().to_owned();
    out
}

struct Case {
    dir: PathBuf,
    app: TestApp,
    /// spec id → real id
    aliases: BTreeMap<String, String>,
    principals: HashMap<u32, String>,
}

impl Case {
    fn token(&mut self, directives: &[String]) -> Option<String> {
        for d in directives {
            if let Some(pid) = d.strip_prefix("as principal ") {
                let pid: u32 = pid.trim().parse().expect("principal id");
                let app = &self.app;
                return Some(
                    self.principals
                        .entry(pid)
                        .or_insert_with(|| app.principal(pid))
                        .clone(),
                );
            }
            if d == "as nobody" {
                return None;
            }
        }
        Some(self.app.title.clone())
    }

    fn alias(&self, id: &str) -> String {
        self.aliases
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_owned())
    }

    /// Replaces spec ids with real ids in the path and query.
    fn substitute_target(&self, target: &str) -> String {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let segments: Vec<&str> = path.split('/').collect();
        let mut out: Vec<String> = Vec::new();
        for (i, seg) in segments.iter().enumerate() {
            let after_id_segment = i > 0 && ID_SEGMENTS.contains(&segments[i - 1]);
            out.push(if after_id_segment {
                self.alias(seg)
            } else {
                (*seg).to_owned()
            });
        }
        let mut target = out.join("/");
        if !query.is_empty() {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some(("data_ids", list)) => format!(
                        "data_ids={}",
                        list.split(',')
                            .map(|id| self.alias(id))
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                    _ => pair.to_owned(),
                })
                .collect();
            target.push('?');
            target.push_str(&pairs.join("&"));
        }
        target
    }

    /// Replaces spec ids with real ids in `<data_id>` elements.
    fn substitute_body(&self, body: &str) -> String {
        let mut out = body.to_owned();
        for (alias, real) in &self.aliases {
            out = out.replace(
                &format!("<data_id>{alias}</data_id>"),
                &format!("<data_id>{real}</data_id>"),
            );
        }
        out
    }

    fn run(&mut self, request: &HttpText) -> Resp {
        let token = self.token(&request.directives);
        let mut parts = request.start_line.split_whitespace();
        let method = parts.next().expect("method").to_owned();
        let target = self.substitute_target(parts.next().expect("path"));
        let mut headers: Vec<(String, String)> = request
            .headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
            .cloned()
            .collect();
        if let Some(token) = token {
            headers.push(("Authorization".into(), format!("Bearer {token}")));
        }
        let header_refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = self.substitute_body(&request.body);
        crate::helpers::send(
            &crate::helpers::agent(),
            &method,
            &format!("{}{target}", self.app.base),
            &header_refs,
            (!body.is_empty()).then_some(body.as_str()),
        )
    }
}

/// A normalised, whitespace-free rendering of an XML document for comparison.
fn canonical(
    xml: &str,
    real_to_alias: &HashMap<String, String>,
    aliases: &[String],
) -> Result<String, String> {
    // Text is trimmed per element, not per chunk: entity references split chunks.
    let mut reader = Reader::from_str(xml);
    let mut out = String::new();
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut open_line_pending = false;
    loop {
        match reader.read_event().map_err(|e| format!("not XML: {e}"))? {
            Event::Decl(d) => {
                let version = d.version().map_err(|e| e.to_string())?;
                let encoding = d.encoding().transpose().map_err(|e| e.to_string())?;
                let _ = writeln!(
                    out,
                    "<?xml version={} encoding={}?>",
                    String::from_utf8_lossy(&version),
                    encoding
                        .map(|e| String::from_utf8_lossy(&e).to_uppercase())
                        .unwrap_or_default()
                );
            }
            Event::Start(e) | Event::Empty(e) if false => drop(e),
            ev @ (Event::Start(_) | Event::Empty(_)) => {
                let (e, empty) = match &ev {
                    Event::Start(e) => (e, false),
                    Event::Empty(e) => (e, true),
                    _ => unreachable!(),
                };
                if open_line_pending {
                    out.push('\n');
                }
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let mut attrs: Vec<String> = e
                    .attributes()
                    .filter_map(Result::ok)
                    .map(|a| {
                        format!(
                            "{}=\"{}\"",
                            String::from_utf8_lossy(a.key.as_ref()),
                            String::from_utf8_lossy(&a.value)
                        )
                    })
                    .collect();
                attrs.sort();
                let _ = write!(
                    out,
                    "{}<{name}{}{}>",
                    "  ".repeat(stack.len()),
                    if attrs.is_empty() { "" } else { " " },
                    attrs.join(" ")
                );
                if empty {
                    let _ = writeln!(out, "</{name}>");
                    open_line_pending = false;
                } else {
                    stack.push(name);
                    open_line_pending = true;
                    text.clear();
                }
            }
            Event::Text(t) => text.push_str(&t.xml10_content().map_err(|e| e.to_string())?),
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| e.to_string())?;
                text.push_str(quick_xml::escape::resolve_predefined_entity(&name).unwrap_or("?"));
            }
            Event::End(_) => {
                let name = stack.pop().ok_or("unbalanced end tag")?;
                if open_line_pending {
                    let value = normalise_value(&name, text.trim(), real_to_alias, aliases);
                    let _ = writeln!(out, "{value}</{name}>");
                    open_line_pending = false;
                } else {
                    let _ = writeln!(out, "{}</{name}>", "  ".repeat(stack.len()));
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

fn normalise_value(
    element: &str,
    value: &str,
    real_to_alias: &HashMap<String, String>,
    aliases: &[String],
) -> String {
    match element {
        "data_id" => real_to_alias
            .get(value)
            .cloned()
            .or_else(|| aliases.iter().find(|a| *a == value).cloned())
            .unwrap_or_else(|| "ID".to_owned()),
        "access_password" | "update_password" => "PASSWORD".to_owned(),
        // Upload forms and download URLs differ every time.
        "url" | "date" | "policy" | "AWSAccessKeyId" | "signature" | "key" | "x-amz-credential"
        | "x-amz-date" | "x-amz-signature" => element.to_uppercase(),
        // `<time>`: a notification's (DESIGN §15).
        e if (e.ends_with("_time") || e == "time") && value != "9999-12-31T00:00:00Z" => {
            "TIME".to_owned()
        }
        // Error messages name data_ids too.
        "message" => real_to_alias
            .iter()
            .fold(value.to_owned(), |text, (real, alias)| {
                text.replace(real.as_str(), alias)
            }),
        _ => value.to_owned(),
    }
}

fn content_type_norm(v: &str) -> String {
    v.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase()
}

/// Uploads `size` bytes with the form of a prepare answer: every post_param field, file last.
fn post_file(prepare: &Resp, size: usize) -> Result<(), String> {
    let doc = prepare.doc();
    let data = doc
        .child("datastore")
        .and_then(|d| d.child("data"))
        .ok_or("the prepare answer has no <data>")?;
    let url = data.child("url").ok_or("no <url>")?.text().to_owned();
    let fields: Vec<(String, String)> = data
        .child("post_param")
        .ok_or("no <post_param>")?
        .children
        .iter()
        .map(|e| (e.name.clone(), e.text().to_owned()))
        .collect();
    let file: Vec<u8> = (0..size).map(|i| i as u8).collect();
    let resp = crate::helpers::post_form(&url, &fields, &file);
    if (200..300).contains(&resp.status) {
        Ok(())
    } else {
        Err(format!(
            "the upload was refused: {} {}",
            resp.status, resp.body
        ))
    }
}

fn run_case(dir: &Path) -> Result<(), String> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name));
    let mut case = Case {
        dir: dir.to_owned(),
        app: spawn_app(),
        aliases: BTreeMap::new(),
        principals: HashMap::new(),
    };
    if let Ok(setup) = read("setup.http") {
        for step in parse_http_file(&setup) {
            let resp = case.run(&step);
            if resp.status != 200 {
                return Err(format!(
                    "setup step `{}` failed: {}",
                    step.start_line, resp.body
                ));
            }
            for d in &step.directives {
                if let Some(alias) = d.strip_prefix("alias ") {
                    let id = resp.text("datastore/data/data_id");
                    case.aliases.insert(alias.trim().to_owned(), id);
                }
                if let Some(size) = d
                    .strip_prefix("post file of ")
                    .and_then(|rest| rest.strip_suffix(" bytes"))
                {
                    post_file(
                        &resp,
                        size.trim()
                            .parse()
                            .map_err(|_| format!("bad directive: {d}"))?,
                    )?;
                }
            }
        }
    }
    let request = parse_http_file(&read("request.http").map_err(|e| format!("request.http: {e}"))?)
        .into_iter()
        .next()
        .ok_or("request.http has no request")?;
    let actual = case.run(&request);
    let expected_text = read("response.http").unwrap_or_default();
    let real_to_alias: HashMap<String, String> = case
        .aliases
        .iter()
        .map(|(a, r)| (r.clone(), a.clone()))
        .collect();

    // Bless only what differs, so the other cases keep their spec text.
    if std::env::var_os("NEXDS_BLESS").is_some()
        && compare(&case, &actual, &expected_text, &real_to_alias).is_err()
    {
        let comments: String = expected_text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let mut body = actual.body.clone();
        for (real, alias) in &real_to_alias {
            body = body.replace(
                &format!("<data_id>{real}</data_id>"),
                &format!("<data_id>{alias}</data_id>"),
            );
        }
        let reason = reason(actual.status);
        let blessed = format!(
            "{comments}HTTP/1.1 {} {reason}\nContent-Type: {}\n\n{}",
            actual.status, actual.content_type, body
        );
        std::fs::write(case.dir.join("response.http"), blessed).map_err(|e| e.to_string())?;
        return Ok(());
    }

    compare(&case, &actual, &expected_text, &real_to_alias)
}

/// Checks an answer against `response.http`.
fn compare(
    case: &Case,
    actual: &Resp,
    expected_text: &str,
    real_to_alias: &HashMap<String, String>,
) -> Result<(), String> {
    let expected = parse_http_file(expected_text)
        .into_iter()
        .next()
        .ok_or("response.http has no status line")?;
    let status: u16 = expected
        .start_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("response.http: bad status line")?;
    if status != actual.status {
        return Err(format!(
            "status {} (expected {status}): {}",
            actual.status, actual.body
        ));
    }
    for (k, v) in &expected.headers {
        let got = actual.header(k).unwrap_or("");
        let same = if k.eq_ignore_ascii_case("content-type") {
            content_type_norm(v) == content_type_norm(got)
        } else {
            v == got
        };
        if !same {
            return Err(format!("header {k}: got '{got}', expected '{v}'"));
        }
    }
    if expected.body.is_empty() {
        return if actual.body.trim().is_empty() {
            Ok(())
        } else {
            Err(format!("expected an empty body, got {}", actual.body))
        };
    }
    let aliases: Vec<String> = case.aliases.keys().cloned().collect();
    let want = canonical(&expected.body, &HashMap::new(), &aliases)
        .map_err(|e| format!("response.http: {e}"))?;
    let got = canonical(&actual.body, real_to_alias, &aliases)
        .map_err(|e| format!("answer: {e}\n{}", actual.body))?;
    if want != got {
        return Err(format!(
            "--- expected (normalised)\n{want}--- actual (normalised)\n{got}"
        ));
    }
    Ok(())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        501 => "Not Implemented",
        _ => "",
    }
}

fn case_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut dirs = Vec::new();
    let mut endpoints: Vec<_> = std::fs::read_dir(&root)
        .expect("fixtures/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    endpoints.sort();
    for endpoint in endpoints {
        let mut cases: Vec<_> = std::fs::read_dir(&endpoint)
            .expect("endpoint dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join("request.http").exists())
            .collect();
        cases.sort();
        dirs.extend(cases);
    }
    dirs
}

#[backends]
fn fixtures_match_the_spec_examples() {
    let cases = case_dirs();
    assert!(
        cases.len() >= 20,
        "only {} fixture cases found",
        cases.len()
    );
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|dir| {
            run_case(dir).err().map(|e| {
                format!(
                    "== {}\n{e}",
                    dir.strip_prefix(env!("CARGO_MANIFEST_DIR"))
                        .unwrap_or(dir)
                        .display()
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[backends]
fn the_normaliser_tells_documents_apart() {
    let none = HashMap::new();
    let a = canonical("<a><b>1</b><c x=\"1\"/></a>", &none, &[]).unwrap();
    assert_eq!(
        a,
        canonical("<a>\n  <b>1</b>\n  <c x=\"1\"></c>\n</a>", &none, &[]).unwrap()
    );
    assert_ne!(
        a,
        canonical("<a><b>2</b><c x=\"1\"/></a>", &none, &[]).unwrap()
    );
    assert_ne!(
        a,
        canonical("<a><b>1</b><c x=\"2\"/></a>", &none, &[]).unwrap()
    );
    assert_ne!(
        a,
        canonical("<a><c x=\"1\"/><b>1</b></a>", &none, &[]).unwrap()
    );
    let times = canonical(
        "<t><created_time>2013-01-01T00:00:00Z</created_time></t>",
        &none,
        &[],
    )
    .unwrap();
    assert_eq!(
        times,
        canonical(
            "<t><created_time>2026-11-21T18:00:00Z</created_time></t>",
            &none,
            &[]
        )
        .unwrap()
    );
    assert_ne!(
        times,
        canonical(
            "<t><created_time>9999-12-31T00:00:00Z</created_time></t>",
            &none,
            &[]
        )
        .unwrap()
    );
}
