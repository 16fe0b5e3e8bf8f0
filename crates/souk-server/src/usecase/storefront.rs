//! The storefront: catalog search for everyone, logged in or not (listed products only).

use crate::error::{AppError, AppResult};
use crate::AppState;
use souk_core::catalog::{BillingMode, DeliveryType};
use souk_core::search::Query;
use souk_store::{CatalogScope, ProductRecord, ProductSearch, SearchHit, SearchSort};

/// Results per page.
pub const PAGE_SIZE: u32 = 20;
/// The deepest page served: past it, refine the search (an unbounded OFFSET costs the
/// database the sum of every page before it).
pub const MAX_PAGE: u32 = 50;

/// A search as typed into the storefront's form; every field optional.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct SearchInput {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub delivery: String,
    #[serde(default)]
    pub billing: String,
    /// Whole units of the currency (e.g. yuan), inclusive.
    #[serde(default)]
    pub min: String,
    #[serde(default)]
    pub max: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub page: Option<u32>,
}

fn whole_units(field: &str, s: &str) -> AppResult<Option<i64>> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<u32>()
        .map(|v| Some(i64::from(v) * 100))
        .map_err(|_| AppError::invalid_field(field, format!("`{s}` is not a whole amount")))
}

/// Parses a storefront search into the store's query; bad values are a 422 naming the field.
pub fn parse(input: &SearchInput) -> AppResult<ProductSearch> {
    let page = input.page.unwrap_or(1).max(1);
    if page > MAX_PAGE {
        return Err(AppError::invalid_field(
            "page",
            format!("only the first {MAX_PAGE} pages are shown; narrow the search instead"),
        ));
    }
    let delivery_type = match input.delivery.trim() {
        "" => None,
        d => Some(
            d.parse::<DeliveryType>()
                .map_err(|e| AppError::invalid_field("delivery", e))?
                .as_str()
                .to_owned(),
        ),
    };
    let billing_mode = match input.billing.trim() {
        "" => None,
        b => Some(
            b.parse::<BillingMode>()
                .map_err(|e| AppError::invalid_field("billing", e))?,
        ),
    };
    let sort = match input.sort.trim() {
        "" | "relevance" => None,
        "price_asc" => Some(SearchSort::PriceAsc),
        "price_desc" => Some(SearchSort::PriceDesc),
        "newest" => Some(SearchSort::Newest),
        other => {
            return Err(AppError::invalid_field(
                "sort",
                format!("unknown sort `{other}`: use relevance, price_asc, price_desc or newest"),
            ))
        }
    };
    let category = input.category.trim();
    Ok(ProductSearch {
        query: Query::parse(&input.q),
        category: (!category.is_empty()).then(|| category.to_owned()),
        delivery_type,
        billing_mode,
        min_price_minor: whole_units("min", &input.min)?,
        max_price_minor: whole_units("max", &input.max)?,
        sort,
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
    })
}

/// One page of listed products, and whether another follows.
pub async fn search(state: &AppState, input: &SearchInput) -> AppResult<(Vec<SearchHit>, bool)> {
    let s = parse(input)?;
    Ok(state.store.search_listed(&s).await?)
}

/// A listed product as the storefront shows it (public scope: active SKUs, no integration).
pub async fn product(state: &AppState, id: &str) -> AppResult<ProductRecord> {
    let id = souk_core::id::ProductId::parse(id).ok_or_else(|| AppError::not_found("product"))?;
    state
        .store
        .find_product(&CatalogScope::Public, &id)
        .await?
        .ok_or_else(|| AppError::not_found("product"))
}
