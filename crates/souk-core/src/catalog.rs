//! The catalog: products, their attributes and generated SKUs, prices per billing mode, the
//! publishing workflow, and the seller's integration profile.
//!
//! Everything here is pure. A seller's input arrives as a [`ProductInput`] (the JSON shape of the
//! API) and becomes a [`ProductSpec`] only through [`ProductSpec::parse`], which checks every
//! rule of PRODUCT.md §1 and business-rules §6.1–6.3. SKUs are derived from a spec with
//! [`ProductSpec::skus`]: the cartesian product of the enum attributes' values, each with a
//! stable `sku_code` and one KooGallery `productId` per billing mode. The workflow is
//! [`transition`]; the rules for changing a product that has been on sale are
//! [`check_revision`]. See `docs/catalog.md` for the model and every decision taken here.

use crate::endpoint::{EndpointError, EndpointUrl};
use crate::party::{Email, Role};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// At most this many enum attributes per product (business rules §6.1).
pub const MAX_ENUM_ATTRIBUTES: usize = 5;
/// At most this many values per enum attribute.
pub const MAX_ENUM_VALUES: usize = 20;
/// At most this many SKUs per product. 5 attributes × 20 values would allow 3.2 million, which
/// no buyer can choose from; Souk refuses a product whose attributes multiply past this.
pub const MAX_SKUS: usize = 200;
/// Trial length bounds in days (business rules §6.3).
pub const TRIAL_DAYS: std::ops::RangeInclusive<u32> = 3..=180;
/// The largest unit price accepted, in minor units (10 billion major units): a typo guard.
pub const MAX_UNIT_PRICE_MINOR: i64 = 1_000_000_000_000;

/// Declares a closed string enum with `as_str`, `ALL`, `FromStr` and `Display`, spelled the same
/// on the wire (serde) and in the database.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        // Written by hand: the derive does not see `rename = $text` through this macro and would
        // document the Rust variant names instead of the wire spellings.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let names: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    format!("unknown {} `{s}`: expected one of {}", stringify!($name), names.join(", "))
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// How a product reaches the buyer (PRODUCT.md §1).
    DeliveryType {
        /// Souk calls the seller's production endpoint to open an instance.
        Saas = "saas",
        /// License codes: issued by the seller through getLicense, or by Souk.
        License = "license",
        Image = "image",
        ManualService = "manual_service",
        Hardware = "hardware",
        DataFile = "data_file",
        Api = "api",
    }
);

impl DeliveryType {
    /// Billing modes this delivery type may be sold with (business rules §1, delivery table).
    pub fn allows(&self, mode: BillingMode) -> bool {
        use BillingMode::*;
        match self {
            DeliveryType::Saas => true,
            DeliveryType::License => matches!(mode, Monthly | Yearly | OneTime | Trial),
            DeliveryType::Image => matches!(mode, Monthly | Yearly | OnDemand | Trial),
            DeliveryType::ManualService => matches!(mode, Monthly | Yearly | OneTime),
            DeliveryType::Hardware => matches!(mode, OneTime),
            DeliveryType::DataFile => matches!(mode, Monthly | Yearly | OneTime),
            DeliveryType::Api => matches!(mode, OneTime | OnDemand | Package),
        }
    }

    /// Whether Souk calls the seller's production endpoint for this type, so that an
    /// integration profile is needed before the product can be submitted.
    pub fn needs_integration(&self) -> bool {
        matches!(self, DeliveryType::Saas | DeliveryType::License)
    }
}

wire_enum!(
    /// How a price is charged.
    BillingMode {
        /// Per quantity unit per month (包月).
        Monthly = "monthly",
        /// Per quantity unit per year (包年).
        Yearly = "yearly",
        /// Per quantity unit, once (一次性 / 按次).
        OneTime = "one_time",
        /// Free for `trial_days` days on a monthly/yearly SKU (试用).
        Trial = "trial",
        /// Post-paid usage (按需): `amount_minor` is the price of one unit of usage.
        OnDemand = "on_demand",
        /// Prepaid usage package (套餐包): `amount_minor` per package (per reset period bought
        /// for a monthly/yearly reset package); its quota is set with the product's
        /// usage packages.
        Package = "package",
    }
);

impl BillingMode {
    /// Whether an order can be placed for this mode today.
    pub fn is_purchasable(&self) -> bool {
        true
    }

    /// A prepaid subscription period (包周期).
    pub fn is_period(&self) -> bool {
        matches!(self, BillingMode::Monthly | BillingMode::Yearly)
    }
}

wire_enum!(
    /// Where a product is in the publishing workflow.
    ProductStatus {
        /// Being written by the seller; nobody else sees it but the operator.
        Draft = "draft",
        /// Waiting for the operator's review.
        Submitted = "submitted",
        /// On sale.
        Listed = "listed",
        /// The operator refused it; the reason is kept next to the status.
        Rejected = "rejected",
        /// Taken off sale; existing instances keep running, nobody can buy it.
        Delisted = "delisted",
    }
);

wire_enum!(
    /// Where a change to a listed product (a revision) is in its review.
    RevisionStatus {
        Submitted = "submitted",
        Approved = "approved",
        Rejected = "rejected",
    }
);

wire_enum!(
    /// Whether one SKU can be bought.
    SkuStatus {
        Active = "active",
        /// Taken off sale for good; kept because orders and instances point at it.
        Delisted = "delisted",
    }
);

wire_enum!(
    /// The seller-side protocol version (KooGallery SaaS V1 GET or V2 POST).
    Protocol {
        V1 = "v1",
        V2 = "v2",
    }
);

wire_enum!(
    /// A buyer attribute Souk may send to the seller in newInstance.
    BuyerField {
        CustomerName = "customer_name",
        UserId = "user_id",
        UserName = "user_name",
        MobilePhone = "mobile_phone",
        Email = "email",
    }
);

wire_enum!(
    /// Who issues license codes for a License product.
    LicenseMode {
        /// Souk calls the seller's getLicense and hands the buyer what it answers.
        SellerIssued = "seller_issued",
        /// Souk issues the codes itself (activation, heartbeat, offline files).
        SoukCodes = "souk_codes",
        /// 识别码: the buyer supplies a hardware identifier (or Souk generates a system
        /// identifier); the seller delivers a license bound to it by hand; supervised.
        Identifier = "identifier",
        /// 线下: requirements agreed offline, the seller delivers with an acceptance report and
        /// screenshots; supervised.
        Offline = "offline",
        /// Package deployment: the seller deploys the software for the buyer; supervised.
        PackageDeployment = "package_deployment",
        /// 在线开通: the seller's getLicense as for `seller_issued`, under supervision; the
        /// seller may deliver the license by hand from the supervision page.
        Online = "online",
    }
);

impl LicenseMode {
    /// Whether a seller call opens the License (getLicense, or License 2.0 calls for Souk's
    /// codes). The modes delivered by hand have no call: the instance opens when supervision
    /// completes, and the seller hears nothing of it through the protocol.
    pub fn calls_seller(self) -> bool {
        matches!(
            self,
            LicenseMode::SellerIssued | LicenseMode::SoukCodes | LicenseMode::Online
        )
    }
}

wire_enum!(
    /// The KooGallery linear wire field a quantity attribute is sent as.
    LinearField {
        /// A count, e.g. users.
        Amount = "amount",
        /// Gigabytes.
        DiskSize = "diskSize",
        /// Mbit/s.
        BandWidth = "bandWidth",
    }
);

/// What the operator or seller may do to a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductAction {
    Edit,
    Submit,
    Approve,
    Reject,
    Delist,
}

