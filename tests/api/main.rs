//! Integration tests: the real server over real HTTP.

#![allow(clippy::unwrap_used)]

mod admin;
mod auth;
mod change;
mod delete;
mod deleted_files;
mod deploy;
mod errors;
mod fixtures;
mod friends;
mod garage;
mod helpers;
mod janitor;
mod metainfo;
mod nodes;
mod notifications;
mod operations;
mod passwordinfo;
mod permissions;
mod persistence;
mod postgres;
mod prepare;
mod principal_data;
mod process;
mod quotas;
mod ratings;
mod s3;
mod sealed;
mod search;
mod slow_bodies;
mod storage;
mod tools;
mod uploads;
mod versions;
mod webhooks;
