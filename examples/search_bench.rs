//! Search latency at scale (README "Search performance"). Seeds N objects into
//! a fresh database through the real schema, then times typical searches through
//! the store's search function and over HTTP against the real app:
//!
//! ```sh
//! cargo run --release --example search_bench -- --objects 1000000
//! ```

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;
use nexds::config::Settings;
use nexds::domain::search::{SearchParams, SearchRequest};
use nexds::domain::{Caller, time};
use nexds::startup::Application;
use nexds::store::{self, Durability};
use rusqlite::{Connection, params};

#[derive(Parser)]
struct Args {
    /// Objects to seed.
    #[arg(long, default_value_t = 1_000_000)]
    objects: u32,
    /// Timed searches per scenario (each with other parameters).
    #[arg(long, default_value_t = 300)]
    searches: usize,
    /// Keep the database here and reuse it on the next run (seeded only when new).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Skip the HTTP measurements.
    #[arg(long)]
    no_http: bool,
}

const TYPES: u64 = 100;
const OWNERS: u64 = 10_000;
const FIRST_OWNER: u64 = 1000;
const TAGS: u64 = 200;
const NAMES: u64 = 200_000;
const YEAR: i64 = 365 * time::DAY;
/// The principal of the principal-token search: an owner like any other.
const PRINCIPAL: u32 = 5000;

/// SplitMix64: a small, seedable generator, so every run seeds the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn tag(n: u64) -> Vec<u8> {
    format!("tag{n:03}").into_bytes()
}

/// Seeds `count` objects in one transaction: ~100 types, ~10k owners, 0–3 tags
/// from 200, 60% public / 25% private / 10% specified / 5% friend, created over
/// the past year, 10% expired, 3% under review or rejected, 2% deleted or
/// uploading, 2% in another namespace.
fn seed(path: &std::path::Path, count: u32, now: i64) -> rusqlite::Result<()> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    conn.pragma_update(None, "cache_size", -1_000_000)?;
    let tx = conn.transaction()?;
    {
        let mut object = tx.prepare(
            "INSERT INTO objects (namespace, owner_id, size, data_type, name, meta_binary,
                flags, period, access_type, update_type, status, state, created_time,
                updated_time, referred_time, expire_time, access_password, update_password)
             VALUES (?1, ?2, 0, ?3, ?4, ?5, 32, ?6, ?7, 3, ?8, ?9, ?10, ?11, ?11, ?12, ?13, ?14)",
        )?;
        let mut tags = tx.prepare("INSERT INTO object_tags (data_id, tag) VALUES (?1, ?2)")?;
        let mut recipients = tx.prepare(
            "INSERT OR IGNORE INTO object_recipients (data_id, kind, principal_id) VALUES (?1, 0, ?2)",
        )?;
        let mut rng = Rng(42);
        for _ in 0..count {
            let namespace = if rng.chance(2) { "other" } else { "default" };
            let owner = (FIRST_OWNER + rng.below(OWNERS)) as i64;
            let created = now - rng.below(YEAR as u64) as i64;
            let updated = (created + rng.below(30 * time::DAY as u64) as i64).min(now);
            let period = [30, 90, 180, 365][rng.below(4) as usize];
            let expire = if rng.chance(10) {
                now - 1 - rng.below(YEAR as u64) as i64
            } else {
                now + 1 + rng.below(YEAR as u64) as i64
            };
            let access = match rng.below(100) {
                0..60 => 0,
                60..85 => 3,
                85..95 => 2,
                _ => 1,
            };
            let status = match rng.below(100) {
                0..97 => 0,
                97..99 => 2,
                _ => 5,
            };
            let state = match rng.below(100) {
                0..98 => 1,
                98 => 2,
                _ => 0,
            };
            let meta: Vec<u8> = (0..16 + rng.below(112)).map(|_| rng.next() as u8).collect();
            object.execute(params![
                namespace,
                owner,
                rng.below(TYPES) as i64,
                format!("course {}", rng.below(NAMES)),
                meta,
                period,
                access,
                status,
                state,
                created,
                updated,
                expire,
                (rng.next() >> 1) as i64,
                (rng.next() >> 1) as i64,
            ])?;
            let id = tx.last_insert_rowid();
            let mut own = Vec::new();
            for _ in 0..rng.below(4) {
                let t = rng.below(TAGS);
                if !own.contains(&t) {
                    own.push(t);
                    tags.execute(params![id, tag(t)])?;
                }
            }
            if access == 2 {
                for _ in 0..1 + rng.below(5) {
                    recipients.execute(params![id, (FIRST_OWNER + rng.below(OWNERS)) as i64])?;
                }
            }
        }
    }
    tx.commit()?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
}

