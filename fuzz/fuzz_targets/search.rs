//! authentik's `?search=`: the DjangoQL lexer, parser and compiler for users and groups, the
//! plain-search split, and the SQL the filters become on both backends.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        gatehouse::fuzzing::search(text);
    }
});
