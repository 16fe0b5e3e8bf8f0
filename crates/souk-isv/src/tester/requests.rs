//! The requests the tester sends. Every one is a souk-protocol typed activity (V1 or V2), the
//! same types the marketplace server builds its calls from, so the tester cannot drift from
//! the wire contract. The deliberate manipulations (wrong key, a value altered after signing,
//! a stale timestamp, an undecryptable buyer detail) act on the typed struct or on the signed
//! parameters / bytes, never on hand-spelled parameter names.

use rand::rngs::OsRng;
use rand::Rng;
use souk_protocol::activity::values::{
    ChargingMode, FreezeStatus, InstanceState, PeriodType, RefreshScene, TestFlag,
};
use souk_protocol::activity::{v1, v2, V1Activity, V2Activity};
use souk_protocol::credentials::encrypt_random_iv;
use souk_protocol::query::{encode_params, encode_query};
use souk_protocol::timestamp::WireTime;
use souk_protocol::v1::{sign_v1_params, AUTH_TOKEN};
use souk_protocol::v2::V2Credentials;
use souk_protocol::{Params, SellerKey};
use time::OffsetDateTime;

use super::{random_upper, Runner};

/// Every call the tester makes is a debugging call (`testFlag=1`).
const TEST: Option<TestFlag> = Some(TestFlag::Debug);

/// The buyer the tester sends (V1 newInstance / getLicense).
const BUYER_ID: &str = "68cbc86abc2018ab880d92f36422fa0e";
const BUYER_NAME: &str = "isv-test buyer";
/// The buyer details isv-test sends when the product uses them (`--buyer-pii`).
const TEST_EMAIL: &str = "isv-test.buyer@example.com";
const TEST_PHONE: &str = "+8613800000000";
/// The product and specification bought, and the ones an upgrade moves to.
const PRODUCT: &str = "00301-666666-0--0";
const SKU: &str = "isv-test-sku";
const UPGRADED_PRODUCT: &str = "00301-666666-0--1";
const UPGRADED_SKU: &str = "isv-test-sku-large";
const UPGRADED_AMOUNT: u64 = 20;

/// A request ready to send (and to save as a case).
#[derive(Clone, Debug)]
pub(super) struct Prepared {
    pub(super) activity: &'static str,
    pub(super) post: bool,
    pub(super) query: String,
    pub(super) body: Vec<u8>,
}