impl ProductAction {
    pub fn as_str(&self) -> &'static str {
        match self {
            ProductAction::Edit => "edit",
            ProductAction::Submit => "submit",
            ProductAction::Approve => "approve",
            ProductAction::Reject => "reject",
            ProductAction::Delist => "delist",
        }
    }
}

/// Why a catalog request cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// A value breaks a rule; `field` names it in the request's terms (`prices[2].trial_days`).
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// The action does not apply in the current state.
    #[error("a {status} product cannot be {}: {hint}", past(*action))]
    IllegalTransition {
        status: ProductStatus,
        action: ProductAction,
        hint: &'static str,
    },
    /// The role may never take this action.
    #[error("a {role} may not {} a product", action.as_str())]
    Forbidden { role: Role, action: ProductAction },
}

fn past(a: ProductAction) -> &'static str {
    match a {
        ProductAction::Edit => "edited",
        ProductAction::Submit => "submitted",
        ProductAction::Approve => "approved",
        ProductAction::Reject => "rejected",
        ProductAction::Delist => "delisted",
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> CatalogError {
    CatalogError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The publishing workflow:
///
/// ```text
///  draft ──submit──▶ submitted ──approve──▶ listed ──delist──▶ delisted
///    ▲                   │                    │                   │
///    └─edit (in place)   └──reject──▶ rejected  edit = revision   └─submit (back to review)
///                                      │  ▲
///                                      └──┴ edit in place; submit again
/// ```
///
/// Sellers edit, submit and delist; the operator approves, rejects and may also delist (taking a
/// product off sale is a platform power). Editing does not change the status: in `draft`,
/// `rejected` and `delisted` it changes the product in place, in `listed` it creates a revision
/// that is reviewed on its own while the listed version stays on sale. Buyers and resellers
/// change nothing.
pub fn transition(
    status: ProductStatus,
    action: ProductAction,
    actor: Role,
) -> Result<ProductStatus, CatalogError> {
    use ProductAction as A;
    use ProductStatus as S;
    let allowed_role = match action {
        A::Edit | A::Submit => actor == Role::Seller,
        A::Approve | A::Reject => actor == Role::Operator,
        A::Delist => matches!(actor, Role::Seller | Role::Operator),
    };
    if !allowed_role {
        return Err(CatalogError::Forbidden {
            role: actor,
            action,
        });
    }
    let illegal = |hint| CatalogError::IllegalTransition {
        status,
        action,
        hint,
    };
    match (status, action) {
        (S::Draft | S::Rejected | S::Delisted | S::Listed, A::Edit) => Ok(status),
        (S::Submitted, A::Edit) => Err(illegal("it is under review; wait for the decision")),
        (S::Draft | S::Rejected | S::Delisted, A::Submit) => Ok(S::Submitted),
        (S::Submitted, A::Submit) => Err(illegal("it is already waiting for review")),
        (S::Listed, A::Submit) => Err(illegal(
            "it is on sale; edit it to submit a revision instead",
        )),
        (S::Submitted, A::Approve) => Ok(S::Listed),
        (S::Submitted, A::Reject) => Ok(S::Rejected),
        (_, A::Approve | A::Reject) => Err(illegal("only submitted products are reviewed")),
        (S::Listed, A::Delist) => Ok(S::Delisted),
        (_, A::Delist) => Err(illegal("only a listed product can be taken off sale")),
    }
}

/// A reviewer's reason for a rejection: 1–2000 characters.
pub fn parse_reject_reason(s: &str) -> Result<String, CatalogError> {
    text("reason", s, 2000)
}

/// Declared once each, in a fixed order; none declared is the general invoice. A list longer
/// than the kinds there are is refused (as the schema's `maxItems` says), not trimmed.
fn parse_invoice_types(
    types: &[crate::invoice::InvoiceType],
) -> Result<Vec<crate::invoice::InvoiceType>, CatalogError> {
    let all = crate::invoice::InvoiceType::ALL;
    if types.len() > all.len() {
        return Err(invalid(
            "invoice_types",
            format!(
                "declare each invoice type at most once ({} at most)",
                all.len()
            ),
        ));
    }
    let declared: Vec<_> = all.iter().copied().filter(|t| types.contains(t)).collect();
    Ok(if declared.is_empty() {
        crate::invoice::default_invoice_types()
    } else {
        declared
    })
}

fn parse_order_fields(fields: &[OrderField]) -> Result<Vec<OrderField>, CatalogError> {
    if fields.len() > MAX_ORDER_FIELDS {
        return Err(invalid(
            "order_fields",
            format!("a product has at most {MAX_ORDER_FIELDS} order fields"),
        ));
    }
    let mut names = BTreeSet::new();
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let field = format!("order_fields[{i}]");
            let name_ok = (1..=64).contains(&f.name.len())
                && f.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !name_ok {
                return Err(invalid(
                    format!("{field}.name"),
                    "a field name is 1–64 letters, digits, `_` or `-`",
                ));
            }
            if !names.insert(f.name.clone()) {
                return Err(invalid(
                    format!("{field}.name"),
                    format!("order field `{}` is declared twice", f.name),
                ));
            }
            Ok(OrderField {
                name: f.name.clone(),
                label: label(&format!("{field}.label"), &f.label, 100)?,
                required: f.required,
            })
        })
        .collect()
}

/// Checks what a buyer filled in against a product's order fields: every required one given,
/// no unknown ones, values one line of at most 256 characters. Returns them in the product's
/// order. `Err((field, message))`.
pub fn check_order_values(
    fields: &[OrderField],
    values: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, (String, String)> {
    if let Some(unknown) = values
        .keys()
        .find(|k| !fields.iter().any(|f| &f.name == *k))
    {
        return Err((
            format!("extend_params.{unknown}"),
            format!("this product has no order field `{unknown}`"),
        ));
    }
    let mut out = Vec::new();
    for f in fields {
        let key = format!("extend_params.{}", f.name);
        match values.get(&f.name).map(|v| v.trim()) {
            None | Some("") if f.required => {
                return Err((key, format!("`{}` is required", f.label)))
            }
            None | Some("") => {}
            Some(v) => {
                if v.chars().count() > MAX_ORDER_FIELD_VALUE || v.chars().any(char::is_control) {
                    return Err((
                        key,
                        format!("one line of at most {MAX_ORDER_FIELD_VALUE} characters"),
                    ));
                }
                out.push((f.name.clone(), v.to_owned()));
            }
        }
    }
    Ok(out)
}

fn text(field: &str, s: &str, max: usize) -> Result<String, CatalogError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(invalid(field, format!("{field} must not be empty")));
    }
    if t.chars().count() > max {
        return Err(invalid(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    if t.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(invalid(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    if let Some(problem) = crate::text::display_problem(t) {
        return Err(invalid(field, format!("{field} {problem}")));
    }
    Ok(t.to_owned())
}

/// A short single-line label (attribute names and values, units).
fn label(field: &str, s: &str, max: usize) -> Result<String, CatalogError> {
    let t = text(field, s, max)?;
    if t.chars().any(char::is_control) {
        return Err(invalid(field, format!("{field} must be a single line")));
    }
    Ok(t)
}

// ---------------------------------------------------------------------------------------------
// Input shapes (the API's JSON) and their parsed forms.
// ---------------------------------------------------------------------------------------------

/// The service agreement every product must state (PRODUCT.md §1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceAgreement {
    /// What the service includes; 1–20,000 characters.
    #[schema(
        min_length = 1,
        max_length = 20000,
        example = "Hosted monitoring with 99.9% monthly availability and e-mail support."
    )]
    pub content: String,
    /// When support answers, e.g. "Mon–Fri 09:00–18:00 (UTC+8)"; one line, 1–200 characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        example = "Mon-Fri 09:00-18:00 (UTC+8)"
    )]
    pub hours: String,
    /// Support phone number: digits, spaces and `+ - ( ) . / x`, at most 40 characters.
    #[schema(
        pattern = "^[0-9 +()./x-]*[0-9][0-9 +()./x-]*$",
        min_length = 1,
        max_length = 40,
        example = "+86 10 1234 5678"
    )]
    pub phone: String,
    /// Support e-mail address.
    #[schema(example = "support@acme.example")]
    pub email: String,
}

