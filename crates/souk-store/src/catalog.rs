//! Products, SKUs, prices, review and seller integration profiles.
//!
//! The use cases decide (souk-core: `transition`, `ProductSpec::parse`, `check_revision`,
//! `ProductSpec::skus`) and hand the outcome here; each method below is one transaction with its
//! audit row. Status changes are compare-and-set on the status the use case saw, so two
//! concurrent decisions cannot both win: the loser gets `None` and reports a conflict.

use crate::sql::{audit, corrupt};
use crate::*;
use souk_core::catalog::{
    BillingMode, BuyerField, DeliveryType, LicenseMode, PlannedPrice, PlannedSku, ProductSpec,
    ProductStatus, Protocol, QuantityAttribute, RevisionStatus, SkuStatus,
};
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::id::{ProductId, RevisionId, SkuId};
use souk_core::money::{Currency, Money};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

// ---------------------------------------------------------------------------------------------
// What the order engine reads.
// ---------------------------------------------------------------------------------------------

/// A listed product's active SKU with everything needed to price and fulfil a purchase.
#[derive(Debug, Clone, PartialEq)]
pub struct PurchasableSku {
    pub product_id: String,
    pub product_name: String,
    pub seller_id: PartyId,
    pub delivery_type: DeliveryType,
    pub sku_id: String,
    /// KooGallery `skuCode`.
    pub sku_code: String,
    /// The SKU's enum attribute values, e.g. `{"edition": "pro"}`.
    pub attributes: serde_json::Value,
    /// The product's quantity attribute, if it has one (the buyer picks min..=max units).
    pub quantity: Option<QuantityAttribute>,
    /// Every price of the SKU, in billing-mode order. Modes that are not yet purchasable
    /// (`BillingMode::is_purchasable`) are included; the order engine refuses them.
    pub prices: Vec<SkuPrice>,
    /// For License products: who issues the codes (from the integration profile).
    pub license_mode: Option<LicenseMode>,
    /// The buyer details the seller receives in newInstance (from the integration profile).
    pub buyer_fields: Vec<BuyerField>,
    /// The fields the buyer fills in when buying (`saasExtendParams`).
    pub order_fields: Vec<souk_core::catalog::OrderField>,
    /// The product's supervision flag (meaningful for SaaS; other types are fixed by §3.1).
    pub supervised: bool,
    /// Supervised SaaS: the seller's newInstance is sent when the buyer accepts.
    pub open_after_acceptance: bool,
}

/// One price of one SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuPrice {
    pub billing_mode: BillingMode,
    /// Per quantity unit, per period for monthly/yearly; zero for a trial.
    pub unit_price: Money,
    /// Only for `BillingMode::Trial`.
    pub trial_days: Option<u32>,
    /// KooGallery `productId` of this SKU × billing mode.
    pub wire_product_id: String,
}

/// How Souk calls the seller for a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationRecord {
    pub product_id: String,
    pub seller_id: PartyId,
    pub protocol: Protocol,
    pub production_url: String,
    /// The seller Key sealed with `MasterKey::seal(&seller_key_context(product_id), key)`.
    pub seller_key_sealed: String,
    pub pii_encrypt_bits: u16,
    pub buyer_fields: Vec<BuyerField>,
}

// ---------------------------------------------------------------------------------------------
// Records of the catalog API.
// ---------------------------------------------------------------------------------------------

/// Which products a call may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogScope {
    /// The operator: every product, integration profiles and revisions included.
    Everything,
    /// A seller: its own products, in every status.
    Seller(PartyId),
    /// Buyers and resellers: listed products and their active SKUs only; never integration
    /// profiles or revisions.
    Public,
}

impl CatalogScope {
    fn seller(&self) -> Option<String> {
        match self {
            CatalogScope::Seller(s) => Some(s.as_str().to_owned()),
            _ => None,
        }
    }

