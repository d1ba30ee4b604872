//! Uploads a file the way a console does and reads it back:
//! prepare → multipart POST of every post_param field, file last → complete →
//! urlinfo → download, then checks the bytes.
//!
//! ```sh
//! cargo run --release -- serve &          # in another shell
//! cargo run --example console_upload      # NEXDS_URL, NEXDS_TOKEN, SIZE optional
//! ```

use std::process::ExitCode;

use nexds::xml::read::{Element, parse_document};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("console_upload: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn child<'a>(el: &'a Element, path: &str) -> Result<&'a Element> {
    let mut el = el;
    for part in path.split('/') {
        el = el
            .child(part)
            .ok_or_else(|| format!("the answer has no <{part}>"))?;
    }
    Ok(el)
}

fn call(agent: &ureq::Agent, method: &str, url: &str, token: &str, body: &str) -> Result<String> {
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "text/xml")
        .body(body.to_owned())?;
    let mut response = agent.run(request)?;
    let status = response.status();
    let text = response.body_mut().read_to_string()?;
    if !status.is_success() {
        return Err(format!("{method} {url}: {status}: {text}").into());
    }
    Ok(text)
}

fn run() -> Result<()> {
    let base = std::env::var("NEXDS_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token = match std::env::var("NEXDS_TOKEN") {
        Ok(token) => token,
        Err(_) => std::fs::read_to_string("data/title-token")?
            .trim()
            .to_owned(),
    };
    let size: usize = std::env::var("SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let file: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let v2 = format!("{base}/nex/datastore/v2");

    // 1. prepare
    let answer = call(
        &agent,
        "POST",
        &format!("{v2}/data/prepare"),
        &token,
        &format!(
            "<prepare><size>{size}</size><type>1</type>\
             <access_permission><type>public</type></access_permission></prepare>"
        ),
    )?;
    let doc = parse_document(answer.as_bytes(), "nex")?;
    let data = child(&doc, "datastore/data")?;
    let data_id = child(data, "data_id")?.text().to_owned();
    let url = child(data, "url")?.text().to_owned();
    println!("prepared data_id {data_id}; posting {size} bytes to {url}");

    // 2. multipart POST: every post_param child as a field, in order, file last
    let boundary = "nexds-console-upload-boundary";
    let mut body = Vec::new();
    for field in &child(data, "post_param")?.children {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{}\r\n",
                field.name,
                field.text()
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"data.bin\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let request = ureq::http::Request::builder()
        .method("POST")
        .uri(&url)
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)?;
    let mut response = agent.run(request)?;
    let status = response.status();
    if !status.is_success() {
        let text = response.body_mut().read_to_string()?;
        return Err(format!("upload refused: {status}: {text}").into());
    }
    println!("uploaded: {status}");

    // 3. complete
    call(
        &agent,
        "POST",
        &format!("{v2}/data/complete/{data_id}"),
        &token,
        "",
    )?;
    println!("completed data_id {data_id}");

    // 4. urlinfo
    let answer = call(
        &agent,
        "GET",
        &format!("{v2}/urlinfo/{data_id}?period=1"),
        &token,
        "",
    )?;
    let doc = parse_document(answer.as_bytes(), "nex")?;
    let download = child(&doc, "datastore/urlinfos/urlinfo/url")?
        .text()
        .to_owned();
    println!("download URL: {download}");

    // 5. download and compare
    let mut response = agent.get(&download).call()?;
    let got = response
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()?;
    if got != file {
        return Err(format!("downloaded {} bytes that differ from the upload", got.len()).into());
    }
    println!("downloaded {} bytes: identical", got.len());
    Ok(())
}
