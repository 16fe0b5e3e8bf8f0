//! Souk's integration tests: one binary, every test against a real server on a loopback port,
//! each with its own database, each run on SQLite and on PostgreSQL (see `harness`).

mod console_support;
mod fixture;
mod harness;
mod http_edge;
mod invoices;
mod mail_support;
mod ops_support;

mod aftersale;
mod backup;
mod bad_input;
mod binary;
mod browser;
mod browser_buyer;
mod browser_operator;
mod browser_phone;
mod browser_seller;
mod catalog;
mod commerce;
mod console;
mod console_buyer;
mod console_mail;
mod console_money;
mod console_operator;
mod console_seller;
mod constraints;
mod foundation;
mod instance_wait;
mod licenses;
mod limits;
mod metering;
mod metering_lifecycle;
mod metering_packages;
mod metering_push;
mod operations;
mod processes;
mod resellers;
mod search_pages;
mod settlement;
mod settlement_batches;
mod settlement_feeds;
mod settlement_month;
mod tenancy;
mod transitions;
mod wire;
