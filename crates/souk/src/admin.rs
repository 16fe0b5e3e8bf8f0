//! `souk admin …`: the operator's tasks from the command line, run directly against the
//! database through the same use cases as the HTTP API (and so with the same validation and
//! audit records, attributed to the first operator).

use clap::Subcommand;
use souk_core::party::{PartyId, Role};
use souk_server::usecase::parties::{self, CreateParty};
use souk_server::App;
use souk_store::{Page, Scope};

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create a seller, buyer or reseller and issue its first API key.
    CreateParty {
        /// seller, buyer or reseller
        #[arg(long)]
        role: Role,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: Option<String>,
        /// Mobile phone, e.g. +8613800000000.
        #[arg(long)]
        phone: Option<String>,
    },
    /// List parties of a role.
    ListParties {
        #[arg(long)]
        role: Role,
    },
    /// Issue a new API key for a party (printed once).
    IssueKey {
        /// The party id (op_…, sel_…, buy_…, rsl_…).
        party: String,
        #[arg(long)]
        label: Option<String>,
    },
    /// List a party's API keys.
    ListKeys { party: String },
    /// Revoke an API key by its id (key_…).
    RevokeKey { key: String },
    /// Give a party a web console login. The password is read from SOUK_CONSOLE_PASSWORD, or
    /// else one is generated and printed once.
    CreateLogin {
        /// The party id (op_…, sel_…, buy_…, rsl_…).
        party: String,
        #[arg(long)]
        email: String,
    },
}

fn party_id(s: &str) -> anyhow::Result<PartyId> {
    PartyId::parse(s).ok_or_else(|| {
        anyhow::anyhow!(
            "`{s}` is not a party id (op_…, sel_…, buy_…, rsl_… followed by 26 characters)"
        )
    })
}

/// `AppError` carries the message meant for people; show that instead of a Debug dump.
fn human(e: souk_server::error::AppError) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", e.code, e.message)
}

pub async fn run(app: &App, command: AdminCommand) -> anyhow::Result<()> {
    let state = &app.state;
    let operator = app.operator_id().await?;
    match command {
        AdminCommand::CreateParty {
            role,
            name,
            email,
            phone,
        } => {
            let party = parties::create(
                state,
                &operator,
                role,
                CreateParty {
                    name,
                    email,
                    mobile_phone: phone,
                },
            )
            .await
            .map_err(human)?;
            let key = parties::issue_key(state, &Scope::Everything, &operator, &party.id, None)
                .await
                .map_err(human)?;
            println!("created {} {} ({})", party.role, party.id, party.name);
            println!("API key (shown once, store it now): {}", key.secret);
        }
        AdminCommand::ListParties { role } => {
            let mut after = None;
            loop {
                let page = Page {
                    limit: Page::MAX_LIMIT,
                    after: after.clone(),
                };
                let items = state
                    .store
                    .list_parties(&Scope::Everything, role, &page)
                    .await?;
                for p in &items {
                    println!(
                        "{}\t{}\t{}\t{}",
                        p.id,
                        p.status.as_str(),
                        p.name,
                        p.email.as_deref().unwrap_or("-")
                    );
                }
                if items.len() < page.limit as usize {
                    break;
                }
                after = items.last().map(|p| p.id.to_string());
            }
        }
        AdminCommand::IssueKey { party, label } => {
            let party = party_id(&party)?;
            let key = parties::issue_key(state, &Scope::Everything, &operator, &party, label)
                .await
                .map_err(human)?;
            println!("issued {} for {}", key.record.id, party);
            println!("API key (shown once, store it now): {}", key.secret);
        }
        AdminCommand::CreateLogin { party, email } => {
            let party = party_id(&party)?;
            let (password, generated) = match std::env::var("SOUK_CONSOLE_PASSWORD") {
                Ok(p) => (p, false),
                Err(_) => (souk_core::console::new_token()[..20].to_owned(), true),
            };
            let user = souk_server::usecase::console::create_user(
                state, &operator, &party, &email, &password,
            )
            .await
            .map_err(human)?;
            println!("console login {} for {}", user.email, party);
            if generated {
                println!("password (shown once, store it now): {password}");
            }
        }
        AdminCommand::ListKeys { party } => {
            let party = party_id(&party)?;
            let keys = state
                .store
                .list_api_keys(&Scope::Everything, &party, &Page::first(Page::MAX_LIMIT))
                .await?
                .ok_or_else(|| anyhow::anyhow!("no party {party}"))?;
            for k in keys {
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}…\t{}",
                    k.id,
                    state,
                    k.display_prefix,
                    k.label.as_deref().unwrap_or("-")
                );
            }
        }
        AdminCommand::RevokeKey { key } => {
            let record = parties::revoke_key(state, &Scope::Everything, &operator, &key)
                .await
                .map_err(human)?;
            println!("revoked {}", record.id);
        }
    }
    Ok(())
}
