//! nexds: a server for the NEX DataStore web API v2 (HTTP + XML).

// `unwrap` is for tests only; the server reports every failure.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod auth;
pub mod blob;
pub mod body;
pub mod cli;
pub mod config;
pub mod data_dir;
pub mod domain;
pub mod error;
pub mod handlers;
pub mod janitor;
pub mod links;
pub mod logging;
pub mod observe;
pub mod s3;
pub mod secrets;
pub mod services;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod xml;
