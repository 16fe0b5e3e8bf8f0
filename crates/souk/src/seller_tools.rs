//! The seller toolkit on the command line: `souk example-seller`, `souk isv-test`,
//! `souk bench signatures`.

use clap::Subcommand;

#[derive(Subcommand)]
pub enum SellerCommand {}

pub async fn run(command: SellerCommand) -> anyhow::Result<()> {
    match command {}
}
