//! A webhook receiver that checks each event's signature (README, Webhooks).
//!
//! `NEXDS_WEBHOOK_SECRET=… cargo run --example webhook_receiver -- 127.0.0.1:9000`,
//! then run nexds with `NEXDS_WEBHOOK_URL=http://127.0.0.1:9000/hooks` and the same
//! secret. It prints each verified event, answers 204, and 401 to a bad signature
//! (nexds then retries it, which a forger's request does not get).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use hmac::{Hmac, Mac};
use sha2::Sha256;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".into());
    let secret = std::env::var("NEXDS_WEBHOOK_SECRET").expect("set NEXDS_WEBHOOK_SECRET");
    let listener = TcpListener::bind(&addr)?;
    eprintln!("listening on http://{addr}/hooks");
    // Delivery is at least once: the same X-Nexds-Delivery may come again.
    let mut seen = HashSet::new();
    for stream in listener.incoming() {
        let stream = stream?;
        let mut reader = BufReader::new(&stream);
        let (mut length, mut signature, mut delivery) = (0, String::new(), String::new());
        let mut line = String::new();
        while reader.read_line(&mut line)? > 0 && line != "\r\n" {
            if let Some((name, value)) = line.trim_end().split_once(':') {
                let value = value.trim().to_owned();
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.parse().unwrap_or(0),
                    "x-nexds-signature" => signature = value,
                    "x-nexds-delivery" => delivery = value,
                    _ => {}
                }
            }
            line.clear();
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;

        // Verify over the raw bytes, before parsing, in constant time.
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
        mac.update(&body);
        let given = signature
            .strip_prefix("sha256=")
            .and_then(|h| hex::decode(h).ok());
        let status = match given {
            Some(tag) if mac.verify_slice(&tag).is_ok() => {
                if seen.insert(delivery.clone()) {
                    println!("{}", String::from_utf8_lossy(&body));
                }
                "204 No Content"
            }
            _ => "401 Unauthorized",
        };
        write!(
            &stream,
            "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
    }
    Ok(())
}
