//! The server's integration tests: real nodes on 127.0.0.1:0, driven over HTTP.
//! One test binary (modules, not one file per binary) so a clean build links
//! the server once rather than once per file.

mod browser;
mod common;
mod deadlines;
mod exchange;
mod federation;
mod holds_api;
mod hostile;
mod log_api;
mod notify;
mod openapi;
mod peers;
mod replica_guards;
mod transport;
mod web;
mod web_admin;
mod web_peers;
