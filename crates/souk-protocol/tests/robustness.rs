//! Network-facing parsers never panic, whatever they are fed.

use proptest::prelude::*;
use souk_protocol::activity::kit::{AllOrgSync, AuthSyncV1, AuthSyncV2, KitBody, TenantSync};
use souk_protocol::activity::{SellerResponse, V1Activity, V2Activity};
use souk_protocol::apig::{self, ParsedAuth, RequestParts};
use souk_protocol::body_sign::{parse_body_sign, verify_body_sign};
use souk_protocol::credentials::{decrypt, EncryptType};
use souk_protocol::extend_params::decode_extend_params;
use souk_protocol::query::{parse_params, parse_query, Params};
use souk_protocol::timestamp::{TimestampFormat, WireTime};
use souk_protocol::v1::verify_v1;
use souk_protocol::v2::{NonceCache, V2Credentials, DEFAULT_WINDOW};
use souk_protocol::{kit, usage, SecretKey, SellerKey};

/// Every V1 parameter name the crate knows, so generated maps reach the typed parsers.
const V1_NAMES: &[&str] = &[
    "activity",
    "authToken",
    "timeStamp",
    "testFlag",
    "customerId",
    "customerName",
    "userId",
    "userName",
    "mobilePhone",
    "email",
    "businessId",
    "orderId",
    "skuCode",
    "productId",
    "trialFlag",
    "expireTime",
    "chargingMode",
    "saasExtendParams",
    "amount",
    "diskSize",
    "bandWidth",
    "periodType",
    "periodNumber",
    "orderAmount",
    "provisionType",
    "instanceId",
    "trialToFormal",
    "instanceStatus",
];

fn v1_params() -> impl Strategy<Value = Params> {
    let name = prop_oneof![
        prop::sample::select(V1_NAMES).prop_map(str::to_owned),
        any::<String>(),
    ];
    let value = prop_oneof![
        any::<String>(),
        "[0-9]{0,20}",
        "-?[0-9.]{0,8}",
        prop::sample::select(V1Activity::ACTIVITIES.to_vec()).prop_map(str::to_owned),
    ];
    prop::collection::btree_map(name, value, 0..30)
}

