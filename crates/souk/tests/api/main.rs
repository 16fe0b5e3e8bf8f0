//! Souk's integration tests: one binary, every test against a real server on a loopback port,
//! each with its own database, each run on SQLite and on PostgreSQL (see `harness`).

mod fixture;
mod harness;
mod ops_support;

mod backup;
mod bad_input;
mod binary;
mod catalog;
mod commerce;
mod foundation;
mod licenses;
mod operations;
mod processes;
