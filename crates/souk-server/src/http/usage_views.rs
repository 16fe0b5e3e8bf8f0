//! Usage as its buyer, its seller and the operator see it: the records of an instance, the
//! charges rating made of them, and usage per hour or day; JSON or CSV. See `docs/metering.md`.

use super::extract::{ApiPath, ApiQuery};
use crate::error::{AppError, AppResult, ErrorEnvelope};
use crate::http::auth::Caller;
use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use souk_core::id::InstanceId;
use souk_core::metering::{schedule::zone_shift_ms, Granularity};
use souk_store::{Page, UsageChargeRow, UsageRecordRow};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/instances/{id}/usage-records", get(usage_records))
        .route("/v1/instances/{id}/usage-charges", get(usage_charges))
        .route("/v1/instances/{id}/usage-summary", get(usage_summary))
}

/// `?format=csv` for a CSV file; `?after=` and `?limit=` page through the JSON.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ViewQuery {
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    /// The cursor of the previous page (`next_cursor`).
    pub after: Option<String>,
    /// 1–200 (default 50); CSV exports up to 10,000 rows.
    pub limit: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UsageRecordList {
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<UsageRecordRow>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UsageChargeList {
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<UsageChargeRow>,
    pub next_cursor: Option<String>,
}

/// The most rows one CSV export holds.
pub(crate) const CSV_ROWS: u32 = 10_000;

fn wants_csv(format: Option<&str>) -> AppResult<bool> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(AppError::invalid_field("format", "format is json or csv")),
    }
}

fn limit(q: &ViewQuery, csv: bool) -> AppResult<u32> {
    if csv {
        return Ok(CSV_ROWS);
    }
    match q.limit {
        None => Ok(Page::DEFAULT_LIMIT),
        Some(n) if (1..=Page::MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(AppError::invalid_field("limit", "limit is 1 to 200")),
    }
}

pub(crate) fn csv_response(name: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Usage records as CSV, one line each (the API's `?format=csv` and the console's download).
pub(crate) fn records_csv(rows: &[UsageRecordRow]) -> String {
    let mut out = String::from(
        "seq,instance_id,metering_sn,begin_time,end_time,record_time,usage_value,received_at,charge_id\n",
    );
    let t = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            r.seq,
            csv_field(r.instance_id.as_str()),
            csv_field(r.metering_sn.as_deref().unwrap_or("")),
            t(r.begin_time),
            t(r.end_time),
            t(r.record_time),
            r.usage_value,
            t(r.received_at),
            csv_field(r.charge_id.as_deref().unwrap_or("")),
        ));
    }
    out
}

/// Rated charges as CSV, one line each (the API's `?format=csv` and the console's download).
pub(crate) fn charges_csv(rows: &[UsageChargeRow]) -> String {
    let mut out =
        String::from("id,instance_id,period,cutoff,usage,records,amount_minor,currency,package_usage,excess_usage\n");
    for c in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            c.id,
            csv_field(c.instance_id.as_str()),
            c.period,
            c.cutoff
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            c.usage,
            c.records,
            c.amount.amount_minor,
            c.amount.currency.as_str(),
            c.package_usage,
            c.excess_usage,
        ));
    }
    out
}

/// The path's instance id, if the caller may see that instance (a malformed id is the same 404
/// as an unknown one).
pub(crate) async fn visible_instance(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> AppResult<InstanceId> {
    let id = crate::usecase::orders::instance_id(id)?;
    state
        .store
        .find_instance(&caller.scope(), &id)
        .await?
        .map(|i| i.id)
        .ok_or_else(|| AppError::not_found("instance"))
}

/// The usage records pushed for an instance, oldest first, each with the charge that rated it
/// (its buyer, its seller and the operator).
#[utoipa::path(get, path = "/v1/instances/{id}/usage-records", tag = "metering", params(("id" = String, Path), ViewQuery),
    responses((status = 200, description = "JSON, or CSV with `?format=csv`", body = UsageRecordList, example = examples::records),
              (status = 404, description = "`not_found`: no such instance visible to you", body = ErrorEnvelope)), security(("api_key" = [])))]
pub async fn usage_records(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ViewQuery>,
) -> AppResult<Response> {
    let id = visible_instance(&state, &caller, &id).await?;
    let csv = wants_csv(q.format.as_deref())?;
    let after = match q.after.as_deref() {
        None => None,
        Some(a) => Some(
            a.parse::<i64>()
                .map_err(|_| AppError::invalid_field("after", "after is a next_cursor value"))?,
        ),
    };
    let limit = limit(&q, csv)?;
    let rows = state
        .store
        .usage_records(&caller.scope(), Some(&id), after, limit)
        .await?;
    if csv {
        let out = records_csv(&rows);
        return Ok(csv_response(&format!("usage-{id}"), out));
    }
    let next_cursor = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|r| r.seq.to_string()))
        .flatten();
    Ok(Json(UsageRecordList {
        data: rows,
        next_cursor,
    })
    .into_response())
}

/// The charges rating made for an instance, oldest first; each is one ledger line.
#[utoipa::path(get, path = "/v1/instances/{id}/usage-charges", tag = "metering", params(("id" = String, Path), ViewQuery),
    responses((status = 200, description = "JSON, or CSV with `?format=csv`", body = UsageChargeList, example = examples::charges),
              (status = 404, description = "`not_found`: no such instance visible to you", body = ErrorEnvelope)), security(("api_key" = [])))]
