//! `souk backup` while a real `souk serve` provisions orders, `souk restore` into a new data
//! directory, and a Souk started there that has every order, instance and ledger entry; and
//! `souk serve --demo` restarted on its data directory.

use crate::fixture::{product_body, Proto, SELLER_KEY};
use crate::ops_support::{mode, souk, Client, Proc};
use serde_json::{json, Value};
use souk_isv::example::{ExampleConfig, ExampleSeller};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn serve(data: &Path, op: &str, log: &Path) -> Proc {
    let mut cmd = souk();
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--allow-private-endpoints",
        "--data-dir",
    ])
    .arg(data)
    .env("SOUK_BOOTSTRAP_OPERATOR_KEY", op)
    .env("RUST_LOG", "warn");
    Proc::start(cmd, log, None)
}

/// Seller with a listed product at `url`, buyer with money: `(buyer_id, buyer_key, sku)`.
async fn market(c: &Client, op: &str, url: &str) -> (String, String, String) {
    let mut keys = Vec::new();
    for collection in ["sellers", "buyers"] {
        let p = c
            .call(
                "POST",
                &format!("/v1/{collection}"),
                op,
                Some(json!({"name": collection})),
            )
            .await;
        let id = p.body["id"].as_str().unwrap().to_owned();
        let k = c
            .call(
                "POST",
                &format!("/v1/{collection}/{id}/api-keys"),
                op,
                Some(json!({})),
            )
            .await;
        keys.push((id, k.body["secret"].as_str().unwrap().to_owned()));
    }
    let (seller_key, (buyer_id, buyer_key)) = (keys[0].1.clone(), keys[1].clone());
    let p = c
        .call(
            "POST",
            "/v1/products",
            &seller_key,
            Some(product_body("Backed Up", Proto::V2, url)),
        )
        .await;
    assert_eq!(p.status, 201, "{}", p.text);
    let pid = p.body["id"].as_str().unwrap().to_owned();
    c.call(
        "POST",
        &format!("/v1/products/{pid}/submit"),
        &seller_key,
        Some(json!({})),
    )
    .await;
    let approved = c
        .call(
            "POST",
            &format!("/v1/products/{pid}/approve"),
            op,
            Some(json!({})),
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    let t = c
        .call(
            "POST",
            &format!("/v1/buyers/{buyer_id}/balance/top-ups"),
            op,
            Some(json!({"amount": {"amount_minor": 100_000_000, "currency": "CNY"}})),
        )
        .await;
    assert_eq!(t.status, 201, "{}", t.text);
    let sku = approved.body["skus"][0]["id"].as_str().unwrap().to_owned();
    (buyer_id, buyer_key, sku)
}

fn by_id(items: Vec<Value>) -> BTreeMap<String, Value> {
    items
        .into_iter()
        .map(|v| (v["id"].as_str().unwrap().to_owned(), v))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_while_provisioning_restores_every_order_instance_and_ledger_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (data, restored) = (dir.path().join("data"), dir.path().join("restored"));
    let file = dir.path().join("souk.backup");
    let op = souk_core::api_key::generate(souk_core::party::Role::Operator).plaintext;
    let example = ExampleSeller::spawn(ExampleConfig::new(SELLER_KEY))
        .await
        .unwrap();
    let url = format!("{}/produce", example.url().trim_end_matches('/'));
    let a = serve(&data, &op, &dir.path().join("a.log"));
    let c = Client::new(&a.base);
    let (buyer_id, buyer, sku) = market(&c, &op, &url).await;

    // Settled before the backup: these must come back exactly as they were.
    let mut settled = Vec::new();
    for _ in 0..5 {
        settled.push(c.buy(&buyer, &sku).await);
    }
    for (_, instance) in &settled {
        c.wait_active(&buyer, instance).await;
    }
    let ledger_path = format!("/v1/buyers/{buyer_id}/ledger");
    let settled_orders = by_id(c.all("/v1/orders", &op).await);
    let settled_instances = by_id(c.all("/v1/instances", &op).await);
    let settled_ledger = by_id(c.all(&ledger_path, &op).await);

    // Orders keep being placed and paid while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    // Each acknowledged order is a message on `acked`: the test awaits them, it does not poll.
    let (tx, mut acked) = tokio::sync::mpsc::unbounded_channel::<String>();
    let load = {
        let (c, buyer, sku, stop) = (c.clone(), buyer.clone(), sku.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (order, _) = c.buy(&buyer, &sku).await;
                let _ = tx.send(order);
            }
        })
    };
    let mut before_backup = next_acks(&mut acked, 10, "load did not start").await;
    while let Ok(order) = acked.try_recv() {
        before_backup.push(order);
    }
    let out = {
        let (data, file) = (data.clone(), file.clone());
        tokio::task::spawn_blocking(move || {
            souk()
                .arg("backup")
                .arg(&file)
                .arg("--data-dir")
                .arg(&data)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Orders acknowledged after the backup ended (those during it are already queued).
    while acked.try_recv().is_ok() {}
    next_acks(
        &mut acked,
        5,
        "the server stopped serving during the backup",
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    assert_eq!(mode(&file), 0o600, "the backup holds the master key");
    let all_orders = by_id(c.all("/v1/orders", &op).await);
    let all_ledger = by_id(c.all(&ledger_path, &op).await);

    // Restore into a new data directory; refuse to restore over an existing one.
    let restore = |target: &Path| {
        souk()
            .arg("restore")
            .arg(&file)
            .arg("--data-dir")
            .arg(target)
            .output()
            .unwrap()
    };
    let out = restore(&restored);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&restored), 0o700);
    assert_eq!(mode(&restored.join("souk.db")), 0o600);
    assert_eq!(mode(&restored.join("master.key")), 0o600);
    assert_eq!(
        std::fs::read_to_string(restored.join("master.key")).unwrap(),
        std::fs::read_to_string(data.join("master.key")).unwrap()
    );
    let again = restore(&data);
    assert!(
        !again.status.success(),
        "restore never overwrites a database"
    );
    drop(a);

    let b = serve(&restored, &op, &dir.path().join("b.log"));
    let cb = Client::new(&b.base);
    let orders = by_id(cb.all("/v1/orders", &op).await);
    let instances = by_id(cb.all("/v1/instances", &op).await);
    let ledger = by_id(cb.all(&ledger_path, &op).await);
    for (id, o) in &settled_orders {
        assert_eq!(orders.get(id), Some(o), "settled order {id}");
    }
    for (id, i) in &settled_instances {
        assert_eq!(instances.get(id), Some(i), "settled instance {id}");
    }
    for (id, e) in &settled_ledger {
        assert_eq!(ledger.get(id), Some(e), "settled ledger entry {id}");
    }
    for id in &before_backup {
        let o = orders
            .get(id)
            .unwrap_or_else(|| panic!("order {id} paid before the backup"));
        assert_eq!(o["id"], all_orders[id]["id"]);
        assert_eq!(o["instance_id"], all_orders[id]["instance_id"]);
        let instance = o["instance_id"].as_str().unwrap();
        assert!(instances.contains_key(instance), "instance {instance}");
    }
    // Nothing the original never had, and the ledger entries are the original's.
    let known: BTreeSet<&String> = all_orders.keys().collect();
    assert!(orders.keys().all(|k| known.contains(k)));
    for (id, e) in &ledger {
        assert_eq!(all_ledger.get(id), Some(e), "ledger entry {id}");
    }
    assert!(orders.len() >= settled_orders.len() + before_backup.len());

    // Sealed secrets open with the restored master key: a new order reaches the seller.
    let (_, instance) = cb.buy(&buyer, &sku).await;
    cb.wait_active(&buyer, &instance).await;
    b.stop();
    example.shutdown().await;
}

/// Reads the demo's printed keys and ids.
fn demo_facts(p: &Proc) -> BTreeMap<&'static str, String> {
    [
        ("operator", "operator key: "),
        ("seller", "seller key:   "),
        ("buyer", "buyer key:    "),
        ("example", "example seller (in-process) at "),
        ("product", "product:      "),
        ("sku", "  sku basic: "),
    ]
    .into_iter()
    .map(|(k, prefix)| (k, p.line_value(prefix)))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_restarted_on_its_data_directory_keeps_keys_seller_and_product() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let start = || {
        let mut cmd = souk();
        cmd.args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .env("RUST_LOG", "warn");
        Proc::start(cmd, &dir.path().join("demo.log"), Some("walkthrough:"))
    };
    let first = start();
    let facts = demo_facts(&first);
    let c = Client::new(&first.base);
    let (_, instance) = c.buy(&facts["buyer"], &facts["sku"]).await;
    c.wait_active(&facts["buyer"], &instance).await;
    first.stop();
    assert_eq!(mode(&data.join("demo.json")), 0o600, "it holds API keys");

    let second = start();
    assert_eq!(demo_facts(&second), facts, "same keys, seller, product");
    let c = Client::new(&second.base);
    let (_, instance2) = c.buy(&facts["buyer"], &facts["sku"]).await;
    c.wait_active(&facts["buyer"], &instance2).await;
    let old = c
        .call(
            "GET",
            &format!("/v1/instances/{instance}"),
            &facts["buyer"],
            None,
        )
        .await;
    assert_eq!(old.body["state"], "active", "{}", old.text);

    // The client commands find the server through SOUK_URL.
    let out = souk()
        .args(["clock", "show"])
        .env("SOUK_URL", &second.base)
        .env("SOUK_OPERATOR_KEY", &facts["operator"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("sandbox time"));
    second.stop();
}

/// The next `n` orders the load acknowledges, awaited (bounded).
async fn next_acks(
    acked: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    n: usize,
    what: &str,
) -> Vec<String> {
    let orders = async {
        let mut orders = Vec::with_capacity(n);
        while orders.len() < n {
            orders.push(acked.recv().await.expect("the load stopped"));
        }
        orders
    };
    tokio::time::timeout(Duration::from_secs(30), orders)
        .await
        .unwrap_or_else(|_| panic!("{what}"))
}
