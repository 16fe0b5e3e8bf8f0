//! A real SMTP server on loopback (`scripts/smtp-sink.py`, aiosmtpd from PyPI, installed by
//! `scripts/ensure-smtp.sh`) and a Souk configured to mail through it.

#![allow(dead_code)]

use crate::harness::{TestApp, TestDb};
use crate::ops_support::{port_in, ready_line};
use serde_json::Value;
use std::path::PathBuf;

pub struct SmtpSink {
    child: tokio::process::Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

/// One mail as the sink received it, decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub message_id: String,
    pub body: String,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/smtp-sink.py");
        let mut child = tokio::process::Command::new("python3")
            .arg(script)
            .arg("0")
            .arg(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 scripts/smtp-sink.py (scripts/ensure-smtp.sh installs aiosmtpd)");
        // Port 0: the sink binds a free port itself and prints "listening on PORT" once it
        // accepts connections (a port picked here could be taken before the child binds it).
        let out = child.stdout.take().unwrap();
        let line = ready_line(out, "listening on", std::time::Duration::from_secs(30)).await;
        let port = port_in(&line);
        SmtpSink { child, port, dir }
    }

    /// Every mail received so far. The sink has answered 250 to each before Souk recorded it
    /// as sent, so after `drain()` they are all here.
    pub fn mails(&self) -> Vec<Mail> {
        let mut out: Vec<(std::time::SystemTime, Mail)> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .map(|e| {
                let v: Value =
                    serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap();
                let mail = Mail {
                    to: v["to"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| t.as_str().unwrap().to_owned())
                        .collect(),
                    subject: v["subject"].as_str().unwrap().to_owned(),
                    message_id: v["message_id"].as_str().unwrap().to_owned(),
                    body: v["body"].as_str().unwrap().to_owned(),
                };
                (e.metadata().unwrap().modified().unwrap(), mail)
            })
            .collect();
        out.sort_by_key(|(t, _)| *t);
        out.into_iter().map(|(_, m)| m).collect()
    }

    pub fn mails_to(&self, address: &str) -> Vec<Mail> {
        self.mails()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == address))
            .collect()
    }
}

/// The link in a mail's body that starts with `prefix`.
pub fn link_in(body: &str, prefix: &str) -> String {
    let start = body
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in {body}"));
    body[start..].split_whitespace().next().unwrap().to_owned()
}

/// Links in mails start with this (`smtp.public_url`).
pub const PUBLIC_URL: &str = "http://souk.test";

/// Souk on `db`, mailing through `sink`.
pub async fn app_with_mail(db: TestDb, sink: &SmtpSink) -> TestApp {
    let port = sink.port;
    TestApp::spawn_with(db, move |c| {
        c.smtp.host = "127.0.0.1".into();
        c.smtp.port = port;
        c.smtp.security = souk_server::config::SmtpSecurity::None;
        c.smtp.public_url = PUBLIC_URL.into();
        c.smtp.max_attempts = 2;
    })
    .await
}