pub async fn usage_charges(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ViewQuery>,
) -> AppResult<Response> {
    let id = visible_instance(&state, &caller, &id).await?;
    let csv = wants_csv(q.format.as_deref())?;
    let page = Page {
        limit: limit(&q, csv)?,
        after: q.after.clone(),
    };
    let rows = state
        .store
        .usage_charges(&caller.scope(), &id, &page)
        .await?;
    if csv {
        let out = charges_csv(&rows);
        return Ok(csv_response(&format!("charges-{id}"), out));
    }
    let next_cursor = (rows.len() as u32 == page.limit)
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    Ok(Json(UsageChargeList {
        data: rows,
        next_cursor,
    })
    .into_response())
}

/// `?granularity=hour|day` (default hour); `from`/`to` (RFC 3339) bound the records' begin.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    /// `hour` (default) or `day` (UTC days).
    pub granularity: Option<String>,
    /// Inclusive; default: the beginning.
    pub from: Option<String>,
    /// Exclusive; default: no end.
    pub to: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UsageSummary {
    pub granularity: String,
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<souk_store::UsageBucket>,
}

fn instant(
    field: &str,
    v: Option<&str>,
    default: time::OffsetDateTime,
) -> AppResult<time::OffsetDateTime> {
    match v {
        None => Ok(default),
        Some(t) => time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .map_err(|_| {
                AppError::invalid_field(field, "an RFC 3339 instant, e.g. 2026-11-25T00:00:00Z")
            }),
    }
}

/// Usage of an instance per hour or day: records, total usage and how many are rated
/// (its buyer, its seller and the operator); at most 1,000 buckets.
#[utoipa::path(get, path = "/v1/instances/{id}/usage-summary", tag = "metering", params(("id" = String, Path), SummaryQuery),
    responses((status = 200, description = "JSON, or CSV with `?format=csv`", body = UsageSummary, example = examples::summary),
              (status = 404, description = "`not_found`: no such instance visible to you", body = ErrorEnvelope)), security(("api_key" = [])))]
pub async fn usage_summary(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<SummaryQuery>,
) -> AppResult<Response> {
    let id = visible_instance(&state, &caller, &id).await?;
    let (granularity, g) = match q.granularity.as_deref() {
        None | Some("hour") => ("hour", Granularity::Hour),
        Some("day") => ("day", Granularity::Day),
        Some(_) => {
            return Err(AppError::invalid_field(
                "granularity",
                "granularity is hour or day",
            ))
        }
    };
    let csv = wants_csv(q.format.as_deref())?;
    let from = instant("from", q.from.as_deref(), time::OffsetDateTime::UNIX_EPOCH)?;
    let to = instant("to", q.to.as_deref(), souk_core::clock::horizon())?;
    // Hours and days of the business zone (business rules §0 "Calendar"); each bucket's
    // start is written in that zone's offset, so a day reads as its own midnight.
    let zone = state.config.settlement.zone().map_err(AppError::internal)?;
    let mut data = state
        .store
        .usage_summary(
            &caller.scope(),
            &id,
            g.bucket_ms(),
            zone_shift_ms(zone),
            from,
            to,
        )
        .await?;
    for b in &mut data {
        b.start = b.start.to_offset(zone);
    }
    if csv {
        let mut out = String::from("start,records,usage,rated_records\n");
        for b in &data {
            out.push_str(&format!(
                "{},{},{},{}\n",
                b.start
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                b.records,
                b.usage,
                b.rated_records
            ));
        }
        return Ok(csv_response(&format!("usage-{granularity}-{id}"), out));
    }
    Ok(Json(UsageSummary {
        granularity: granularity.to_owned(),
        data,
    })
    .into_response())
}

/// Examples of the OpenAPI document.
mod examples {
    use serde_json::{json, Value};

    pub fn records() -> Value {
        json!({"data": [{
            "seq": 41,
            "instance_id": "ins_01JD7W6Q4X3N9R2K5T8V1B0C6M",
            "metering_sn": "acme-2026112513-0001",
            "begin_time": "2026-11-25T13:00:00Z",
            "end_time": "2026-11-25T14:00:00Z",
            "record_time": "2026-11-25T14:05:00Z",
            "usage_value": "12.5000",
            "relate_pkg_instance": null,
            "received_at": "2026-11-25T14:05:02Z",
            "charge_id": "uch_01JD7X2M8Q0W3E5R7T9Y1U3I5O"
        }], "next_cursor": null})
    }

    pub fn charges() -> Value {
        json!({"data": [{
            "id": "uch_01JD7X2M8Q0W3E5R7T9Y1U3I5O",
            "instance_id": "ins_01JD7W6Q4X3N9R2K5T8V1B0C6M",
            "period": "2026-11",
            "cutoff": "2026-11-25T14:00:00Z",
            "usage": "12.5000",
            "records": 1,
            "package_usage": "0.0000",
            "excess_usage": "0.0000",
            "amount": {"amount_minor": 250, "currency": "CNY"},
            "created_at": "2026-11-25T15:15:00Z"
        }], "next_cursor": null})
    }

    pub fn summary() -> Value {
        json!({"granularity": "hour", "data": [{
            "start": "2026-11-25T13:00:00Z",
            "records": 60,
            "usage": "412.5000",
            "rated_records": 60
        }]})
    }
}
