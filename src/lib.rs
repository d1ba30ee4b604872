//! nexds: a server for the NEX DataStore web API v2 (HTTP + XML).

pub mod auth;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod handlers;
pub mod startup;
pub mod store;
pub mod xml;
