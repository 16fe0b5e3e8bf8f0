//! Semantic checks of answers and the deliberate probes: authentication, buyer details,
//! unknown instances.

use souk_protocol::activity::{AppInfo, SellerResponse};
use souk_protocol::credentials::decrypt;
use souk_protocol::{EncryptType, ResultCode, SellerKey};

use super::requests::BuyerDetail;
use super::{fix, CheckKind, Runner, NEW_INSTANCE, REFRESH_INSTANCE, RELEASE_INSTANCE};

impl Runner {
    // ---- semantic checks -------------------------------------------------------------

    pub(super) fn check_credentials(
        &mut self,
        step: &str,
        app: Option<&AppInfo>,
        declared: Option<&str>,
    ) {
        let Some(app) = app else {
            self.warn(
                step,
                CheckKind::Credentials,
                "no appInfo in the answer (fine only if credentials reach the buyer another way)",
                fix::CREDENTIALS,
            );
            return;
        };
        let encrypt_type = match EncryptType::from_field(declared) {
            Ok(t) => t,
            Err(_) => {
                self.fail(
                    step,
                    CheckKind::Credentials,
                    format!("encryptType {declared:?} is neither \"1\" nor \"2\""),
                    fix::CREDENTIALS,
                );
                return;
            }
        };
        let other = match encrypt_type {
            EncryptType::Aes256 => EncryptType::Aes128,
            EncryptType::Aes128 => EncryptType::Aes256,
        };
        let declared_text = match declared {
            Some(d) => format!("encryptType \"{d}\" (AES-{})", encrypt_type.bits()),
            None => "no encryptType, which means AES-256".to_owned(),
        };
        let mut problems = Vec::new();
        let mut checked = 0;
        for (field, value) in [("userName", &app.user_name), ("password", &app.password)] {
            let Some(value) = value else { continue };
            checked += 1;
            if let Err(e) = decrypt(&self.config.key, encrypt_type, value) {
                let hint = if decrypt(&self.config.key, other, value).is_ok() {
                    format!(
                        "; it decrypts with AES-{}, so declare encryptType \"{}\" or encrypt with AES-{}",
                        other.bits(),
                        other.as_str(),
                        encrypt_type.bits()
                    )
                } else {
                    String::new()
                };
                problems.push(format!("appInfo.{field} does not decrypt ({e}){hint}"));
            } else if value.len() > 128 {
                problems.push(format!(
                    "appInfo.{field} is {} characters long; the limit is 128 including the IV",
                    value.len()
                ));
            }
        }
        if app.front_end_url.as_deref().is_none_or(str::is_empty) {
            problems.push("appInfo.frontEndUrl is missing (mandatory in appInfo)".into());
        }
        if problems.is_empty() {
            let msg = if checked == 0 {
                format!("appInfo has no userName/password ({declared_text})")
            } else {
                format!("{checked} credential(s) decrypt with {declared_text}")
            };
            self.pass(step, CheckKind::Credentials, msg);
        } else {
            self.fail(
                step,
                CheckKind::Credentials,
                format!("with {declared_text}: {}", problems.join("; ")),
                fix::CREDENTIALS,
            );
        }
    }

    pub(super) fn check_license(&mut self, step: &str, response: &SellerResponse) {
        match response.license.as_deref() {
            Some(l) if !l.trim().is_empty() => {
                self.pass(step, CheckKind::License, "license present")
            }
            _ => self.fail(
                step,
                CheckKind::License,
                "no license in the answer",
                fix::LICENSE,
            ),
        }
    }

