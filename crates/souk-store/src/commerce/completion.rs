//! Recording what a seller call did: the attempt row, the job's move (if this worker still
//! holds its lease), and the effects the core plans for the outcome
//! ([`souk_core::outbox::plan`]), all in the transaction of the dispatch round.

use super::*;

pub(super) async fn complete_jobs(
    s: &SqlStore,
    owner: &str,
    outcomes: Vec<(JobRecord, AttemptRecord, JobResolution)>,
    now: OffsetDateTime,
) -> StoreResult<Vec<StoreResult<bool>>> {
    if let Some(writer) = &s.writer {
        return writer
            .unit(&s.write, |u| {
                run_now(complete_round(u, owner, &outcomes, now))?
            })
            .await;
    }
    // Optimistically the whole round in one transaction: one commit instead of one per call.
    let mut tx = s.write.begin().await?;
    let mut applied = Vec::with_capacity(outcomes.len());
    let mut failed = false;
    for (job, attempt, resolution) in &outcomes {
        match complete_in(
            &mut *tx,
            job,
            owner,
            attempt.clone(),
            resolution.clone(),
            now,
        )
        .await
        {
            Ok(a) => applied.push(Ok(a)),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    if !failed {
        tx.commit().await?;
        return Ok(applied);
    }
    // Something in the round failed: undo it and record each call on its own, so that one
    // bad outcome does not lose the others.
    tx.rollback().await?;
    let mut results = Vec::with_capacity(outcomes.len());
    for (job, attempt, resolution) in outcomes {
        let mut tx = s.write.begin().await?;
        match complete_in(&mut *tx, &job, owner, attempt, resolution, now).await {
            Ok(a) => {
                tx.commit().await?;
                results.push(Ok(a));
            }
            Err(e) => {
                tx.rollback().await?;
                results.push(Err(e));
            }
        }
    }
    Ok(results)
}

/// A dispatch round on the dedicated SQLite writer: one transaction, each call's outcome inside
/// its own savepoint, so that one that fails is undone alone and the others still commit.
async fn complete_round(
    tx: &mut impl Exec,
    owner: &str,
    outcomes: &[(JobRecord, AttemptRecord, JobResolution)],
    now: OffsetDateTime,
) -> StoreResult<Vec<StoreResult<bool>>> {
    let mut results = Vec::with_capacity(outcomes.len());
    for (job, attempt, resolution) in outcomes {
        tx.exec(sqlx::query("SAVEPOINT call_outcome")).await?;
        let result = complete_in(tx, job, owner, attempt.clone(), resolution.clone(), now).await;
        if result.is_err() {
            tx.exec(sqlx::query("ROLLBACK TO call_outcome")).await?;
        }
        tx.exec(sqlx::query("RELEASE call_outcome")).await?;
        results.push(result);
    }
    Ok(results)
}

/// Records one attempt and applies its resolution inside the caller's transaction; false when
/// the lease was lost (the attempt is recorded, nothing else changes).
pub(super) async fn complete_in(
    tx: &mut impl Exec,
    job: &JobRecord,
    owner: &str,
    a: AttemptRecord,
    resolution: JobResolution,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    insert_attempt(tx, &a).await?;
    complete_recorded(tx, job, owner, &a, resolution, now).await
}

pub(super) async fn insert_attempt(tx: &mut impl Exec, a: &AttemptRecord) -> StoreResult<()> {
    let query = sqlx::query(
        "INSERT INTO call_attempts (id, job_id, seller_id, product_id, instance_id, activity, \
         business_id, request, http_status, response_body, body_sign, result_code, outcome, \
         error, latency_ms, started_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(a.id.as_str())
    .bind(a.job_id.as_str())
    .bind(a.seller_id.as_str())
    .bind(&a.product_id)
    .bind(a.instance_id.as_str())
    .bind(&a.activity)
    .bind(a.business_id.clone())
    .bind(a.request.to_string())
    .bind(a.http_status.map(|s| s as i64))
    .bind(a.response_body.clone())
    .bind(&a.body_sign)
    .bind(a.result_code.clone())
    .bind(&a.outcome)
    .bind(a.error.clone())
    .bind(a.latency_ms)
    .bind(to_unix_ms(a.started_at));
    tx.exec(query).await?;
    Ok(())
}

/// Applies an attempt's resolution (the attempt itself is already recorded): the job moves as
/// the core's job state machine says, if this worker still holds its lease; then every effect
/// the core plans for the outcome is persisted.
pub(super) async fn complete_recorded(
    tx: &mut impl Exec,
    job: &JobRecord,
    owner: &str,
    a: &AttemptRecord,
    resolution: JobResolution,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let Ok(change) = JobState::Running.transition(resolution.event()) else {
        return Err(corrupt("job", "a claimed job cannot take this outcome"));
    };
    let patch = match &resolution {
        JobResolution::Succeeded { .. } => JobPatch::default(),
        JobResolution::Poll { at, .. } => JobPatch {
            phase: Some("poll"),
            next_attempt_at: Some(*at),
            ..JobPatch::default()
        },
        JobResolution::Retry { at, error } => JobPatch {
            next_attempt_at: Some(*at),
            last_error: Some(error),
            ..JobPatch::default()
        },
        JobResolution::GiveUp { error } => JobPatch {
            last_error: Some(error),
            ..JobPatch::default()
        },
    };
    // The job row changes only if we still hold its lease. When it ran out and another
    // worker took the job over, keep the record of what we saw and change nothing else.
    let lease = JobPatch {
        lease_owner: Some(owner),
        ..patch
    };
    match transition_job(tx, &job.id, change, lease, now).await {
        Ok(()) => {}
        Err(StoreError::LostRace { .. }) => return Ok(false),
        Err(e) => return Err(e),
    }
    let first_failure = a.outcome == "failure"
        && !matches!(resolution, JobResolution::Succeeded { .. })
        && job.last_error.is_none();
    let facts = if resolution.needs_states() {
        facts_in(tx, job, first_failure).await?
    } else {
        Facts {
            first_failure,
            ..Facts::default()
        }
    };
    let mut effects = souk_core::outbox::plan(job.kind, &resolution, facts).into_iter();
    while let Some(effect) = effects.next() {
        // The opening and what it delivered: one statement (the plan puts them side by side).
        if let Effect::Instance(open) = &effect {
            if let Some(Effect::RecordDelivery { .. }) = effects.as_slice().first() {
                if let Some(Effect::RecordDelivery {
                    seller_instance_id,
                    app_info_sealed,
                    license_sealed,
                }) = effects.next()
                {
                    let sql = instance_cas_delivering_sql(open.to);
                    let query = sqlx::query(&sql)
                        .bind(open.to.as_str())
                        .bind(job.instance_id.as_str())
                        .bind(open.from.as_str())
                        .bind(to_unix_ms(now))
                        .bind(seller_instance_id)
                        .bind(app_info_sealed)
                        .bind(license_sealed);
                    let lost = instance_lost(&job.instance_id, *open);
                    compare_and_set(tx, query, lost).await?;
                    continue;
                }
            }
        }
        apply_effect(tx, job, a, effect, now).await?;
    }
    Ok(true)
}

/// The states [`souk_core::outbox::plan`] decides on, read in the completing transaction in
/// one statement.
async fn facts_in(tx: &mut impl Exec, job: &JobRecord, first_failure: bool) -> StoreResult<Facts> {
    let query = sqlx::query(
        "SELECT (SELECT state FROM orders WHERE id = $1) AS order_state, \
         (SELECT amount_minor - voucher_minor FROM orders WHERE id = $1) AS amount_minor, \
         (SELECT currency FROM orders WHERE id = $1) AS currency, \
         (SELECT state FROM instances WHERE id = $2) AS instance_state, \
         (SELECT COUNT(*) FROM supervisions WHERE order_id = $1 AND node <> 'completed') \
         AS open_supervisions",
    )
    .bind(job.order_id.as_str())
    .bind(job.instance_id.as_str());
    let row = tx.one(query).await?;
    let order = match row.try_get::<Option<String>, _>("order_state")? {
        Some(state) => Some(OrderFacts {
            state: state.parse().map_err(|e| corrupt("order state", e))?,
            amount: Money::new(
                row.try_get::<Option<i64>, _>("amount_minor")?.unwrap_or(0),
                parse(&row, "currency")?,
            ),
            supervision_open: row.try_get::<i64, _>("open_supervisions")? > 0,
        }),
        None => None,
    };
    let instance = row
        .try_get::<Option<String>, _>("instance_state")?
        .map(|s| s.parse())
        .transpose()
        .map_err(|e| corrupt("instance state", e))?;
    Ok(Facts {
        order,
        instance,
        first_failure,
    })
}

/// Persists one effect the core planned for a call's outcome.
async fn apply_effect(
    tx: &mut impl Exec,
    job: &JobRecord,
    a: &AttemptRecord,
    effect: Effect,
    now: OffsetDateTime,
) -> StoreResult<()> {
    match effect {
        Effect::Instance(t) => transition_instance(tx, &job.instance_id, t, now).await?,
        Effect::RecordDelivery {
            seller_instance_id,
            app_info_sealed,
            license_sealed,
        } => {
            tx.exec(
                sqlx::query(
                    "UPDATE instances SET seller_instance_id = COALESCE($1, seller_instance_id), \
                     app_info_sealed = COALESCE($2, app_info_sealed), \
                     license_sealed = COALESCE($3, license_sealed) WHERE id = $4",
                )
                .bind(seller_instance_id)
                .bind(app_info_sealed)
                .bind(license_sealed)
                .bind(job.instance_id.as_str()),
            )
            .await?;
        }
        Effect::TakeOrderSpec => {
            tx.exec(
                sqlx::query(
                    "UPDATE instances SET sku_id = (SELECT sku_id FROM orders WHERE id = $2), \
                     quantity = (SELECT quantity FROM orders WHERE id = $2), updated_at = $1 \
                     WHERE id = $3",
                )
                .bind(to_unix_ms(now))
                .bind(job.order_id.as_str())
                .bind(job.instance_id.as_str()),
            )
            .await?;
        }
        Effect::Order(t) => transition_order(tx, &job.order_id, t, now).await?,
        Effect::FailAndRefund {
            steps,
            refund,
            amount,
            reason,
        } => fail_and_refund(tx, job, &steps, refund, amount, &reason, now).await?,
        Effect::FollowUp(kind) => {
            // The seller never told us its instanceId; the protocol recommends the first
            // businessId, which is what a seller following it will know the instance by.
            let first = tx
                .optional(
                    sqlx::query(
                        "SELECT business_id FROM call_attempts WHERE job_id = $1 \
                         AND business_id IS NOT NULL ORDER BY id LIMIT 1",
                    )
                    .bind(job.id.as_str()),
                )
                .await?;
            let first_business_id: Option<String> = match first {
                Some(row) => row.try_get("business_id")?,
                None => None,
            };
            let follow_up = NewJob {
                kind,
                instance_id: job.instance_id.clone(),
                order_id: job.order_id.clone(),
                seller_id: job.seller_id.clone(),
                product_id: job.product_id.clone(),
                payload: CallPayload::ReleaseAfterGivingUp {
                    after_giving_up: job.kind,
                    first_business_id,
                },
            };
            insert_job(tx, &follow_up, now).await?;
        }
        Effect::NotifySeller(notice) => {
            let notice = match notice {
                SellerNotice::GaveUp(error) => {
                    souk_core::notice::call_gave_up(job.kind, job.instance_id.as_str(), &error)
                }
                SellerNotice::FirstFailure => souk_core::notice::call_failed(
                    job.kind,
                    job.instance_id.as_str(),
                    a.error.as_deref(),
                ),
            };
            insert_notice(tx, &job.seller_id, &notice, Some(job.id.as_str()), now).await?;
        }
        Effect::NotifyBuyerOpened { has_credentials } => {
            let buyer = order_buyer(tx, job).await?;
            let notice = souk_core::notice::instance_opened(
                job.order_id.as_str(),
                job.instance_id.as_str(),
                has_credentials,
            );
            insert_notice(tx, &buyer, &notice, Some(job.order_id.as_str()), now).await?;
        }
    }
    Ok(())
}

async fn order_buyer(tx: &mut impl Exec, job: &JobRecord) -> StoreResult<PartyId> {
    let buyer: String = tx
        .one(sqlx::query("SELECT buyer_id FROM orders WHERE id = $1").bind(job.order_id.as_str()))
        .await?
        .try_get("buyer_id")?;
    Ok(PartyId::from_trusted(buyer))
}

/// Fails an order and returns its money, as the core planned (the unique index on ledger
/// entries makes a second refund of the same order impossible).
async fn fail_and_refund(
    tx: &mut impl Exec,
    job: &JobRecord,
    steps: &[Transition<OrderState>],
    refund: Option<Money>,
    amount: Money,
    reason: &str,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let buyer = order_buyer(tx, job).await?;
    // The voucher part, if the order used one, goes back to it (before the cash credit).
    crate::vouchers::return_voucher_part(
        tx,
        job.order_id.as_str(),
        None,
        refund.map_or(0, |r| r.amount_minor),
        now,
    )
    .await?;
    if let Some(refund) = refund {
        insert_entry(
            tx,
            &buyer,
            refund,
            EntryKind::Refund,
            Some(job.order_id.as_str()),
            Some(format!("automatic refund: {reason}")),
            None,
            now,
        )
        .await?;
    }
    for step in steps {
        transition_order(tx, &job.order_id, *step, now).await?;
    }
    tx.exec(
        sqlx::query("UPDATE orders SET failure_reason = $1 WHERE id = $2")
            .bind(reason)
            .bind(job.order_id.as_str()),
    )
    .await?;
    audit(
        tx,
        now,
        None,
        "order.failed_and_refunded",
        job.order_id.as_str(),
        serde_json::json!({ "reason": reason, "amount": amount }),
    )
    .await?;
    let notice = souk_core::notice::order_refunded(job.order_id.as_str(), amount, reason);
    insert_notice(tx, &buyer, &notice, Some(job.order_id.as_str()), now).await?;
    Ok(())
}
