//! Property tests: no input makes the parser or the events view panic, and whatever parses
//! re-serialises to JSON that parses to the same value.

use coex_meta::webhook::{Notification, events, parse_notification};
use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::support::all_fixtures;

/// Arbitrary JSON, biased towards the keys and shapes webhooks use so that the typed level
/// is reached, not just the envelope check.
fn arb_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("type".to_owned()),
        Just("id".to_owned()),
        Just("field".to_owned()),
        Just("value".to_owned()),
        Just("timestamp".to_owned()),
        Just("text".to_owned()),
        Just("status".to_owned()),
        Just("errors".to_owned()),
        Just("from_user_id".to_owned()),
        "[a-z_]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        // Short decimals: serde_json parses them exactly, so re-serialising is stable (long
        // ones may move by one ULP on reparse, which is serde_json's, not ours).
        any::<i32>()
            .prop_map(|i| serde_json::Number::from_f64(f64::from(i) / 1e4)
                .map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("messages".to_owned()),
            Just("history".to_owned()),
            Just("text".to_owned()),
            Just("edit".to_owned()),
            Just("US.123".to_owned()),
            Just("wamid.X".to_owned()),
            ".{0,12}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Wraps a value as the `value` of one change of `field`.
fn envelope(field: &str, value: Value) -> Value {
    serde_json::json!({"object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": field, "value": value}]}]})
}

/// Parses, runs the events view, and checks the serialisation is stable.
fn exercise(body: &[u8]) {
    if let Ok(n) = parse_notification(body) {
        for e in events(&n) {
            let _ = e.to_json_line().unwrap();
        }
        let _ = n.unknowns();
        let out = serde_json::to_vec(&n).unwrap();
        let again = parse_notification(&out).unwrap();
        // Typing is idempotent once explicit nulls are gone.
        assert_eq!(
            serde_json::to_value(&again).unwrap(),
            serde_json::to_value(&n).unwrap()
        );
    }
}

/// Replaces the node reached by a pseudo-random walk driven by `seed` with `replacement`.
fn mutate(v: &mut Value, seed: u64, replacement: Value) {
    let step = (seed % 7) as usize;
    let rest = seed / 7;
    let child = match v {
        Value::Object(m) if !m.is_empty() && rest > 0 => {
            let k = m.keys().nth(step % m.len()).cloned().unwrap();
            m.get_mut(&k)
        }
        Value::Array(a) if !a.is_empty() && rest > 0 => {
            let i = step % a.len();
            a.get_mut(i)
        }
        _ => None,
    };
    match child {
        Some(c) => mutate(c, rest, replacement),
        None => *v = replacement,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        exercise(&body);
    }

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        exercise(v.to_string().as_bytes());
        let _ = serde_json::from_value::<Notification>(v);
    }

    #[test]
    fn arbitrary_values_under_every_field_never_panic(
        field in prop_oneof![
            Just("messages"), Just("smb_message_echoes"), Just("history"),
            Just("smb_app_state_sync"), Just("account_update"), Just("user_id_update"),
            Just("business_username_update"), Just("calls"),
        ],
        v in arb_json(),
    ) {
        exercise(envelope(field, v).to_string().as_bytes());
    }

    #[test]
    fn mutated_fixtures_never_panic(
        index in any::<prop::sample::Index>(),
        seed in any::<u64>(),
        replacement in arb_json(),
    ) {
        let fixtures = all_fixtures();
        let (_, body) = &fixtures[index.index(fixtures.len())];
        let mut v: Value = serde_json::from_slice(body).unwrap();
        mutate(&mut v, seed, replacement);
        exercise(v.to_string().as_bytes());
    }

    #[test]
    fn truncated_fixtures_fail_cleanly(index in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>()) {
        let fixtures = all_fixtures();
        let (_, body) = &fixtures[index.index(fixtures.len())];
        let end = cut.index(body.len());
        let r = parse_notification(&body[..end]);
        if let Err(e) = r {
            prop_assert!(e.line().is_some());
        }
    }
}