/// JSON-ish bodies: mostly objects with a known activity and random fields.
fn json_body() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        any::<String>().prop_map(serde_json::Value::from),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    let field = prop_oneof![
        prop::sample::select(vec![
            "activity",
            "orderId",
            "orderLineId",
            "businessId",
            "instanceId",
            "scene",
            "status",
            "expireTime",
            "testFlag",
            "license",
            "eventId",
            "effectiveTime",
            "resultCode",
            "resultMsg",
            "appInfo",
            "info",
            "userList",
            "orgInfoList",
            "flag",
            "timeStamp",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z]{1,12}",
    ];
    let activity = prop::sample::select(V2Activity::ACTIVITIES.to_vec());
    (activity, prop::collection::btree_map(field, value, 0..10)).prop_map(|(a, mut m)| {
        m.entry("activity".into()).or_insert_with(|| a.into());
        serde_json::to_vec(&m).unwrap()
    })
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        any::<String>().prop_map(String::into_bytes),
        json_body(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn query_parser(s in any::<String>()) {
        let _ = parse_query(&s);
        let _ = parse_params(&s);
    }

    #[test]
    fn query_parser_on_percent_soup(s in "[%0-9a-fA-F+=&?]{0,64}") {
        let _ = parse_params(&s);
    }

    #[test]
    fn body_sign_header_parser(s in any::<String>(), body in bytes()) {
        let _ = parse_body_sign(&s);
        let _ = verify_body_sign(&SellerKey::new("k"), &body, Some(&s));
    }

    #[test]
    fn body_sign_header_parser_on_structured_soup(s in "[a-zA-Z_ =,\"-]{0,64}") {
        let _ = parse_body_sign(&s);
    }

    #[test]
    fn v1_activity_parser(params in v1_params()) {
        let _ = V1Activity::from_params(&params);
        let _ = verify_v1(&SellerKey::new("k"), &params);
        let _ = V2Credentials::from_params(&params)
            .map(|c| c.verify(&SellerKey::new("k"), b"", 0, DEFAULT_WINDOW, None));
    }

    #[test]
    fn json_activity_parsers(body in bytes()) {
        let _ = V2Activity::from_body(&body);
        let _ = SellerResponse::from_body(&body);
        let _ = TenantSync::from_body(&body);
        let _ = AuthSyncV1::from_body(&body);
        let _ = AuthSyncV2::from_body(&body);
        let _ = AllOrgSync::from_body(&body);
        let _ = kit::verify_kit_v1(&SellerKey::new("k"), &body, Some("token"));
        let _ = usage::verify_usage_signature(&SellerKey::new("k"), &body, "c2ln", "1", "n", 1, DEFAULT_WINDOW);
    }

    #[test]
    fn parsed_v2_activities_reserialise(body in json_body()) {
        if let Ok(activity) = V2Activity::from_body(&body) {
            prop_assert_eq!(V2Activity::from_body(&activity.to_body()).unwrap(), activity);
        }
    }

    #[test]
    fn apig_authorization_parser(s in any::<String>()) {
        let _ = apig::parse_authorization(&s);
    }

    #[test]
    fn apig_authorization_parser_on_structured_soup(
        s in "(SDK-HMAC-SHA256)? ?[a-zA-Z=,; \"]{0,64}",
    ) {
        let _ = apig::parse_authorization(&s);
    }

    #[test]
    fn apig_request_parser(
        method in any::<String>(), path in any::<String>(), query in any::<String>(),
        headers in prop::collection::vec((
            prop_oneof![
                prop::sample::select(vec!["Authorization", "X-Sdk-Date", "Host", "x-stage", "X-Sdk-Content-Sha256"]).prop_map(str::to_owned),
                any::<String>(),
            ],
            prop_oneof![
                any::<String>(),
                Just("SDK-HMAC-SHA256 Access=a, SignedHeaders=host;x-sdk-date;x-stage, Signature=00".to_owned()),
                Just("20240317T144237Z".to_owned()),
            ],
        ), 0..6),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let header_refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let req = RequestParts { method: &method, path: &path, query: &query, headers: &header_refs, body: &body };
        if let Ok(parsed) = ParsedAuth::parse(&req) {
            let now = time::macros::datetime!(2024-03-17 14:42:37 UTC);
            let _ = parsed.verify(&SecretKey::new("sk"), now, apig::DEFAULT_MAX_SKEW);
        }
        let _ = apig::sign("ak", &SecretKey::new("sk"), &req);
    }

    #[test]
    fn decoders_of_encoded_values(s in any::<String>()) {
        let key = SellerKey::new("k");
        let _ = decrypt(&key, EncryptType::Aes128, &s);
        let _ = decrypt(&key, EncryptType::Aes256, &s);
        let _ = decode_extend_params(&s);
        let _ = WireTime::parse(&s);
        for f in [TimestampFormat::Seconds, TimestampFormat::Millis, TimestampFormat::Basic] {
            let _ = f.parse(&s);
        }
        let _ = EncryptType::parse(&s);
    }

    #[test]
    fn timestamps_on_digit_soup(s in "[0-9TZ]{14,17}") {
        if let Ok(t) = WireTime::parse(&s) {
            prop_assert_eq!(t.to_wire(), s.clone());
        }
        let _ = TimestampFormat::Basic.parse(&s);
    }

    #[test]
    fn nonce_cache_under_arbitrary_traffic(
        ops in prop::collection::vec(("[a-c]{1,2}", -100_000i64..100_000, 0i64..200_000), 0..64),
    ) {
        let cache = NonceCache::new(DEFAULT_WINDOW, 8);
        for (nonce, ts, now) in ops {
            let _ = cache.check_and_insert(&nonce, ts, now);
            prop_assert!(cache.len() <= 8);
        }
    }
}
