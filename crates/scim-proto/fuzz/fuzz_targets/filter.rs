//! Filter text (the `filter` query parameter): parse, print, reparse, validate, evaluate.
//! The invariants live in `scim_proto::fuzzing::filter`, which `cargo test` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| scim_proto::fuzzing::filter(data));
