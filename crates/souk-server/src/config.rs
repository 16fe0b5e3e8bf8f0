//! Configuration: documented defaults embedded in the binary, then an optional `souk.toml`, then
//! `SOUK_*` environment variables, then command-line flags. Later sources win.
//!
//! Environment variables map onto keys by upper-casing them and prefixing `SOUK_`; a key inside a
//! section is reached with a double underscore (`SOUK_SECTION__KEY`). Values are parsed as TOML
//! scalars when they look like one (`8080`, `true`), otherwise taken as strings.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The defaults, with a comment for every key. `souk config print` shows the effective values.
pub const DEFAULTS: &str = include_str!("../souk.default.toml");

/// A value that must never be printed or logged.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The effective configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
    /// Where the SQLite database, the master key and other local state live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; empty means SQLite at `<data_dir>/souk.db`.
    pub database_url: String,
    /// 32-byte hex key that encrypts secrets at rest; empty means `<data_dir>/master.key`,
    /// generated on first start.
    pub master_key: Option<Secret>,
    /// The first operator's API key, used only when no operator exists yet.
    pub bootstrap_operator_key: Option<Secret>,
    /// `text` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Sandbox mode: the operator may move the clock; private seller endpoints are allowed.
    pub sandbox: bool,
    /// Let sellers register loopback/private endpoint URLs (on-premises marketplaces, tests).
    pub allow_private_endpoints: bool,
    /// Calls to sellers: timeouts, leases, retry schedules.
    pub provisioning: ProvisioningConfig,
    /// Order and instance timers.
    pub lifecycle: LifecycleConfig,
    /// Usage records, rating and on-demand arrears.
    pub metering: MeteringConfig,
    /// The monthly settlement run and the platform fee (business rules §8, §9).
    pub settlement: SettlementConfig,
    /// Service supervision timers and thresholds (business rules §3.3, §3.4).
    pub supervision: SupervisionConfig,
    /// Refund windows and quotas (business rules §4).
    pub refund: RefundConfig,
    /// Invoices sellers issue their buyers (business rules §10).
    pub invoice: InvoiceConfig,
    /// Where attachments are kept, and what is accepted.
    pub attachments: AttachmentsConfig,
    /// The SMTP server notices are mailed through (empty host: no mail).
    pub smtp: SmtpConfig,
}

/// A duration written as `10s`, `15m`, `3h`, `7d` (see `souk_core::clock::parse_duration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HumanDuration(pub time::Duration);

impl TryFrom<String> for HumanDuration {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        souk_core::clock::parse_duration(&s).map(HumanDuration)
    }
}

impl From<HumanDuration> for String {
    fn from(d: HumanDuration) -> String {
        let s = d.0.whole_seconds();
        match s {
            s if s % 86_400 == 0 && s > 0 => format!("{}d", s / 86_400),
            s if s % 3_600 == 0 && s > 0 => format!("{}h", s / 3_600),
            s if s % 60 == 0 && s > 0 => format!("{}m", s / 60),
            s => format!("{s}s"),
        }
    }
}

