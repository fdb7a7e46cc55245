//! The one integration-test binary: every test starts the real server on 127.0.0.1 port 0 with a
//! real sled store in a temporary folder, and talks HTTP to it.

mod support;

mod admin;
mod auth;
mod backup;
mod bulk;
mod cli;
mod deliveries;
mod discovery;
mod errors;
mod events;
mod faults;
mod groups;
mod idp;
mod onelogin;
mod ops;
mod ratelimit;
mod storage;
mod tenants;
mod upgrade;
mod users;
mod web;
mod web_webhooks;
mod webhooks;
