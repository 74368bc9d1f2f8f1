//! List query strings as both dialects read them: authentik's filters, ordering, pages and
//! `attributes`; AWX's `field__lookup`, `or__`/`not__`/`chain__`, `order_by` and pages.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(query) = std::str::from_utf8(data) {
        gatehouse::fuzzing::list_query(query);
    }
});
