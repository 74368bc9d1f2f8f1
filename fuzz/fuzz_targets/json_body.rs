//! Request bodies: JSON decoding and DRF-style field coercion of every write endpoint
//! (authentik users, groups, tokens, roles, permission grants; AWX users).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    gatehouse::fuzzing::json_body(data);
});
