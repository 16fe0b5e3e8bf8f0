//! The seller center's sales figures: newest orders and instances, and orders and revenue per
//! business day (the settlement calendar's zone, `settlement.zone_offset`).

use crate::error::{AppError, AppResult};
use crate::AppState;
use souk_core::money::Currency;
use souk_core::party::Role;
use souk_store::{InstanceRecord, OrderRecord, Principal};
use time::{Date, Duration};

/// How many days the dashboard shows, today included.
pub const DASHBOARD_DAYS: i64 = 30;
/// Rows on the orders page.
const RECENT: u32 = 100;

pub struct Recent {
    pub orders: Vec<OrderRecord>,
    pub instances: Vec<InstanceRecord>,
}

fn seller(p: &Principal) -> AppResult<()> {
    if p.role == Role::Seller {
        Ok(())
    } else {
        Err(AppError::forbidden("sales figures are for sellers"))
    }
}

/// The seller's newest orders and instances.
pub async fn recent(state: &AppState, p: &Principal) -> AppResult<Recent> {
    seller(p)?;
    Ok(Recent {
        orders: state.store.recent_orders(&p.party_id, RECENT).await?,
        instances: state.store.recent_instances(&p.party_id, RECENT).await?,
    })
}

/// One business day of the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySales {
    pub date: Date,
    pub orders: u64,
    pub revenue_minor: i64,
}

pub struct SalesReport {
    /// Every day of the window, oldest first, days without sales as zeros.
    pub days: Vec<DaySales>,
    /// The currency of the figures: the one most of the window's orders were paid in.
    pub currency: Currency,
    /// The business zone, e.g. `+08:00`.
    pub zone: String,
}

/// Orders paid and revenue per business day over the last [`DASHBOARD_DAYS`].
pub async fn daily(state: &AppState, p: &Principal) -> AppResult<SalesReport> {
    seller(p)?;
    let zone = state.config.settlement.zone_offset.clone();
    let offset = state
        .config
        .settlement
        .zone()
        .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?;
    let today = state.clock.now().to_offset(offset).date();
    let first = today - Duration::days(DASHBOARD_DAYS - 1);
    let since = first.midnight().assume_offset(offset);
    let rows = state
        .store
        .sales_per_day(&p.party_id, since, i64::from(offset.whole_seconds()) * 1000)
        .await?;
    // The currency most orders were paid in; others are not added to it.
    let mut by_currency: Vec<(String, u64)> = Vec::new();
    for r in &rows {
        match by_currency.iter_mut().find(|(c, _)| *c == r.currency) {
            Some((_, n)) => *n += r.orders,
            None => by_currency.push((r.currency.clone(), r.orders)),
        }
    }
    by_currency.sort_by_key(|c| std::cmp::Reverse(c.1));
    let currency = by_currency
        .first()
        .and_then(|(c, _)| c.parse().ok())
        .unwrap_or(Currency::CNY);
    let epoch = Date::from_calendar_date(1970, time::Month::January, 1).unwrap_or(Date::MIN);
    let days = (0..DASHBOARD_DAYS)
        .map(|i| {
            let date = first + Duration::days(i);
            let index = (date - epoch).whole_days();
            let (orders, revenue_minor) = rows
                .iter()
                .filter(|r| r.day == index && r.currency == currency.to_string())
                .fold((0, 0), |(n, s), r| (n + r.orders, s + r.revenue_minor));
            DaySales {
                date,
                orders,
                revenue_minor,
            }
        })
        .collect();
    Ok(SalesReport {
        days,
        currency,
        zone,
    })
}