    fn listed_only(&self) -> i64 {
        i64::from(*self == CatalogScope::Public)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuRecord {
    pub id: SkuId,
    pub product_id: ProductId,
    pub attr_key: String,
    pub attributes: BTreeMap<String, String>,
    pub sku_code: String,
    pub position: u32,
    pub status: SkuStatus,
    /// Amounts in the product's currency.
    pub prices: Vec<PlannedPrice>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// The integration profile with what only the catalog API shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationSettings {
    pub record: IntegrationRecord,
    pub license_mode: Option<LicenseMode>,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionRecord {
    pub id: RevisionId,
    pub product_id: ProductId,
    pub seller_id: PartyId,
    pub status: RevisionStatus,
    pub spec: ProductSpec,
    pub reason: Option<String>,
    pub created_at: OffsetDateTime,
    pub created_by: PartyId,
    pub decided_at: Option<OffsetDateTime>,
    pub decided_by: Option<PartyId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRecord {
    pub id: ProductId,
    pub seller_id: PartyId,
    pub status: ProductStatus,
    pub spec: ProductSpec,
    /// The reason of the last rejection, while the product is `rejected`.
    pub rejection_reason: Option<String>,
    pub first_listed_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// In position order. The public scope sees active SKUs only.
    pub skus: Vec<SkuRecord>,
    /// `None` in the public scope.
    pub integration: Option<IntegrationSettings>,
    /// The revision under review, if any; `None` in the public scope.
    pub pending_revision: Option<RevisionRecord>,
}

/// A product to create as a draft.
#[derive(Debug, Clone)]
pub struct NewProduct {
    pub id: ProductId,
    pub seller_id: PartyId,
    pub spec: ProductSpec,
    pub skus: Vec<PlannedSku>,
    pub integration: Option<IntegrationWrite>,
    pub now: OffsetDateTime,
}

/// An integration profile to save.
#[derive(Debug, Clone)]
pub struct IntegrationWrite {
    pub protocol: Protocol,
    pub production_url: String,
    /// `None` keeps the stored sealed key (there must be one).
    pub seller_key_sealed: Option<String>,
    pub pii_encrypt_bits: u16,
    pub buyer_fields: Vec<BuyerField>,
    pub license_mode: Option<LicenseMode>,
}

/// A change of a product's content in place (never-reviewed content: draft, rejected, delisted).
#[derive(Debug, Clone)]
pub struct ProductEdit {
    pub id: ProductId,
    /// The status the use case decided on; the edit fails if it changed meanwhile.
    pub expected_status: ProductStatus,
    pub spec: ProductSpec,
    pub skus: Vec<PlannedSku>,
    pub actor: PartyId,
    pub now: OffsetDateTime,
}

/// A workflow transition of a product.
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub id: ProductId,
    pub from: ProductStatus,
    pub to: ProductStatus,
    /// For a rejection.
    pub reason: Option<String>,
    pub actor: PartyId,
    pub now: OffsetDateTime,
}

/// A revision of a listed product, submitted for review.
#[derive(Debug, Clone)]
pub struct NewRevision {
    pub id: RevisionId,
    pub product_id: ProductId,
    pub spec: ProductSpec,
    pub actor: PartyId,
    pub now: OffsetDateTime,
}

/// The operator's approval of a revision: the new content and the SKUs it yields.
#[derive(Debug, Clone)]
pub struct RevisionApproval {
    pub revision_id: RevisionId,
    pub product_id: ProductId,
    pub skus: Vec<PlannedSku>,
    pub actor: PartyId,
    pub now: OffsetDateTime,
}

/// Something waiting for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewItem {
    pub product_id: ProductId,
    /// `None`: the product itself is submitted; `Some`: a revision of a listed product.
    pub revision_id: Option<RevisionId>,
    pub seller_id: PartyId,
    pub name: String,
    pub delivery_type: DeliveryType,
    pub submitted_at: OffsetDateTime,
}

#[async_trait]
pub trait CatalogStore: Send + Sync + 'static {
    /// A listed product's active SKU with everything needed to price and fulfil a purchase;
    /// `None` if the SKU does not exist or is not on sale (product not listed, SKU delisted).
    async fn purchasable_sku(&self, sku_id: &str) -> StoreResult<Option<PurchasableSku>>;

    /// The product's current integration profile (used at every call to the seller).
    async fn integration_profile(&self, product_id: &str)
        -> StoreResult<Option<IntegrationRecord>>;

    /// Creates a draft product with its SKUs and, optionally, its integration profile.
    async fn create_product(&self, product: NewProduct) -> StoreResult<ProductRecord>;

    async fn find_product(
        &self,
        scope: &CatalogScope,
        id: &ProductId,
    ) -> StoreResult<Option<ProductRecord>>;

    /// Products visible in `scope`, in creation order.
    async fn list_products(
        &self,
        scope: &CatalogScope,
        page: &Page,
    ) -> StoreResult<Vec<ProductRecord>>;

    /// Replaces a product's content in place. SKUs are matched by combination: kept ones keep
    /// their id and code, new ones are added; ones no longer planned are deleted only if the
    /// product was never listed. `None` if the status is no longer `expected_status`.
    async fn edit_product(&self, edit: ProductEdit) -> StoreResult<Option<ProductRecord>>;

    /// Moves a product from `from` to `to`. `None` if it is no longer in `from`.
    async fn change_status(&self, change: StatusChange) -> StoreResult<Option<ProductRecord>>;

    /// Submits a revision of a listed product. `None` if the product is no longer listed;
    /// `Conflict { constraint: constraint_names::ONE_PENDING_REVISION, .. }` if one is already
    /// pending.
    async fn create_revision(&self, revision: NewRevision) -> StoreResult<Option<RevisionRecord>>;

    async fn find_revision(
        &self,
        scope: &CatalogScope,
        id: &RevisionId,
    ) -> StoreResult<Option<RevisionRecord>>;

    /// Swaps a submitted revision's content in for the listed one. `None` if the revision is no
    /// longer submitted or the product no longer listed.
    async fn approve_revision(
        &self,
        approval: RevisionApproval,
    ) -> StoreResult<Option<ProductRecord>>;

    /// Rejects a submitted revision; the listed content stays. `None` if not submitted.
    async fn reject_revision(
        &self,
        id: &RevisionId,
        reason: &str,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<RevisionRecord>>;

    /// Takes one SKU off sale for good. Delisting twice changes nothing. `None` if the product
    /// or SKU is not visible in `scope`.
    async fn delist_sku(
        &self,
        scope: &CatalogScope,
        product_id: &ProductId,
        sku_id: &SkuId,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<SkuRecord>>;

    /// Creates or replaces a product's integration profile. `None` if the product is not
    /// visible in `scope`.
    async fn set_integration(
        &self,
        scope: &CatalogScope,
        product_id: &ProductId,
        profile: IntegrationWrite,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<IntegrationSettings>>;

    /// Submitted products and submitted revisions, oldest first.
    async fn list_reviews(&self) -> StoreResult<Vec<ReviewItem>>;

    /// The audit trail of a product (its transitions, revisions, SKU and integration changes).
    /// `None` if the product is not visible in `scope`.
    async fn product_audit(
        &self,
        scope: &CatalogScope,
        id: &ProductId,
    ) -> StoreResult<Option<Vec<AuditEvent>>>;
}

// ---------------------------------------------------------------------------------------------
// SQL.
// ---------------------------------------------------------------------------------------------

fn parse_col<T: FromStr<Err = String>>(row: &AnyRow, col: &str) -> StoreResult<T> {
    T::from_str(&row.try_get::<String, _>(col)?).map_err(|e| corrupt(col, e))
}

fn json_col<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> StoreResult<T> {
    serde_json::from_str(&row.try_get::<String, _>(col)?).map_err(|e| corrupt(col, e))
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Serialising our own plain data types to a string cannot fail.
    serde_json::to_string(v).unwrap_or_default()
}

fn opt_time(row: &AnyRow, col: &str) -> StoreResult<Option<OffsetDateTime>> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(from_unix_ms))
}

fn sku_from_row(row: &AnyRow) -> StoreResult<SkuRecord> {
    Ok(SkuRecord {
        id: SkuId::from_trusted(row.try_get("id")?),
        product_id: ProductId::from_trusted(row.try_get("product_id")?),
        attr_key: row.try_get("attr_key")?,
        attributes: json_col(row, "attributes")?,
        sku_code: row.try_get("sku_code")?,
        position: row.try_get::<i64, _>("position")? as u32,
        status: parse_col(row, "status")?,
        prices: json_col(row, "prices")?,
        created_at: from_unix_ms(row.try_get("created_at")?),
        updated_at: from_unix_ms(row.try_get("updated_at")?),
    })
}

fn integration_from_row(row: &AnyRow) -> StoreResult<IntegrationSettings> {
    let license_mode = row
        .try_get::<Option<String>, _>("license_mode")?
        .map(|m| LicenseMode::from_str(&m).map_err(|e| corrupt("license_mode", e)))
        .transpose()?;
    Ok(IntegrationSettings {
        record: IntegrationRecord {
            product_id: row.try_get("product_id")?,
            seller_id: PartyId::from_trusted(row.try_get("seller_id")?),
            protocol: parse_col(row, "protocol")?,
            production_url: row.try_get("production_url")?,
            seller_key_sealed: row.try_get("seller_key_sealed")?,
            pii_encrypt_bits: u16::try_from(row.try_get::<i64, _>("pii_encrypt_bits")?)
                .map_err(|e| corrupt("pii_encrypt_bits", e))?,
            buyer_fields: json_col(row, "buyer_fields")?,
        },
        license_mode,
        updated_at: from_unix_ms(row.try_get("updated_at")?),
    })
}

fn revision_from_row(row: &AnyRow) -> StoreResult<RevisionRecord> {
    Ok(RevisionRecord {
        id: RevisionId::from_trusted(row.try_get("id")?),
        product_id: ProductId::from_trusted(row.try_get("product_id")?),
        seller_id: PartyId::from_trusted(row.try_get("seller_id")?),
        status: parse_col(row, "status")?,
        spec: json_col(row, "spec")?,
        reason: row.try_get("reason")?,
        created_at: from_unix_ms(row.try_get("created_at")?),
        created_by: PartyId::from_trusted(row.try_get("created_by")?),
        decided_at: opt_time(row, "decided_at")?,
        decided_by: row
            .try_get::<Option<String>, _>("decided_by")?
            .map(PartyId::from_trusted),
    })
}

/// Loads a product visible in `scope`, with its SKUs, integration and pending revision.
async fn load_product(
    conn: &mut sqlx::AnyConnection,
    scope: &CatalogScope,
    id: &str,
) -> StoreResult<Option<ProductRecord>> {
    let row = sqlx::query(
        "SELECT * FROM products WHERE id = $1 AND ($2 IS NULL OR seller_id = $2) \
         AND ($3 = 0 OR status = 'listed')",
    )
    .bind(id)
    .bind(scope.seller())
    .bind(scope.listed_only())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let public = *scope == CatalogScope::Public;
    let skus = sqlx::query(
        "SELECT * FROM skus WHERE product_id = $1 AND ($2 = 0 OR status = 'active') \
         ORDER BY position, id",
    )
    .bind(id)
    .bind(i64::from(public))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(sku_from_row)
    .collect::<StoreResult<Vec<_>>>()?;
    let (integration, pending_revision) = if public {
        (None, None)
    } else {
        let integration = sqlx::query("SELECT * FROM integration_profiles WHERE product_id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .as_ref()
            .map(integration_from_row)
            .transpose()?;
        let revision = sqlx::query(
            "SELECT * FROM product_revisions WHERE product_id = $1 AND status = 'submitted'",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(revision_from_row)
        .transpose()?;
        (integration, revision)
    };
    Ok(Some(ProductRecord {
        id: ProductId::from_trusted(row.try_get("id")?),
        seller_id: PartyId::from_trusted(row.try_get("seller_id")?),
        status: parse_col(&row, "status")?,
        spec: json_col(&row, "spec")?,
        rejection_reason: row.try_get("rejection_reason")?,
        first_listed_at: opt_time(&row, "first_listed_at")?,
        created_at: from_unix_ms(row.try_get("created_at")?),
        updated_at: from_unix_ms(row.try_get("updated_at")?),
        skus,
        integration,
        pending_revision,
    }))
}

/// Writes the planned SKUs of a product: existing combinations get the new prices and position,
/// new ones are inserted with a fresh id. With `delete_unplanned`, combinations no longer
/// planned are removed (only ever for products that were never on sale). Returns how many SKUs
/// were added.
async fn write_skus(
    conn: &mut sqlx::AnyConnection,
    product_id: &str,
    skus: &[PlannedSku],
    delete_unplanned: bool,
    now: OffsetDateTime,
) -> StoreResult<usize> {
    let existing: BTreeSet<String> =
        sqlx::query_scalar::<_, String>("SELECT attr_key FROM skus WHERE product_id = $1")
            .bind(product_id)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
    let mut added = 0;
    for s in skus {
        if existing.contains(&s.attr_key) {
            sqlx::query(
                "UPDATE skus SET prices = $1, position = $2, updated_at = $3 \
                 WHERE product_id = $4 AND attr_key = $5",
            )
            .bind(to_json(&s.prices))
            .bind(i64::from(s.position))
            .bind(to_unix_ms(now))
            .bind(product_id)
            .bind(&s.attr_key)
            .execute(&mut *conn)
            .await?;
        } else {
            sqlx::query(
                "INSERT INTO skus (id, product_id, attr_key, attributes, sku_code, position, \
                 status, prices, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $8)",
            )
            .bind(SkuId::generate(now).as_str().to_owned())
            .bind(product_id)
            .bind(&s.attr_key)
            .bind(to_json(&s.attributes))
            .bind(&s.sku_code)
            .bind(i64::from(s.position))
            .bind(to_json(&s.prices))
            .bind(to_unix_ms(now))
            .execute(&mut *conn)
            .await?;
            added += 1;
        }
    }
    if delete_unplanned {
        let planned: BTreeSet<&str> = skus.iter().map(|s| s.attr_key.as_str()).collect();
        for gone in existing.iter().filter(|k| !planned.contains(k.as_str())) {
            sqlx::query("DELETE FROM skus WHERE product_id = $1 AND attr_key = $2")
                .bind(product_id)
                .bind(gone)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(added)
}

async fn write_integration(
    conn: &mut sqlx::AnyConnection,
    product_id: &str,
    seller_id: &str,
    p: &IntegrationWrite,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let exists: Option<String> =
        sqlx::query_scalar("SELECT product_id FROM integration_profiles WHERE product_id = $1")
            .bind(product_id)
            .fetch_optional(&mut *conn)
            .await?;
    let buyer_fields = to_json(&p.buyer_fields);
    let license_mode = p.license_mode.map(|m| m.as_str().to_owned());
    if exists.is_some() {
        sqlx::query(
            "UPDATE integration_profiles SET protocol = $1, production_url = $2, \
             seller_key_sealed = COALESCE($3, seller_key_sealed), pii_encrypt_bits = $4, \
             buyer_fields = $5, license_mode = $6, updated_at = $7 WHERE product_id = $8",
        )
        .bind(p.protocol.as_str())
        .bind(&p.production_url)
        .bind(p.seller_key_sealed.clone())
        .bind(i64::from(p.pii_encrypt_bits))
        .bind(buyer_fields)
        .bind(license_mode)
        .bind(to_unix_ms(now))
        .bind(product_id)
        .execute(&mut *conn)
        .await?;
        Ok(true)
    } else {
        let Some(sealed) = &p.seller_key_sealed else {
            return Err(StoreError::Corrupt(
                "a first integration profile needs a seller key".into(),
            ));
        };
        sqlx::query(
            "INSERT INTO integration_profiles (product_id, seller_id, protocol, production_url, \
             seller_key_sealed, pii_encrypt_bits, buyer_fields, license_mode, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(product_id)
        .bind(seller_id)
        .bind(p.protocol.as_str())
        .bind(&p.production_url)
        .bind(sealed)
        .bind(i64::from(p.pii_encrypt_bits))
        .bind(buyer_fields)
        .bind(license_mode)
        .bind(to_unix_ms(now))
        .execute(&mut *conn)
        .await?;
        Ok(false)
    }
}

fn integration_audit(p: &IntegrationWrite) -> serde_json::Value {
    // Never the key: only whether it changed.
    serde_json::json!({
        "protocol": p.protocol,
        "production_url": p.production_url,
        "key_changed": p.seller_key_sealed.is_some(),
        "pii_encrypt_bits": p.pii_encrypt_bits,
        "buyer_fields": p.buyer_fields,
        "license_mode": p.license_mode,
    })
}

fn audit_action(to: ProductStatus) -> &'static str {
    match to {
        ProductStatus::Draft => "product.edited",
        ProductStatus::Submitted => "product.submitted",
        ProductStatus::Listed => "product.approved",
        ProductStatus::Rejected => "product.rejected",
        ProductStatus::Delisted => "product.delisted",
    }
}

#[async_trait]
impl CatalogStore for SqlStore {
    async fn purchasable_sku(&self, sku_id: &str) -> StoreResult<Option<PurchasableSku>> {
        let row = sqlx::query(
            "SELECT s.id AS sku_id, s.sku_code, s.attributes, s.prices, p.id AS product_id, \
             p.name, p.seller_id, p.delivery_type, p.currency, p.spec, i.license_mode, \
             i.buyer_fields \
             FROM skus s JOIN products p ON p.id = s.product_id \
             LEFT JOIN integration_profiles i ON i.product_id = p.id \
             WHERE s.id = $1 AND s.status = 'active' AND p.status = 'listed'",
        )
        .bind(sku_id)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let currency: Currency = row
            .try_get::<String, _>("currency")?
            .parse()
            .map_err(|e| corrupt("currency", e))?;
        let spec: ProductSpec = json_col(&row, "spec")?;
        let delivery_type: DeliveryType = parse_col(&row, "delivery_type")?;
        let prices: Vec<PlannedPrice> = json_col(&row, "prices")?;
        let license_mode = match delivery_type {
            DeliveryType::License => row
                .try_get::<Option<String>, _>("license_mode")?
                .map(|m| LicenseMode::from_str(&m).map_err(|e| corrupt("license_mode", e)))
                .transpose()?,
            _ => None,
        };
        Ok(Some(PurchasableSku {
            product_id: row.try_get("product_id")?,
            product_name: row.try_get("name")?,
            seller_id: PartyId::from_trusted(row.try_get("seller_id")?),
            delivery_type,
            sku_id: row.try_get("sku_id")?,
            sku_code: row.try_get("sku_code")?,
            attributes: json_col(&row, "attributes")?,
            quantity: spec.quantity,
            order_fields: spec.order_fields,
            supervised: spec.supervised,
            open_after_acceptance: spec.open_after_acceptance,
            prices: prices
                .into_iter()
                .map(|p| SkuPrice {
                    billing_mode: p.billing_mode,
                    unit_price: Money::new(p.amount_minor, currency),
                    trial_days: p.trial_days,
                    wire_product_id: p.wire_product_id,
                })
                .collect(),
            license_mode,
            buyer_fields: match row.try_get::<Option<String>, _>("buyer_fields")? {
                Some(s) => serde_json::from_str(&s).map_err(|e| corrupt("buyer_fields", e))?,
                None => Vec::new(),
            },
        }))
    }

    async fn integration_profile(
        &self,
        product_id: &str,
    ) -> StoreResult<Option<IntegrationRecord>> {
        // Read on every seller call; served from memory for a few seconds (see `cache.rs`).
        let key = product_id.to_owned();
        if let Some(record) = self.profile_cache.get(&key) {
            return Ok(Some(record));
        }
        let generation = self.profile_cache.generation();
        let row = sqlx::query("SELECT * FROM integration_profiles WHERE product_id = $1")
            .bind(product_id)
            .fetch_optional(&self.read)
            .await?;
        let record = row
            .as_ref()
            .map(integration_from_row)
            .transpose()?
            .map(|s| s.record);
        if let Some(r) = &record {
            self.profile_cache.put(generation, key, r.clone());
        }
        Ok(record)
    }

    async fn create_product(&self, p: NewProduct) -> StoreResult<ProductRecord> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO products (id, seller_id, status, name, delivery_type, currency, spec, \
             created_at, updated_at) VALUES ($1, $2, 'draft', $3, $4, $5, $6, $7, $7)",
        )
        .bind(p.id.as_str())
        .bind(p.seller_id.as_str())
        .bind(&p.spec.name)
        .bind(p.spec.delivery_type.as_str())
        .bind(p.spec.currency.as_str())
        .bind(to_json(&p.spec))
        .bind(to_unix_ms(p.now))
        .execute(&mut *tx)
        .await?;
        write_skus(&mut tx, p.id.as_str(), &p.skus, true, p.now).await?;
        if let Some(i) = &p.integration {
            write_integration(&mut tx, p.id.as_str(), p.seller_id.as_str(), i, p.now).await?;
        }
        audit(
            &mut tx,
            p.now,
            Some(&p.seller_id),
            "product.created",
            p.id.as_str(),
            serde_json::json!({
                "name": p.spec.name,
                "delivery_type": p.spec.delivery_type,
                "skus": p.skus.len(),
                "integration": p.integration.as_ref().map(integration_audit),
            }),
        )
        .await?;
        let record = load_product(&mut tx, &CatalogScope::Everything, p.id.as_str())
            .await?
            .ok_or_else(|| StoreError::Corrupt("product vanished after insert".into()))?;
        crate::search::index_product(&mut tx, self.backend, &record).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn find_product(
        &self,
        scope: &CatalogScope,
        id: &ProductId,
    ) -> StoreResult<Option<ProductRecord>> {
        let mut conn = self.read.acquire().await?;
        load_product(&mut conn, scope, id.as_str()).await
    }

    async fn list_products(
        &self,
        scope: &CatalogScope,
        page: &Page,
    ) -> StoreResult<Vec<ProductRecord>> {
        let mut conn = self.read.acquire().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM products WHERE ($1 IS NULL OR seller_id = $1) \
             AND ($2 = 0 OR status = 'listed') AND ($3 IS NULL OR id > $3) ORDER BY id LIMIT $4",
        )
        .bind(scope.seller())
        .bind(scope.listed_only())
        .bind(page.after.clone())
        .bind(page.limit as i64)
        .fetch_all(&mut *conn)
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            // A product delisted between the two queries simply drops out of the page.
            if let Some(p) = load_product(&mut conn, scope, &id).await? {
                out.push(p);
            }
        }
        Ok(out)
    }

    async fn edit_product(&self, e: ProductEdit) -> StoreResult<Option<ProductRecord>> {
        let mut tx = self.write.begin().await?;
        let never_listed: Option<bool> = sqlx::query_scalar::<_, Option<i64>>(
            "SELECT first_listed_at FROM products WHERE id = $1 AND status = $2",
        )
        .bind(e.id.as_str())
        .bind(e.expected_status.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .map(|first| first.is_none());
        let Some(never_listed) = never_listed else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE products SET spec = $1, name = $2, delivery_type = $3, currency = $4, \
             updated_at = $5 WHERE id = $6",
        )
        .bind(to_json(&e.spec))
        .bind(&e.spec.name)
        .bind(e.spec.delivery_type.as_str())
        .bind(e.spec.currency.as_str())
        .bind(to_unix_ms(e.now))
        .bind(e.id.as_str())
        .execute(&mut *tx)
        .await?;
        let added = write_skus(&mut tx, e.id.as_str(), &e.skus, never_listed, e.now).await?;
        audit(
            &mut tx,
            e.now,
            Some(&e.actor),
            "product.edited",
            e.id.as_str(),
            serde_json::json!({ "status": e.expected_status, "skus": e.skus.len(), "skus_added": added }),
        )
        .await?;
        let record = load_product(&mut tx, &CatalogScope::Everything, e.id.as_str()).await?;
        if let Some(r) = &record {
            crate::search::index_product(&mut tx, self.backend, r).await?;
        }
        tx.commit().await?;
        Ok(record)
    }

    async fn change_status(&self, c: StatusChange) -> StoreResult<Option<ProductRecord>> {
        let mut tx = self.write.begin().await?;
        let listing = c.to == ProductStatus::Listed;
        let updated = sqlx::query(
            "UPDATE products SET status = $1, rejection_reason = $2, updated_at = $3, \
             first_listed_at = CASE WHEN $4 = 1 THEN COALESCE(first_listed_at, $3) \
             ELSE first_listed_at END WHERE id = $5 AND status = $6",
        )
        .bind(c.to.as_str())
        .bind(c.reason.clone())
        .bind(to_unix_ms(c.now))
        .bind(i64::from(listing))
        .bind(c.id.as_str())
        .bind(c.from.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(None);
        }
        audit(
            &mut tx,
            c.now,
            Some(&c.actor),
            audit_action(c.to),
            c.id.as_str(),
            serde_json::json!({ "from": c.from, "to": c.to, "reason": c.reason }),
        )
        .await?;
        let record = load_product(&mut tx, &CatalogScope::Everything, c.id.as_str()).await?;
        if let Some(r) = &record {
            crate::search::index_product(&mut tx, self.backend, r).await?;
            if c.from == ProductStatus::Submitted && c.to != ProductStatus::Draft {
                // A review decided: the seller is told (message centre and e-mail).
                let notice = souk_core::notice::review_decided(
                    c.id.as_str(),
                    "product",
                    c.to == ProductStatus::Listed,
                    c.reason.as_deref(),
                );
                crate::commerce::insert_notice(
                    &mut tx,
                    &r.seller_id,
                    &notice,
                    Some(c.id.as_str()),
                    c.now,
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(record)
    }

    async fn create_revision(&self, r: NewRevision) -> StoreResult<Option<RevisionRecord>> {
        let mut tx = self.write.begin().await?;
        let seller: Option<String> = sqlx::query_scalar(
            "SELECT seller_id FROM products WHERE id = $1 AND status = 'listed'",
        )
        .bind(r.product_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(seller) = seller else {
            return Ok(None);
        };
        sqlx::query(
            "INSERT INTO product_revisions (id, product_id, seller_id, status, spec, created_at, \
             created_by) VALUES ($1, $2, $3, 'submitted', $4, $5, $6)",
        )
        .bind(r.id.as_str())
        .bind(r.product_id.as_str())
        .bind(&seller)
        .bind(to_json(&r.spec))
        .bind(to_unix_ms(r.now))
        .bind(r.actor.as_str())
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            r.now,
            Some(&r.actor),
            "revision.submitted",
            r.product_id.as_str(),
            serde_json::json!({ "revision_id": r.id }),
        )
        .await?;
        let row = sqlx::query("SELECT * FROM product_revisions WHERE id = $1")
            .bind(r.id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let record = revision_from_row(&row)?;
        tx.commit().await?;
        Ok(Some(record))
    }

    async fn find_revision(
        &self,
        scope: &CatalogScope,
        id: &RevisionId,
    ) -> StoreResult<Option<RevisionRecord>> {
        if *scope == CatalogScope::Public {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT * FROM product_revisions WHERE id = $1 AND ($2 IS NULL OR seller_id = $2)",
        )
        .bind(id.as_str())
        .bind(scope.seller())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(revision_from_row).transpose()
    }

    async fn approve_revision(&self, a: RevisionApproval) -> StoreResult<Option<ProductRecord>> {
        let mut tx = self.write.begin().await?;
        let spec: Option<String> = sqlx::query_scalar(
            "SELECT r.spec FROM product_revisions r JOIN products p ON p.id = r.product_id \
             WHERE r.id = $1 AND r.product_id = $2 AND r.status = 'submitted' \
             AND p.status = 'listed'",
        )
        .bind(a.revision_id.as_str())
        .bind(a.product_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(spec_json) = spec else {
            return Ok(None);
        };
        let spec: ProductSpec =
            serde_json::from_str(&spec_json).map_err(|e| corrupt("revision spec", e))?;
        sqlx::query(
            "UPDATE product_revisions SET status = 'approved', decided_at = $1, decided_by = $2 \
             WHERE id = $3",
        )
        .bind(to_unix_ms(a.now))
        .bind(a.actor.as_str())
        .bind(a.revision_id.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE products SET spec = $1, name = $2, updated_at = $3 WHERE id = $4")
            .bind(&spec_json)
            .bind(&spec.name)
            .bind(to_unix_ms(a.now))
            .bind(a.product_id.as_str())
            .execute(&mut *tx)
            .await?;
        // A listed product never loses a SKU: only prices change and new combinations appear.
        let added = write_skus(&mut tx, a.product_id.as_str(), &a.skus, false, a.now).await?;
        audit(
            &mut tx,
            a.now,
            Some(&a.actor),
            "revision.approved",
            a.product_id.as_str(),
            serde_json::json!({ "revision_id": a.revision_id, "skus_added": added }),
        )
        .await?;
        let record =
            load_product(&mut tx, &CatalogScope::Everything, a.product_id.as_str()).await?;
        if let Some(r) = &record {
            crate::search::index_product(&mut tx, self.backend, r).await?;
            let notice =
                souk_core::notice::review_decided(a.product_id.as_str(), "revision", true, None);
            crate::commerce::insert_notice(
                &mut tx,
                &r.seller_id,
                &notice,
                Some(a.revision_id.as_str()),
                a.now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(record)
    }

    async fn reject_revision(
        &self,
        id: &RevisionId,
        reason: &str,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<RevisionRecord>> {
        let mut tx = self.write.begin().await?;
        let updated = sqlx::query(
            "UPDATE product_revisions SET status = 'rejected', reason = $1, decided_at = $2, \
             decided_by = $3 WHERE id = $4 AND status = 'submitted'",
        )
        .bind(reason)
        .bind(to_unix_ms(now))
        .bind(actor.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(None);
        }
        let row = sqlx::query("SELECT * FROM product_revisions WHERE id = $1")
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let record = revision_from_row(&row)?;
        audit(
            &mut tx,
            now,
            Some(actor),
            "revision.rejected",
            record.product_id.as_str(),
            serde_json::json!({ "revision_id": id, "reason": reason }),
        )
        .await?;
        let notice = souk_core::notice::review_decided(
            record.product_id.as_str(),
            "revision",
            false,
            Some(reason),
        );
        crate::commerce::insert_notice(&mut tx, &record.seller_id, &notice, Some(id.as_str()), now)
            .await?;
        tx.commit().await?;
        Ok(Some(record))
    }

    async fn delist_sku(
        &self,
        scope: &CatalogScope,
        product_id: &ProductId,
        sku_id: &SkuId,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<SkuRecord>> {
        let mut tx = self.write.begin().await?;
        let row = sqlx::query(
            "SELECT s.* FROM skus s JOIN products p ON p.id = s.product_id \
             WHERE s.id = $1 AND s.product_id = $2 AND ($3 IS NULL OR p.seller_id = $3) \
             AND ($4 = 0 OR p.status = 'listed')",
        )
        .bind(sku_id.as_str())
        .bind(product_id.as_str())
        .bind(scope.seller())
        .bind(scope.listed_only())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let sku = sku_from_row(&row)?;
        if sku.status == SkuStatus::Delisted {
            return Ok(Some(sku));
        }
        sqlx::query("UPDATE skus SET status = 'delisted', updated_at = $1 WHERE id = $2")
            .bind(to_unix_ms(now))
            .bind(sku_id.as_str())
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            now,
            Some(actor),
            "sku.delisted",
            product_id.as_str(),
            serde_json::json!({ "sku_id": sku_id, "sku_code": sku.sku_code, "attributes": sku.attributes }),
        )
        .await?;
        // The storefront's lowest price and billing modes count active SKUs only.
        if let Some(p) =
            load_product(&mut tx, &CatalogScope::Everything, product_id.as_str()).await?
        {
            crate::search::index_product(&mut tx, self.backend, &p).await?;
        }
        let row = sqlx::query("SELECT * FROM skus WHERE id = $1")
            .bind(sku_id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let record = sku_from_row(&row)?;
        tx.commit().await?;
        Ok(Some(record))
    }

    async fn set_integration(
        &self,
        scope: &CatalogScope,
        product_id: &ProductId,
        profile: IntegrationWrite,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<IntegrationSettings>> {
        if *scope == CatalogScope::Public {
            return Ok(None);
        }
        let mut tx = self.write.begin().await?;
        let seller: Option<String> = sqlx::query_scalar(
            "SELECT seller_id FROM products WHERE id = $1 AND ($2 IS NULL OR seller_id = $2)",
        )
        .bind(product_id.as_str())
        .bind(scope.seller())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(seller) = seller else {
            return Ok(None);
        };
        let replaced =
            write_integration(&mut tx, product_id.as_str(), &seller, &profile, now).await?;
        let mut detail = integration_audit(&profile);
        detail["replaced"] = serde_json::Value::Bool(replaced);
        audit(
            &mut tx,
            now,
            Some(actor),
            "integration.updated",
            product_id.as_str(),
            detail,
        )
        .await?;
        let row = sqlx::query("SELECT * FROM integration_profiles WHERE product_id = $1")
            .bind(product_id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let record = integration_from_row(&row)?;
        tx.commit().await?;
        self.profile_cache.remove(&product_id.as_str().to_owned());
        Ok(Some(record))
    }

    async fn list_reviews(&self) -> StoreResult<Vec<ReviewItem>> {
        let products = sqlx::query(
            "SELECT id, NULL AS revision_id, seller_id, name, delivery_type, \
             updated_at AS submitted_at FROM products WHERE status = 'submitted'",
        )
        .fetch_all(&self.read)
        .await?;
        let revisions = sqlx::query(
            "SELECT p.id, r.id AS revision_id, p.seller_id, p.name, p.delivery_type, \
             r.created_at AS submitted_at FROM product_revisions r \
             JOIN products p ON p.id = r.product_id WHERE r.status = 'submitted'",
        )
        .fetch_all(&self.read)
        .await?;
        let mut items = products
            .iter()
            .chain(revisions.iter())
            .map(|r| {
                Ok(ReviewItem {
                    product_id: ProductId::from_trusted(r.try_get("id")?),
                    revision_id: r
                        .try_get::<Option<String>, _>("revision_id")?
                        .map(RevisionId::from_trusted),
                    seller_id: PartyId::from_trusted(r.try_get("seller_id")?),
                    name: r.try_get("name")?,
                    delivery_type: parse_col(r, "delivery_type")?,
                    submitted_at: from_unix_ms(r.try_get("submitted_at")?),
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        items.sort_by(|a, b| (a.submitted_at, &a.product_id).cmp(&(b.submitted_at, &b.product_id)));
        Ok(items)
    }

    async fn product_audit(
        &self,
        scope: &CatalogScope,
        id: &ProductId,
    ) -> StoreResult<Option<Vec<AuditEvent>>> {
        if *scope == CatalogScope::Public {
            return Ok(None);
        }
        let visible: Option<String> = sqlx::query_scalar(
            "SELECT id FROM products WHERE id = $1 AND ($2 IS NULL OR seller_id = $2)",
        )
        .bind(id.as_str())
        .bind(scope.seller())
        .fetch_optional(&self.read)
        .await?;
        if visible.is_none() {
            return Ok(None);
        }
        // Visibility was checked above on the product; the trail is keyed by product id.
        Ok(Some(
            self.audit_trail(&Scope::Everything, id.as_str()).await?,
        ))
    }
}
