//! Filter text (the `filter` query parameter): parse, print, reparse, validate, evaluate.
//! The invariants live in `server::scim::fuzzing::filter`, which `cargo test` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| server::scim::fuzzing::filter(data));
