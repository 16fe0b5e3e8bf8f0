//! The real `souk` binary: start, serve, stop on SIGTERM; `souk admin`; `souk config print`.

use crate::harness::{postgres_skipped, Backend, TestDb};
use crate::ops_support::wait_exit;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn souk() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_souk"));
    c.env_remove("RUST_LOG").env("NO_COLOR", "1");
    // Keep the developer's own SOUK_* settings out of these tests.
    for (k, _) in std::env::vars() {
        if k.starts_with("SOUK_") && !k.starts_with("SOUK_TEST") {
            c.env_remove(k);
        }
    }
    c
}

async fn serve_then_sigterm(backend: Backend) {
    let db = TestDb::new(backend).await;
    let data = db.dir.path().join("data");
    let mut child = souk()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .args(["--database-url", &db.url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start souk");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let key_line = lines.next().unwrap().unwrap();
    let key = key_line.split_whitespace().last().unwrap().to_owned();
    assert!(key.starts_with("sk_op_"), "{key_line}");
    let listen_line = lines.next().unwrap().unwrap();
    let addr = listen_line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected: {listen_line}"))
        .to_owned();

    let http = reqwest::Client::new();
    let me = http
        .get(format!("http://{addr}/v1/me"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert!(
        data.join("master.key").exists(),
        "master key generated on first start"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_exit(&mut child, Duration::from_secs(20));
    assert!(exit.success(), "souk exits cleanly on SIGTERM: {exit:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l == "souk stopped"), "{rest:?}");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        !err.contains(&key),
        "the operator key must never reach the log"
    );
}

#[tokio::test]
async fn serve_answers_and_stops_cleanly_on_sigterm_sqlite() {
    serve_then_sigterm(Backend::Sqlite).await;
}

#[tokio::test]
async fn serve_answers_and_stops_cleanly_on_sigterm_postgres() {
    if postgres_skipped() {
        return;
    }
    serve_then_sigterm(Backend::Postgres).await;
}

#[test]
fn admin_commands_create_parties_and_manage_keys() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = souk()
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let created = run(&[
        "admin",
        "create-party",
        "--role",
        "seller",
        "--name",
        "Acme",
    ]);
    // The very first command also bootstrapped the operator and showed its key once.
    assert!(created.contains("operator API key"), "{created}");
    let seller = created
        .split_whitespace()
        .find(|w| w.starts_with("sel_"))
        .unwrap()
        .to_owned();
    assert!(created.contains("sk_sel_"));

    let listed = run(&["admin", "list-parties", "--role", "seller"]);
    assert!(
        listed.contains(&seller) && listed.contains("Acme"),
        "{listed}"
    );
    assert!(!listed.contains("operator API key"), "shown once only");

    let issued = run(&["admin", "issue-key", &seller, "--label", "ci"]);
    let key_id = issued
        .split_whitespace()
        .find(|w| w.starts_with("key_"))
        .unwrap()
        .to_owned();
    let keys = run(&["admin", "list-keys", &seller]);
    assert_eq!(keys.lines().count(), 2, "{keys}");
    run(&["admin", "revoke-key", &key_id]);
    let keys = run(&["admin", "list-keys", &seller]);
    assert!(
        keys.lines()
            .any(|l| l.starts_with(&key_id) && l.contains("revoked")),
        "{keys}"
    );

    // Bad input is a clear message and a failure exit code, not a panic.
    let out = souk()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["admin", "create-party", "--role", "seller", "--name", "  "])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid_field") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn config_print_shows_effective_values_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("souk.toml"),
        "max_body_bytes = 2048\nlisten = \"127.0.0.1:7000\"\n",
    )
    .unwrap();
    let out = souk()
        .current_dir(dir.path())
        .args(["config", "print"])
        .env("SOUK_LISTEN", "127.0.0.1:7001")
        .env("SOUK_MASTER_KEY", "ab".repeat(32))
        .env("SOUK_DATABASE_URL", "postgres://souk:hunter2@db/souk")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("max_body_bytes = 2048"),
        "file applies: {text}"
    );
    assert!(
        text.contains("127.0.0.1:7001"),
        "environment wins over the file: {text}"
    );
    assert!(
        !text.contains(&"ab".repeat(32)) && !text.contains("hunter2"),
        "{text}"
    );
}
