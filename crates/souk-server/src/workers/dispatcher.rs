//! The provisioning dispatcher: claims due calls, sends them, records what happened.
//!
//! One round: claim up to `concurrency` due jobs with a lease (one short transaction), send them
//! all concurrently with no transaction open, then record each outcome in its own short
//! transaction. A worker that dies mid-call leaves its job `running`; when the lease runs out
//! another worker (or this one after a restart) sends it again with a fresh businessId and the
//! same orderId, which a correct seller answers with the same instance.

use crate::seller_client::{CallRequest, CallResult, SellerClient};
use crate::usecase::buyer_wire::wire_contact;
use crate::workers::requests::{build_request, CallContext};
use crate::AppState;
use anyhow::Context;
use rand::Rng;
use serde_json::json;
use souk_core::catalog::Protocol;
use souk_core::instance::AppInfo;
use souk_core::provisioning::{CallKind, RetryPolicy, Verdict};
use souk_protocol::credentials::EncryptType;
use souk_protocol::secret::SellerKey;
use souk_store::{AttemptRecord, CallContexts, JobRecord, JobResolution, Scope};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// One call's result, ready to record.
type Outcome = (JobRecord, AttemptRecord, JobResolution);

/// Calls in flight, each a task that ends with its outcome.
type InFlight = tokio::task::JoinSet<Outcome>;

/// `first` and every other call that has finished meanwhile: one recording round.
fn take_finished(
    first: Result<Outcome, tokio::task::JoinError>,
    in_flight: &mut InFlight,
) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let mut take = |done: Result<Outcome, tokio::task::JoinError>| match done {
        Ok(outcome) => outcomes.push(outcome),
        // A panic in one call must not lose the others; its job is sent again when its
        // lease runs out.
        Err(e) => tracing::error!(error = ?e, "a seller call task failed"),
    };
    take(first);
    while let Some(done) = in_flight.try_join_next() {
        take(done);
    }
    outcomes
}

/// What the dispatcher tells whoever listens (tests) each time it records a call's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub job_id: souk_core::id::JobId,
    pub seller_id: String,
    /// `success`, `accepted` or `failure`.
    pub outcome: String,
}

#[derive(Clone)]
pub struct Dispatcher {
    state: AppState,
    client: SellerClient,
    /// Identifies this process's leases.
    owner: Arc<str>,
    recorded: tokio::sync::broadcast::Sender<Recorded>,
    /// Calls in flight by seller id (this process), for the per-seller limit.
    busy: Arc<std::sync::Mutex<std::collections::HashMap<String, u32>>>,
}

/// Counts one call in flight to a seller until dropped (also when the call's task panics).
struct BusyGuard {
    busy: Arc<std::sync::Mutex<std::collections::HashMap<String, u32>>>,
    seller: String,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = busy.get_mut(&self.seller) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                busy.remove(&self.seller);
            }
        }
    }
}

impl Dispatcher {
    pub fn new(state: AppState) -> anyhow::Result<Dispatcher> {
        let client = SellerClient::new(
            state.config.provisioning.seller_timeout.std(),
            state.config.private_endpoints_allowed(),
        )?;
        Ok(Dispatcher {
            client,
            owner: Arc::from(uuid::Uuid::new_v4().to_string()),
            recorded: state.calls_recorded.clone(),
            busy: Arc::default(),
            state,
        })
    }

