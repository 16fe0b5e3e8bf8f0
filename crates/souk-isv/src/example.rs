//! A complete, correct seller built on this SDK, kept in memory: `souk example-seller`.
//!
//! It is the seller that demos, Souk's own tests and the benchmarks talk to, and the
//! reference a new seller can read. Behaviour:
//!
//! - **newInstance** is idempotent on [`NewInstance::idempotency_key`] (order id plus V2
//!   order line or V1 product): the first call creates an instance whose id is that call's
//!   `businessId` (as the docs recommend); every later call for the same key returns the same
//!   id, whatever its `businessId`. Credentials are encrypted per the configured
//!   `encryptType`. With [`ExampleConfig::async_open`], a V2 newInstance first answers
//!   `000004` and the instance opens when the marketplace polls `queryInstance`.
//! - **refresh / upgrade / freeze / unfreeze / release** answer `000003` for an unknown
//!   instance. Repeats succeed: freezing a frozen instance, releasing a released one. A
//!   renewal unfreezes. Only release, freeze and a repeated release are accepted for a
//!   released instance.
//! - **getLicense** (V1) returns a license string, idempotent per order and product;
//!   **getLicenseAsync** (V2) one per `eventId`; the License 2.0 calls act on those codes.
//! - Every call is recorded; [`ExampleSeller::state`] returns a snapshot for assertions
//!   (e.g. "the retry did not create a second instance").
//! - Failures can be injected for retry tests ([`FailureMode`], [`ExampleConfig::fail_first_n`],
//!   [`ExampleSeller::set_failing`]).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use souk_isv::example::{ExampleConfig, ExampleSeller, FailureMode};
//!
//! let mut config = ExampleConfig::new("test-key-0123");
//! config.fail_first_n = 2;
//! config.failure = FailureMode::Http500;
//! let seller = ExampleSeller::spawn(config).await?; // 127.0.0.1, port 0
//! println!("production URL: {}", seller.url());
//! // … drive the marketplace against seller.url() …
//! assert_eq!(seller.state().new_instance_created, 1);
//! seller.shutdown().await;
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use rand::Rng;
use souk_protocol::activity::{v1, v2, InstanceInfo, SellerResponse};
use souk_protocol::{EncryptType, ResultCode, SellerKey};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{system_clock, Clock, IsvConfig, Profile};
use crate::request::{
    NewInstance, QueryInstance, RefreshInstance, RefreshKind, ReleaseInstance, StatusChange,
    Upgrade,
};
use crate::seller::{Context, Generation, Seller};
use crate::verify::{Rejection, SignedResponse};

/// How an injected failure looks on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureMode {
    /// HTTP 500 with a JSON error body, before any state change.
    Http500,
    /// HTTP 200 with an HTML page, before any state change.
    Html,
    /// A correctly signed answer with this result code (e.g. `000005`), before any state
    /// change.
    Result(ResultCode),
    /// The call is processed (state changes!) but the `Body-Sign` is wrong: the marketplace
    /// must treat it as failed and retry, and the retry must find the same instance.
    WrongBodySign,
    /// As [`FailureMode::WrongBodySign`] but without any `Body-Sign` header.
    NoBodySign,
    /// Never answers (the marketplace's timeout must fire). No state change.
    Hang,
}

/// Configuration of the example seller.
#[derive(Clone)]
pub struct ExampleConfig {
    /// The seller Key.
    pub key: SellerKey,
    /// Accepted protocol generation(s); default both (GET = V1, POST = V2).
    pub profile: Profile,
    /// AES size of the credentials (`--encrypt 256` → `"1"`, `--encrypt 128` → `"2"`).
    pub encrypt_type: EncryptType,
    /// V2 newInstance answers `000004` and the instance opens on a later `queryInstance`.
    pub async_open: bool,
    /// With `async_open`: how many `queryInstance` polls it takes to open (at least 1).
    pub async_open_polls: u32,
    /// The first `n` calls fail with [`ExampleConfig::failure`].
    pub fail_first_n: u32,
    /// How injected failures look.
    pub failure: FailureMode,
    /// Base of `appInfo.frontEndUrl`.
    pub front_end_url: String,
    /// The clock (V2 timestamp window).
    pub clock: Clock,
    /// Also refuse V1 calls whose `timeStamp` is further than this from the clock (off by
    /// default, as V1 documents no window; strict sellers set one).
    pub v1_window: Option<std::time::Duration>,
    /// The key size the product chose for the buyer's phone and e-mail (AES-256 by default).
    pub pii_encrypt_type: EncryptType,
}