impl ServiceAgreement {
    fn parse(self) -> Result<ServiceAgreement, CatalogError> {
        let content = text("service_agreement.content", &self.content, 20_000)?;
        let hours = label("service_agreement.hours", &self.hours, 200)?;
        let phone = label("service_agreement.phone", &self.phone, 40)?;
        if !phone.chars().any(|c| c.is_ascii_digit())
            || !phone
                .chars()
                .all(|c| c.is_ascii_digit() || " +-()./x".contains(c))
        {
            return Err(invalid(
                "service_agreement.phone",
                "service_agreement.phone must be a phone number (digits, spaces, + - ( ) . /)",
            ));
        }
        let email = Email::parse(&self.email)
            .map_err(|m| invalid("service_agreement.email", m))?
            .as_str()
            .to_owned();
        Ok(ServiceAgreement {
            content,
            hours,
            phone,
            email,
        })
    }
}

/// An enumeration attribute (枚举属性): a name and the values a buyer chooses from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnumAttribute {
    /// e.g. "edition"; one line, 1–50 characters.
    #[schema(min_length = 1, max_length = 50, example = "edition")]
    pub name: String,
    /// e.g. ["basic", "pro", "enterprise"]; 1–20 distinct values of 1–100 characters.
    #[schema(min_items = 1, max_items = 20, example = json!(["basic", "pro"]))]
    pub values: Vec<String>,
}

/// The quantity attribute (数量属性): how many units the buyer takes, within bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuantityAttribute {
    /// e.g. "users"; one line, 1–50 characters.
    #[schema(min_length = 1, max_length = 50, example = "users")]
    pub name: String,
    /// e.g. "user", "GB", "Mbps"; one line, 1–30 characters.
    #[schema(min_length = 1, max_length = 30, example = "user")]
    pub unit: String,
    /// At least 1.
    #[schema(value_type = i64, minimum = 1, maximum = 4_294_967_295_i64, example = 1)]
    pub min: u32,
    /// At least `min`.
    #[schema(value_type = i64, minimum = 1, maximum = 4_294_967_295_i64, example = 500)]
    pub max: u32,
    /// The KooGallery linear field this quantity is sent as.
    pub wire_field: LinearField,
}

/// A field the buyer fills in when buying (e.g. a company name or a domain), sent to the seller
/// as KooGallery's `saasExtendParams` (V1) or the order query's `extendParams` (V2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderField {
    /// The name the seller's code reads; letters, digits, `_` and `-`, 1–64 characters.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$", example = "company")]
    pub name: String,
    /// What the buyer sees; one line, 1–100 characters.
    #[schema(min_length = 1, max_length = 100, example = "Company name")]
    pub label: String,
    /// Must the buyer fill it in?
    #[serde(default)]
    pub required: bool,
}

/// At most this many order fields per product.
pub const MAX_ORDER_FIELDS: usize = 10;
/// The longest value a buyer may give an order field.
pub const MAX_ORDER_FIELD_VALUE: usize = 256;

/// A price rule: `unit_price` for `billing_mode` on every SKU whose attributes include `sku`
/// (an empty `sku` means every SKU).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceInput {
    /// Attribute values selecting the SKUs this price applies to, e.g. {"edition": "pro"}.
    #[serde(default)]
    pub sku: BTreeMap<String, String>,
    pub billing_mode: BillingMode,
    /// Minor units of the product's currency, per quantity unit (per period for monthly and
    /// yearly; per unit of usage for on_demand), 0 to 10^12. Must be 0 for a trial; may be
    /// omitted there.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64, example = 9900)]
    pub amount_minor: i64,
    /// Trial length, 3–180 days; only for `billing_mode = trial`.
    #[serde(default)]
    #[schema(minimum = 3, maximum = 180)]
    pub trial_days: Option<u32>,
}

/// A product as the seller writes it (request body of `POST /v1/products`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// One line, 1–200 characters.
    #[schema(min_length = 1, max_length = 200, example = "Acme Monitor")]
    pub name: String,
    pub delivery_type: DeliveryType,
    /// e.g. "devops/monitoring"; one line, 1–100 characters.
    #[schema(min_length = 1, max_length = 100, example = "devops/monitoring")]
    pub category: String,
    /// 1–20,000 characters.
    #[schema(
        min_length = 1,
        max_length = 20000,
        example = "Hosted monitoring for small teams."
    )]
    pub description: String,
    /// 1–20,000 characters.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 20000)]
    pub usage_guide: Option<String>,
    pub service_agreement: ServiceAgreement,
    /// Whether orders are under service supervision (服务监管). Fixed once listed.
    #[serde(default)]
    pub supervised: bool,
    /// Supervised SaaS only: open the instance (the seller's newInstance) when the buyer
    /// accepts, not at payment (§3.2 "open after buyer acceptance"). Fixed once listed.
    #[serde(default)]
    pub open_after_acceptance: bool,
    /// ISO 4217 code; every price of the product is in it.
    #[schema(pattern = "^[A-Z]{3}$", example = "CNY")]
    pub currency: String,
    /// Up to 5 enum attributes, which make at most 200 SKUs together.
    #[serde(default)]
    #[schema(max_items = 5)]
    pub enum_attributes: Vec<EnumAttribute>,
    /// At most one quantity attribute.
    #[serde(default)]
    pub quantity: Option<QuantityAttribute>,
    /// At least one price.
    #[schema(min_items = 1)]
    pub prices: Vec<PriceInput>,
    /// Fields the buyer fills in when buying, at most 10 (sent to the seller).
    #[serde(default)]
    #[schema(max_items = 10)]
    pub order_fields: Vec<OrderField>,
    /// The invoices the seller issues on the product (§10); none given: `general`.
    #[serde(default)]
    #[schema(max_items = 2)]
    pub invoice_types: Vec<crate::invoice::InvoiceType>,
}

/// A change to a product (request body of `PATCH /v1/products/{id}`): every field present
/// replaces the current one; absent fields stay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    pub delivery_type: Option<DeliveryType>,
    #[schema(min_length = 1, max_length = 100)]
    pub category: Option<String>,
    #[schema(min_length = 1, max_length = 20000)]
    pub description: Option<String>,
    #[schema(min_length = 1, max_length = 20000)]
    pub usage_guide: Option<String>,
    pub service_agreement: Option<ServiceAgreement>,
    pub supervised: Option<bool>,
    pub open_after_acceptance: Option<bool>,
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: Option<String>,
    #[schema(max_items = 5)]
    pub enum_attributes: Option<Vec<EnumAttribute>>,
    /// Absent or `null` keeps the current one (a quantity attribute cannot be removed by PATCH).
    pub quantity: Option<QuantityAttribute>,
    #[schema(min_items = 1)]
    pub prices: Option<Vec<PriceInput>>,
    #[schema(max_items = 10)]
    pub order_fields: Option<Vec<OrderField>>,
    #[schema(max_items = 2)]
    pub invoice_types: Option<Vec<crate::invoice::InvoiceType>>,
}

impl ProductPatch {
    pub fn is_empty(&self) -> bool {
        *self == ProductPatch::default()
    }

