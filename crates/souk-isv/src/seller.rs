//! The [`Seller`] trait (one method per operation) and the [`Context`] each call gets.

use std::future::{ready, Future};
use std::sync::Arc;

use rand::rngs::OsRng;
use souk_protocol::activity::{v1, v2, AppInfo, SellerResponse};
use souk_protocol::credentials::encrypt_random_iv;
use souk_protocol::{EncryptType, ResultCode, SellerKey};
use time::OffsetDateTime;

use crate::config::IsvConfig;
use crate::request::{
    NewInstance, QueryInstance, RefreshInstance, ReleaseInstance, StatusChange, Upgrade,
};
use crate::verify::{Incoming, Rejection};

/// Which protocol generation a call came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Generation {
    /// `GET` with `authToken`.
    V1,
    /// `POST` with `signature` / `timestamp` / `nonce`.
    V2,
}

/// What a seller method knows about the call besides the request itself.
#[derive(Clone, Debug)]
pub struct Context {
    config: Arc<IsvConfig>,
    generation: Generation,
    test: bool,
}

impl Context {
    /// A context for `incoming` under `config` (the router builds these; exposed for sellers
    /// that dispatch by hand with [`crate::dispatch`]).
    pub fn new(config: Arc<IsvConfig>, incoming: &Incoming) -> Self {
        Context {
            config,
            generation: match incoming {
                Incoming::V1(_) => Generation::V1,
                Incoming::V2(_) => Generation::V2,
            },
            test: incoming.is_test(),
        }
    }

    /// The protocol generation of this call.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// `testFlag=1`: a debugging-tool call or a marketplace probe. Answer exactly as for a
    /// real call, but do not bill or provision anything expensive.
    pub fn is_test(&self) -> bool {
        self.test
    }

    /// The current time (the configured clock).
    pub fn now(&self) -> OffsetDateTime {
        self.config.now()
    }

    /// The Key.
    pub fn key(&self) -> &SellerKey {
        &self.config.key
    }

    /// The AES size credentials are encrypted with (and announced as `encryptType`).
    pub fn encrypt_type(&self) -> EncryptType {
        self.config.encrypt_type
    }

    /// Encrypts one value (`iv16 ‖ Base64`) with the configured size and a fresh random IV.
    pub fn encrypt(&self, plaintext: &str) -> String {
        encrypt_random_iv(
            &self.config.key,
            self.config.encrypt_type,
            plaintext,
            &mut OsRng,
        )
    }

    /// An `appInfo` with encrypted credentials. The router adds the matching `encryptType`
    /// to the answer.
    pub fn app_info(&self, front_end_url: &str, user_name: &str, password: &str) -> AppInfo {
        AppInfo {
            front_end_url: Some(front_end_url.to_owned()),
            ..AppInfo::default()
        }
        .with_credentials(
            &self.config.key,
            self.config.encrypt_type,
            user_name,
            password,
            &mut OsRng,
        )
    }
}

/// The default answer of an optional operation the seller did not implement.
pub fn not_supported(activity: &str) -> SellerResponse {
    SellerResponse::new(
        ResultCode::InternalError,
        format!("{activity} is not supported by this seller"),
    )
}

