//! Integration tests: the real server over real HTTP.

#![allow(clippy::unwrap_used)]

mod auth;
mod change;
mod delete;
mod errors;
mod fixtures;
mod helpers;
mod metainfo;
mod passwordinfo;
mod permissions;
mod persistence;
mod prepare;
mod process;
mod ratings;
mod storage;
// Garage and s3s-fs serve the S3 backend's tests; boto3 serves the local store's.
#[allow(dead_code)]
mod tools;