    /// The product as it would be with this patch applied.
    pub fn apply(self, base: ProductInput) -> ProductInput {
        ProductInput {
            name: self.name.unwrap_or(base.name),
            delivery_type: self.delivery_type.unwrap_or(base.delivery_type),
            category: self.category.unwrap_or(base.category),
            description: self.description.unwrap_or(base.description),
            usage_guide: self.usage_guide.or(base.usage_guide),
            service_agreement: self.service_agreement.unwrap_or(base.service_agreement),
            supervised: self.supervised.unwrap_or(base.supervised),
            open_after_acceptance: self
                .open_after_acceptance
                .unwrap_or(base.open_after_acceptance),
            currency: self.currency.unwrap_or(base.currency),
            enum_attributes: self.enum_attributes.unwrap_or(base.enum_attributes),
            quantity: self.quantity.or(base.quantity),
            prices: self.prices.unwrap_or(base.prices),
            order_fields: self.order_fields.unwrap_or(base.order_fields),
            invoice_types: self.invoice_types.unwrap_or(base.invoice_types),
        }
    }
}

/// A product that passed every rule. Stored as JSON; read back without re-checking (the database
/// only holds specs that were parsed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductSpec {
    pub name: String,
    pub delivery_type: DeliveryType,
    pub category: String,
    pub description: String,
    pub usage_guide: Option<String>,
    pub service_agreement: ServiceAgreement,
    pub supervised: bool,
    /// Specs stored before the opening mode existed open at payment.
    #[serde(default)]
    pub open_after_acceptance: bool,
    pub currency: crate::money::Currency,
    pub enum_attributes: Vec<EnumAttribute>,
    pub quantity: Option<QuantityAttribute>,
    pub prices: Vec<PriceInput>,
    /// Specs stored before order fields existed read as none.
    #[serde(default)]
    pub order_fields: Vec<OrderField>,
    /// Specs stored before invoices existed offer the general invoice.
    #[serde(default = "crate::invoice::default_invoice_types")]
    pub invoice_types: Vec<crate::invoice::InvoiceType>,
}

impl From<ProductSpec> for ProductInput {
    fn from(s: ProductSpec) -> ProductInput {
        ProductInput {
            name: s.name,
            delivery_type: s.delivery_type,
            category: s.category,
            description: s.description,
            usage_guide: s.usage_guide,
            service_agreement: s.service_agreement,
            supervised: s.supervised,
            open_after_acceptance: s.open_after_acceptance,
            currency: s.currency.to_string(),
            enum_attributes: s.enum_attributes,
            quantity: s.quantity,
            prices: s.prices,
            order_fields: s.order_fields,
            invoice_types: s.invoice_types,
        }
    }
}

/// One price of one SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedPrice {
    pub billing_mode: BillingMode,
    pub amount_minor: i64,
    pub trial_days: Option<u32>,
    /// KooGallery `productId`: differs per SKU × billing mode (business rules §6.1).
    pub wire_product_id: String,
}

/// One SKU derived from a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedSku {
    /// The attribute values, canonically encoded; unique within a product. Finds the existing
    /// SKU for the same combination when a product is edited.
    pub attr_key: String,
    pub attributes: BTreeMap<String, String>,
    /// KooGallery `skuCode`: stable for the product × combination, whatever else changes.
    pub sku_code: String,
    /// Position in the cartesian product (first attribute varies slowest).
    pub position: u32,
    pub prices: Vec<PlannedPrice>,
}

impl ProductSpec {
    /// Checks every rule and returns the spec, or the first broken rule.
    pub fn parse(input: ProductInput) -> Result<ProductSpec, CatalogError> {
        let name = label("name", &input.name, 200)?;
        let category = label("category", &input.category, 100)?;
        let description = text("description", &input.description, 20_000)?;
        let usage_guide = input
            .usage_guide
            .as_deref()
            .map(|g| text("usage_guide", g, 20_000))
            .transpose()?;
        let service_agreement = input.service_agreement.parse()?;
        let currency: crate::money::Currency = input
            .currency
            .parse()
            .map_err(|e: crate::money::MoneyError| invalid("currency", e.to_string()))?;

        if input.enum_attributes.len() > MAX_ENUM_ATTRIBUTES {
            return Err(invalid(
                "enum_attributes",
                format!("a product has at most {MAX_ENUM_ATTRIBUTES} enum attributes"),
            ));
        }
        let mut names = BTreeSet::new();
        let mut enum_attributes = Vec::with_capacity(input.enum_attributes.len());
        let mut combinations: usize = 1;
        for (i, a) in input.enum_attributes.iter().enumerate() {
            let field = format!("enum_attributes[{i}]");
            let name = label(&format!("{field}.name"), &a.name, 50)?;
            if !names.insert(name.clone()) {
                return Err(invalid(
                    format!("{field}.name"),
                    format!("attribute `{name}` is declared twice"),
                ));
            }
            if a.values.is_empty() || a.values.len() > MAX_ENUM_VALUES {
                return Err(invalid(
                    format!("{field}.values"),
                    format!("an enum attribute has 1 to {MAX_ENUM_VALUES} values"),
                ));
            }
            let mut seen = BTreeSet::new();
            let mut values = Vec::with_capacity(a.values.len());
            for (j, v) in a.values.iter().enumerate() {
                let v = label(&format!("{field}.values[{j}]"), v, 100)?;
                if !seen.insert(v.clone()) {
                    return Err(invalid(
                        format!("{field}.values[{j}]"),
                        format!("value `{v}` appears twice in `{name}`"),
                    ));
                }
                values.push(v);
            }
            combinations = combinations.saturating_mul(values.len());
            enum_attributes.push(EnumAttribute { name, values });
        }
        if combinations > MAX_SKUS {
            return Err(invalid(
                "enum_attributes",
                format!(
                    "these attributes make {combinations} SKUs; at most {MAX_SKUS} are allowed"
                ),
            ));
        }
        let quantity = input
            .quantity
            .as_ref()
            .map(|q| -> Result<QuantityAttribute, CatalogError> {
                let name = label("quantity.name", &q.name, 50)?;
                if names.contains(&name) {
                    return Err(invalid(
                        "quantity.name",
                        format!("attribute `{name}` is declared twice"),
                    ));
                }
                let unit = label("quantity.unit", &q.unit, 30)?;
                if q.min == 0 || q.max < q.min {
                    return Err(invalid("quantity", "quantity bounds need 1 ≤ min ≤ max"));
                }
                Ok(QuantityAttribute {
                    name,
                    unit,
                    min: q.min,
                    max: q.max,
                    wire_field: q.wire_field,
                })
            })
            .transpose()?;

        if input.open_after_acceptance
            && !(input.supervised && input.delivery_type == DeliveryType::Saas)
        {
            return Err(invalid(
                "open_after_acceptance",
                "opening after buyer acceptance is for supervised SaaS products only",
            ));
        }
        let mut spec = ProductSpec {
            name,
            delivery_type: input.delivery_type,
            category,
            description,
            usage_guide,
            service_agreement,
            supervised: input.supervised,
            open_after_acceptance: input.open_after_acceptance,
            currency,
            enum_attributes,
            quantity,
            prices: Vec::new(),
            order_fields: parse_order_fields(&input.order_fields)?,
            invoice_types: parse_invoice_types(&input.invoice_types)?,
        };
        spec.prices = spec.parse_prices(input.prices)?;
        Ok(spec)
    }