impl ExampleConfig {
    /// Defaults: both generations, AES-256, synchronous opening, no injected failures.
    pub fn new(key: impl Into<SellerKey>) -> Self {
        ExampleConfig {
            key: key.into(),
            profile: Profile::Auto,
            encrypt_type: EncryptType::Aes256,
            async_open: false,
            async_open_polls: 1,
            fail_first_n: 0,
            failure: FailureMode::Http500,
            front_end_url: "https://example-seller.invalid".into(),
            clock: system_clock(),
            v1_window: None,
            pii_encrypt_type: EncryptType::Aes256,
        }
    }

    fn isv_config(&self) -> IsvConfig {
        let mut config = IsvConfig::new(self.key.clone())
            .with_profile(self.profile)
            .with_encrypt_type(self.encrypt_type)
            .with_clock(self.clock.clone());
        config.v1_window = self.v1_window;
        config
    }
}

impl std::fmt::Debug for ExampleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExampleConfig")
            .field("key", &self.key)
            .field("profile", &self.profile)
            .field("encrypt_type", &self.encrypt_type)
            .field("async_open", &self.async_open)
            .field("fail_first_n", &self.fail_first_n)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

/// Lifecycle state of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceStatus {
    /// Accepted with `000004`, not open yet.
    Opening,
    /// In use.
    Active,
    /// Expired or frozen.
    Frozen,
    /// Released (kept so that a repeated release still succeeds).
    Released,
}

/// One instance, as the seller knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Its id (the first `businessId`).
    pub instance_id: String,
    /// The purchase order.
    pub order_id: String,
    /// V2 order line.
    pub order_line_id: Option<String>,
    /// V1 product (changed by an upgrade).
    pub product_id: Option<String>,
    /// V1 SKU (changed by an upgrade).
    pub sku_code: Option<String>,
    /// Status.
    pub status: InstanceStatus,
    /// Expiry as last sent (`yyyyMMddHHmmss`), if any.
    pub expire_time: Option<String>,
    /// Still a trial.
    pub trial: bool,
    /// Created by a `testFlag=1` call.
    pub test: bool,
    /// License code (getLicense instances).
    pub license: Option<String>,
    /// Licenses issued by getLicenseAsync, by `eventId`.
    pub async_licenses: BTreeMap<String, String>,
    /// The account created for the buyer (plaintext; the wire carries it encrypted).
    pub user_name: String,
    /// Its password (plaintext).
    pub password: String,
    /// The buyer's e-mail, decrypted from newInstance (V1), when sent.
    pub buyer_email: Option<String>,
    /// The buyer's mobile phone, decrypted from newInstance (V1), when sent.
    pub buyer_phone: Option<String>,
    /// The buyer's order fields (`saasExtendParams`, V1), name and value.
    pub extend_params: Vec<(String, String)>,
    /// Distinct renewal / conversion orders applied.
    pub renewals: u32,
    /// Renewal orders refunded before their period (退续费): the expiry moved back.
    pub renewals_refunded: Vec<String>,
    /// Distinct upgrade orders applied.
    pub upgrades: u32,
    orders_applied: Vec<String>,
    polls: u32,
}

/// One call as received and answered (refused calls are only counted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// Wire activity name.
    pub activity: &'static str,
    /// V1 or V2.
    pub generation: Generation,
    /// `testFlag=1`.
    pub test: bool,
    /// Instance concerned, when known.
    pub instance_id: Option<String>,
    /// Order concerned, when present.
    pub order_id: Option<String>,
    /// `businessId`, when present.
    pub business_id: Option<String>,
    /// What the seller answered.
    pub result_code: ResultCode,
}