    pub(super) async fn authentication(&mut self, existing_order: Option<String>) {
        let wrong_key = SellerKey::new(format!("{}-not-the-key", self.config.key.expose()));
        // Wrong key.
        let order_id = self.order_id();
        let req = self.new_instance_signed_with(&order_id, &wrong_key);
        self.step(
            "newInstance signed with a wrong key",
            req,
            &[ResultCode::AuthenticationFailed],
            CheckKind::AuthWrongKey,
            fix::AUTH,
        )
        .await;

        // One parameter altered after signing.
        let order_id = self.order_id();
        let altered = format!("{order_id}X");
        let req = self.new_instance_altered_after_signing(&order_id, &altered);
        self.step(
            "newInstance with orderId altered after signing",
            req,
            &[ResultCode::AuthenticationFailed],
            CheckKind::AuthTampered,
            fix::AUTH,
        )
        .await;

        if !self.is_v2() {
            return;
        }
        // Stale timestamp: correctly signed, five minutes old.
        let order_id = self.order_id();
        let req = self.new_instance_stale(&order_id, 5 * 60 * 1000);
        self.step(
            "newInstance with a timestamp 5 minutes old",
            req,
            &[ResultCode::AuthenticationFailed],
            CheckKind::AuthStaleTimestamp,
            fix::STALE,
        )
        .await;

        // Replay: a valid retry of the first order, then the very same request again.
        let Some(order_id) = existing_order else {
            return;
        };
        let req = self.new_instance_request(&order_id, false);
        let first = self
            .step(
                "newInstance (retry before replay)",
                req.clone(),
                &[ResultCode::Success],
                CheckKind::ResultCode,
                fix::IDEMPOTENT,
            )
            .await;
        if first.is_some_and(|r| r.result_code.is_success()) {
            self.step(
                "the same request replayed (same nonce)",
                req,
                &[ResultCode::AuthenticationFailed],
                CheckKind::AuthReplayedNonce,
                fix::REPLAY,
            )
            .await;
        }
    }

    /// A seller that creates accounts from the buyer's e-mail or phone must decrypt them: one
    /// that cannot be decrypted is refused (000102 / 000101), not accepted blindly.
    pub(super) async fn buyer_details(&mut self) {
        if self.is_v2() || self.config.buyer_pii.is_none() || !self.sel(NEW_INSTANCE) {
            return;
        }
        // Sixteen IV characters and Base64 of 20 bytes: never a whole AES block.
        let garbled = "AbCdEfGhIjKlMnOp".to_owned() + "AAECAwQFBgcICQoLDA0ODxAREhM=";
        for (step, detail, accepted) in [
            (
                "newInstance (email that does not decrypt)",
                BuyerDetail::Email,
                [ResultCode::InvalidEmail, ResultCode::InvalidParameter],
            ),
            (
                "newInstance (mobilePhone that does not decrypt)",
                BuyerDetail::MobilePhone,
                [ResultCode::InvalidMobilePhone, ResultCode::InvalidParameter],
            ),
        ] {
            let order_id = self.order_id();
            let req = self.new_instance_with_buyer_detail(&order_id, detail, garbled.clone());
            self.step(
                step,
                req,
                &accepted,
                CheckKind::BuyerDetails,
                fix::BUYER_DETAILS,
            )
            .await;
        }
    }

    pub(super) async fn unknown_instance(&mut self) {
        let unknown = format!("huaweitest-unknown-{}", self.run_id.to_ascii_lowercase());
        if self.sel(REFRESH_INSTANCE) {
            let req = self.refresh_request(&unknown, false);
            self.step(
                "refreshInstance (unknown instance)",
                req,
                &[ResultCode::InstanceNotFound],
                CheckKind::UnknownInstance,
                fix::UNKNOWN,
            )
            .await;
        }
        let freeze = self.freeze_activity();
        if self.sel(freeze) {
            let req = self.status_request(&unknown, true);
            self.step(
                &format!("{freeze} (unknown instance)"),
                req,
                &[ResultCode::InstanceNotFound],
                CheckKind::UnknownInstance,
                fix::UNKNOWN,
            )
            .await;
        }
        if self.sel(RELEASE_INSTANCE) {
            let order = self.order_id();
            let req = self.release_request(&unknown, &order);
            self.step(
                "releaseInstance (unknown instance)",
                req,
                &[ResultCode::InstanceNotFound],
                CheckKind::UnknownInstance,
                fix::UNKNOWN,
            )
            .await;
        }
    }
}
