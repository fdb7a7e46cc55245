//! A lenient in-memory SCIM server on 127.0.0.1 (the one the tests use), to
//! try the command without a real service provider:
//!
//! ```text
//! cargo run -p onelogin-sim --example fake_scim      # prints the base URL
//! onelogin-sim run user-lifecycle --url <base URL> --token secret
//! ```

#![allow(clippy::unwrap_used)]

#[path = "../tests/support/mod.rs"]
mod support;

#[tokio::main]
async fn main() {
    let running = support::start().await;
    println!(
        "SCIM base URL: {}  (token: {})",
        running.base(),
        support::TOKEN
    );
    let _ = tokio::signal::ctrl_c().await;
}