/// A fresh marketplace `businessId` (a UUID, different on every call).
fn business_id() -> String {
    let h = hex::encode(OsRng.gen::<[u8; 16]>());
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The V2 order line of a tester order (one line per order).
fn order_line(order_id: &str) -> String {
    format!("{order_id}-000001")
}

/// A buyer detail of V1 newInstance that the product decrypts (`--buyer-pii`).
#[derive(Clone, Copy, Debug)]
pub(super) enum BuyerDetail {
    Email,
    MobilePhone,
}

impl BuyerDetail {
    /// Replaces this detail of `request` by `value`.
    fn set(self, request: &mut v1::NewInstance, value: String) {
        match self {
            BuyerDetail::Email => request.email = Some(value),
            BuyerDetail::MobilePhone => request.mobile_phone = Some(value),
        }
    }
}

impl Runner {
    fn now(&self) -> OffsetDateTime {
        (self.config.clock)()
    }

    /// The V1 `timeStamp` of a request built now.
    fn stamp(&self) -> WireTime {
        WireTime::millis(self.now())
    }

    /// `days` from now, as an expiry (`yyyyMMddHHmmss`).
    fn expiry(&self, days: i64) -> WireTime {
        WireTime::seconds(self.now() + time::Duration::days(days))
    }

    // ---- signing ---------------------------------------------------------------------

    /// A V1 GET signed with the Key.
    fn v1(&self, activity: impl Into<V1Activity>) -> Prepared {
        self.v1_with(activity, &self.config.key, |_| {})
    }

    /// A V1 GET signed with `key`, then `after_signing` applied to the signed parameters.
    fn v1_with(
        &self,
        activity: impl Into<V1Activity>,
        key: &SellerKey,
        after_signing: impl FnOnce(&mut Params),
    ) -> Prepared {
        let activity = activity.into();
        debug_assert!(activity.is_test(), "every tester call carries testFlag=1");
        let mut params = activity.to_params();
        sign_v1_params(key, &mut params);
        after_signing(&mut params);
        Prepared {
            activity: activity.activity(),
            post: false,
            query: encode_params(&params),
            body: Vec::new(),
        }
    }

    /// A V2 POST signed with the Key, timestamped now.
    fn v2(&self, activity: impl Into<V2Activity>) -> Prepared {
        self.v2_with(activity, &self.config.key, self.now_ms(), |_| {})
    }

    /// A V2 POST signed with `key` at `timestamp_ms`, then `after_signing` applied to the
    /// signed body bytes.
    fn v2_with(
        &self,
        activity: impl Into<V2Activity>,
        key: &SellerKey,
        timestamp_ms: i64,
        after_signing: impl FnOnce(&mut Vec<u8>),
    ) -> Prepared {
        let activity = activity.into();
        debug_assert!(activity.is_test(), "every tester call carries testFlag=1");
        let mut body = activity.to_body();
        let nonce = random_upper(32);
        let creds = V2Credentials::sign(key, &body, &nonce, timestamp_ms);
        after_signing(&mut body);
        Prepared {
            activity: activity.activity(),
            post: true,
            query: encode_query(creds.query_pairs()),
            body,
        }
    }

    // ---- newInstance and its manipulations -------------------------------------------

    fn v1_new_instance(&self, order_id: &str, trial: bool) -> v1::NewInstance {
        let seal = |plain: &str| {
            self.config
                .buyer_pii
                .map(|bits| encrypt_random_iv(&self.config.key, bits, plain, &mut OsRng))
        };
        v1::NewInstance {
            customer_id: BUYER_ID.to_owned(),
            customer_name: Some(BUYER_NAME.to_owned()),
            user_id: None,
            user_name: None,
            mobile_phone: seal(TEST_PHONE),
            email: seal(TEST_EMAIL),
            business_id: business_id(),
            order_id: order_id.to_owned(),
            sku_code: Some(SKU.to_owned()),
            product_id: PRODUCT.to_owned(),
            trial_flag: trial.then(|| "1".to_owned()),
            expire_time: Some(self.expiry(365)),
            charging_mode: Some(ChargingMode::Period),
            saas_extend_params: None,
            amount: None,
            disk_size: None,
            band_width: None,
            period_type: Some(PeriodType::Year),
            period_number: Some(1),
            order_amount: None,
            provision_type: None,
            time_stamp: self.stamp(),
            test_flag: TEST,
            extra: Params::new(),
        }
    }

    fn v2_new_instance(&self, order_id: &str) -> v2::NewInstance {
        v2::NewInstance {
            order_id: order_id.to_owned(),
            order_line_id: order_line(order_id),
            business_id: business_id(),
            test_flag: TEST,
        }
    }

    /// newInstance for `order_id` (a fresh businessId every time).
    pub(super) fn new_instance_request(&self, order_id: &str, trial: bool) -> Prepared {
        if self.is_v2() {
            self.v2(self.v2_new_instance(order_id))
        } else {
            self.v1(self.v1_new_instance(order_id, trial))
        }
    }

    /// V1 newInstance with one buyer detail replaced (before signing) by `value`.
    pub(super) fn new_instance_with_buyer_detail(
        &self,
        order_id: &str,
        detail: BuyerDetail,
        value: String,
    ) -> Prepared {
        let mut request = self.v1_new_instance(order_id, false);
        detail.set(&mut request, value);
        self.v1(request)
    }

    /// newInstance signed with `key` instead of the Key.
    pub(super) fn new_instance_signed_with(&self, order_id: &str, key: &SellerKey) -> Prepared {
        if self.is_v2() {
            self.v2_with(self.v2_new_instance(order_id), key, self.now_ms(), |_| {})
        } else {
            self.v1_with(self.v1_new_instance(order_id, false), key, |_| {})
        }
    }

    /// newInstance correctly signed for `order_id`, then its orderId changed to `altered`
    /// on the wire (the signature still covers the original).
    pub(super) fn new_instance_altered_after_signing(
        &self,
        order_id: &str,
        altered: &str,
    ) -> Prepared {
        let key = &self.config.key;
        if self.is_v2() {
            let signed = self.v2_new_instance(order_id);
            let sent = V2Activity::from(v2::NewInstance {
                order_id: altered.to_owned(),
                ..signed.clone()
            });
            self.v2_with(signed, key, self.now_ms(), |body| *body = sent.to_body())
        } else {
            let signed = self.v1_new_instance(order_id, false);
            let sent = v1::NewInstance {
                order_id: altered.to_owned(),
                ..signed.clone()
            };
            self.v1_with(signed, key, |params| {
                let token = params.remove(AUTH_TOKEN);
                *params = sent.to_params();
                params.extend(token.map(|t| (AUTH_TOKEN.to_owned(), t)));
            })
        }
    }

    /// V2 newInstance correctly signed, with a timestamp `age_ms` in the past.
    pub(super) fn new_instance_stale(&self, order_id: &str, age_ms: i64) -> Prepared {
        self.v2_with(
            self.v2_new_instance(order_id),
            &self.config.key,
            self.now_ms() - age_ms,
            |_| {},
        )
    }

    // ---- the other activities --------------------------------------------------------

    /// 退续费: the renewal `order_id` is refunded before its period starts; the expiry moves
    /// back (V1: negative `orderAmount`; V2: scene `UNSUBSCRIBE_RENEWAL_PERIOD`).
    pub(super) fn renewal_refund_request(
        &mut self,
        instance_id: &str,
        order_id: String,
    ) -> Prepared {
        self.refresh(
            instance_id,
            order_id,
            RefreshScene::UnsubscribeRenewalPeriod,
        )
    }

    /// refreshInstance: a renewal (a new order) or the trial's conversion to a paid one.
    pub(super) fn refresh_request(&mut self, instance_id: &str, trial_to_formal: bool) -> Prepared {
        let order_id = self.order_id();
        let scene = if trial_to_formal {
            RefreshScene::TrialToFormal
        } else {
            RefreshScene::Renewal
        };
        self.refresh(instance_id, order_id, scene)
    }

    /// One refreshInstance for `scene`: a year's renewal or conversion (expiry in 730 days), or
    /// the refund of a renewal period (expiry back to 365 days, V1 amount −100.00).
    fn refresh(&mut self, instance_id: &str, order_id: String, scene: RefreshScene) -> Prepared {
        let refund = scene == RefreshScene::UnsubscribeRenewalPeriod;
        let expire = self.expiry(if refund { 365 } else { 730 });
        if self.is_v2() {
            return self.v2(v2::RefreshInstance {
                scene,
                order_line_id: order_line(&order_id),
                order_id,
                instance_id: instance_id.to_owned(),
                product_id: None,
                expire_time: expire.to_wire(),
                test_flag: TEST,
            });
        }
        self.v1(v1::RefreshInstance {
            order_id,
            instance_id: instance_id.to_owned(),
            product_id: None,
            expire_time: expire,
            trial_to_formal: (scene == RefreshScene::TrialToFormal).then(|| "1".to_owned()),
            period_type: Some(PeriodType::Year),
            period_number: Some(1),
            order_amount: refund
                .then(|| souk_protocol::activity::values::Decimal::parse("-100.00").ok())
                .flatten(),
            time_stamp: self.stamp(),
            test_flag: TEST,
            extra: Params::new(),
        })
    }

    /// V1 `expireInstance` or V2 `updateInstanceStatus` FREEZE/UNFREEZE.
    pub(super) fn status_request(&mut self, instance_id: &str, freeze: bool) -> Prepared {
        if self.is_v2() {
            self.v2(v2::UpdateInstanceStatus {
                instance_id: instance_id.to_owned(),
                status: if freeze {
                    FreezeStatus::Freeze
                } else {
                    FreezeStatus::Unfreeze
                },
                test_flag: TEST,
            })
        } else {
            let order_id = self.order_id();
            self.v1(v1::ExpireInstance {
                instance_id: instance_id.to_owned(),
                order_id,
                time_stamp: self.stamp(),
                test_flag: TEST,
                extra: Params::new(),
            })
        }
    }

    /// The freeze activity of the generation.
    pub(super) fn freeze_activity(&self) -> &'static str {
        if self.is_v2() {
            v2::UpdateInstanceStatus::ACTIVITY
        } else {
            v1::ExpireInstance::ACTIVITY
        }
    }

    /// V1 `instanceStatus` (on-demand arrears freeze / back to normal).
    pub(super) fn instance_status_request(
        &self,
        instance_id: &str,
        status: InstanceState,
    ) -> Prepared {
        self.v1(v1::InstanceStatus {
            instance_id: instance_id.to_owned(),
            instance_status: status,
            time_stamp: self.stamp(),
            test_flag: TEST,
            extra: Params::new(),
        })
    }

    /// V1 `upgrade` / V2 `upgradeInstance` to the larger specification (a new order).
    pub(super) fn upgrade_request(&mut self, instance_id: &str) -> Prepared {
        let order_id = self.order_id();
        if self.is_v2() {
            self.v2(v2::UpgradeInstance {
                instance_id: instance_id.to_owned(),
                order_line_id: order_line(&order_id),
                order_id,
                test_flag: TEST,
            })
        } else {
            self.v1(v1::Upgrade {
                instance_id: instance_id.to_owned(),
                order_id,
                sku_code: UPGRADED_SKU.to_owned(),
                product_id: UPGRADED_PRODUCT.to_owned(),
                amount: Some(UPGRADED_AMOUNT),
                disk_size: None,
                band_width: None,
                saas_extend_params: None,
                time_stamp: self.stamp(),
                test_flag: TEST,
                extra: Params::new(),
            })
        }
    }

    pub(super) fn release_request(&self, instance_id: &str, order_id: &str) -> Prepared {
        if self.is_v2() {
            self.v2(v2::ReleaseInstance {
                instance_id: instance_id.to_owned(),
                order_id: None,
                order_line_id: None,
                test_flag: TEST,
            })
        } else {
            self.v1(v1::ReleaseInstance {
                instance_id: instance_id.to_owned(),
                order_id: order_id.to_owned(),
                order_amount: None,
                time_stamp: self.stamp(),
                test_flag: TEST,
                extra: Params::new(),
            })
        }
    }

    pub(super) fn query_request(&self, instance_id: &str) -> Prepared {
        if self.is_v2() {
            self.v2(v2::QueryInstance {
                instance_id: instance_id.to_owned(),
                test_flag: TEST,
            })
        } else {
            self.v1(v1::QueryInstance {
                instance_id: instance_id.to_owned(),
                time_stamp: self.stamp(),
                test_flag: TEST,
                extra: Params::new(),
            })
        }
    }

    /// V1 `getLicense` for `order_id` (one-time charging; a fresh businessId every time).
    pub(super) fn get_license_request(&self, order_id: &str) -> Prepared {
        self.v1(v1::GetLicense {
            customer_id: BUYER_ID.to_owned(),
            customer_name: None,
            user_id: None,
            user_name: None,
            business_id: business_id(),
            order_id: order_id.to_owned(),
            sku_code: None,
            product_id: PRODUCT.to_owned(),
            expire_time: None,
            charging_mode: Some(ChargingMode::OneTime),
            period_type: None,
            period_number: None,
            amount: None,
            provision_type: None,
            saas_extend_params: None,
            time_stamp: self.stamp(),
            test_flag: TEST,
            extra: Params::new(),
        })
    }

    /// V2 `getLicenseAsync`: a year's license from now.
    pub(super) fn get_license_async_request(&self, instance_id: &str) -> Prepared {
        self.v2(v2::GetLicenseAsync {
            instance_id: instance_id.to_owned(),
            effective_time: WireTime::seconds(self.now()).to_wire(),
            expire_time: Some(self.expiry(365).to_wire()),
            event_id: business_id(),
            device_fingerprint: None,
            test_flag: TEST,
        })
    }

    /// V2 `orderNotify` for `order_id`.
    pub(super) fn order_notify_request(&self, order_id: &str) -> Prepared {
        self.v2(v2::OrderNotify {
            order_id: order_id.to_owned(),
            order_line_id: order_line(order_id),
            test_flag: TEST,
        })
    }
}
