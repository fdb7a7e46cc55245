//! POST/PUT bodies: `resource::from_request` for users and groups, strict and tolerant.
//! The invariants live in `scim_proto::fuzzing::resource`, which `cargo test` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| scim_proto::fuzzing::resource(data));
