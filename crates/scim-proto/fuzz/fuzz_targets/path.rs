//! PATCH paths and attribute paths (`attributes`, `excludedAttributes`, `sortBy`).
//! The invariants live in `scim_proto::fuzzing::path`, which `cargo test` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| scim_proto::fuzzing::path(data));