    /// Every outcome this dispatcher records from now on, in the order it records them.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Recorded> {
        self.recorded.subscribe()
    }

    /// Claims up to `limit` due calls and starts sending them; returns how many it started.
    async fn start_due(&self, in_flight: &mut InFlight, limit: u32) -> anyhow::Result<usize> {
        if limit == 0 {
            return Ok(0);
        }
        let lease = self.state.config.provisioning.lease.0;
        let now = self.state.clock.now();
        let room = souk_store::SellerRoom {
            per_seller: self.state.config.provisioning.per_seller_concurrency,
            in_flight: self.busy.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        };
        let jobs = self
            .state
            .store
            .claim_jobs(&self.owner, now, now + lease, limit, &room)
            .await
            .context("claiming jobs")?;
        let n = jobs.len();
        // What the calls need to build their requests, for the whole batch at once (each call
        // reads on its own if this fails or misses one).
        let contexts = match self.state.store.call_contexts(&jobs).await {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                tracing::warn!(error = ?e, "loading the claimed calls' instances failed");
                None
            }
        };
        for job in jobs {
            let this = self.clone();
            let contexts = contexts.clone();
            let seller = job.seller_id.to_string();
            *self
                .busy
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(seller.clone())
                .or_insert(0) += 1;
            let guard = BusyGuard {
                busy: self.busy.clone(),
                seller,
            };
            in_flight.spawn(async move {
                let outcome = this.run_job(job, contexts.as_deref()).await;
                drop(guard);
                outcome
            });
        }
        Ok(n)
    }

    /// Waits for the next call to finish, takes every other one that has finished too, and
    /// records them together (one commit for the lot). Each call is recorded as soon as it is
    /// done: a seller that hangs to the timeout delays nobody else's outcome.
    async fn record_finished(&self, in_flight: &mut InFlight) -> anyhow::Result<usize> {
        let Some(first) = in_flight.join_next().await else {
            return Ok(0);
        };
        self.record(take_finished(first, in_flight)).await
    }

    /// [`Dispatcher::record`] for a recording task: a failure is logged (the calls' leases run
    /// out and they are sent again).
    async fn record_logged(&self, outcomes: Vec<Outcome>) {
        if let Err(e) = self.record(outcomes).await {
            tracing::error!(error = ?e, "recording outcomes failed");
        }
    }

    /// Records a round's outcomes in one transaction and tells the listeners.
    async fn record(&self, outcomes: Vec<Outcome>) -> anyhow::Result<usize> {
        let n = outcomes.len();
        let events: Vec<Recorded> = outcomes
            .iter()
            .map(|(job, attempt, _)| Recorded {
                job_id: job.id.clone(),
                seller_id: job.seller_id.to_string(),
                outcome: attempt.outcome.clone(),
            })
            .collect();
        let now = self.state.clock.now();
        let results = self
            .state
            .store
            .complete_jobs(&self.owner, outcomes, now)
            .await
            .context("recording the outcomes of seller calls")?;
        for (event, r) in events.into_iter().zip(results) {
            match r {
                Ok(_) => {
                    let _ = self.recorded.send(event);
                }
                Err(e) => {
                    tracing::error!(job = %event.job_id, error = ?e, "could not record a call's outcome")
                }
            }
        }
        Ok(n)
    }

    /// Claims the calls due now, sends them, and records each outcome as it comes in; returns
    /// how many calls it ran. (Tests and tools; the server runs [`Dispatcher::run`].)
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let mut in_flight = InFlight::new();
        let started = self
            .start_due(&mut in_flight, self.state.config.provisioning.concurrency)
            .await?;
        while !in_flight.is_empty() {
            self.record_finished(&mut in_flight).await?;
        }
        Ok(started)
    }

    /// The server's loop: keeps up to `concurrency` calls in flight, claims more as soon as a
    /// slot frees or a call becomes due, records each outcome when it arrives. Recording runs
    /// beside the loop (claiming does not wait for it), in up to [`Dispatcher::recorders`]
    /// rounds at once. On shutdown it stops claiming and records the calls still in flight.
    pub async fn run(&self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let concurrency = self.state.config.provisioning.concurrency as usize;
        let recorders = self.recorders();
        let mut in_flight = InFlight::new();
        let mut recording = tokio::task::JoinSet::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            // Calls that finished meanwhile go to recording before more are claimed: under a
            // steady stream of payments every claim finds work and the loop `continue`s, so
            // the wait below (which also takes finished calls) may not come round for a while.
            while recording.try_join_next().is_some() {}
            if recording.len() < recorders {
                if let Some(done) = in_flight.try_join_next() {
                    let outcomes = take_finished(done, &mut in_flight);
                    let this = self.clone();
                    recording.spawn(async move { this.record_logged(outcomes).await });
                }
            }
            let free = concurrency.saturating_sub(in_flight.len()) as u32;
            let started = match self.start_due(&mut in_flight, free).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = ?e, "claiming calls failed");
                    0
                }
            };
            if started > 0 && in_flight.len() < concurrency {
                // More may be due right away.
                continue;
            }
            let mut wait = self.idle_wait(!in_flight.is_empty()).await;
            if started == 0 && wait.is_zero() {
                // Due calls that could not be claimed (their seller is at its limit, or an
                // earlier call of their instance is in flight) wait for a call to finish or
                // new work, instead of claiming again at once.
                wait = Duration::from_millis(20);
            }
            let may_record = recording.len() < recorders;
            // Only cancel-safe waits in here; the outcomes taken are handed to a recording
            // task at once, never dropped half-way.
            let finished = tokio::select! {
                Some(done) = in_flight.join_next(), if may_record && !in_flight.is_empty() => Some(done),
                Some(_) = recording.join_next(), if !recording.is_empty() => None,
                _ = self.state.wake.notified() => None,
                _ = tokio::time::sleep(wait) => None,
                _ = shutdown.changed() => None,
            };
            if let Some(done) = finished {
                let outcomes = take_finished(done, &mut in_flight);
                let this = self.clone();
                recording.spawn(async move { this.record_logged(outcomes).await });
            }
        }
        while recording.join_next().await.is_some() {}
        while !in_flight.is_empty() {
            if let Err(e) = self.record_finished(&mut in_flight).await {
                tracing::error!(error = ?e, "recording outcomes at shutdown failed");
            }
        }
    }

    /// Rounds recorded at once. PostgreSQL runs each round's statements as round trips on one
    /// connection, so several rounds on several connections overlap their waits; SQLite's one
    /// writer would only queue them (its group commit already joins what waits).
    fn recorders(&self) -> usize {
        match self.state.store.backend() {
            souk_store::Backend::Postgres => {
                self.state.config.provisioning.recorders.max(1) as usize
            }
            souk_store::Backend::Sqlite => 1,
        }
    }

    /// How long to wait for new work: until the next call is due, at most a second (calls
    /// enqueued by other processes); with calls in flight, their completion wakes the loop.
    async fn idle_wait(&self, busy: bool) -> Duration {
        let cap = if busy {
            time::Duration::milliseconds(200)
        } else {
            time::Duration::SECOND
        };
        self.state
            .store
            .next_job_due()
            .await
            .ok()
            .flatten()
            .map(|at| (at - self.state.clock.now()).clamp(time::Duration::ZERO, cap))
            .map(|d| Duration::from_millis(d.whole_milliseconds() as u64))
            .unwrap_or(Duration::from_millis(cap.whole_milliseconds() as u64))
    }

    /// Sends one call and decides what it means; recording is left to the round.
    async fn run_job(&self, job: JobRecord, contexts: Option<&CallContexts>) -> Outcome {
        let prepared = self.prepare(&job, contexts).await;
        let (result, call) = match prepared {
            Ok(call) => {
                let now = self.state.clock.now();
                let result = self
                    .client
                    .send(
                        call.protocol,
                        &call.url,
                        &call.key,
                        call.request.clone(),
                        now,
                    )
                    .await;
                (result, Some(call))
            }
            Err(e) => (
                CallResult {
                    request: json!({}),
                    http_status: None,
                    body: None,
                    body_sign: "not_checked",
                    response: None,
                    verdict: Verdict::Failure(format!("{e:#}")),
                    latency: std::time::Duration::ZERO,
                    started_at: self.state.clock.now(),
                },
                None,
            ),
        };
        let now = self.state.clock.now();
        let resolution = self.resolve(&job, call.as_ref(), &result, now);
        let outcome = match (&result.verdict, &resolution) {
            (_, JobResolution::Succeeded { .. }) => "success",
            (Verdict::Accepted, _) | (_, JobResolution::Poll { .. }) => "accepted",
            _ => "failure",
        };
        let error = match &resolution {
            JobResolution::Retry { error, .. } | JobResolution::GiveUp { error } => {
                Some(error.clone())
            }
            _ => None,
        };
        metrics::counter!("souk_seller_calls_total", "kind" => job.kind.as_str(), "outcome" => outcome)
            .increment(1);
        metrics::histogram!("souk_seller_call_seconds", "kind" => job.kind.as_str())
            .record(result.latency.as_secs_f64());
        let attempt = AttemptRecord {
            id: souk_core::id::AttemptId::generate(result.started_at),
            job_id: job.id.clone(),
            seller_id: job.seller_id.clone(),
            product_id: job.product_id.clone(),
            instance_id: job.instance_id.clone(),
            activity: call
                .as_ref()
                .map(|c| c.activity.to_owned())
                .unwrap_or_else(|| job.kind.as_str().to_owned()),
            business_id: call.as_ref().and_then(|c| c.business_id.clone()),
            request: result.request.clone(),
            http_status: result.http_status,
            response_body: result.body.clone(),
            body_sign: result.body_sign.to_owned(),
            result_code: result.result_code(),
            outcome: outcome.to_owned(),
            error,
            latency_ms: result.latency.as_millis() as i64,
            started_at: result.started_at,
        };
        (job, attempt, resolution)
    }

    /// Decides what to do after an attempt.
    fn resolve(
        &self,
        job: &JobRecord,
        call: Option<&PreparedCall>,
        result: &CallResult,
        now: OffsetDateTime,
    ) -> JobResolution {
        let cfg = &self.state.config.provisioning;
        let retry = |error: String| {
            let policy = self.policy(job.kind);
            let first = job.first_attempt_at.unwrap_or(now);
            match policy.next_attempt(first, job.attempts, now, rand::thread_rng().gen()) {
                Some(at) => JobResolution::Retry { at, error },
                None => JobResolution::GiveUp {
                    error: format!("gave up after {} attempts: {error}", job.attempts),
                },
            }
        };
        let Some(call) = call else {
            return retry(result.error().unwrap_or_default());
        };
        let signed_not_found = result.http_status == Some(200)
            && result.body_sign == "valid"
            && result.response.as_ref().map(|r| &r.result_code)
                == Some(&souk_protocol::codes::ResultCode::InstanceNotFound);
        if signed_not_found && job.kind.done_when_not_found() {
            return JobResolution::Succeeded {
                seller_instance_id: None,
                app_info_sealed: None,
                license_sealed: None,
            };
        }
        match &result.verdict {
            Verdict::Failure(e) => retry(e.clone()),
            Verdict::Accepted => {
                if job.kind.opens_instance() {
                    let sid = result.response.as_ref().and_then(|r| r.instance_id.clone());
                    if sid.is_none() && call.seller_instance_id.is_none() {
                        return retry("answered 000004 without an instanceId to poll".into());
                    }
                    JobResolution::Poll {
                        at: now + cfg.poll_interval.0,
                        seller_instance_id: sid,
                    }
                } else {
                    retry(format!(
                        "000004 is not a final answer for {}",
                        call.activity
                    ))
                }
            }
            Verdict::Success => match self.success(job, call, result) {
                Ok(Some(r)) => r,
                Ok(None) => JobResolution::Poll {
                    at: now + cfg.poll_interval.0,
                    seller_instance_id: None,
                },
                Err(e) => retry(e),
            },
        }
    }

    /// What a successful answer means for this call; `Ok(None)` = still not ready (poll).
    fn success(
        &self,
        job: &JobRecord,
        call: &PreparedCall,
        result: &CallResult,
    ) -> Result<Option<JobResolution>, String> {
        let Some(resp) = result.response.as_ref() else {
            return Err("no answer".into());
        };
        let none = JobResolution::Succeeded {
            seller_instance_id: None,
            app_info_sealed: None,
            license_sealed: None,
        };
        match job.kind {
            CallKind::NewInstance if job.phase == "poll" => {
                let sid = call.seller_instance_id.clone().unwrap_or_default();
                let Some(info) = resp
                    .info
                    .as_ref()
                    .and_then(|v| v.iter().find(|i| i.instance_id == sid))
                else {
                    return Ok(None);
                };
                let app_info =
                    self.open_app_info(job, call, resp.encrypt_type(), info.app_info.as_ref())?;
                Ok(Some(JobResolution::Succeeded {
                    seller_instance_id: Some(sid),
                    app_info_sealed: app_info,
                    license_sealed: None,
                }))
            }
            CallKind::NewInstance => {
                let sid = resp
                    .instance_id
                    .clone()
                    .filter(|s| !s.is_empty())
                    .ok_or("resultCode 000000 but no instanceId in the answer")?;
                let app_info =
                    self.open_app_info(job, call, resp.encrypt_type(), resp.app_info.as_ref())?;
                Ok(Some(JobResolution::Succeeded {
                    seller_instance_id: Some(sid),
                    app_info_sealed: app_info,
                    license_sealed: None,
                }))
            }
            CallKind::GetLicense => {
                let license = resp
                    .license
                    .clone()
                    .filter(|s| !s.is_empty())
                    .ok_or("resultCode 000000 but no license in the answer")?;
                Ok(Some(JobResolution::Succeeded {
                    seller_instance_id: resp.instance_id.clone(),
                    app_info_sealed: None,
                    license_sealed: Some(
                        self.state
                            .master_key
                            .seal(&format!("license:{}", job.instance_id), &license),
                    ),
                }))
            }
            _ => Ok(Some(none)),
        }
    }

    /// Decrypts the seller's credentials and re-seals them under the master key.
    fn open_app_info(
        &self,
        job: &JobRecord,
        call: &PreparedCall,
        encrypt_type: Result<EncryptType, souk_protocol::credentials::CryptoError>,
        info: Option<&souk_protocol::activity::response::AppInfo>,
    ) -> Result<Option<String>, String> {
        let Some(info) = info else { return Ok(None) };
        let et = encrypt_type.map_err(|e| format!("encryptType: {e}"))?;
        let explain = |field: &str| {
            format!(
                "appInfo.{field} does not decrypt with encryptType {} (AES-{}) and your Key; encrypt it as the spec says or declare the right encryptType",
                et.as_str(),
                et.bits()
            )
        };
        let plain = AppInfo {
            front_end_url: info.front_end_url.clone(),
            admin_url: info.admin_url.clone(),
            user_name: info
                .decrypt_user_name(&call.key, et)
                .map_err(|_| explain("userName"))?,
            password: info
                .decrypt_password(&call.key, et)
                .map_err(|_| explain("password"))?,
            memo: info.memo.clone(),
        };
        let json = serde_json::to_string(&plain).map_err(|e| e.to_string())?;
        Ok(Some(
            self.state
                .master_key
                .seal(&format!("app_info:{}", job.instance_id), &json),
        ))
    }

    fn policy(&self, kind: CallKind) -> RetryPolicy {
        if kind.is_license_code() {
            // Spec §7: 60 attempts, 2 minutes apart; not configurable, as on KooGallery.
            return RetryPolicy::LICENSE_CODE;
        }
        let cfg = &self.state.config.provisioning;
        let base = RetryPolicy::for_call(kind);
        RetryPolicy {
            window: if kind.fails_order() {
                cfg.opening_window.0
            } else {
                cfg.status_window.0
            },
            first_delay: cfg.first_retry.0,
            max_delay: cfg.max_retry_interval.0,
            jitter: base.jitter,
        }
    }

    /// Loads what the call needs and builds its request.
    async fn prepare(
        &self,
        job: &JobRecord,
        contexts: Option<&CallContexts>,
    ) -> anyhow::Result<PreparedCall> {
        let store = &self.state.store;
        let profile = store
            .integration_profile(&job.product_id)
            .await?
            .context("the product has no integration profile (production URL and Key)")?;
        let key = self
            .state
            .master_key
            .open(
                &souk_core::catalog::seller_key_context(&job.product_id),
                &profile.seller_key_sealed,
            )
            .context("opening the seller Key")?;
        let key = SellerKey::new(key);
        let instance = match contexts.and_then(|c| c.instances.get(&job.instance_id)) {
            Some(i) => i.clone(),
            None => store
                .find_instance(&Scope::Everything, &job.instance_id)
                .await?
                .context("the instance of this call no longer exists")?,
        };
        let order = match contexts.and_then(|c| c.orders.get(&job.order_id)) {
            Some(o) => Some(o.clone()),
            None => store.find_order(&Scope::Everything, &job.order_id).await?,
        };
        let buyer = match contexts.and_then(|c| c.parties.get(instance.buyer_id.as_str())) {
            Some(p) => p.clone(),
            None => store
                .find_party(&Scope::Everything, &instance.buyer_id)
                .await?
                .context("the buyer of this instance no longer exists")?,
        };
        let business_id = uuid::Uuid::new_v4().to_string();
        // License 2.0 seller interfaces use the V2 transport whatever the product's protocol.
        let protocol = if job.kind.is_license_code() {
            Protocol::V2
        } else {
            profile.protocol
        };
        let contact = order
            .as_ref()
            .map(|o| wire_contact(&o.snapshot.buyer, &key, profile.pii_encrypt_bits))
            .unwrap_or_default();
        let built = build_request(
            protocol,
            &CallContext {
                job,
                instance: &instance,
                order: order.as_ref(),
                buyer_name: &buyer.name,
                buyer: &contact,
                business_id: &business_id,
            },
        )?;
        Ok(PreparedCall {
            protocol,
            url: profile.production_url,
            key,
            activity: built.activity,
            business_id: built.uses_business_id.then_some(business_id),
            request: built.request,
            seller_instance_id: instance.seller_instance_id.clone(),
        })
    }
}

/// A call ready to send.
#[derive(Clone)]
pub struct PreparedCall {
    protocol: Protocol,
    url: String,
    key: SellerKey,
    activity: &'static str,
    business_id: Option<String>,
    request: CallRequest,
    seller_instance_id: Option<String>,
}
