//! The signature benchmark without the `souk` binary:
//! `cargo run --release -p souk-isv --example bench_signatures [MILLIS]`.
//! Prints the same table as `souk bench signatures`.

use std::time::Duration;

fn main() {
    let millis = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    println!(
        "{}",
        souk_isv::bench::signatures(Duration::from_millis(millis))
    );
}
