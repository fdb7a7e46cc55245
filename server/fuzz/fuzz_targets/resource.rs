//! POST/PUT bodies: `resource::from_request` for users and groups, strict and tolerant.
//! The invariants live in `server::scim::fuzzing::resource`, which `cargo test` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| server::scim::fuzzing::resource(data));