    fn parse_prices(&self, prices: Vec<PriceInput>) -> Result<Vec<PriceInput>, CatalogError> {
        if prices.is_empty() {
            return Err(invalid("prices", "a product needs at least one price"));
        }
        let combos = self.combinations();
        // (combination index, mode) → price index, to find overlaps.
        let mut assigned: BTreeMap<(usize, BillingMode), usize> = BTreeMap::new();
        let mut out = Vec::with_capacity(prices.len());
        for (i, p) in prices.into_iter().enumerate() {
            let field = format!("prices[{i}]");
            if !self.delivery_type.allows(p.billing_mode) {
                return Err(invalid(
                    format!("{field}.billing_mode"),
                    format!(
                        "a {} product cannot be sold {}",
                        self.delivery_type, p.billing_mode
                    ),
                ));
            }
            for (k, v) in &p.sku {
                let Some(attr) = self.enum_attributes.iter().find(|a| &a.name == k) else {
                    return Err(invalid(
                        format!("{field}.sku"),
                        format!("there is no enum attribute `{k}`"),
                    ));
                };
                if !attr.values.contains(v) {
                    return Err(invalid(
                        format!("{field}.sku"),
                        format!("`{v}` is not a value of `{k}`"),
                    ));
                }
            }
            if p.billing_mode == BillingMode::Trial {
                match p.trial_days {
                    Some(d) if TRIAL_DAYS.contains(&d) => {}
                    _ => {
                        return Err(invalid(
                            format!("{field}.trial_days"),
                            format!(
                                "a trial lasts {} to {} days",
                                TRIAL_DAYS.start(),
                                TRIAL_DAYS.end()
                            ),
                        ))
                    }
                }
                if p.amount_minor != 0 {
                    return Err(invalid(
                        format!("{field}.amount_minor"),
                        "a trial is free: amount_minor must be 0",
                    ));
                }
            } else {
                if p.trial_days.is_some() {
                    return Err(invalid(
                        format!("{field}.trial_days"),
                        "trial_days belongs to billing_mode `trial` only",
                    ));
                }
                if !(0..=MAX_UNIT_PRICE_MINOR).contains(&p.amount_minor) {
                    return Err(invalid(
                        format!("{field}.amount_minor"),
                        format!("a price is 0 to {MAX_UNIT_PRICE_MINOR} minor units"),
                    ));
                }
            }
            let mut matched = false;
            for (c, combo) in combos.iter().enumerate() {
                if p.sku.iter().all(|(k, v)| combo.get(k) == Some(v)) {
                    matched = true;
                    if let Some(prev) = assigned.insert((c, p.billing_mode), i) {
                        return Err(invalid(
                            field,
                            format!(
                                "prices[{prev}] and prices[{i}] both set the {} price of SKU {}",
                                p.billing_mode,
                                describe(combo)
                            ),
                        ));
                    }
                }
            }
            debug_assert!(matched, "a validated selector matches at least one SKU");
            out.push(p);
        }
        for (c, combo) in combos.iter().enumerate() {
            let modes: Vec<BillingMode> = assigned
                .range((c, BillingMode::Monthly)..=(c, BillingMode::Package))
                .map(|((_, m), _)| *m)
                .collect();
            if !modes.iter().any(|m| *m != BillingMode::Trial) {
                return Err(invalid(
                    "prices",
                    format!("SKU {} has no price", describe(combo)),
                ));
            }
            if modes.contains(&BillingMode::Trial) && !modes.iter().any(BillingMode::is_period) {
                return Err(invalid(
                    "prices",
                    format!(
                        "SKU {} offers a trial but no monthly or yearly price; trials exist only on subscriptions",
                        describe(combo)
                    ),
                ));
            }
        }
        Ok(out)
    }

    /// The cartesian product of the enum attributes' values, first attribute slowest; one empty
    /// combination when there are none.
    pub fn combinations(&self) -> Vec<BTreeMap<String, String>> {
        let mut out = vec![BTreeMap::new()];
        for a in &self.enum_attributes {
            out = out
                .into_iter()
                .flat_map(|combo| {
                    a.values.iter().map(move |v| {
                        let mut c = combo.clone();
                        c.insert(a.name.clone(), v.clone());
                        c
                    })
                })
                .collect();
        }
        out
    }

    /// The SKUs of this spec for `product_id`, with their prices. Deterministic: the same spec
    /// and product always give the same codes.
    pub fn skus(&self, product_id: &str) -> Vec<PlannedSku> {
        self.combinations()
            .into_iter()
            .enumerate()
            .map(|(position, attributes)| {
                let attr_key = attr_key(&attributes);
                let sku_code = sku_code(product_id, &attr_key);
                let mut prices: Vec<PlannedPrice> = self
                    .prices
                    .iter()
                    .filter(|p| p.sku.iter().all(|(k, v)| attributes.get(k) == Some(v)))
                    .map(|p| PlannedPrice {
                        billing_mode: p.billing_mode,
                        amount_minor: p.amount_minor,
                        trial_days: p.trial_days,
                        wire_product_id: wire_product_id(&sku_code, p.billing_mode),
                    })
                    .collect();
                prices.sort_by_key(|p| p.billing_mode);
                PlannedSku {
                    attr_key,
                    attributes,
                    sku_code,
                    position: position as u32,
                    prices,
                }
            })
            .collect()
    }
}

fn describe(combo: &BTreeMap<String, String>) -> String {
    if combo.is_empty() {
        return "(the only SKU)".to_owned();
    }
    let parts: Vec<String> = combo.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", parts.join(", "))
}

/// The canonical encoding of an attribute combination: `name=value` pairs sorted by name,
/// separated by U+001F (labels cannot contain control characters, so this is unambiguous).
pub fn attr_key(attributes: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.join("\u{1f}")
}

fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..16])
}

/// KooGallery `skuCode` of a combination: 32 hex characters derived from the product id and the
/// combination, so it never changes while the product lives.
pub fn sku_code(product_id: &str, attr_key: &str) -> String {
    short_hash(&["souk-sku", product_id, attr_key])
}

/// KooGallery `productId` of one SKU sold in one billing mode.
pub fn wire_product_id(sku_code: &str, mode: BillingMode) -> String {
    short_hash(&["souk-product", sku_code, mode.as_str()])
}

/// The associated-data context under which a product's seller key is sealed at rest. Both the
/// catalog (which seals it) and the provisioning workers (which open it) use this one string.
pub fn seller_key_context(product_id: &str) -> String {
    format!("seller_key:{product_id}")
}