impl HumanDuration {
    pub fn std(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0.whole_milliseconds().max(0) as u64)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisioningConfig {
    /// Run the dispatcher and timers in this process.
    pub workers: bool,
    /// How long Souk waits for a seller's answer.
    pub seller_timeout: HumanDuration,
    /// How long a claimed call stays with its worker before another may take it over.
    pub lease: HumanDuration,
    /// How often a `000004` (accepted) newInstance is polled with queryInstance.
    pub poll_interval: HumanDuration,
    /// Calls in flight at once per process.
    pub concurrency: u32,
    /// Calls in flight at once to any one seller in this process, so that a seller that
    /// hangs to the timeout holds at most this many of the `concurrency` slots.
    pub per_seller_concurrency: u32,
    /// Rounds of call outcomes recorded at once on PostgreSQL (each a transaction on its own
    /// connection); SQLite's single writer records one round at a time.
    pub recorders: u32,
    /// Retry window of newInstance, upgrade and getLicense (then the order fails and is refunded).
    pub opening_window: HumanDuration,
    /// Retry window of refresh, freeze, unfreeze and release.
    pub status_window: HumanDuration,
    /// Delay before the first retry; it doubles up to `max_retry_interval`, with ±20% jitter.
    pub first_retry: HumanDuration,
    pub max_retry_interval: HumanDuration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleConfig {
    /// An unpaid order is cancelled after this.
    pub unpaid_order_timeout: HumanDuration,
    /// From expiry to freeze.
    pub grace: HumanDuration,
    /// From freeze to release.
    pub retention: HumanDuration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeteringConfig {
    /// How long past each whole hour the hourly collection rates the hours before it.
    pub collect_after: HumanDuration,
    /// How long past each business-zone midnight the daily collection rates the day before it,
    /// for products collected daily (business rules §7 `usage.collect_daily = 01:00`).
    #[serde(default = "default_collect_daily_after")]
    pub collect_daily_after: HumanDuration,
    /// Accepted distance between a usage push's `ts` and the real clock.
    pub push_window: HumanDuration,
    /// From the charge that left an on-demand buyer's balance below zero to the freeze.
    pub on_demand_grace: HumanDuration,
    /// Usage packages: alert the buyer when this share (percent) of an item's quota or less
    /// remains in a period (`package.alert_remaining`); 0 turns the early alert off.
    #[serde(default = "default_package_alert")]
    pub package_alert_percent: u8,
}

fn default_package_alert() -> u8 {
    20
}

fn default_collect_daily_after() -> HumanDuration {
    HumanDuration(time::Duration::HOUR)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlementConfig {
    /// Run the monthly settlement pass in the timers (off: only `souk settle` runs it).
    pub run: bool,
    /// Day of month M+1 on which period M is settled (`settlement.seller_run_day`).
    pub seller_run_day: u8,
    /// The business zone as a fixed UTC offset (`calendar.zone = Asia/Shanghai`, no DST).
    pub zone_offset: String,
    /// The platform fee rate in basis points (`fee.rate = 5%`).
    pub fee_rate_bp: u32,
    /// The default rebate bands (`fee.tiers`): a single band at the fee rate means no rebate.
    pub fee_tiers: Vec<souk_core::settlement::Tier>,
    /// Day of month M+1 on which resellers' period M is settled (`settlement.reseller_run_day`).
    pub reseller_run_day: u8,
    /// A reseller authorisation above this share (basis points) needs the operator (§8.2).
    pub reseller_standard_share_bp: u32,
    /// Default VAT rates of the §11 formulas when the seller does not give them.
    pub reseller_vat_product_bp: u32,
    pub reseller_vat_service_bp: u32,
    /// The seller's invoice is due this long after the invoice notice, else the statement goes
    /// to `invoice_error` (`settlement.invoice_deadline`, §9).
    pub invoice_deadline: HumanDuration,
    /// The operator checks a submitted invoice within this many working days
    /// (`settlement.invoice_check`), else the statement is shown overdue.
    pub invoice_check_working_days: u32,
    /// The payout follows the approved payment request within this many working days
    /// (`settlement.payout_days`), else the statement is shown overdue.
    pub payout_working_days: u32,
    /// A reseller is paid within this many working days of its invoices' approval
    /// (`reseller.cashout_days`, §11), else its statement is shown overdue.
    #[serde(default = "default_reseller_cashout_working_days")]
    pub reseller_cashout_working_days: u32,
}

fn default_reseller_cashout_working_days() -> u32 {
    7
}

impl SettlementConfig {
    /// The business zone's offset.
    pub fn zone(&self) -> Result<time::UtcOffset, ConfigError> {
        let format = time::macros::format_description!("[offset_hour]:[offset_minute]");
        time::UtcOffset::parse(&self.zone_offset, &format).map_err(|_| {
            ConfigError::Invalid(format!(
                "settlement.zone_offset `{}` is not an offset like +08:00",
                self.zone_offset
            ))
        })
    }

    /// The statement workflow's deadlines (§9).
    pub fn deadlines(&self) -> souk_core::settlement::Deadlines {
        souk_core::settlement::Deadlines {
            invoice: self.invoice_deadline.0,
            invoice_check_working_days: self.invoice_check_working_days,
            payout_working_days: self.payout_working_days,
        }
    }

    /// The fee policy of products that have none of their own.
    pub fn default_policy(&self) -> Result<souk_core::settlement::FeePolicy, ConfigError> {
        let invalid = |e: souk_core::settlement::FeePolicyError| {
            ConfigError::Invalid(format!("settlement fee policy: {e}"))
        };
        let policy = souk_core::settlement::FeePolicy {
            rate_bp: souk_core::settlement::Rate::from_bp(self.fee_rate_bp).map_err(invalid)?,
            tiers: self.fee_tiers.clone(),
            seller_share_bp: None,
        };
        policy.validate().map_err(invalid)?;
        Ok(policy)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisionConfig {
    /// Buyer silence at acceptance before the system accepts (`supervision.auto_accept`).
    pub auto_accept: HumanDuration,
    /// Hardware: from the shipment record to automatic acceptance.
    pub hardware_auto_accept: HumanDuration,
    /// Idle time on the buyer's side after which the seller may appeal.
    pub appeal_idle: HumanDuration,
    /// Rejections after which the seller may appeal.
    pub appeal_rejections: u32,
    /// Sales scenarios whose orders get platform review (`general`, `empowerment`, `base`).
    pub review_scenarios: Vec<souk_core::supervision::SalesScenario>,
    /// How long before an automatic acceptance the buyer is reminded.
    pub auto_accept_reminder: HumanDuration,
    /// After this long since payment without completion, both parties are reminded once.
    pub stale_reminder: HumanDuration,
    /// Screenshots an offline License's delivery proof needs (business rules §3.5).
    pub offline_min_screenshots: u32,
    /// Working days an operator has to resolve an appeal (tracked; no automatic outcome).
    pub appeal_sla_working_days: u32,
    /// Open supervisions the reminder pass reads per run (it goes round all of them).
    pub reminder_batch: u32,
    /// Holidays of the business calendar (`YYYY-MM-DD`, in the settlement zone): after-sale
    /// working days (refund review, appeal SLA) skip them as well as weekends.
    pub holidays: Vec<String>,
    /// Make-up working weekend days (补班, `YYYY-MM-DD`): Saturdays or Sundays worked in
    /// exchange for a 调休 day off; after-sale working days count them.
    pub workdays: Vec<String>,
}

impl SupervisionConfig {
    /// The business calendar of after-sale working days.
    pub fn calendar(
        &self,
        zone: time::UtcOffset,
    ) -> Result<souk_core::calendar::WorkCalendar, ConfigError> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let dates = |key: &str, list: &[String]| {
            list.iter()
                .map(|d| {
                    time::Date::parse(d, &format).map_err(|_| {
                        ConfigError::Invalid(format!(
                            "supervision.{key}: `{d}` is not a date like 2026-10-01"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let calendar = souk_core::calendar::WorkCalendar {
            offset: zone,
            holidays: dates("holidays", &self.holidays)?,
            workdays: dates("workdays", &self.workdays)?,
        };
        use souk_core::calendar::CalendarError;
        calendar.check().map_err(|e| {
            ConfigError::Invalid(match e {
                CalendarError::WorkdayNotWeekend(d) => format!(
                    "supervision.workdays: {d} is not a Saturday or Sunday; list only the \
                     weekend days worked in exchange for a day off (补班)"
                ),
                CalendarError::Both(d) => {
                    format!("supervision: {d} is in both holidays and workdays; keep one")
                }
            })
        })?;
        Ok(calendar)
    }

    pub fn policy(&self) -> souk_core::supervision::SupervisionPolicy {
        souk_core::supervision::SupervisionPolicy {
            auto_accept: self.auto_accept.0,
            hardware_auto_accept: self.hardware_auto_accept.0,
            appeal_idle: self.appeal_idle.0,
            appeal_rejections: self.appeal_rejections,
            offline_min_screenshots: self.offline_min_screenshots,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceConfig {
    /// How long a seller has to issue or reject a buyer's invoice request before it is flagged
    /// overdue (`invoice.seller_to_buyer`).
    pub seller_to_buyer: HumanDuration,
    /// A reseller invoices the platform for a statement within this many calendar months of
    /// the invoice notice, else the statement is flagged overdue (`invoice.reseller`, §10 row 5).
    #[serde(default = "default_reseller_invoice_months")]
    pub reseller_months: u32,
}

fn default_reseller_invoice_months() -> u32 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundConfig {
    /// The no-reason full-refund window from the instance's opening (`refund.no_reason_window`).
    pub no_reason_window: HumanDuration,
    /// No-reason refunds per buyer in any rolling year (`refund.no_reason_yearly_quota`).
    pub no_reason_yearly_quota: u32,
    /// Hardware, goods received: how long the buyer has to ship an approved return before it
    /// lapses (`refund.return_ship_window`).
    pub return_ship_window: HumanDuration,
    /// Hardware: a shipped return the seller does not confirm within this is refunded by the
    /// system (`refund.return_receipt_auto`).
    pub return_receipt_auto: HumanDuration,
    /// Working days after filing before the seller is reminded of a pending request.
    pub seller_review_reminder_working_days: u32,
    /// Working days after filing before the timeout's outcome (`refund.seller_review_timeout`).
    pub seller_review_timeout_working_days: u32,
    /// `escalate` (operators decide) or `auto_approve`.
    pub seller_review_timeout_action: souk_core::refund_review::ReviewTimeoutAction,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentsConfig {
    /// Largest attachment, in bytes (uploads are streamed; this is not `max_body_bytes`).
    pub max_bytes: u64,
    /// Content types accepted.
    pub allowed_types: Vec<String>,
    /// `local` (under `<data_dir>/blobs`) or `s3` (several processes share the store).
    pub store: BlobStoreKind,
    /// S3-compatible endpoint URL (empty: AWS).
    pub s3_endpoint: String,
    pub s3_bucket: String,
    pub s3_region: String,
    pub s3_access_key_id: String,
    pub s3_secret_access_key: Option<Secret>,
}

/// How notices reach people's mailboxes (`docs/consoles.md`, E-mail).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Empty: no mail is sent (every notice stays in the message centre).
    pub host: String,
    pub port: u16,
    /// `starttls` (required), `tls` (implicit TLS, port 465) or `none` (a loopback relay).
    pub security: SmtpSecurity,
    pub username: String,
    pub password: Option<Secret>,
    /// The `From:` of every mail, e.g. `Souk <noreply@market.example>`.
    pub from: String,
    /// Where people reach the consoles: links in mails start with it.
    pub public_url: String,
    /// How long one SMTP conversation may take.
    pub timeout: HumanDuration,
    /// Attempts before a mail is given up (`failed`, shown on the operator's health page).
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt up to an hour.
    pub first_retry: HumanDuration,
}

impl SmtpConfig {
    pub fn enabled(&self) -> bool {
        !self.host.trim().is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobStoreKind {
    Local,
    S3,
}

/// Command-line overrides (the highest-priority source).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    /// `--allow-private-endpoints` (only ever turns it on).
    pub allow_private_endpoints: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads the configuration from the defaults, `file` (if given, or `./souk.toml` if it
    /// exists), the process environment and `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &env, overrides)
    }

    /// [`Config::load`] with an explicit environment, for tests.
    pub fn load_from(
        file: Option<&Path>,
        env: &[(String, String)],
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table = DEFAULTS
            .parse()
            .map_err(|e| ConfigError::Invalid(format!("embedded defaults: {e}")))?;

        let default_file = Path::new("souk.toml");
        let file = file.or_else(|| default_file.exists().then_some(default_file));
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            let from_file: toml::Table = text.parse().map_err(|source| ConfigError::Parse {
                path: path.to_owned(),
                source: Box::new(source),
            })?;
            merge(&mut table, from_file);
        }

        let known = defaults_table();
        for (name, value) in env {
            let Some(key) = name.strip_prefix("SOUK_") else {
                continue;
            };
            // Variables that are not configuration keys (e.g. SOUK_TEST_*) are ignored.
            let path: Vec<String> = key.split("__").map(|p| p.to_ascii_lowercase()).collect();
            let default = lookup(&known, &path);
            if default.is_none() && !is_optional_key(&path) {
                continue;
            }
            let parsed = scalar_like(default, value);
            if default.is_some_and(|d| d.type_str() != parsed.type_str()) {
                return Err(ConfigError::Invalid(format!(
                    "{name}={value}: {} must be a {}",
                    path.join("."),
                    default.map(|d| d.type_str()).unwrap_or("value")
                )));
            }
            set(&mut table, &path, parsed);
        }

        if let Some(l) = overrides.listen {
            table.insert("listen".into(), toml::Value::String(l.to_string()));
        }
        if let Some(d) = &overrides.data_dir {
            table.insert(
                "data_dir".into(),
                toml::Value::String(d.to_string_lossy().into_owned()),
            );
        }
        if let Some(u) = &overrides.database_url {
            table.insert("database_url".into(), toml::Value::String(u.clone()));
        }

        if overrides.allow_private_endpoints {
            table.insert("allow_private_endpoints".into(), toml::Value::Boolean(true));
        }

        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_owned()))?;
        config.validate()?;
        Ok(config)
    }

    /// After-sale working days: the settlement zone, `supervision.holidays` and
    /// `supervision.workdays`.
    pub fn after_sale_calendar(&self) -> Result<souk_core::calendar::WorkCalendar, ConfigError> {
        self.supervision.calendar(self.settlement.zone()?)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !self.database_url.is_empty()
            && souk_store::Backend::from_url(&self.database_url).is_none()
        {
            return Err(ConfigError::Invalid(
                "database_url must start with sqlite:// or postgres://".into(),
            ));
        }
        self.settlement.zone()?;
        self.settlement.default_policy()?;
        self.after_sale_calendar()?;
        if self.supervision.reminder_batch == 0 {
            return Err(ConfigError::Invalid(
                "supervision.reminder_batch must be at least 1".into(),
            ));
        }
        if !(1..=28).contains(&self.settlement.reseller_run_day) {
            return Err(ConfigError::Invalid(
                "settlement.reseller_run_day must be 1 to 28 (a day every month has)".into(),
            ));
        }
        if self.settlement.reseller_standard_share_bp > 10_000 {
            return Err(ConfigError::Invalid(
                "settlement.reseller_standard_share_bp must be at most 10000".into(),
            ));
        }
        if !(1..=28).contains(&self.settlement.seller_run_day) {
            return Err(ConfigError::Invalid(
                "settlement.seller_run_day must be 1 to 28 (a day every month has)".into(),
            ));
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "max_body_bytes must be at least 1024".into(),
            ));
        }
        Ok(())
    }

    /// Whether seller endpoints may be loopback or private addresses (always in sandbox mode).
    pub fn private_endpoints_allowed(&self) -> bool {
        self.allow_private_endpoints || self.sandbox
    }

    /// The database URL to use: the configured one, or SQLite inside the data directory.
    pub fn effective_database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("souk.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// The configuration as TOML with every secret replaced by `***`.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        let redact = |s: &mut Option<Secret>| {
            if s.is_some() {
                *s = Some(Secret::new("***"));
            }
        };
        redact(&mut shown.master_key);
        redact(&mut shown.bootstrap_operator_key);
        redact(&mut shown.attachments.s3_secret_access_key);
        redact(&mut shown.smtp.password);
        shown.database_url = souk_store::sql_redact_url(&shown.database_url);
        let mut out = String::from("# effective configuration (secrets redacted)\n");
        out.push_str(&toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# {e}\n")));
        if self.master_key.is_none() {
            out.push_str("# master_key: read from <data_dir>/master.key\n");
        }
        out
    }
}

fn defaults_table() -> toml::Table {
    // The defaults are a compile-time constant checked by a unit test, so parsing cannot fail.
    DEFAULTS.parse().unwrap_or_default()
}

/// Keys that exist but have no default (and so are absent from the defaults table).
fn is_optional_key(path: &[String]) -> bool {
    matches!(
        path.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice(),
        ["master_key"]
            | ["bootstrap_operator_key"]
            | ["attachments", "s3_secret_access_key"]
            | ["smtp", "password"]
    )
}

fn lookup<'a>(table: &'a toml::Table, path: &[String]) -> Option<&'a toml::Value> {
    let (first, rest) = path.split_first()?;
    let v = table.get(first)?;
    if rest.is_empty() {
        Some(v)
    } else {
        lookup(v.as_table()?, rest)
    }
}

fn set(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        table.insert(first.clone(), value);
        return;
    }
    let entry = table
        .entry(first.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(t) = entry {
        set(t, rest, value);
    }
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Reads an environment value with the type of the key's default, so that `SOUK_MASTER_KEY=0011…`
/// stays a string while `SOUK_MAX_BODY_BYTES=4096` becomes a number. A value that does not parse
/// is passed on as a string and reported by the typed deserialisation with the key's name.
fn scalar_like(default: Option<&toml::Value>, s: &str) -> toml::Value {
    match default {
        Some(toml::Value::Integer(_)) => s
            .parse::<i64>()
            .map(toml::Value::Integer)
            .unwrap_or_else(|_| toml::Value::String(s.to_owned())),
        Some(toml::Value::Boolean(_)) => match s {
            "true" | "1" | "yes" | "on" => toml::Value::Boolean(true),
            "false" | "0" | "no" | "off" => toml::Value::Boolean(false),
            _ => toml::Value::String(s.to_owned()),
        },
        _ => toml::Value::String(s.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_parse_and_are_sane() {
        let c = Config::load_from(None, &[], &Overrides::default()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./souk-data"));
        assert!(c.effective_database_url().starts_with("sqlite://"));
        assert!(!c.sandbox);
    }

    #[test]
    fn file_then_env_then_flags() {
        let dir = std::env::temp_dir().join(format!("souk-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("souk.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nmax_body_bytes = 4096\n",
        )
        .unwrap();

        let c = Config::load_from(Some(&file), &[], &Overrides::default()).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.max_body_bytes, 4096);

        let e = env(&[("SOUK_LISTEN", "127.0.0.1:9001"), ("SOUK_TEST_PG", "x")]);
        let c = Config::load_from(Some(&file), &e, &Overrides::default()).unwrap();
        assert_eq!(c.listen.port(), 9001);
        assert_eq!(c.max_body_bytes, 4096);

        let o = Overrides {
            listen: Some("127.0.0.1:9002".parse().unwrap()),
            ..Default::default()
        };
        let c = Config::load_from(Some(&file), &e, &o).unwrap();
        assert_eq!(c.listen.port(), 9002);
    }

    #[test]
    fn bad_values_are_explained() {
        let e = env(&[("SOUK_LISTEN", "nowhere")]);
        let err = Config::load_from(None, &e, &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("invalid"), "{err}");
        let e = env(&[("SOUK_MAX_BODY_BYTES", "lots")]);
        let err = Config::load_from(None, &e, &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("max_body_bytes"), "{err}");
        let e = env(&[("SOUK_SANDBOX", "yes")]);
        assert!(
            Config::load_from(None, &e, &Overrides::default())
                .unwrap()
                .sandbox
        );
        let e = env(&[("SOUK_DATABASE_URL", "mysql://x")]);
        assert!(Config::load_from(None, &e, &Overrides::default()).is_err());
    }

    #[test]
    fn make_up_working_days_must_be_weekend_days() {
        let dir = std::env::temp_dir().join(format!("souk-workdays-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("souk.toml");
        let load = |workdays: &str| {
            let toml =
                format!("[supervision]\nholidays = [\"2026-10-01\"]\nworkdays = {workdays}\n");
            std::fs::write(&file, toml).unwrap();
            Config::load_from(Some(&file), &[], &Overrides::default())
        };
        let cal = load("[\"2026-10-10\"]")
            .unwrap()
            .after_sale_calendar()
            .unwrap();
        assert!(cal.is_working_day(time::macros::date!(2026 - 10 - 10)));
        let err = load("[\"2026-10-09\"]").unwrap_err().to_string();
        assert!(
            err.contains("supervision.workdays") && err.contains("Saturday"),
            "{err}"
        );
        assert!(load("[\"2026-10-1\"]").is_err());
    }

    #[test]
    fn secrets_never_print() {
        let e = env(&[
            ("SOUK_MASTER_KEY", "00112233"),
            ("SOUK_BOOTSTRAP_OPERATOR_KEY", "sk_op_abc"),
            ("SOUK_DATABASE_URL", "postgres://u:pw@h/db"),
        ]);
        let c = Config::load_from(None, &e, &Overrides::default()).unwrap();
        let shown = c.to_redacted_toml();
        assert!(
            !shown.contains("00112233") && !shown.contains("sk_op_abc") && !shown.contains(":pw@")
        );
        assert!(!format!("{c:?}").contains("00112233"));
    }
}