/// A read-only snapshot of the example seller.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExampleState {
    /// Every instance ever created, by id.
    pub instances: BTreeMap<String, Instance>,
    /// Every dispatched call in arrival order.
    pub calls: Vec<CallRecord>,
    /// newInstance / getLicense calls that created an instance.
    pub new_instance_created: u32,
    /// newInstance / getLicense calls that returned an existing instance (retries).
    pub new_instance_existing: u32,
    /// Calls refused by the SDK (bad signature, stale timestamp, replayed nonce, …).
    pub rejected: u32,
    /// Calls answered with an injected failure.
    pub injected_failures: u32,
    /// License codes issued by the marketplace (License 2.0), as the License 2.0 calls left
    /// them. A real seller learns of such a code when its software activates it; the example
    /// accepts any code it is told about.
    pub license_codes: BTreeMap<String, MarketplaceCode>,
}

/// A marketplace-issued license code as the example seller knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketplaceCode {
    /// `Frozen` after updateLicenseCodeStatus FREEZE, `Released` after releaseLicenseCode.
    pub status: InstanceStatus,
    /// Expiry as last sent by refreshLicenseCode.
    pub expire_time: Option<String>,
}

impl Default for MarketplaceCode {
    fn default() -> Self {
        MarketplaceCode {
            status: InstanceStatus::Active,
            expire_time: None,
        }
    }
}

impl ExampleState {
    /// The instance with this id.
    pub fn instance(&self, instance_id: &str) -> Option<&Instance> {
        self.instances.get(instance_id)
    }

    /// Calls of one activity.
    pub fn calls_of<'a>(&'a self, activity: &'a str) -> impl Iterator<Item = &'a CallRecord> {
        self.calls.iter().filter(move |c| c.activity == activity)
    }
}

#[derive(Default)]
struct Inner {
    state: ExampleState,
    by_key: BTreeMap<String, String>,
}

struct Shared {
    config: ExampleConfig,
    inner: Mutex<Inner>,
    fail_remaining: AtomicU32,
    failing: Mutex<Option<FailureMode>>,
    /// `injected_failures`, for whoever waits for a failure to happen.
    injected: tokio::sync::watch::Sender<u32>,
}

/// The example seller. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct ExampleSeller {
    shared: Arc<Shared>,
}

