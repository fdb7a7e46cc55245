//! Two replicas of the server on one PostgreSQL database. Each test starts a throwaway cluster of
//! its own (`pg-cluster`), creates a database, starts two real servers on 127.0.0.1 port 0 in this
//! process (each with its own engine: its own pool, key cache and listener, feed sequencer) and
//! talks HTTP to them; one test runs a replica as the real binary, to SIGKILL it.
//!
//! What replicas must agree on lives in the database: a resource made on one is read, changed and
//! deleted on the other; a name is unique across both; `If-Match` holds across both; a key revoked
//! or a tenant disabled on one is refused by the other within a second; concurrent member adds
//! through both all stick; the feed read on one never skips what the other commits late. And the
//! faults: PostgreSQL restarting under load (clean 503s, nothing acknowledged lost, both serve
//! again on their own), a replica killed mid-write (nothing acknowledged lost), a listener that
//! hears nothing (the cache is no longer trusted).
//!
//! `support.rs` is the harness; `agree.rs`, `feed.rs` and `faults.rs` the tests.
//!
//! Checks that could pass vacuously have a test of their teeth beside them: the same check run
//! against a database broken on purpose (no unique index, a feed numbered at insert, a revocation
//! no replica is told of) must fail.

mod agree;
mod faults;
mod feed;
mod support;
mod webhooks;
