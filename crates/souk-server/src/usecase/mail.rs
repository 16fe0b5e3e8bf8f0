//! E-mail: the worker pass that drains the outbox (`email_outbox`, written by the store in the
//! transaction of every message-centre notice and password-reset request) through the SMTP
//! server of `smtp.*`, with `lettre`.
//!
//! Mails are plain text rendered from minijinja templates (`templates/mail/`) in the
//! recipient's language. Each carries `Message-ID: <outbox id@souk>`, the same on every
//! attempt, so a mail resent after a crash between the server's "250 OK" and Souk recording
//! it is recognisable as the same message. A permanent refusal (5xx) is given up at once; a
//! transient one is retried with doubling delays until `smtp.max_attempts`.

use crate::config::{SmtpConfig, SmtpSecurity};
use crate::AppState;
use anyhow::Context;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::Environment;
use souk_store::OutboxMail;
use std::sync::OnceLock;
use time::OffsetDateTime;

/// Mails sent per pass; the rest wait for the next tick.
const BATCH: u32 = 50;
/// The sealing context of a reset token carried by a mail.
pub const RESET_SECRET_CONTEXT: &str = "password_reset_mail";

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in [
            (
                "notice.txt",
                include_str!("../../templates/mail/notice.txt"),
            ),
            (
                "password_reset.txt",
                include_str!("../../templates/mail/password_reset.txt"),
            ),
        ] {
            // Compiled into the binary and rendered by the tests: a syntax error is a defect.
            env.add_template(name, source)
                .expect("mail templates compile");
        }
        env
    })
}

/// What a notice kind is about, in Chinese, for the subject line and the first line.
fn headline_zh(kind: &str) -> &'static str {
    match kind {
        "call_failed" => "生产接口调用失败",
        "call_gave_up" => "生产接口调用已停止重试",
        "review_approved" => "审核已通过",
        "review_rejected" => "审核未通过",
        "order_opened" => "订单已开通",
        "credentials_ready" => "订单已开通，凭据可查看",
        "order_refunded" => "订单开通失败，已退款",
        "refund_requested"
        | "refund_completed"
        | "refund_rejected"
        | "refund_return_approved"
        | "refund_return_shipped"
        | "refund_lapsed" => "退款进展",
        "refund_review_reminder" => "退款审核提醒",
        "refund_escalated" => "退款已转平台处理",
        "refund_awaits_operator" => "运输中未收货退款待平台确认",
        "supervision_waiting" | "supervision_completed" => "服务监管进展",
        "supervision_auto_accept_soon" => "即将自动验收",
        "supervision_stale" => "服务监管长期未完成",
        "appeal_opened" | "appeal_resolved" => "申诉进展",
        "appeal_overdue" => "申诉处理超时",
        "package_quota_low" => "资源包余量不足",
        "package_quota_exhausted" => "资源包已用完",
        _ => "新消息",
    }
}

/// A mail ready for SMTP: subject and text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
}

/// Renders an outbox row in its recipient's language.
pub fn render(state: &AppState, m: &OutboxMail) -> anyhow::Result<Rendered> {
    let base = state.config.smtp.public_url.trim_end_matches('/');
    let zh = m.lang == "zh";
    if m.kind == "password_reset" {
        let token = state
            .master_key
            .open(
                RESET_SECRET_CONTEXT,
                m.secret_sealed
                    .as_deref()
                    .context("reset mail without token")?,
            )
            .context("opening the reset token")?;
        let body = templates().get_template("password_reset.txt")?.render(
            minijinja::context! { zh, email => m.recipient, link => format!("{base}/password-reset/{token}") },
        )?;
        let subject = if zh {
            "[Souk] 重置控制台密码"
        } else {
            "[Souk] Reset your console password"
        };
        return Ok(Rendered {
            subject: subject.into(),
            body,
        });
    }
    let link = format!("{base}{}", m.link.as_deref().unwrap_or("/"));
    let headline = headline_zh(&m.kind);
    let body = templates()
        .get_template("notice.txt")?
        .render(minijinja::context! {
            zh, headline, subject => m.subject, body => m.body, link,
        })?;
    let subject = if zh {
        format!("[Souk] {headline}：{}", m.subject)
    } else {
        format!("[Souk] {}", m.subject)
    };
    Ok(Rendered { subject, body })
}

fn transport(c: &SmtpConfig) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let mut b = match c.security {
        SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host)?,
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host)?,
        SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host),
    }
    .port(c.port)
    .timeout(Some(std::time::Duration::from_millis(
        c.timeout.0.whole_milliseconds().max(1) as u64,
    )));
    if !c.username.is_empty() {
        let password = c.password.as_ref().map(|p| p.expose()).unwrap_or_default();
        b = b.credentials(Credentials::new(c.username.clone(), password.to_owned()));
    }
    Ok(b.build())
}

fn message(c: &SmtpConfig, m: &OutboxMail, r: Rendered) -> anyhow::Result<Message> {
    let from: Mailbox = c.from.parse().context("smtp.from is not an address")?;
    let to: Mailbox = m.recipient.parse().context("not a mail address")?;
    Ok(Message::builder()
        .from(from)
        .to(to)
        .subject(r.subject)
        .message_id(Some(format!("<{}@souk>", m.id)))
        .header(ContentType::TEXT_PLAIN)
        .body(r.body)?)
}

/// The timer pass: sends the mails due at `now`. Without an SMTP server configured, pending
/// mails become `skipped`. Returns how many mails changed state.
pub async fn deliver_due(state: &AppState, now: OffsetDateTime) -> anyhow::Result<usize> {
    let c = &state.config.smtp;
    if !c.enabled() {
        return Ok(state.store.skip_pending_mails().await? as usize);
    }
    // Leased for longer than one conversation may take, so a slow send is not taken over.
    let lease = c.timeout.0 * 2 + time::Duration::seconds(30);
    let due = state.store.claim_due_mails(now, lease, BATCH).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let smtp = transport(c)?;
    let mut changed = 0;
    for m in due {
        let outcome = match render(state, &m).and_then(|r| message(c, &m, r)) {
            // A mail that cannot be written will not get better: give up at once.
            Err(e) => Err((format!("{e:#}"), true)),
            Ok(msg) => smtp
                .send(msg)
                .await
                .map(|_| ())
                .map_err(|e| (e.to_string(), e.is_permanent())),
        };
        match outcome {
            Ok(()) => state.store.mail_sent(&m.id, now).await?,
            Err((error, permanent)) => {
                let attempts = m.attempts + 1;
                let retry = if permanent {
                    None
                } else {
                    souk_core::console::mail_retry_delay(attempts, c.max_attempts, c.first_retry.0)
                        .map(|d| now + d)
                };
                tracing::warn!(mail = %m.id, kind = %m.kind, attempts, error = %error, gave_up = retry.is_none(), "mail not sent");
                state.store.mail_failed(&m.id, &error, retry).await?;
            }
        }
        changed += 1;
    }
    Ok(changed)
}
