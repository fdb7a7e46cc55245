//! PatchOp request bodies: parse strict and tolerant, apply to sample users and a group.
//! The invariants live in `scim_proto::fuzzing::patch`, which `cargo test` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| scim_proto::fuzzing::patch(data));
