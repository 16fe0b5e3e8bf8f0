//! Signature throughput on one core: `souk bench signatures`.
//!
//! Measures, on the calling thread, how many V1 `authToken`, V2 `signature` and `Body-Sign`
//! verifications run per second, each beside a raw HMAC-SHA256 over an input of the same
//! size, in the same run. The ratio shows what the protocol adds to the bare MAC (V1: a
//! sort, string building and Base64; V2: two HMACs and hex; Body-Sign: header parsing and
//! Base64). Inputs are realistic newInstance requests and answers.

use std::fmt;
use std::hint::black_box;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use souk_protocol::activity::{AppInfo, SellerResponse};
use souk_protocol::body_sign::{body_sign, verify_body_sign};
use souk_protocol::v1::{sign_v1_params, string_to_sign, verify_v1, EmptyValues};
use souk_protocol::v2::{V2Credentials, DEFAULT_WINDOW};
use souk_protocol::{EncryptType, Params, SellerKey};

/// One measured case.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchEntry {
    /// What was measured.
    pub name: &'static str,
    /// Bytes of MAC input per operation.
    pub input_bytes: usize,
    /// Operations performed.
    pub operations: u64,
    /// Operations per second.
    pub per_second: f64,
}

/// The result of [`signatures`].
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    /// Measuring time per case.
    pub duration: Duration,
    /// Pairs of (verification, raw HMAC over the same input size).
    pub entries: Vec<(BenchEntry, BenchEntry)>,
}

fn measure(
    name: &'static str,
    input_bytes: usize,
    duration: Duration,
    mut op: impl FnMut(),
) -> BenchEntry {
    // Warm-up so the first case does not pay for cold caches.
    for _ in 0..64 {
        op();
    }
    let started = Instant::now();
    let mut operations = 0u64;
    loop {
        for _ in 0..64 {
            op();
        }
        operations += 64;
        if started.elapsed() >= duration {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    BenchEntry {
        name,
        input_bytes,
        operations,
        per_second: operations as f64 / secs,
    }
}

fn raw_hmac(name: &'static str, key: &[u8], len: usize, duration: Duration) -> BenchEntry {
    let input = vec![b'a'; len];
    measure(name, len, duration, || {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
        mac.update(black_box(&input));
        black_box(mac.finalize().into_bytes());
    })
}

/// Runs every case for `duration` on the current thread.
pub fn signatures(duration: Duration) -> BenchReport {
    let key = SellerKey::new("6f1c2a8e-4b3d-4e5f-9a7b-0c1d2e3f4a5b");
    let mut entries = Vec::new();

    // V1: a newInstance query as the marketplace sends it.
    let mut params: Params = [
        ("activity", "newInstance"),
        ("businessId", "61e834ba-7b97-4418-b8f7-e5345137278c"),
        ("customerId", "68cbc86abc2018ab880d92f36422fa0e"),
        ("customerName", "Test User+1"),
        ("orderId", "CS1906666666ABCDE"),
        ("productId", "00301-666666-0--0"),
        ("skuCode", "a5b5c5d5-sku"),
        ("chargingMode", "1"),
        ("periodType", "year"),
        ("periodNumber", "1"),
        ("expireTime", "20250101000000"),
        ("testFlag", "1"),
        ("timeStamp", "20240101000000000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    sign_v1_params(&key, &mut params);
    let v1_len = string_to_sign(&params, EmptyValues::Omit).len();
    let v1 = measure("V1 authToken verify", v1_len, duration, || {
        verify_v1(&key, black_box(&params)).expect("valid token");
    });
    let hmac_key = [key.as_bytes(), b"20240101000000000"].concat();
    entries.push((v1, raw_hmac("raw HMAC-SHA256", &hmac_key, v1_len, duration)));

    // V2: a newInstance body (the §10.4 shape).
    let body = br#"{"activity":"newInstance","businessId":"87b94795-0603-4e24-8ae5-69420d60e3c8","orderId":"CS2211181819B4LVS","orderLineId":"CS2211181819B4LVS-000001","testFlag":"1"}"#;
    let ts = 1_680_508_066_618;
    let creds = V2Credentials::sign(&key, body, "50D83FDECAED6CCD8EF597F2A5779505", ts);
    let v2 = measure("V2 signature verify", body.len(), duration, || {
        creds
            .verify(&key, black_box(body), ts, DEFAULT_WINDOW, None)
            .expect("valid signature");
    });
    entries.push((
        v2,
        raw_hmac("raw HMAC-SHA256", key.as_bytes(), body.len(), duration),
    ));

    // Body-Sign: a newInstance answer with encrypted credentials.
    let mut answer = SellerResponse::success();
    answer.instance_id = Some("61e834ba-7b97-4418-b8f7-e5345137278c".into());
    answer.encrypt_type = Some("1".into());
    answer.app_info = Some(
        AppInfo {
            front_end_url: Some("https://app.example.com/instances/61e834ba".into()),
            ..AppInfo::default()
        }
        .with_credentials(
            &key,
            EncryptType::Aes256,
            "admin",
            "s3cret-pass",
            &mut rand::thread_rng(),
        ),
    );
    let raw = answer.to_body();
    let header = body_sign(&key, &raw);
    let bs = measure("Body-Sign verify", raw.len(), duration, || {
        verify_body_sign(&key, black_box(&raw), Some(&header)).expect("valid Body-Sign");
    });
    entries.push((
        bs,
        raw_hmac("raw HMAC-SHA256", key.as_bytes(), raw.len(), duration),
    ));

    BenchReport { duration, entries }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "signatures verified per second, one thread, {} ms per case",
            self.duration.as_millis()
        )?;
        writeln!(
            f,
            "{:<22} {:>7} {:>14} {:>18} {:>7}",
            "case", "bytes", "verify/s", "raw HMAC/s", "ratio"
        )?;
        for (verify, raw) in &self.entries {
            writeln!(
                f,
                "{:<22} {:>7} {:>14.0} {:>18.0} {:>6.2}x",
                verify.name,
                verify.input_bytes,
                verify.per_second,
                raw.per_second,
                raw.per_second / verify.per_second
            )?;
        }
        Ok(())
    }
}