/// One kind of search: its caller and the query string of the i-th run.
struct Scenario {
    name: &'static str,
    principal: Option<u32>,
    query: fn(&mut Rng) -> String,
}

fn tag_param(rng: &mut Rng) -> String {
    nexds::xml::b64_encode(&tag(rng.below(TAGS)))
}

const SCENARIOS: [Scenario; 7] = [
    Scenario {
        name: "type=X&sort=-updated_time",
        principal: None,
        query: |rng| format!("type={}&sort=-updated_time", rng.below(TYPES)),
    },
    Scenario {
        name: "owner_ids=O",
        principal: None,
        query: |rng| format!("owner_ids={}", FIRST_OWNER + rng.below(OWNERS)),
    },
    Scenario {
        name: "tags=T",
        principal: None,
        query: |rng| format!("tags={}", tag_param(rng)),
    },
    Scenario {
        name: "tags=T&sort=-updated_time",
        principal: None,
        query: |rng| format!("tags={}&sort=-updated_time", tag_param(rng)),
    },
    Scenario {
        name: "type=X&offset=any",
        principal: None,
        query: |rng| format!("type={}&offset=any", rng.below(TYPES)),
    },
    Scenario {
        name: "principal: type=X&sort=-updated_time",
        principal: Some(PRINCIPAL),
        query: |rng| format!("type={}&sort=-updated_time", rng.below(TYPES)),
    },
    Scenario {
        name: "(no filter) sort=-updated_time",
        principal: None,
        query: |_| "sort=-updated_time".to_owned(),
    },
];

/// The search a query string asks for, read as the handler reads it.
fn request(query: &str, caller: &Caller) -> Result<SearchRequest, Box<dyn std::error::Error>> {
    let params: SearchParams = serde_urlencoded::from_str(query)?;
    Ok(SearchRequest::parse(&params, caller, |tag| {
        nexds::xml::b64_decode("tag", tag)
    })?)
}

struct Stats {
    p50: f64,
    p95: f64,
    p99: f64,
}

fn stats(mut times: Vec<Duration>) -> Stats {
    times.sort();
    let at = |q: f64| {
        let i = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
        times[i].as_secs_f64() * 1000.0
    };
    Stats {
        p50: at(0.50),
        p95: at(0.95),
        p99: at(0.99),
    }
}

