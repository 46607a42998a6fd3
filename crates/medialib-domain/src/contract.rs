//! Contract suites of the ports (feature `testkit`): public async functions, each checking one
//! `MUST` of a port's documentation over `&dyn Port`, so that every adapter — the ones in this
//! workspace on every backend, and an embedding service's own — runs the same checks. Each
//! function panics with what broke; `all` runs a port's whole suite.

pub mod blob;
pub mod deletes;
pub mod lifecycle;
