//! Real `souk` processes for the operations tests: started with chosen arguments, their stdout
//! read line by line, their stderr kept in a file, stopped with SIGTERM or killed on drop.
//! Also the waits on child processes every test uses: a child is ready when it says so on its
//! output (`ready_line`), it has stopped when wait(2) returns (`wait_exit`), and what a separate
//! `souk` does on its own clock is awaited through its API (`?wait=` on an instance).

use crate::harness::Reply;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn souk() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_souk"));
    c.env_remove("RUST_LOG").env("NO_COLOR", "1");
    for (k, _) in std::env::vars() {
        if k.starts_with("SOUK_") && !k.starts_with("SOUK_TEST") {
            c.env_remove(k);
        }
    }
    c
}

/// A running `souk serve`.
pub struct Proc {
    pub child: Child,
    pub base: String,
    /// Every stdout line so far (including those before the address).
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr_file: PathBuf,
}

impl Proc {
    /// Starts `cmd` (stdout and stderr are taken over) and waits until it prints its address
    /// and, if `until` is given, a line starting with it.
    pub fn start(mut cmd: Command, stderr_file: &Path, until: Option<&str>) -> Proc {
        let err = std::fs::File::create(stderr_file).unwrap();
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::from(err))
            .spawn()
            .expect("start souk");
        let out = child.stdout.take().unwrap();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        {
            let stdout = stdout.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    stdout.lock().unwrap().push(line.clone());
                    let _ = tx.send(line);
                }
            });
        }
        let mut base = None;
        let limit = Instant::now() + Duration::from_secs(60);
        loop {
            let line = rx
                .recv_timeout(limit.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("souk did not start: {:?}", stdout.lock().unwrap()));
            if base.is_none() {
                if let Some(rest) = line.split("http://").nth(1) {
                    base = Some(format!(
                        "http://{}",
                        rest.split_whitespace().next().unwrap()
                    ));
                }
            }
            if base.is_some() && until.is_none_or(|u| line.starts_with(u)) {
                break;
            }
        }
        Proc {
            child,
            base: base.unwrap(),
            stdout,
            stderr_file: stderr_file.to_owned(),
        }
    }

    /// The value after `prefix` on the first stdout line starting with it.
    pub fn line_value(&self, prefix: &str) -> String {
        let lines = self.stdout.lock().unwrap();
        let line = lines
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in {lines:?}"));
        line[prefix.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    }

    /// SIGTERM, then waits (bounded) for a clean exit.
    pub fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let s = wait_exit(&mut self.child, Duration::from_secs(30));
        assert!(s.success(), "souk exits cleanly on SIGTERM: {s:?}");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: base.to_owned(),
        }
    }

    pub async fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> Reply {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        Reply::read(req.send().await.expect("request")).await
    }

    /// Places and pays an order: `(order_id, instance_id)`.
    pub async fn buy(&self, buyer_key: &str, sku: &str) -> (String, String) {
        let o = self
            .call(
                "POST",
                "/v1/orders",
                buyer_key,
                Some(json!({"sku_id": sku, "billing_mode": "monthly"})),
            )
            .await;
        assert_eq!(o.status, 201, "{}", o.text);
        let id = o.body["id"].as_str().unwrap().to_owned();
        let paid = self
            .call("POST", &format!("/v1/orders/{id}/pay"), buyer_key, None)
            .await;
        assert_eq!(paid.status, 200, "{}", paid.text);
        (id, paid.body["instance_id"].as_str().unwrap().to_owned())
    }

    /// Waits (bounded) until the instance is active: the separate `souk` opens it on its own
    /// clock, and `?wait=` has Souk answer once the instance left `opening` (no polling here;
    /// a restarted Souk may need more than one wait to resend the call).
    pub async fn wait_active(&self, key: &str, instance: &str) -> Value {
        let path = format!("/v1/instances/{instance}?wait=10");
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let r = self.call("GET", &path, key, None).await;
            assert_eq!(r.status, 200, "{}", r.text);
            if r.body["state"] == "active" {
                return r.body;
            }
            assert!(
                r.body["state"] == "opening" && Instant::now() < end,
                "the instance never opened: {}",
                r.text
            );
        }
    }

    /// Every item of a paginated list, in order.
    pub async fn all(&self, path: &str, key: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = match &after {
                Some(a) => format!("{path}{sep}limit=200&after={a}"),
                None => format!("{path}{sep}limit=200"),
            };
            let r = self.call("GET", &url, key, None).await;
            assert_eq!(r.status, 200, "{url}: {}", r.text);
            items.extend(r.body["data"].as_array().unwrap().iter().cloned());
            match r.body["next_cursor"].as_str() {
                Some(c) => after = Some(c.to_owned()),
                None => return items,
            }
        }
    }
}

/// Unix permission bits of a path.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The port a child named in its ready line: the last run of digits ("listening on 39291",
/// "…started successfully on port 33333.", " * Running on http://127.0.0.1:39343").
pub fn port_in(line: &str) -> u16 {
    line.rsplit(|c: char| !c.is_ascii_digit())
        .find(|run| !run.is_empty())
        .and_then(|run| run.parse().ok())
        .unwrap_or_else(|| panic!("no port in the ready line `{line}`"))
}

/// Reads a child's output until a line containing `ready` (the child saying it listens) and
/// returns that line; fails the test past `limit`. The rest of the output is read and dropped
/// so the child never blocks on a full pipe.
pub async fn ready_line<R>(out: R, ready: &str, limit: Duration) -> String
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    use tokio::io::AsyncBufReadExt;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let wanted = ready.to_owned();
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(out).lines();
        let mut seen = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains(&wanted) {
                let _ = tx.send(Ok(line));
                while let Ok(Some(_)) = lines.next_line().await {}
                return;
            }
            seen.push(line);
        }
        let _ = tx.send(Err(seen));
    });
    match tokio::time::timeout(limit, rx).await {
        Ok(Ok(Ok(line))) => line,
        Ok(Ok(Err(seen))) => panic!("the child ended its output before `{ready}`: {seen:?}"),
        Ok(Err(_)) => panic!("the reader of the child's output failed before `{ready}`"),
        Err(_) => panic!("no `{ready}` from the child within {limit:?}"),
    }
}

/// Waits for a child to exit: wait(2) in a scoped thread, so the exit is an event, not a poll.
/// Past `limit` the child is killed (which ends the wait) and the test fails.
pub fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let pid = child.id().to_string();
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel();
        scope.spawn(move || {
            let _ = tx.send(child.wait());
        });
        match rx.recv_timeout(limit) {
            Ok(status) => status.expect("wait for the child"),
            Err(_) => {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
                panic!("the child did not exit within {limit:?}");
            }
        }
    })
}
