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
mod prepare;
mod process;
mod search;