impl ExampleSeller {
    /// A seller with empty state.
    pub fn new(config: ExampleConfig) -> Self {
        let fail_remaining = AtomicU32::new(config.fail_first_n);
        ExampleSeller {
            shared: Arc::new(Shared {
                config,
                inner: Mutex::default(),
                fail_remaining,
                failing: Mutex::new(None),
                injected: tokio::sync::watch::channel(0).0,
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ExampleConfig {
        &self.shared.config
    }

    /// The production interface (at every path), with failure injection in front.
    pub fn router(&self) -> Router {
        crate::router(self.clone(), self.shared.config.isv_config()).layer(
            middleware::from_fn_with_state(self.clone(), inject_failures),
        )
    }

    /// A snapshot of the state.
    pub fn state(&self) -> ExampleState {
        self.lock().state.clone()
    }

    /// `state().new_instance_created` without copying the whole state.
    pub fn new_instances_created(&self) -> u32 {
        self.lock().state.new_instance_created
    }

    /// Completes once at least `n` failures have been injected (a call has arrived and is
    /// being failed — or, with [`FailureMode::Hang`], held).
    pub async fn injected_failures_reach(&self, n: u32) {
        let mut injected = self.shared.injected.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = injected.wait_for(|count| *count >= n).await;
    }

    /// From now on every call fails with `mode` (`None` to stop).
    pub fn set_failing(&self, mode: Option<FailureMode>) {
        *self
            .shared
            .failing
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = mode;
    }

    /// The next `n` calls fail with [`ExampleConfig::failure`] (replaces any remaining count).
    pub fn fail_next(&self, n: u32) {
        self.shared.fail_remaining.store(n, Ordering::SeqCst);
    }

    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Starts a seller on `127.0.0.1`, port 0, in the background.
    pub async fn spawn(config: ExampleConfig) -> std::io::Result<ExampleHandle> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::spawn_on(listener, config)
    }

    /// Starts a seller on `listener` in the background.
    pub fn spawn_on(
        listener: TcpListener,
        config: ExampleConfig,
    ) -> std::io::Result<ExampleHandle> {
        let addr = listener.local_addr()?;
        let seller = ExampleSeller::new(config);
        let (tx, rx) = oneshot::channel::<()>();
        let server = seller.clone();
        let task = tokio::spawn(async move {
            let _ = server
                .serve(listener, async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(ExampleHandle {
            seller,
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state stays consistent between statements, so a panic elsewhere must not make
        // the seller unusable.
        self.shared.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn next_failure(&self) -> Option<FailureMode> {
        if let Some(mode) = self
            .shared
            .failing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Some(mode);
        }
        self.shared
            .fail_remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .ok()
            .map(|_| self.shared.config.failure.clone())
    }

    fn front_end_url(&self, instance_id: &str) -> String {
        format!(
            "{}/instances/{instance_id}",
            self.shared.config.front_end_url.trim_end_matches('/')
        )
    }

    fn answer_with_app(
        &self,
        ctx: &Context,
        instance: &Instance,
        code: ResultCode,
    ) -> SellerResponse {
        let mut answer = SellerResponse::new(code.clone(), code.description());
        if code.is_success() {
            answer.result_msg = Some("success.".into());
        }
        answer.instance_id = Some(instance.instance_id.clone());
        if instance.status != InstanceStatus::Opening {
            answer.app_info = Some(ctx.app_info(
                &self.front_end_url(&instance.instance_id),
                &instance.user_name,
                &instance.password,
            ));
        }
        answer
    }
}

#[allow(clippy::too_many_arguments)]
fn record(
    inner: &mut Inner,
    ctx: &Context,
    activity: &'static str,
    instance_id: Option<&str>,
    order_id: Option<&str>,
    business_id: Option<&str>,
    answer: &SellerResponse,
) {
    inner.state.calls.push(CallRecord {
        activity,
        generation: ctx.generation(),
        test: ctx.is_test(),
        instance_id: instance_id.map(str::to_owned),
        order_id: order_id.map(str::to_owned),
        business_id: business_id.map(str::to_owned),
        result_code: answer.result_code.clone(),
    });
}

fn random_text(len: usize) -> String {
    OsRng
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

fn new_license() -> String {
    let raw = random_text(16).to_ascii_uppercase();
    format!(
        "LIC-{}-{}-{}-{}",
        &raw[..4],
        &raw[4..8],
        &raw[8..12],
        &raw[12..]
    )
}

fn not_found() -> SellerResponse {
    SellerResponse::error(ResultCode::InstanceNotFound)
}

impl Inner {
    /// Finds or creates the instance for `key`; returns its id and whether it was created.
    fn open(
        &mut self,
        key: String,
        business_id: &str,
        make: impl FnOnce(String) -> Instance,
    ) -> (String, bool) {
        if let Some(id) = self.by_key.get(&key) {
            self.state.new_instance_existing += 1;
            return (id.clone(), false);
        }
        // The first businessId becomes the id; it is unique per call, but guard anyway.
        let mut id = business_id.to_owned();
        if id.is_empty() || self.state.instances.contains_key(&id) {
            id = format!("ins-{}", random_text(12));
        }
        self.state.instances.insert(id.clone(), make(id.clone()));
        self.by_key.insert(key, id.clone());
        self.state.new_instance_created += 1;
        (id, true)
    }

    fn live(&mut self, instance_id: &str) -> Option<&mut Instance> {
        self.state
            .instances
            .get_mut(instance_id)
            .filter(|i| i.status != InstanceStatus::Released)
    }
}

fn blank_instance(id: String, order_id: &str, test: bool) -> Instance {
    Instance {
        user_name: format!("user-{}", id.chars().take(8).collect::<String>()),
        password: random_text(12),
        instance_id: id,
        order_id: order_id.to_owned(),
        order_line_id: None,
        product_id: None,
        sku_code: None,
        status: InstanceStatus::Active,
        expire_time: None,
        trial: false,
        test,
        license: None,
        async_licenses: BTreeMap::new(),
        buyer_email: None,
        buyer_phone: None,
        extend_params: Vec::new(),
        renewals: 0,
        renewals_refunded: Vec::new(),
        upgrades: 0,
        orders_applied: Vec::new(),
        polls: 0,
    }
}

impl Seller for ExampleSeller {
    async fn new_instance(&self, ctx: Context, req: NewInstance) -> SellerResponse {
        let async_open = self.shared.config.async_open && matches!(req, NewInstance::V2(_));
        // A seller that creates the buyer's account from the e-mail or phone must decrypt
        // them; one that cannot answers 000102 / 000101, as the protocol says.
        let (email, phone) = match &req {
            NewInstance::V1(a) => {
                let key = &self.shared.config.key;
                let bits = self.shared.config.pii_encrypt_type;
                let open = |v: &Option<String>| {
                    v.as_deref()
                        .map(|w| souk_protocol::credentials::decrypt(key, bits, w))
                        .transpose()
                };
                match (open(&a.email), open(&a.mobile_phone)) {
                    (Ok(e), Ok(p)) => (e, p),
                    (Err(_), _) => return SellerResponse::error(ResultCode::InvalidEmail),
                    (_, Err(_)) => return SellerResponse::error(ResultCode::InvalidMobilePhone),
                }
            }
            NewInstance::V2(_) => (None, None),
        };
        let mut inner = self.lock();
        let (id, _created) = inner.open(req.idempotency_key(), req.business_id(), |id| {
            let mut i = blank_instance(id, req.order_id(), ctx.is_test());
            i.order_line_id = req.order_line_id().map(str::to_owned);
            if let NewInstance::V1(a) = &req {
                i.product_id = Some(a.product_id.clone());
                i.sku_code = a.sku_code.clone();
                i.expire_time = a.expire_time.map(|t| t.to_wire());
            }
            i.trial = req.is_trial();
            i.buyer_email = email.clone();
            i.buyer_phone = phone.clone();
            if let NewInstance::V1(a) = &req {
                i.extend_params = a
                    .extend_params()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| (p.name, p.value))
                    .collect();
            }
            if async_open {
                i.status = InstanceStatus::Opening;
            }
            i
        });
        let instance = &inner.state.instances[&id];
        let code = if instance.status == InstanceStatus::Opening {
            ResultCode::Processing
        } else {
            ResultCode::Success
        };
        let answer = self.answer_with_app(&ctx, instance, code);
        record(
            &mut inner,
            &ctx,
            "newInstance",
            Some(&id),
            Some(req.order_id()),
            Some(req.business_id()),
            &answer,
        );
        answer
    }

    async fn refresh_instance(&self, ctx: Context, req: RefreshInstance) -> SellerResponse {
        let mut inner = self.lock();
        let answer = match inner.live(req.instance_id()) {
            None => not_found(),
            Some(i) if i.status == InstanceStatus::Opening => not_found(),
            Some(i) => {
                i.expire_time = Some(req.expire_time());
                if req.kind() == RefreshKind::TrialToFormal {
                    i.trial = false;
                }
                // Renewing an expired instance brings it back.
                i.status = InstanceStatus::Active;
                if req.kind() == RefreshKind::UnsubscribeRenewal {
                    // The refunded renewal's order: the period it added is gone (idempotent).
                    if !i.renewals_refunded.iter().any(|o| o == req.order_id()) {
                        i.renewals_refunded.push(req.order_id().to_owned());
                    }
                } else if !i.orders_applied.iter().any(|o| o == req.order_id()) {
                    i.orders_applied.push(req.order_id().to_owned());
                    i.renewals += 1;
                }
                SellerResponse::success()
            }
        };
        record(
            &mut inner,
            &ctx,
            activity_name(&ctx, "refreshInstance"),
            Some(req.instance_id()),
            Some(req.order_id()),
            None,
            &answer,
        );
        answer
    }

    async fn update_instance_status(&self, ctx: Context, req: StatusChange) -> SellerResponse {
        let mut inner = self.lock();
        let answer = match inner.state.instances.get_mut(&req.instance_id) {
            None => not_found(),
            // Freezing something already released is a harmless repeat; waking it is not.
            Some(i) if i.status == InstanceStatus::Released => {
                if req.freeze {
                    SellerResponse::success()
                } else {
                    not_found()
                }
            }
            Some(i) => {
                i.status = if req.freeze {
                    InstanceStatus::Frozen
                } else {
                    InstanceStatus::Active
                };
                SellerResponse::success()
            }
        };
        let activity = match &req.source {
            crate::request::StatusSource::V1Expire(_) => "expireInstance",
            crate::request::StatusSource::V1InstanceStatus(_) => "instanceStatus",
            crate::request::StatusSource::V2(_) => "updateInstanceStatus",
        };
        record(
            &mut inner,
            &ctx,
            activity,
            Some(&req.instance_id),
            None,
            None,
            &answer,
        );
        answer
    }

    async fn release_instance(&self, ctx: Context, req: ReleaseInstance) -> SellerResponse {
        let mut inner = self.lock();
        let answer = match inner.state.instances.get_mut(req.instance_id()) {
            None => not_found(),
            Some(i) => {
                i.status = InstanceStatus::Released;
                SellerResponse::success()
            }
        };
        record(
            &mut inner,
            &ctx,
            "releaseInstance",
            Some(req.instance_id()),
            None,
            None,
            &answer,
        );
        answer
    }

    async fn upgrade(&self, ctx: Context, req: Upgrade) -> SellerResponse {
        let mut inner = self.lock();
        let answer = match inner.live(req.instance_id()) {
            None => not_found(),
            Some(i) => {
                if let Upgrade::V1(a) = &req {
                    i.product_id = Some(a.product_id.clone());
                    i.sku_code = Some(a.sku_code.clone());
                }
                if !i.orders_applied.iter().any(|o| o == req.order_id()) {
                    i.orders_applied.push(req.order_id().to_owned());
                    i.upgrades += 1;
                }
                SellerResponse::success()
            }
        };
        record(
            &mut inner,
            &ctx,
            activity_name(&ctx, "upgrade"),
            Some(req.instance_id()),
            Some(req.order_id()),
            None,
            &answer,
        );
        answer
    }

    async fn query_instance(&self, ctx: Context, req: QueryInstance) -> SellerResponse {
        let polls_needed = self.shared.config.async_open_polls.max(1);
        let mut inner = self.lock();
        let mut info = Vec::new();
        let mut opening = false;
        for id in req.instance_ids() {
            let Some(i) = inner.live(id) else { continue };
            if i.status == InstanceStatus::Opening {
                i.polls += 1;
                if i.polls >= polls_needed {
                    i.status = InstanceStatus::Active;
                } else {
                    opening = true;
                    continue;
                }
            }
            let i = i.clone();
            info.push(InstanceInfo {
                instance_id: i.instance_id.clone(),
                app_info: Some(ctx.app_info(
                    &self.front_end_url(&i.instance_id),
                    &i.user_name,
                    &i.password,
                )),
                usage_info: None,
            });
        }
        let answer = if !info.is_empty() {
            let mut a = SellerResponse::success();
            a.info = Some(info);
            a
        } else if opening {
            SellerResponse::error(ResultCode::Processing)
        } else {
            not_found()
        };
        let ids = req.instance_ids().join(",");
        record(
            &mut inner,
            &ctx,
            "queryInstance",
            Some(&ids),
            None,
            None,
            &answer,
        );
        answer
    }

    async fn get_license(&self, ctx: Context, req: v1::GetLicense) -> SellerResponse {
        let mut inner = self.lock();
        let key = format!("license:{}:{}", req.order_id, req.product_id);
        let (id, _) = inner.open(key, &req.business_id, |id| {
            let mut i = blank_instance(id, &req.order_id, ctx.is_test());
            i.product_id = Some(req.product_id.clone());
            i.expire_time = req.expire_time.map(|t| t.to_wire());
            i.license = Some(new_license());
            i
        });
        let mut answer = SellerResponse::success();
        answer.instance_id = Some(id.clone());
        answer.license = inner.state.instances[&id].license.clone();
        record(
            &mut inner,
            &ctx,
            "getLicense",
            Some(&id),
            Some(&req.order_id),
            Some(&req.business_id),
            &answer,
        );
        answer
    }

    async fn get_license_async(&self, ctx: Context, req: v2::GetLicenseAsync) -> SellerResponse {
        let mut inner = self.lock();
        if !inner.state.instances.contains_key(&req.instance_id) {
            // The marketplace's first call for a V2 License product: like V1 getLicense, it
            // opens the instance (keyed by the marketplace's instanceId; idempotent).
            let key = format!("license-async:{}", req.instance_id);
            inner.open(key, &req.instance_id, |id| {
                blank_instance(id, &req.instance_id, ctx.is_test())
            });
        }
        let answer = match inner.live(&req.instance_id) {
            None => not_found(),
            Some(i) => {
                let license = i
                    .async_licenses
                    .entry(req.event_id.clone())
                    .or_insert_with(new_license)
                    .clone();
                let mut a = SellerResponse::success();
                a.instance_id = Some(i.instance_id.clone());
                a.license = Some(license);
                a
            }
        };
        record(
            &mut inner,
            &ctx,
            "getLicenseAsync",
            Some(&req.instance_id),
            None,
            None,
            &answer,
        );
        answer
    }

    async fn order_notify(&self, ctx: Context, req: v2::OrderNotify) -> SellerResponse {
        let mut inner = self.lock();
        let answer = SellerResponse::success();
        record(
            &mut inner,
            &ctx,
            "orderNotify",
            None,
            Some(&req.order_id),
            None,
            &answer,
        );
        answer
    }

    async fn refresh_license_code(
        &self,
        ctx: Context,
        req: v2::RefreshLicenseCode,
    ) -> SellerResponse {
        let mut inner = self.lock();
        let answer = match find_license(&mut inner, &req.license) {
            None => {
                let code = inner
                    .state
                    .license_codes
                    .entry(req.license.clone())
                    .or_default();
                code.expire_time = Some(req.expire_time.clone());
                SellerResponse::success()
            }
            Some(i) => {
                i.expire_time = Some(req.expire_time.clone());
                SellerResponse::success()
            }
        };
        record(
            &mut inner,
            &ctx,
            "refreshLicenseCode",
            None,
            Some(&req.order_id),
            None,
            &answer,
        );
        answer
    }

    async fn update_license_code_status(
        &self,
        ctx: Context,
        req: v2::UpdateLicenseCodeStatus,
    ) -> SellerResponse {
        let freeze = req.status == souk_protocol::activity::FreezeStatus::Freeze;
        let mut inner = self.lock();
        let answer = match find_license(&mut inner, &req.license) {
            None => {
                inner
                    .state
                    .license_codes
                    .entry(req.license.clone())
                    .or_default()
                    .status = if freeze {
                    InstanceStatus::Frozen
                } else {
                    InstanceStatus::Active
                };
                SellerResponse::success()
            }
            Some(i) => {
                i.status = if freeze {
                    InstanceStatus::Frozen
                } else {
                    InstanceStatus::Active
                };
                SellerResponse::success()
            }
        };
        record(
            &mut inner,
            &ctx,
            "updateLicenseCodeStatus",
            None,
            None,
            None,
            &answer,
        );
        answer
    }

    async fn release_license_code(
        &self,
        ctx: Context,
        req: v2::ReleaseLicenseCode,
    ) -> SellerResponse {
        let mut inner = self.lock();
        let answer = match find_license(&mut inner, &req.license) {
            None => {
                inner
                    .state
                    .license_codes
                    .entry(req.license.clone())
                    .or_default()
                    .status = InstanceStatus::Released;
                SellerResponse::success()
            }
            Some(i) => {
                i.status = InstanceStatus::Released;
                SellerResponse::success()
            }
        };
        record(
            &mut inner,
            &ctx,
            "releaseLicenseCode",
            None,
            req.order_id.as_deref(),
            None,
            &answer,
        );
        answer
    }

    fn rejected(&self, _rejection: &Rejection) {
        self.lock().state.rejected += 1;
    }
}

/// V1 and V2 share some names; others differ by generation.
fn activity_name(ctx: &Context, v1_name: &'static str) -> &'static str {
    match (ctx.generation(), v1_name) {
        (Generation::V2, "upgrade") => "upgradeInstance",
        _ => v1_name,
    }
}

fn find_license<'a>(inner: &'a mut Inner, license: &str) -> Option<&'a mut Instance> {
    inner.state.instances.values_mut().find(|i| {
        i.license.as_deref() == Some(license) || i.async_licenses.values().any(|l| l == license)
    })
}

async fn inject_failures(
    axum::extract::State(seller): axum::extract::State<ExampleSeller>,
    request: Request,
    next: Next,
) -> Response {
    let Some(mode) = seller.next_failure() else {
        return next.run(request).await;
    };
    let injected = {
        let mut inner = seller.lock();
        inner.state.injected_failures += 1;
        inner.state.injected_failures
    };
    seller.shared.injected.send_replace(injected);
    match mode {
        FailureMode::Http500 => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [("content-type", "application/json")],
            r#"{"error":"injected failure"}"#,
        )
            .into_response(),
        FailureMode::Html => (
            StatusCode::OK,
            [("content-type", "text/html")],
            "<html><body><h1>Service temporarily unavailable</h1></body></html>",
        )
            .into_response(),
        FailureMode::Result(code) => {
            SignedResponse::sign(&seller.shared.config.key, &SellerResponse::error(code))
                .into_response()
        }
        FailureMode::Hang => std::future::pending::<Response>().await,
        FailureMode::WrongBodySign | FailureMode::NoBodySign => {
            let mut response = next.run(request).await;
            let headers = response.headers_mut();
            headers.remove(souk_protocol::body_sign::HEADER);
            if mode == FailureMode::WrongBodySign {
                let wrong = souk_protocol::body_sign::body_sign(
                    &SellerKey::new("not-the-seller-key"),
                    b"{}",
                );
                if let Ok(value) = HeaderValue::from_str(&wrong) {
                    headers.insert(souk_protocol::body_sign::HEADER, value);
                }
            }
            response
        }
    }
}

/// A running example seller (see [`ExampleSeller::spawn`]). Dropping it stops the server.
pub struct ExampleHandle {
    seller: ExampleSeller,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ExampleHandle {
    /// The production URL, `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The seller (shares state with the server).
    pub fn seller(&self) -> &ExampleSeller {
        &self.seller
    }

    /// A snapshot of the state.
    pub fn state(&self) -> ExampleState {
        self.seller.state()
    }

    /// See [`ExampleSeller::injected_failures_reach`].
    pub async fn injected_failures_reach(&self, n: u32) {
        self.seller.injected_failures_reach(n).await
    }

    /// See [`ExampleSeller::new_instances_created`].
    pub fn new_instances_created(&self) -> u32 {
        self.seller.new_instances_created()
    }

    /// See [`ExampleSeller::set_failing`].
    pub fn set_failing(&self, mode: Option<FailureMode>) {
        self.seller.set_failing(mode);
    }

    /// See [`ExampleSeller::fail_next`].
    pub fn fail_next(&self, n: u32) {
        self.seller.fail_next(n);
    }

    /// Stops the server and waits for it (in-flight calls finish first; hanging ones are
    /// abandoned).
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            // A call stuck in FailureMode::Hang would block graceful shutdown forever.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for ExampleHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Serves an example seller on `listener` until `shutdown` completes (what
/// `souk example-seller` runs).
pub async fn serve_example(
    listener: TcpListener,
    config: ExampleConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    ExampleSeller::new(config).serve(listener, shutdown).await
}
