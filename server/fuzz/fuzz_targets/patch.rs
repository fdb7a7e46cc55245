//! PatchOp request bodies: parse strict and tolerant, apply to sample users and a group.
//! The invariants live in `server::scim::fuzzing::patch`, which `cargo test` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| server::scim::fuzzing::patch(data));