fn caller(principal: Option<u32>) -> Caller {
    match principal {
        Some(p) => Caller::principal("default", p),
        None => Caller::title("default"),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let temp = tempfile::tempdir()?;
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_owned());
    let now = time::now();
    let db = dir.join("nexds.db");
    if db.exists() {
        println!("reusing {}", db.display());
    } else {
        drop(store::open(&dir, Durability::Normal)?);
        let started = Instant::now();
        seed(&db, args.objects, now)?;
        println!(
            "seeded {} objects in {:.1} s; database {} MiB",
            args.objects,
            started.elapsed().as_secs_f64(),
            std::fs::metadata(&db)?.len() >> 20
        );
    }
    let started = Instant::now();
    let store = store::open(&dir, Durability::Normal)?;
    println!(
        "opened in {:.1} s (schema upgrades included); database {} MiB",
        started.elapsed().as_secs_f64(),
        std::fs::metadata(&db)?.len() >> 20
    );
    let runtime = actix_web::rt::System::new();
    let principal_token = nexds::auth::new_token()?;
    store.create_token(
        nexds::auth::hash_token(&principal_token),
        "default",
        Some(PRINCIPAL),
        now,
    )?;

    println!(
        "\nStore::search (count + page + load 20 objects), {} searches each",
        args.searches
    );
    println!(
        "{:<40} {:>8} {:>8} {:>8}   total (min..max)",
        "search", "p50 ms", "p95 ms", "p99 ms"
    );
    for scenario in &SCENARIOS {
        let caller = caller(scenario.principal);
        let mut rng = Rng(7);
        let mut times = Vec::with_capacity(args.searches);
        let (mut low, mut high) = (u64::MAX, 0);
        for i in 0..=args.searches {
            let request = request(&(scenario.query)(&mut rng), &caller)?;
            let started = Instant::now();
            let page = runtime.block_on(store.search(caller.clone(), request, now))?;
            // The first run only warms the caches.
            if i > 0 {
                times.push(started.elapsed());
                low = low.min(page.total);
                high = high.max(page.total);
            }
        }
        let s = stats(times);
        println!(
            "{:<40} {:>8.2} {:>8.2} {:>8.2}   {low}..{high}",
            scenario.name, s.p50, s.p95, s.p99
        );
    }
    drop(store);

    if !args.no_http {
        http(&dir, &args, &principal_token)?;
    }
    Ok(())
}

/// The same searches over HTTP against the real app on 127.0.0.1:0.
fn http(
    dir: &std::path::Path,
    args: &Args,
    principal_token: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let title = nexds::auth::new_token()?;
    let settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.to_owned(),
        durability: Durability::Normal,
        workers: Some(2),
        ..Settings::default()
    };
    let store = store::open(dir, Durability::Normal)?;
    store.create_token(nexds::auth::hash_token(&title), "default", None, 0)?;
    drop(store);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            match Application::build(settings) {
                Ok(app) => {
                    let _ = tx.send(Ok(app.addr()));
                    app.run().await
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    Ok(())
                }
            }
        })
    });
    let addr = rx.recv_timeout(Duration::from_secs(60))??;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();

    println!(
        "\nGET /nex/datastore/v2/metainfo/search over HTTP (one client, keep-alive), {} searches each",
        args.searches
    );
    println!(
        "{:<40} {:>8} {:>8} {:>8}   total (min..max)",
        "search", "p50 ms", "p95 ms", "p99 ms"
    );
    for scenario in &SCENARIOS {
        let token = match scenario.principal {
            Some(_) => principal_token,
            None => title.as_str(),
        };
        let mut rng = Rng(7);
        let mut times = Vec::with_capacity(args.searches);
        let (mut low, mut high) = (u64::MAX, 0);
        for i in 0..=args.searches {
            let query = (scenario.query)(&mut rng);
            // Keeps the same parameters as the store run, which also draws an offset.
            rng.next();
            let url = format!("http://{addr}/nex/datastore/v2/metainfo/search?{query}");
            let started = Instant::now();
            let mut response = agent
                .get(&url)
                .header("Authorization", &format!("Bearer {token}"))
                .call()?;
            let body = response.body_mut().read_to_string()?;
            let elapsed = started.elapsed();
            if response.status() != 200 {
                return Err(format!("{url}: {body}").into());
            }
            let total: u64 = body
                .split("total=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .and_then(|t| t.parse().ok())
                .ok_or("no total in the answer")?;
            if i > 0 {
                times.push(elapsed);
                low = low.min(total);
                high = high.max(total);
            }
        }
        let s = stats(times);
        println!(
            "{:<40} {:>8.2} {:>8.2} {:>8.2}   {low}..{high}",
            scenario.name, s.p50, s.p95, s.p99
        );
    }
    Ok(())
}
