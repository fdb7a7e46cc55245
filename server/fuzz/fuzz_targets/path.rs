//! PATCH paths and attribute paths (`attributes`, `excludedAttributes`, `sortBy`).
//! The invariants live in `server::scim::fuzzing::path`, which `cargo test` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| server::scim::fuzzing::path(data));
