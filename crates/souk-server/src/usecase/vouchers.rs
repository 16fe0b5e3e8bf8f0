//! Seller vouchers 代金券 (business rules §8.2): a seller issues one to a buyer, lists and
//! revokes its own; the buyer lists the ones it holds and pays part of a new purchase with one
//! (`orders::place`, `"voucher": id`). The rules are `souk_core::voucher`; the API and the
//! consoles both call these functions.

use crate::error::{AppError, AppResult};
use crate::AppState;
use axum::http::StatusCode;
use serde::Deserialize;
use souk_core::id::ProductId;
use souk_core::money::Money;
use souk_core::party::{PartyId, Role};
use souk_core::transition::StateMachine;
use souk_core::voucher::{self, Purchase, VoucherAction, VoucherRefusal, VoucherState};
use souk_store::{CatalogScope, Page, Scope, StoreError, VoucherRecord};
use time::OffsetDateTime;

/// A seller's new voucher.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueVoucher {
    /// The buyer who gets it (`buy_…`).
    #[schema(max_length = 64)]
    pub buyer_id: String,
    /// The face value: minor units and currency.
    pub face_value: Money,
    /// Only these products of the seller (empty with `sku_ids` empty: all of them).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub product_ids: Vec<String>,
    /// Only these SKUs of the seller's products.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub sku_ids: Vec<String>,
    /// Usable from (default: now), RFC 3339.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_from: Option<OffsetDateTime>,
    /// Usable until (exclusive), RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub valid_until: OffsetDateTime,
    /// "Not for special-price packages": refused on usage packages (套餐包).
    #[serde(default)]
    pub not_for_special_price_packages: bool,
    /// "Not with promotions": refused on orders at an exclusive offer's price (专属优惠).
    #[serde(default)]
    pub not_with_promotions: bool,
    /// A note for the buyer.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// The refusal of a voucher as an API error: its stable code, 409 when it depends on the moment
/// or the balance, 422 when on what is bought, 404 for another buyer's voucher.
pub fn refused(e: VoucherRefusal) -> AppError {
    match e {
        VoucherRefusal::NotYours => AppError::not_found("voucher"),
        e if e.is_conflict() => AppError::conflict(e.code(), format!("voucher: {e}")),
        e => AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            e.code(),
            format!("voucher: {e}"),
        )
        .with_details(serde_json::json!({ "field": "voucher" })),
    }
}

/// A path's voucher id; anything else names no voucher.
fn checked_id(id: &str) -> AppResult<&str> {
    if souk_core::id::has_valid_shape(id, "vch") {
        Ok(id)
    } else {
        Err(AppError::not_found("voucher"))
    }
}

/// The seller issues a voucher to a buyer; the buyer is told.
pub async fn issue(
    state: &AppState,
    seller: &PartyId,
    input: IssueVoucher,
) -> AppResult<VoucherRecord> {
    let now = state.clock.now();
    let valid_from = input.valid_from.unwrap_or(now);
    voucher::check_new(input.face_value, valid_from, input.valid_until)
        .map_err(|(field, message)| AppError::invalid_field(field, message))?;
    input
        .face_value
        .bounded()
        .map_err(|e| AppError::invalid_field("face_value", e.to_string()))?;
    let buyer = PartyId::parse_as(&input.buyer_id, Role::Buyer)
        .ok_or_else(|| AppError::not_found("buyer"))?;
    state
        .store
        .find_party(&Scope::Everything, &buyer)
        .await?
        .ok_or_else(|| AppError::not_found("buyer"))?;
    if input.product_ids.len() > 50 || input.sku_ids.len() > 50 {
        return Err(AppError::invalid_field(
            "product_ids",
            "at most 50 products and 50 SKUs",
        ));
    }
    // The scope: the seller's own products and SKUs only (another seller's is not found).
    for p in &input.product_ids {
        let id = ProductId::parse(p).ok_or_else(|| AppError::not_found("product"))?;
        state
            .store
            .find_product(&CatalogScope::Seller(seller.clone()), &id)
            .await?
            .ok_or_else(|| AppError::not_found("product"))?;
    }
    for s in &input.sku_ids {
        let sku = state.store.purchasable_sku(s).await?;
        if sku.is_none_or(|k| &k.seller_id != seller) {
            return Err(AppError::not_found("SKU on sale"));
        }
    }
    let note = input
        .note
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Err(AppError::invalid_field("note", "at most 500 characters"));
    }
    let seller_name = state
        .store
        .find_party(&Scope::Everything, seller)
        .await?
        .map_or_else(|| seller.to_string(), |p| p.name);
    let record = VoucherRecord {
        id: souk_core::id::generate("vch", now),
        seller_id: seller.clone(),
        buyer_id: buyer,
        face: input.face_value,
        remaining_minor: input.face_value.amount_minor,
        product_ids: input.product_ids,
        sku_ids: input.sku_ids,
        valid_from,
        valid_until: input.valid_until,
        not_for_packages: input.not_for_special_price_packages,
        not_with_promotions: input.not_with_promotions,
        state: VoucherState::START,
        note,
        created_at: now,
        updated_at: now,
    };
    let notice = voucher::issued_notice(&record.id, record.face, &seller_name, record.valid_until);
    state.store.create_voucher(&record, &notice).await?;
    Ok(record)
}