/// What may change once a product has been on sale (business rules §6.1–6.3):
///
/// - delivery type, currency and the supervision flag are fixed;
/// - no enum attribute is added, removed or renamed, and no value is removed; new values may be
///   added (they make new SKUs, "packages may be added but never deleted");
/// - the quantity attribute does not change at all;
/// - an existing SKU keeps every billing mode it was sold in (prices may change, modes may be
///   added), and its trial cannot be withdrawn or re-timed.
///
/// Descriptions, the service agreement and prices are free to change.
pub fn check_revision(current: &ProductSpec, proposed: &ProductSpec) -> Result<(), CatalogError> {
    if current.delivery_type != proposed.delivery_type {
        return Err(invalid(
            "delivery_type",
            "the delivery type cannot change once a product has been listed",
        ));
    }
    if current.currency != proposed.currency {
        return Err(invalid(
            "currency",
            "the currency cannot change once a product has been listed",
        ));
    }
    if current.open_after_acceptance != proposed.open_after_acceptance {
        return Err(invalid(
            "open_after_acceptance",
            "the opening mode cannot change once a product has been listed",
        ));
    }
    if current.supervised != proposed.supervised {
        return Err(invalid(
            "supervised",
            "the supervision flag cannot change once a product has been listed",
        ));
    }
    let cur_names: Vec<&str> = current
        .enum_attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    let new_names: Vec<&str> = proposed
        .enum_attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    if cur_names != new_names {
        return Err(invalid(
            "enum_attributes",
            "attributes cannot be added, removed, renamed or reordered once a product has been listed; only new values may be added",
        ));
    }
    for (i, (c, n)) in current
        .enum_attributes
        .iter()
        .zip(&proposed.enum_attributes)
        .enumerate()
    {
        if let Some(missing) = c.values.iter().find(|v| !n.values.contains(v)) {
            return Err(invalid(
                format!("enum_attributes[{i}].values"),
                format!(
                    "value `{missing}` of `{}` is on sale and cannot be removed; delist its SKUs instead",
                    c.name
                ),
            ));
        }
    }
    if current.quantity != proposed.quantity {
        return Err(invalid(
            "quantity",
            "the quantity attribute cannot change once a product has been listed",
        ));
    }
    // Compare per SKU; the product id does not matter for this comparison.
    let new_skus: BTreeMap<String, PlannedSku> = proposed
        .skus("")
        .into_iter()
        .map(|s| (s.attr_key.clone(), s))
        .collect();
    for old in current.skus("") {
        let Some(new) = new_skus.get(&old.attr_key) else {
            continue; // unreachable: values were only added
        };
        for p in &old.prices {
            let same_mode = new.prices.iter().find(|n| n.billing_mode == p.billing_mode);
            match same_mode {
                None => {
                    return Err(invalid(
                        "prices",
                        format!(
                            "SKU {} is sold {}; that price can change but not disappear",
                            describe(&old.attributes),
                            p.billing_mode
                        ),
                    ))
                }
                Some(n) if p.billing_mode == BillingMode::Trial && n.trial_days != p.trial_days => {
                    return Err(invalid(
                        "prices",
                        format!(
                            "the trial of SKU {} cannot be re-timed once published",
                            describe(&old.attributes)
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Integration profile.
// ---------------------------------------------------------------------------------------------

/// The seller's integration profile as written (request body of
/// `PUT /v1/products/{id}/integration`, and the `integration` of a new product).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationInput {
    pub protocol: Protocol,
    /// The seller's production endpoint, `https://…` (http and private hosts only where the
    /// operator allows them); at most 1024 characters.
    #[schema(max_length = 1024, example = "https://isv.acme.example/produceAPI")]
    pub production_url: String,
    /// The KooGallery "Key" used to sign requests and encrypt credentials. Write-only. Required
    /// the first time; omit it later to keep the stored one.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub key: Option<String>,
    /// AES key size for personal data sent to the seller: 128 or 256 (default 256).
    #[serde(default)]
    #[schema(minimum = 128, maximum = 256, multiple_of = 128)]
    pub pii_encrypt_bits: Option<u16>,
    /// Which buyer attributes Souk sends (default: none).
    #[serde(default)]
    pub buyer_fields: Vec<BuyerField>,
    /// License products only (default `seller_issued`).
    #[serde(default)]
    pub license_mode: Option<LicenseMode>,
}

/// A seller key: 1–128 characters. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SellerKey(String);

impl SellerKey {
    pub fn parse(s: &str) -> Result<SellerKey, CatalogError> {
        if s.is_empty() || s.chars().count() > 128 {
            return Err(invalid("integration.key", "the key is 1 to 128 characters"));
        }
        if s.chars().any(char::is_control) {
            return Err(invalid(
                "integration.key",
                "the key must not contain control characters",
            ));
        }
        Ok(SellerKey(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SellerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SellerKey(***)")
    }
}

/// An integration profile that passed every rule.
#[derive(Debug, Clone)]
pub struct Integration {
    pub protocol: Protocol,
    pub production_url: EndpointUrl,
    /// `None`: keep the stored key.
    pub key: Option<SellerKey>,
    pub pii_encrypt_bits: u16,
    pub buyer_fields: Vec<BuyerField>,
    /// `Some` exactly for License products.
    pub license_mode: Option<LicenseMode>,
}

impl Integration {
    /// `key_stored`: whether a key is already stored (then `key` may be omitted).
    pub fn parse(
        input: IntegrationInput,
        delivery_type: DeliveryType,
        allow_private: bool,
        key_stored: bool,
    ) -> Result<Integration, CatalogError> {
        let production_url = EndpointUrl::parse(&input.production_url, allow_private)
            .map_err(|e: EndpointError| invalid("integration.production_url", e.to_string()))?;
        let key = input.key.as_deref().map(SellerKey::parse).transpose()?;
        if key.is_none() && !key_stored {
            return Err(invalid(
                "integration.key",
                "the seller key is required when no key is stored yet",
            ));
        }
        let pii_encrypt_bits = input.pii_encrypt_bits.unwrap_or(256);
        if !matches!(pii_encrypt_bits, 128 | 256) {
            return Err(invalid(
                "integration.pii_encrypt_bits",
                "pii_encrypt_bits is 128 or 256",
            ));
        }
        let mut buyer_fields = input.buyer_fields;
        buyer_fields.sort();
        buyer_fields.dedup();
        let license_mode = match (delivery_type, input.license_mode) {
            (DeliveryType::License, m) => Some(m.unwrap_or(LicenseMode::SellerIssued)),
            (_, None) => None,
            (_, Some(_)) => {
                return Err(invalid(
                    "integration.license_mode",
                    "license_mode applies to License products only",
                ))
            }
        };
        Ok(Integration {
            protocol: input.protocol,
            production_url,
            key,
            pii_encrypt_bits,
            buyer_fields,
            license_mode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreement() -> ServiceAgreement {
        ServiceAgreement {
            content: "Hosted monitoring with 99.9% availability".into(),
            hours: "Mon-Fri 09:00-18:00 UTC+8".into(),
            phone: "+86 10 1234 5678".into(),
            email: "support@acme.example".into(),
        }
    }

    fn price(sku: &[(&str, &str)], mode: BillingMode, amount: i64) -> PriceInput {
        PriceInput {
            sku: sku
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            billing_mode: mode,
            amount_minor: amount,
            trial_days: None,
        }
    }

    fn input() -> ProductInput {
        ProductInput {
            name: "Acme Monitor".into(),
            delivery_type: DeliveryType::Saas,
            category: "devops".into(),
            description: "Watches things".into(),
            usage_guide: None,
            service_agreement: agreement(),
            supervised: false,
            open_after_acceptance: false,
            currency: "CNY".into(),
            enum_attributes: vec![
                EnumAttribute {
                    name: "edition".into(),
                    values: vec!["basic".into(), "pro".into(), "enterprise".into()],
                },
                EnumAttribute {
                    name: "region".into(),
                    values: vec!["cn".into(), "eu".into()],
                },
            ],
            quantity: Some(QuantityAttribute {
                name: "users".into(),
                unit: "user".into(),
                min: 1,
                max: 500,
                wire_field: LinearField::Amount,
            }),
            prices: vec![
                price(&[], BillingMode::Monthly, 1000),
                price(&[("edition", "pro")], BillingMode::Yearly, 90_000),
            ],
            order_fields: vec![],
            invoice_types: vec![],
        }
    }

    #[test]
    fn invoice_types_are_declared_once_each_and_none_is_the_general_invoice() {
        use crate::invoice::InvoiceType::{General, Special};
        let mut i = input();
        assert_eq!(
            ProductSpec::parse(i.clone()).unwrap().invoice_types,
            [General]
        );
        i.invoice_types = vec![Special, General, Special];
        assert_eq!(
            field_of(ProductSpec::parse(i.clone()).unwrap_err()),
            "invoice_types"
        );
        i.invoice_types = vec![Special, General];
        assert_eq!(
            ProductSpec::parse(i).unwrap().invoice_types,
            [General, Special]
        );
    }

    #[test]
    fn order_fields_are_declared_once_and_filled_in_as_declared() {
        let field = |name: &str, required| OrderField {
            name: name.into(),
            label: format!("The {name}"),
            required,
        };
        let mut i = input();
        i.order_fields = vec![field("company", true), field("domain", false)];
        let spec = ProductSpec::parse(i.clone()).unwrap();
        assert_eq!(spec.order_fields.len(), 2);
        i.order_fields = vec![field("company", true), field("company", false)];
        assert_eq!(
            field_of(ProductSpec::parse(i.clone()).unwrap_err()),
            "order_fields[1].name"
        );
        i.order_fields = vec![field("bad name", true)];
        assert_eq!(
            field_of(ProductSpec::parse(i).unwrap_err()),
            "order_fields[0].name"
        );

        let values = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        let fields = &spec.order_fields;
        assert_eq!(
            check_order_values(
                fields,
                &values(&[("domain", "acme.example"), ("company", "Acme")])
            ),
            Ok(vec![
                ("company".into(), "Acme".into()),
                ("domain".into(), "acme.example".into())
            ])
        );
        assert_eq!(
            check_order_values(fields, &values(&[("domain", "x")]))
                .unwrap_err()
                .0,
            "extend_params.company"
        );
        assert_eq!(
            check_order_values(fields, &values(&[("company", "A"), ("nope", "x")]))
                .unwrap_err()
                .0,
            "extend_params.nope"
        );
        let long = "x".repeat(MAX_ORDER_FIELD_VALUE + 1);
        assert!(check_order_values(fields, &values(&[("company", &long)])).is_err());
    }

    fn field_of(e: CatalogError) -> String {
        match e {
            CatalogError::Invalid { field, .. } => field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn skus_are_the_cartesian_product_with_stable_codes() {
        let spec = ProductSpec::parse(input()).unwrap();
        let skus = spec.skus("prd_x");
        assert_eq!(skus.len(), 6);
        assert_eq!(skus[0].attributes["edition"], "basic");
        assert_eq!(skus[0].attributes["region"], "cn");
        assert_eq!(skus[1].attributes["region"], "eu");
        let codes: BTreeSet<&str> = skus.iter().map(|s| s.sku_code.as_str()).collect();
        assert_eq!(codes.len(), 6, "codes are distinct");
        assert_eq!(spec.skus("prd_x")[3].sku_code, skus[3].sku_code, "stable");
        assert_ne!(spec.skus("prd_y")[3].sku_code, skus[3].sku_code);
        // Pro SKUs have monthly and yearly, with distinct wire product ids.
        let pro = skus
            .iter()
            .find(|s| s.attributes["edition"] == "pro")
            .unwrap();
        assert_eq!(pro.prices.len(), 2);
        assert_ne!(pro.prices[0].wire_product_id, pro.prices[1].wire_product_id);
        assert_eq!(skus[0].prices.len(), 1);
    }

    #[test]
    fn no_enum_attributes_make_one_sku() {
        let mut i = input();
        i.enum_attributes.clear();
        i.prices = vec![price(&[], BillingMode::OneTime, 5)];
        let spec = ProductSpec::parse(i).unwrap();
        let skus = spec.skus("prd_x");
        assert_eq!(skus.len(), 1);
        assert!(skus[0].attributes.is_empty());
    }

    #[test]
    fn adding_a_value_keeps_existing_codes() {
        let spec = ProductSpec::parse(input()).unwrap();
        let mut more = input();
        more.enum_attributes[0].values.push("flagship".into());
        let more = ProductSpec::parse(more).unwrap();
        let old: BTreeMap<String, String> = spec
            .skus("p")
            .into_iter()
            .map(|s| (s.attr_key, s.sku_code))
            .collect();
        let new = more.skus("p");
        assert_eq!(new.len(), 8);
        for s in new {
            if let Some(code) = old.get(&s.attr_key) {
                assert_eq!(code, &s.sku_code);
            }
        }
    }

    #[test]
    fn bad_values_name_their_field() {
        type Mutate = Box<dyn Fn(&mut ProductInput)>;
        let cases: Vec<(Mutate, &str)> = vec![
            (Box::new(|i| i.name = "  ".into()), "name"),
            (Box::new(|i| i.currency = "yuan".into()), "currency"),
            (
                Box::new(|i| i.service_agreement.phone = "".into()),
                "service_agreement.phone",
            ),
            (
                Box::new(|i| i.service_agreement.phone = "call us".into()),
                "service_agreement.phone",
            ),
            (
                Box::new(|i| i.service_agreement.email = "nobody".into()),
                "service_agreement.email",
            ),
            (
                Box::new(|i| i.service_agreement.hours = " ".into()),
                "service_agreement.hours",
            ),
            (
                Box::new(|i| i.service_agreement.content = "".into()),
                "service_agreement.content",
            ),
            (
                Box::new(|i| i.prices[0].amount_minor = -1),
                "prices[0].amount_minor",
            ),
            (
                Box::new(|i| {
                    i.enum_attributes = (0..6)
                        .map(|n| EnumAttribute {
                            name: format!("a{n}"),
                            values: vec!["x".into()],
                        })
                        .collect()
                }),
                "enum_attributes",
            ),
            (
                Box::new(|i| i.enum_attributes[0].values.clear()),
                "enum_attributes[0].values",
            ),
            (
                Box::new(|i| {
                    i.enum_attributes[0].values = (0..21).map(|n| n.to_string()).collect()
                }),
                "enum_attributes[0].values",
            ),
            (
                Box::new(|i| i.enum_attributes[1].values.push("cn".into())),
                "enum_attributes[1].values[2]",
            ),
            (
                Box::new(|i| i.enum_attributes[1].name = "edition".into()),
                "enum_attributes[1].name",
            ),
            (
                Box::new(|i| i.quantity.as_mut().unwrap().name = "edition".into()),
                "quantity.name",
            ),
            (
                Box::new(|i| i.quantity.as_mut().unwrap().min = 0),
                "quantity",
            ),
            (
                Box::new(|i| i.prices[1].sku = [("colour".into(), "red".into())].into()),
                "prices[1].sku",
            ),
            (
                Box::new(|i| i.prices[1].sku = [("edition".into(), "gold".into())].into()),
                "prices[1].sku",
            ),
            (Box::new(|i| i.prices.clear()), "prices"),
            (
                Box::new(|i| {
                    i.prices = vec![price(&[("edition", "pro")], BillingMode::Monthly, 1)]
                }),
                "prices",
            ),
            (
                Box::new(|i| {
                    i.prices
                        .push(price(&[("region", "cn")], BillingMode::Monthly, 1))
                }),
                "prices[2]",
            ),
            (
                Box::new(|i| {
                    i.delivery_type = DeliveryType::Hardware;
                }),
                "prices[0].billing_mode",
            ),
        ];
        for (mutate, expected) in cases {
            let mut i = input();
            mutate(&mut i);
            let got = field_of(ProductSpec::parse(i).unwrap_err());
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn trials_follow_the_rules() {
        let trial = |days: Option<u32>, amount: i64| PriceInput {
            sku: BTreeMap::new(),
            billing_mode: BillingMode::Trial,
            amount_minor: amount,
            trial_days: days,
        };
        for (days, amount, field) in [
            (Some(1), 0, "prices[2].trial_days"),
            (Some(181), 0, "prices[2].trial_days"),
            (None, 0, "prices[2].trial_days"),
            (Some(7), 100, "prices[2].amount_minor"),
        ] {
            let mut i = input();
            i.prices.push(trial(days, amount));
            assert_eq!(field_of(ProductSpec::parse(i).unwrap_err()), field);
        }
        let mut i = input();
        i.prices.push(trial(Some(3), 0));
        assert!(ProductSpec::parse(i.clone()).is_ok());
        i.prices[2].trial_days = Some(180);
        assert!(ProductSpec::parse(i).is_ok());
        // A trial needs a subscription price on the same SKU.
        let mut i = input();
        i.prices = vec![price(&[], BillingMode::OneTime, 10), trial(Some(7), 0)];
        assert_eq!(field_of(ProductSpec::parse(i).unwrap_err()), "prices");
        // trial_days outside a trial.
        let mut i = input();
        i.prices[0].trial_days = Some(7);
        assert_eq!(
            field_of(ProductSpec::parse(i).unwrap_err()),
            "prices[0].trial_days"
        );
    }

    #[test]
    fn too_many_skus_are_refused() {
        let mut i = input();
        i.enum_attributes = (0..3)
            .map(|n| EnumAttribute {
                name: format!("a{n}"),
                values: (0..7).map(|v| v.to_string()).collect(),
            })
            .collect();
        i.prices = vec![price(&[], BillingMode::Monthly, 1)];
        assert_eq!(
            field_of(ProductSpec::parse(i).unwrap_err()),
            "enum_attributes"
        );
    }

    #[test]
    fn the_workflow_allows_exactly_the_documented_moves() {
        use ProductAction as A;
        use ProductStatus as S;
        assert_eq!(
            transition(S::Draft, A::Submit, Role::Seller),
            Ok(S::Submitted)
        );
        assert_eq!(
            transition(S::Submitted, A::Approve, Role::Operator),
            Ok(S::Listed)
        );
        assert_eq!(
            transition(S::Submitted, A::Reject, Role::Operator),
            Ok(S::Rejected)
        );
        assert_eq!(
            transition(S::Rejected, A::Edit, Role::Seller),
            Ok(S::Rejected)
        );
        assert_eq!(
            transition(S::Rejected, A::Submit, Role::Seller),
            Ok(S::Submitted)
        );
        assert_eq!(transition(S::Listed, A::Edit, Role::Seller), Ok(S::Listed));
        assert_eq!(
            transition(S::Listed, A::Delist, Role::Seller),
            Ok(S::Delisted)
        );
        assert_eq!(
            transition(S::Listed, A::Delist, Role::Operator),
            Ok(S::Delisted)
        );
        assert_eq!(
            transition(S::Delisted, A::Submit, Role::Seller),
            Ok(S::Submitted)
        );
        for (s, a, r) in [
            (S::Submitted, A::Edit, Role::Seller),
            (S::Draft, A::Approve, Role::Operator),
            (S::Listed, A::Submit, Role::Seller),
            (S::Draft, A::Delist, Role::Seller),
            (S::Submitted, A::Submit, Role::Seller),
            (S::Listed, A::Reject, Role::Operator),
        ] {
            assert!(
                matches!(
                    transition(s, a, r),
                    Err(CatalogError::IllegalTransition { .. })
                ),
                "{s} {a:?}"
            );
        }
        for (a, r) in [
            (A::Approve, Role::Seller),
            (A::Approve, Role::Buyer),
            (A::Submit, Role::Operator),
            (A::Edit, Role::Buyer),
            (A::Delist, Role::Reseller),
        ] {
            assert!(matches!(
                transition(S::Submitted, a, r),
                Err(CatalogError::Forbidden { .. })
            ));
        }
    }

    #[test]
    fn revisions_keep_what_is_on_sale() {
        let current = ProductSpec::parse(input()).unwrap();
        let ok = |f: &dyn Fn(&mut ProductInput)| {
            let mut i = input();
            f(&mut i);
            check_revision(&current, &ProductSpec::parse(i).unwrap())
        };
        assert!(ok(&|i| i.description = "Better".into()).is_ok());
        assert!(ok(&|i| i.prices[0].amount_minor = 1200).is_ok());
        assert!(ok(&|i| i.enum_attributes[1].values.push("us".into())).is_ok());
        assert!(ok(&|i| i.prices.push(price(&[], BillingMode::OneTime, 5))).is_ok());
        for (f, field) in [
            (
                Box::new(|i: &mut ProductInput| {
                    i.enum_attributes[1].values.pop().map(|_| ()).unwrap_or(())
                }) as Box<dyn Fn(&mut ProductInput)>,
                "enum_attributes[1].values",
            ),
            (
                Box::new(|i: &mut ProductInput| {
                    i.enum_attributes.pop();
                }),
                "enum_attributes",
            ),
            (
                Box::new(|i: &mut ProductInput| i.currency = "USD".into()),
                "currency",
            ),
            (
                Box::new(|i: &mut ProductInput| i.supervised = true),
                "supervised",
            ),
            (
                Box::new(|i: &mut ProductInput| i.quantity.as_mut().unwrap().max = 9),
                "quantity",
            ),
            (
                Box::new(|i: &mut ProductInput| {
                    i.prices.pop();
                }),
                "prices",
            ),
        ] {
            assert_eq!(field_of(ok(&*f).unwrap_err()), field);
        }
    }

    #[test]
    fn integration_profiles_are_checked() {
        let base = IntegrationInput {
            protocol: Protocol::V2,
            production_url: "https://isv.example.com/produce".into(),
            key: Some("k".repeat(32)),
            pii_encrypt_bits: None,
            buyer_fields: vec![BuyerField::Email, BuyerField::Email, BuyerField::UserId],
            license_mode: None,
        };
        let p = Integration::parse(base.clone(), DeliveryType::Saas, false, false).unwrap();
        assert_eq!(p.pii_encrypt_bits, 256);
        assert_eq!(p.buyer_fields, vec![BuyerField::UserId, BuyerField::Email]);
        assert_eq!(p.license_mode, None);
        assert!(!format!("{:?}", p.key).contains("kkkk"));
        let lic = Integration::parse(base.clone(), DeliveryType::License, false, false).unwrap();
        assert_eq!(lic.license_mode, Some(LicenseMode::SellerIssued));

        let field = |i: IntegrationInput, stored: bool| match Integration::parse(
            i,
            DeliveryType::Saas,
            false,
            stored,
        ) {
            Err(CatalogError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let mut i = base.clone();
        i.production_url = "http://127.0.0.1/produce".into();
        assert_eq!(field(i, false), "integration.production_url");
        let mut i = base.clone();
        i.key = None;
        assert_eq!(field(i.clone(), false), "integration.key");
        assert!(Integration::parse(i, DeliveryType::Saas, false, true).is_ok());
        let mut i = base.clone();
        i.key = Some("k".repeat(129));
        assert_eq!(field(i, false), "integration.key");
        let mut i = base.clone();
        i.pii_encrypt_bits = Some(192);
        assert_eq!(field(i, false), "integration.pii_encrypt_bits");
        let mut i = base;
        i.license_mode = Some(LicenseMode::SoukCodes);
        assert_eq!(field(i, false), "integration.license_mode");
    }

    #[test]
    fn wire_names_round_trip() {
        for d in DeliveryType::ALL {
            assert_eq!(d.as_str().parse::<DeliveryType>().unwrap(), *d);
        }
        assert!("saas ".parse::<DeliveryType>().is_err());
        assert_eq!(LinearField::DiskSize.as_str(), "diskSize");
        assert!(BillingMode::OnDemand.is_purchasable());
        assert!(BillingMode::Package.is_purchasable());
        assert!(BillingMode::Trial.is_purchasable());
        assert_eq!(seller_key_context("prd_1"), "seller_key:prd_1");
    }
}
