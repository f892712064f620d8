//! Fuzzes the data plane's query scoping (`ampfed_aws_mock::fuzzing::scope_query`): PromQL
//! parsed, every selector given the workspace's tenant matcher, printed again.
//!
//! Input: a PromQL expression. The mock must not panic, and whenever it scopes a query and
//! the result parses, every selector in it must carry exactly `ampfed_workspace="ws-fuzz"`
//! (a query that escapes its workspace would read another tenant's series; one that does not
//! parse again is refused by the backend too).

#![no_main]

use ampfed_aws_mock::fuzzing::{is_scoped, scope_query};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(expr) = std::str::from_utf8(data) else { return };
    if let Ok(scoped) = scope_query(expr, "ws-fuzz") {
        if let Err(problem) = is_scoped(&scoped, "ws-fuzz") {
            panic!("{problem}\nquery:  {expr}\nscoped: {scoped}");
        }
    }
});