/// A seller's production interface: one method per operation.
///
/// The router has already checked the signature (and, for V2, the timestamp window and the
/// nonce) and parsed the request; it serialises and signs whatever the method returns.
/// Methods that create or change state must be **idempotent**: the marketplace retries
/// newInstance, upgrade and getLicense for up to 3 hours with a fresh `businessId` and the
/// same `orderId`, and expire/release for an hour.
///
/// Return [`SellerResponse::error`]`(`[`ResultCode::InstanceNotFound`]`)` (`000003`) for an
/// instance you do not know. Optional operations default to [`not_supported`] (`000005`).
pub trait Seller: Send + Sync + 'static {
    /// `newInstance`: return `000000` with `instanceId` (and usually `appInfo`), or — V2
    /// only — `000004` while opening asynchronously (the marketplace then polls
    /// `queryInstance`). Same [`NewInstance::idempotency_key`] → same `instanceId`.
    fn new_instance(
        &self,
        ctx: Context,
        req: NewInstance,
    ) -> impl Future<Output = SellerResponse> + Send;

    /// `refreshInstance`: renewal, trial→formal, refunded renewal. A frozen instance that is
    /// renewed is back to normal.
    fn refresh_instance(
        &self,
        ctx: Context,
        req: RefreshInstance,
    ) -> impl Future<Output = SellerResponse> + Send;

    /// V1 `instanceStatus` and V2 `updateInstanceStatus`: freeze or unfreeze.
    fn update_instance_status(
        &self,
        ctx: Context,
        req: StatusChange,
    ) -> impl Future<Output = SellerResponse> + Send;

    /// V1 `expireInstance`. Defaults to [`Seller::update_instance_status`] with a freeze.
    fn expire_instance(
        &self,
        ctx: Context,
        req: StatusChange,
    ) -> impl Future<Output = SellerResponse> + Send {
        self.update_instance_status(ctx, req)
    }

    /// `releaseInstance`: delete the resources. A repeat (or an already released instance)
    /// succeeds.
    fn release_instance(
        &self,
        ctx: Context,
        req: ReleaseInstance,
    ) -> impl Future<Output = SellerResponse> + Send;

    /// V1 `upgrade` / V2 `upgradeInstance`.
    fn upgrade(&self, ctx: Context, req: Upgrade) -> impl Future<Output = SellerResponse> + Send {
        let _ = (ctx, req);
        ready(not_supported("upgrade"))
    }

    /// `queryInstance` (mandatory for on-demand products).
    fn query_instance(
        &self,
        ctx: Context,
        req: QueryInstance,
    ) -> impl Future<Output = SellerResponse> + Send {
        let _ = (ctx, req);
        ready(not_supported("queryInstance"))
    }

    /// V1 `getLicense` (License products): answer `instanceId` and `license`; idempotent
    /// per order.
    fn get_license(
        &self,
        ctx: Context,
        req: v1::GetLicense,
    ) -> impl Future<Output = SellerResponse> + Send {
        let _ = (ctx, req);
        ready(not_supported("getLicense"))
    }

    /// V2 `getLicenseAsync` (online License products); idempotent per `eventId`.
    fn get_license_async(
        &self,
        ctx: Context,
        req: v2::GetLicenseAsync,
    ) -> impl Future<Output = SellerResponse> + Send {
        let _ = (ctx, req);
        ready(not_supported("getLicenseAsync"))
    }

    /// V2 `orderNotify`: an order changed; fetch it with the order-query open API.
    fn order_notify(
        &self,
        ctx: Context,
        req: v2::OrderNotify,
    ) -> impl Future<Output = SellerResponse> + Send {
        let _ = (ctx, req);
        ready(not_supported("orderNotify"))
    }

    /// License 2.0 `refreshLicenseCode`.
    fn refresh_license_code(
        &self,
        ctx: Context,
        req: v2::RefreshLicenseCode,
    ) -> impl Future<Output = SellerResponse> + Send {
        let _ = (ctx, req);
        ready(not_supported("refreshLicenseCode"))
    }

    /// License 2.0 `updateLicenseCodeStatus`.
    fn update_license_code_status(
        &self,
        ctx: Context,
        req: v2::UpdateLicenseCodeStatus,
    ) -> impl Future<Output = SellerResponse> + Send {
        let _ = (ctx, req);
        ready(not_supported("updateLicenseCodeStatus"))
    }

    /// License 2.0 `releaseLicenseCode`.
    fn release_license_code(
        &self,
        ctx: Context,
        req: v2::ReleaseLicenseCode,
    ) -> impl Future<Output = SellerResponse> + Send {
        let _ = (ctx, req);
        ready(not_supported("releaseLicenseCode"))
    }

    /// Called (synchronously) for every call refused before dispatch, e.g. to count or log
    /// authentication failures. The refusal itself is answered by the router.
    fn rejected(&self, rejection: &Rejection) {
        let _ = rejection;
    }
}

/// Routes a verified call to the matching [`Seller`] method and completes the answer:
/// when it carries encrypted credentials and no `encryptType`, the configured one is added.
pub async fn dispatch<S: Seller + ?Sized>(
    seller: &S,
    ctx: Context,
    incoming: Incoming,
) -> SellerResponse {
    use souk_protocol::activity::V1Activity as A1;
    use souk_protocol::activity::V2Activity as A2;
    let encrypt_type = ctx.encrypt_type();
    let mut response = match incoming {
        Incoming::V1(a) => match a {
            A1::NewInstance(r) => seller.new_instance(ctx, NewInstance::V1(r)).await,
            A1::RefreshInstance(r) => seller.refresh_instance(ctx, RefreshInstance::V1(r)).await,
            A1::ExpireInstance(r) => {
                seller
                    .expire_instance(ctx, StatusChange::from_v1_expire(r))
                    .await
            }
            A1::InstanceStatus(r) => {
                seller
                    .update_instance_status(ctx, StatusChange::from_v1_status(r))
                    .await
            }
            A1::ReleaseInstance(r) => seller.release_instance(ctx, ReleaseInstance::V1(r)).await,
            A1::Upgrade(r) => seller.upgrade(ctx, Upgrade::V1(r)).await,
            A1::QueryInstance(r) => seller.query_instance(ctx, QueryInstance::V1(r)).await,
            A1::GetLicense(r) => seller.get_license(ctx, r).await,
        },
        Incoming::V2(a) => match a {
            A2::NewInstance(r) => seller.new_instance(ctx, NewInstance::V2(r)).await,
            A2::QueryInstance(r) => seller.query_instance(ctx, QueryInstance::V2(r)).await,
            A2::RefreshInstance(r) => seller.refresh_instance(ctx, RefreshInstance::V2(r)).await,
            A2::UpdateInstanceStatus(r) => {
                seller
                    .update_instance_status(ctx, StatusChange::from_v2(r))
                    .await
            }
            A2::ReleaseInstance(r) => seller.release_instance(ctx, ReleaseInstance::V2(r)).await,
            A2::UpgradeInstance(r) => seller.upgrade(ctx, Upgrade::V2(r)).await,
            A2::GetLicenseAsync(r) => seller.get_license_async(ctx, r).await,
            A2::OrderNotify(r) => seller.order_notify(ctx, r).await,
            A2::RefreshLicenseCode(r) => seller.refresh_license_code(ctx, r).await,
            A2::UpdateLicenseCodeStatus(r) => seller.update_license_code_status(ctx, r).await,
            A2::ReleaseLicenseCode(r) => seller.release_license_code(ctx, r).await,
        },
    };
    if response.encrypt_type.is_none() && carries_credentials(&response) {
        response.encrypt_type = Some(encrypt_type.as_str().to_owned());
    }
    response
}

fn carries_credentials(response: &SellerResponse) -> bool {
    let has = |app: &AppInfo| app.user_name.is_some() || app.password.is_some();
    response.app_info.as_ref().is_some_and(has)
        || response
            .info
            .iter()
            .flatten()
            .filter_map(|i| i.app_info.as_ref())
            .any(has)
}
