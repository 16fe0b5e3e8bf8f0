//! The lifecycle a seller is driven through: open, query, renew, upgrade, freeze, release.

use std::time::Duration;

use souk_protocol::activity::values::InstanceState;
use souk_protocol::ResultCode;

use super::requests::Prepared;
use souk_protocol::activity::{v1, v2};

use super::{
    fix, CheckKind, Runner, Status, NEW_INSTANCE, QUERY_INSTANCE, REFRESH_INSTANCE,
    RELEASE_INSTANCE,
};

impl Runner {
    /// newInstance, its retry, and (V2, `000004`) the queryInstance poll. Returns the
    /// instance id and the purchase order.
    pub(super) async fn open_instance(
        &mut self,
        label: &str,
        trial: bool,
    ) -> Option<(String, String)> {
        let order_id = self.order_id();
        let req = self.new_instance_request(&order_id, trial);
        let accepted: &[ResultCode] = if self.is_v2() {
            &[ResultCode::Success, ResultCode::Processing]
        } else {
            &[ResultCode::Success]
        };
        let response = self
            .step(label, req, accepted, CheckKind::ResultCode, fix::SUCCESS)
            .await?;
        if !(response.result_code.is_success() || response.result_code.is_processing()) {
            return None;
        }
        let Some(instance_id) = response.instance_id.clone().filter(|s| !s.is_empty()) else {
            self.fail(
                label,
                CheckKind::InstanceId,
                "the answer has no instanceId",
                fix::INSTANCE_ID,
            );
            return None;
        };
        self.pass(
            label,
            CheckKind::InstanceId,
            format!("instanceId {instance_id}"),
        );
        let mut response = response;
        if response.result_code.is_processing() {
            // Accepted asynchronously: poll queryInstance as the marketplace does.
            let mut opened = false;
            for attempt in 1..=5 {
                let step = format!("{label}: queryInstance poll {attempt}");
                let req = self.query_request(&instance_id);
                let Some(answer) = self
                    .step(
                        &step,
                        req,
                        &[ResultCode::Success, ResultCode::Processing],
                        CheckKind::Query,
                        fix::QUERY,
                    )
                    .await
                else {
                    break;
                };
                if answer.result_code.is_success() {
                    let app = answer
                        .info
                        .iter()
                        .flatten()
                        .find(|i| i.instance_id == instance_id)
                        .and_then(|i| i.app_info.clone());
                    response.app_info = app;
                    response.encrypt_type = answer.encrypt_type.clone();
                    opened = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if !opened {
                self.fail(
                    label,
                    CheckKind::Query,
                    "answered 000004 but queryInstance never reported the instance open",
                    fix::QUERY,
                );
                return None;
            }
        }
        self.check_credentials(
            label,
            response.app_info.as_ref(),
            response.encrypt_type.as_deref(),
        );

        // The retry: same order, fresh businessId.
        let retry = format!("{label} (retry, new businessId)");
        let req = self.new_instance_request(&order_id, trial);
        if let Some(again) = self
            .step(
                &retry,
                req,
                &[ResultCode::Success],
                CheckKind::ResultCode,
                fix::IDEMPOTENT,
            )
            .await
        {
            match again.instance_id.as_deref() {
                Some(id) if id == instance_id => self.pass(
                    &retry,
                    CheckKind::Idempotency,
                    "same instanceId for the same order",
                ),
                other => self.fail(
                    &retry,
                    CheckKind::Idempotency,
                    format!(
                        "a retry of order {order_id} returned instanceId {other:?}, the first call {instance_id:?}"
                    ),
                    fix::IDEMPOTENT,
                ),
            }
        }
        Some((instance_id, order_id))
    }

    pub(super) async fn query(&mut self, instance_id: &str) {
        let step = "queryInstance";
        let req = self.query_request(instance_id);
        let first = self.checks.len();
        let Some(answer) = self.exchange(step, &req).await else {
            return;
        };
        let Some(response) = answer.response else {
            return;
        };
        if !response.result_code.is_success() {
            self.warn(
                step,
                CheckKind::Query,
                format!(
                    "answered {} ({})",
                    response.result_code,
                    response.result_code.description()
                ),
                fix::QUERY,
            );
            return;
        }
        let found = response
            .info
            .iter()
            .flatten()
            .find(|i| i.instance_id == instance_id)
            .cloned();
        match found {
            Some(info) => {
                self.pass(step, CheckKind::Query, "info[] contains the instance");
                if self.checks[first..]
                    .iter()
                    .all(|c| c.status != Status::Fail)
                {
                    self.keep_case(step, &req, &response.result_code);
                }
                if info.app_info.is_some() {
                    self.check_credentials(
                        step,
                        info.app_info.as_ref(),
                        response.encrypt_type.as_deref(),
                    );
                }
            }
            None => self.fail(
                step,
                CheckKind::Query,
                "answered 000000 but info[] does not contain the instance",
                fix::QUERY,
            ),
        }
    }

    pub(super) async fn expect_ok(
        &mut self,
        step: &str,
        req: Prepared,
        kind: CheckKind,
        fix_text: &str,
    ) -> bool {
        self.step(step, req, &[ResultCode::Success], kind, fix_text)
            .await
            .is_some_and(|r| r.result_code.is_success())
    }

    // ---- the lifecycle ---------------------------------------------------------------

    pub(super) async fn lifecycle(&mut self) {
        let main = if self.sel(NEW_INSTANCE) {
            self.open_instance("newInstance", false).await
        } else {
            None
        };

        if let Some((instance, order)) = &main {
            let (instance, order) = (instance.clone(), order.clone());
            if self.sel(QUERY_INSTANCE) {
                self.query(&instance).await;
            }
            if self.sel(REFRESH_INSTANCE) {
                let req = self.refresh_request(&instance, false);
                let renewal = self.last_order_id();
                if self
                    .expect_ok(
                        "refreshInstance (renewal)",
                        req,
                        CheckKind::ResultCode,
                        fix::SUCCESS,
                    )
                    .await
                {
                    // 退续费: the renewal just sent is refunded before its period starts.
                    let req = self.renewal_refund_request(&instance, renewal);
                    self.expect_ok(
                        "refreshInstance (renewal-period refund)",
                        req,
                        CheckKind::ResultCode,
                        fix::SUCCESS,
                    )
                    .await;
                }
            }
            let upgrade = if self.is_v2() {
                v2::UpgradeInstance::ACTIVITY
            } else {
                v1::Upgrade::ACTIVITY
            };
            if self.sel(upgrade) {
                let req = self.upgrade_request(&instance);
                self.expect_ok(upgrade, req, CheckKind::ResultCode, fix::SUCCESS)
                    .await;
            }
            let freeze = self.freeze_activity();
            if self.sel(freeze) {
                let label = if self.is_v2() {
                    "updateInstanceStatus FREEZE"
                } else {
                    "expireInstance"
                };
                let req = self.status_request(&instance, true);
                if self
                    .expect_ok(label, req, CheckKind::ResultCode, fix::SUCCESS)
                    .await
                {
                    let req = self.status_request(&instance, true);
                    self.expect_ok(
                        &format!("{label} (repeat)"),
                        req,
                        CheckKind::Idempotency,
                        fix::REPEAT,
                    )
                    .await;
                }
                if self.is_v2() {
                    let req = self.status_request(&instance, false);
                    self.expect_ok(
                        "updateInstanceStatus UNFREEZE",
                        req,
                        CheckKind::ResultCode,
                        fix::SUCCESS,
                    )
                    .await;
                } else if self.sel(REFRESH_INSTANCE) {
                    // V1 has no unfreeze call for period products: a renewal brings an
                    // expired instance back.
                    let req = self.refresh_request(&instance, false);
                    self.expect_ok(
                        "refreshInstance (renewal after expiry)",
                        req,
                        CheckKind::ResultCode,
                        fix::SUCCESS,
                    )
                    .await;
                }
            }
            if !self.is_v2() && self.sel(v1::InstanceStatus::ACTIVITY) {
                for (label, status) in [
                    ("instanceStatus FREEZE", InstanceState::Freeze),
                    ("instanceStatus NORMAL", InstanceState::Normal),
                ] {
                    let req = self.instance_status_request(&instance, status);
                    self.expect_ok(label, req, CheckKind::ResultCode, fix::SUCCESS)
                        .await;
                }
            }
            if self.is_v2() && self.sel(v2::GetLicenseAsync::ACTIVITY) {
                let req = self.get_license_async_request(&instance);
                if let Some(r) = self
                    .step(
                        "getLicenseAsync",
                        req,
                        &[ResultCode::Success, ResultCode::Processing],
                        CheckKind::ResultCode,
                        fix::SUCCESS,
                    )
                    .await
                {
                    if r.result_code.is_success() {
                        self.check_license("getLicenseAsync", &r);
                    }
                }
            }
            if self.is_v2() && self.sel(v2::OrderNotify::ACTIVITY) {
                let req = self.order_notify_request(&order);
                self.expect_ok("orderNotify", req, CheckKind::ResultCode, fix::SUCCESS)
                    .await;
            }
        }

        // Trial, then conversion to a paid subscription.
        let trial = if self.sel(NEW_INSTANCE) && self.sel(REFRESH_INSTANCE) {
            let trial = self.open_instance("newInstance (trial)", true).await;
            if let Some((instance, _)) = &trial {
                let req = self.refresh_request(&instance.clone(), true);
                self.expect_ok(
                    "refreshInstance (trial to formal)",
                    req,
                    CheckKind::ResultCode,
                    fix::SUCCESS,
                )
                .await;
            }
            trial
        } else {
            None
        };

        if !self.is_v2() && self.sel(v1::GetLicense::ACTIVITY) {
            self.license_v1().await;
        }

        if self.sel(NEW_INSTANCE) {
            self.authentication(main.as_ref().map(|(_, o)| o.clone()))
                .await;
        }
        self.unknown_instance().await;
        self.buyer_details().await;

        if self.sel(RELEASE_INSTANCE) {
            if let Some((instance, order)) = &main {
                let (instance, order) = (instance.clone(), order.clone());
                let req = self.release_request(&instance, &order);
                if self
                    .expect_ok("releaseInstance", req, CheckKind::ResultCode, fix::SUCCESS)
                    .await
                {
                    let req = self.release_request(&instance, &order);
                    self.expect_ok(
                        "releaseInstance (repeat)",
                        req,
                        CheckKind::Idempotency,
                        fix::REPEAT,
                    )
                    .await;
                }
            }
            if let Some((instance, order)) = &trial {
                let (instance, order) = (instance.clone(), order.clone());
                let req = self.release_request(&instance, &order);
                self.expect_ok(
                    "releaseInstance (trial)",
                    req,
                    CheckKind::ResultCode,
                    fix::SUCCESS,
                )
                .await;
            }
        }
    }

    pub(super) async fn license_v1(&mut self) {
        let order_id = self.order_id();
        let req = self.get_license_request(&order_id);
        let Some(first) = self
            .step(
                "getLicense",
                req,
                &[ResultCode::Success],
                CheckKind::ResultCode,
                fix::SUCCESS,
            )
            .await
        else {
            return;
        };
        if !first.result_code.is_success() {
            return;
        }
        self.check_license("getLicense", &first);
        let req = self.get_license_request(&order_id);
        if let Some(again) = self
            .step(
                "getLicense (retry, new businessId)",
                req,
                &[ResultCode::Success],
                CheckKind::ResultCode,
                fix::LICENSE,
            )
            .await
        {
            if again.instance_id == first.instance_id && again.license == first.license {
                self.pass(
                    "getLicense (retry, new businessId)",
                    CheckKind::Idempotency,
                    "same instanceId and license for the same order",
                );
            } else {
                self.fail(
                    "getLicense (retry, new businessId)",
                    CheckKind::Idempotency,
                    "a retry of the order returned another instanceId or license",
                    fix::LICENSE,
                );
            }
        }
    }
}