/// One voucher its seller, its buyer or the operator sees; anyone else: 404.
pub async fn visible(state: &AppState, scope: &Scope, id: &str) -> AppResult<VoucherRecord> {
    state
        .store
        .voucher(scope, checked_id(id)?)
        .await?
        .ok_or_else(|| AppError::not_found("voucher"))
}

/// The caller's vouchers: issued (seller), held (buyer), all (operator).
pub async fn list(state: &AppState, scope: &Scope, page: &Page) -> AppResult<Vec<VoucherRecord>> {
    Ok(state.store.vouchers(scope, page).await?)
}

/// The seller withdraws a voucher nothing was used of; the buyer is told.
pub async fn revoke(state: &AppState, seller: &PartyId, id: &str) -> AppResult<VoucherRecord> {
    let v = visible(state, &Scope::Party(seller.clone()), id).await?;
    if &v.seller_id != seller {
        return Err(AppError::not_found("voucher"));
    }
    let not_revocable = |m: String| AppError::conflict("voucher_state", m);
    let t = v
        .state
        .transition(VoucherAction::Revoke)
        .map_err(|e| not_revocable(e.to_string()))?;
    if v.remaining_minor != v.face.amount_minor {
        return Err(not_revocable(
            "part of the voucher was used; it stays with the buyer until it expires".to_owned(),
        ));
    }
    let notice = voucher::revoked_notice(&v.id, v.face);
    match state
        .store
        .revoke_voucher(&v.id, t, &notice, seller, state.clock.now())
        .await
    {
        Ok(r) => Ok(r),
        Err(StoreError::LostRace { .. }) => Err(not_revocable(
            "the voucher was used or revoked meanwhile; look at it again".to_owned(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The voucher part a buyer's new purchase gets from voucher `id` (placing an order).
pub async fn part_for(
    state: &AppState,
    id: &str,
    purchase: &Purchase<'_>,
) -> AppResult<(String, i64)> {
    let buyer = PartyId::from_trusted(purchase.buyer_id.to_owned());
    let v = visible(state, &Scope::Party(buyer), id).await?;
    let part = v
        .rules()
        .applies(purchase, state.clock.now())
        .map_err(refused)?;
    Ok((v.id, part))
}

/// Why paying an order's voucher part failed, read again after the payment was refused.
pub async fn payment_refused(state: &AppState, id: &str) -> AppError {
    let now = state.clock.now();
    match state.store.voucher(&Scope::Everything, id).await {
        Ok(Some(v)) => match v.rules().usable(now) {
            Err(e) if e != VoucherRefusal::Exhausted => refused(e),
            _ => AppError::conflict(
                "voucher_exhausted",
                format!(
                    "voucher {id} no longer has this order's voucher part (another order used \
                     it; {} left): cancel this order and place it again",
                    Money::new(v.remaining_minor, v.face.currency)
                ),
            ),
        },
        Ok(None) => AppError::not_found("voucher"),
        Err(e) => e.into(),
    }
}

/// The buyer's vouchers a purchase could use now, with the part each would pay (the shop's buy
/// form offers only these).
pub async fn applicable(
    state: &AppState,
    purchase: &Purchase<'_>,
) -> AppResult<Vec<(VoucherRecord, i64)>> {
    let buyer = PartyId::from_trusted(purchase.buyer_id.to_owned());
    let now = state.clock.now();
    let all = state
        .store
        .vouchers(
            &Scope::Party(buyer),
            &Page {
                limit: 200,
                after: None,
            },
        )
        .await?;
    Ok(all
        .into_iter()
        .filter_map(|v| {
            let part = v.rules().applies(purchase, now).ok()?;
            Some((v, part))
        })
        .collect())
}
