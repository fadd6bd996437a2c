//! Bounded fuzzing of request parsing and validation ([`super::request`]) with proptest: arbitrary bytes,
//! mutations of valid JSON requests (any fields, types, huge, negative or non-finite numbers, nested
//! values) and arbitrary multipart bodies never panic, and every rejection is a 4xx.
//!
//! 2000 cases per property with a fixed seed, so CI runs the same cases every time; `PROPTEST_CASES` and
//! `PROPTEST_RNG_SEED` override them (e.g. for a longer run with a random seed).

use super::request::{parse_json, read_search, validate, UncheckedSearch};
use crate::api::sample_info;
use crate::error::ApiError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use proptest::prelude::*;
use proptest::test_runner::{RngSeed, TestRunner};
use vsearch_engine::{CollectionInfo, IndexConfig, Metric, Query, QueryOptions};

/// Cases per property unless `PROPTEST_CASES` says otherwise.
const CASES: u32 = 2000;
/// The seed unless `PROPTEST_RNG_SEED` says otherwise.
const SEED: u64 = 0x7673_6561_7263_6801;

fn runner() -> TestRunner {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = CASES;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(SEED);
    }
    // The seed is fixed and a failure prints its input: no regression files in the source tree.
    config.failure_persistence = None;
    TestRunner::new(config)
}

/// The collections requests are checked against: image-only and CLIP-like, cosine and L2, with no index,
/// one or two, empty or not.
fn collections() -> Vec<CollectionInfo> {
    let mut l2 = sample_info(true, vec![IndexConfig::Flat]);
    l2.metric = Metric::L2;
    let mut empty = sample_info(true, vec![IndexConfig::Flat]);
    empty.count = 0;
    vec![
        sample_info(false, vec![IndexConfig::Flat]),
        sample_info(
            true,
            vec![IndexConfig::Hnsw(Default::default()), IndexConfig::Flat],
        ),
        sample_info(false, Vec::new()),
        l2,
        empty,
    ]
}

/// Validates `raw` against every collection: a rejection is a 4xx with a message, an acceptance a query
/// within the documented bounds. Tells whether some collection accepted it.
fn check_validation(raw: &UncheckedSearch) -> Result<Outcome, TestCaseError> {
    let mut outcome = Outcome::Rejected;
    for info in collections() {
        let result: Result<(Query, QueryOptions), ApiError> = validate(raw.clone(), &info);
        match result {
            Err(err) => {
                check_rejection(&err)?;
            }
            Ok((query, options)) => {
                prop_assert!((1..=super::request::MAX_K).contains(&options.k));
                prop_assert!(options.min_score.is_none_or(f32::is_finite));
                if let Query::Vector(v) = &query {
                    prop_assert_eq!(v.len(), info.model.dim);
                    prop_assert!(v.iter().all(|x| x.is_finite()), "{:?}", v);
                }
                if let Some(kind) = options.index {
                    prop_assert!(info.indexes.iter().any(|c| c.kind() == kind));
                }
                outcome = Outcome::Accepted;
            }
        }
    }
    Ok(outcome)
}

fn check_rejection(err: &ApiError) -> Result<Outcome, TestCaseError> {
    prop_assert!(err.status.is_client_error(), "{}", err);
    prop_assert!(!err.message.is_empty());
    Ok(Outcome::Rejected)
}

/// What became of a fuzzed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// A query for at least one collection.
    Accepted,
    /// A 4xx everywhere.
    Rejected,
}

/// Counts the outcomes of a property's cases, to check that its inputs reach both.
#[derive(Debug, Default)]
struct Tally {
    accepted: std::cell::Cell<u32>,
    rejected: std::cell::Cell<u32>,
}

impl Tally {
    fn count(&self, outcome: Result<Outcome, TestCaseError>) -> Result<(), TestCaseError> {
        let cell = match outcome? {
            Outcome::Accepted => &self.accepted,
            Outcome::Rejected => &self.rejected,
        };
        cell.set(cell.get() + 1);
        Ok(())
    }

    /// Asserts that at least one case in 20 ended each way.
    fn assert_both(&self, what: &str) {
        let (accepted, rejected) = (self.accepted.get(), self.rejected.get());
        let least = (accepted + rejected) / 20;
        assert!(
            accepted >= least && rejected >= least,
            "{what}: {accepted} accepted, {rejected} rejected: the generator misses one side"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

/// A JSON text tree whose numbers are written as given, so that they can be out of range or not JSON
/// at all (`NaN`, `inf`, `1e400`).
#[derive(Debug, Clone)]
enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn render(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(n),
            Json::String(s) => out.push_str(&serde_json::Value::from(s.as_str()).to_string()),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.render(out);
                }
                out.push(']');
            }
            Json::Object(fields) => {
                out.push('{');
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::from(name.as_str()).to_string());
                    out.push(':');
                    value.render(out);
                }
                out.push('}');
            }
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        self.render(&mut out);
        out
    }
}

/// Numbers of every kind: small, huge, negative, fractional, out of range and not JSON.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..2000).prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|x| format!("{x:e}")),
        any::<f32>().prop_map(|x| x.to_string()),
        prop::sample::select(vec![
            "0",
            "-0",
            "1",
            "-1",
            "0.5",
            "-0.5",
            "1e400",
            "-1e400",
            "1e-400",
            "3.4028235e38",
            "3.5e38",
            "1e15",
            "1.0000001e15",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775809",
            "NaN",
            "-Infinity",
            "Infinity",
            "inf",
            "0x10",
            "1.",
            ".5",
            "01",
            "+1",
            "1e",
            "--1",
        ])
        .prop_map(str::to_string),
    ]
}

/// Field names: the request's own, near misses and arbitrary strings.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "id", "text", "vector", "k", "index", "ef_search", "nprobe", "rerank", "min_score",
        ])
        .prop_map(str::to_string),
        1 => prop::sample::select(vec!["image", "ID", "k ", "", "__proto__", "ef-search"])
            .prop_map(str::to_string),
        1 => ".{0,12}",
    ]
}

/// Strings: index names, query texts, arbitrary Unicode, long ones.
fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "flat", "hnsw", "ivf", " Flat ", "HNSW", "annoy", "", "true"
        ])
        .prop_map(str::to_string),
        ".{0,40}",
        (9_990usize..10_010).prop_map(|n| "é".repeat(n)),
    ]
}

/// Any JSON value, nested a few levels deep.
fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        number().prop_map(Json::Number),
        string().prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Json::Array),
            prop::collection::vec((field_name(), inner), 0..6).prop_map(Json::Object),
        ]
    })
}

/// A valid request for the collections of [`collections`] (dimension 4).
fn valid_request() -> impl Strategy<Value = Vec<(String, Json)>> {
    let query = prop_oneof![
        (0u64..10).prop_map(|id| ("id".to_string(), Json::Number(id.to_string()))),
        "[a-z ]{1,20}".prop_map(|t| ("text".to_string(), Json::String(t))),
        prop::collection::vec(-10.0f64..10.0, 4).prop_map(|v| {
            let v = v.into_iter().map(|x| Json::Number(x.to_string())).collect();
            ("vector".to_string(), Json::Array(v))
        }),
    ];
    let option = prop_oneof![
        (1u64..=1000).prop_map(|k| ("k".to_string(), Json::Number(k.to_string()))),
        Just(("index".to_string(), Json::String("flat".into()))),
        (1u64..=10_000).prop_map(|e| ("ef_search".to_string(), Json::Number(e.to_string()))),
        (1u64..=65_536).prop_map(|n| ("nprobe".to_string(), Json::Number(n.to_string()))),
        any::<bool>().prop_map(|r| ("rerank".to_string(), Json::Bool(r))),
        (-1.0f64..1.0).prop_map(|m| ("min_score".to_string(), Json::Number(m.to_string()))),
    ];
    (query, prop::collection::vec(option, 0..4)).prop_map(|(query, options)| {
        let mut fields = vec![query];
        for (name, value) in options {
            if fields.iter().all(|(n, _)| *n != name) {
                fields.push((name, value));
            }
        }
        fields
    })
}

/// One change to a request's fields.
#[derive(Debug, Clone)]
enum Mutation {
    /// Sets (or adds) a field to any value.
    Set(String, Json),
    /// Adds a field even if it is there already (a duplicate key).
    Append(String, Json),
    /// Removes the field at this position (modulo the length).
    Remove(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (field_name(), json_value()).prop_map(|(n, v)| Mutation::Set(n, v)),
        (field_name(), json_value()).prop_map(|(n, v)| Mutation::Append(n, v)),
        any::<usize>().prop_map(Mutation::Remove),
    ]
}

fn mutate(mut fields: Vec<(String, Json)>, mutations: Vec<Mutation>) -> Vec<(String, Json)> {
    for m in mutations {
        match m {
            Mutation::Set(name, value) => match fields.iter_mut().find(|(n, _)| *n == name) {
                Some(field) => field.1 = value,
                None => fields.push((name, value)),
            },
            Mutation::Append(name, value) => fields.push((name, value)),
            Mutation::Remove(i) if !fields.is_empty() => {
                let i = i % fields.len();
                fields.remove(i);
            }
            Mutation::Remove(_) => {}
        }
    }
    fields
}

fn check_json_body(body: &[u8]) -> Result<Outcome, TestCaseError> {
    match parse_json(body) {
        Err(err) => check_rejection(&err),
        Ok(raw) => check_validation(&raw),
    }
}

#[test]
fn valid_json_requests_are_accepted() {
    runner()
        .run(&valid_request(), |fields| {
            let raw = parse_json(Json::Object(fields.clone()).text().as_bytes())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let info = sample_info(true, vec![IndexConfig::Flat]);
            let accepted = validate(raw, &info);
            prop_assert!(accepted.is_ok(), "{:?}: {:?}", fields, accepted.err());
            Ok(())
        })
        .unwrap();
}

#[test]
fn mutated_json_requests_never_panic_and_rejections_are_4xx() {
    let strategy = (valid_request(), prop::collection::vec(mutation(), 1..5));
    let tally = Tally::default();
    runner()
        .run(&strategy, |(fields, mutations)| {
            tally.count(check_json_body(
                Json::Object(mutate(fields, mutations)).text().as_bytes(),
            ))
        })
        .unwrap();
    tally.assert_both("mutated JSON");
}

#[test]
fn arbitrary_json_values_never_panic_and_rejections_are_4xx() {
    runner()
        .run(&json_value(), |value| {
            check_json_body(value.text().as_bytes()).map(|_| ())
        })
        .unwrap();
}

#[test]
fn arbitrary_bytes_as_json_never_panic_and_rejections_are_4xx() {
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        // Bytes after the start of an object, so that the parser gets past the first character.
        prop::collection::vec(any::<u8>(), 0..256).prop_map(|tail| {
            let mut body = br#"{"id": 1, "#.to_vec();
            body.extend(tail);
            body
        }),
        // Deep nesting.
        (
            0usize..5000,
            prop::sample::select(vec!["[", "{\"a\":", "{\"vector\":["])
        )
            .prop_map(|(depth, open)| open.repeat(depth).into_bytes()),
    ];
    runner()
        .run(&bytes, |body| check_json_body(&body).map(|_| ()))
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Bodies of any content type, multipart forms

const BOUNDARY: &str = "vsearch-fuzz-boundary";

/// A PNG signature and a few bytes: what passes the upload's format check.
const PNG_START: &[u8] = &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];

/// One part of a multipart form.
#[derive(Debug, Clone)]
struct Part {
    name: Option<String>,
    file_name: Option<String>,
    content_type: Option<String>,
    content: Vec<u8>,
}

fn part() -> impl Strategy<Value = Part> {
    let name = prop_oneof![
        4 => prop::sample::select(vec![
            "image", "k", "index", "ef_search", "nprobe", "rerank", "min_score", "id", "text",
        ])
        .prop_map(|n| Some(n.to_string())),
        1 => "[a-z\"; ]{0,10}".prop_map(Some),
        1 => Just(None),
    ];
    let content = prop_oneof![
        number().prop_map(String::into_bytes),
        string().prop_map(String::into_bytes),
        prop::sample::select(vec!["true", "false", "maybe", " 5 ", ""]).prop_map(|s| s.into()),
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|tail| [PNG_START, &tail].concat()),
    ];
    (
        name,
        prop::option::of("[a-z.]{1,10}"),
        prop::option::of(prop::sample::select(vec![
            "image/png",
            "text/plain",
            "application/octet-stream",
        ])),
        content,
    )
        .prop_map(|(name, file_name, content_type, content)| Part {
            name,
            file_name,
            content_type: content_type.map(str::to_string),
            content,
        })
}

/// A valid form: the image (a PNG signature passes the format check) and a few options within bounds.
fn valid_form() -> impl Strategy<Value = Vec<Part>> {
    let field = |name: &str, value: String| Part {
        name: Some(name.to_string()),
        file_name: None,
        content_type: None,
        content: value.into_bytes(),
    };
    let option = prop_oneof![
        (1u64..=1000).prop_map(move |k| field("k", k.to_string())),
        Just(field("index", "flat".into())),
        (1u64..=10_000).prop_map(move |e| field("ef_search", e.to_string())),
        (1u64..=65_536).prop_map(move |n| field("nprobe", n.to_string())),
        any::<bool>().prop_map(move |r| field("rerank", r.to_string())),
        (-1.0f64..1.0).prop_map(move |m| field("min_score", m.to_string())),
    ];
    let image = prop::collection::vec(any::<u8>(), 0..32).prop_map(|tail| Part {
        name: Some("image".into()),
        file_name: Some("query.png".into()),
        content_type: Some("image/png".into()),
        content: [PNG_START, &tail].concat(),
    });
    (image, prop::collection::vec(option, 0..4)).prop_map(|(image, mut options)| {
        options.insert(0, image);
        options
    })
}

/// A multipart body of `parts`.
fn multipart_body(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend(format!("--{BOUNDARY}\r\nContent-Disposition: form-data").as_bytes());
        if let Some(name) = &part.name {
            body.extend(format!("; name=\"{name}\"").as_bytes());
        }
        if let Some(file_name) = &part.file_name {
            body.extend(format!("; filename=\"{file_name}\"").as_bytes());
        }
        body.extend(b"\r\n");
        if let Some(content_type) = &part.content_type {
            body.extend(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend(b"\r\n");
        body.extend(&part.content);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Damage to a multipart body.
#[derive(Debug, Clone)]
enum Damage {
    None,
    /// Cut at this position (modulo the length).
    Truncate(usize),
    /// Bytes inserted at this position.
    Insert(usize, Vec<u8>),
    /// One byte overwritten.
    Overwrite(usize, u8),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        2 => Just(Damage::None),
        1 => any::<usize>().prop_map(Damage::Truncate),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Damage::Insert(at, bytes)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Damage::Overwrite(at, b)),
    ]
}

fn apply(mut body: Vec<u8>, damage: Damage) -> Vec<u8> {
    let len = body.len().max(1);
    match damage {
        Damage::None => {}
        Damage::Truncate(at) => body.truncate(at % len),
        Damage::Insert(at, bytes) => {
            let at = (at % len).min(body.len());
            body.splice(at..at, bytes);
        }
        Damage::Overwrite(at, byte) => {
            if let Some(b) = body.get_mut(at % len) {
                *b = byte;
            }
        }
    }
    body
}

/// Reads `body` as a search request with the given content type, as the handler does, and validates it.
fn check_request(
    runtime: &tokio::runtime::Runtime,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Result<Outcome, TestCaseError> {
    let mut request = Request::builder().method("POST").uri("/api/search");
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    let request = request
        .body(Body::from(body))
        .map_err(|e| TestCaseError::reject(e.to_string()))?;
    match runtime.block_on(read_search(request, &())) {
        Err(err) => check_rejection(&err),
        Ok(raw) => check_validation(&raw),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime")
}

#[test]
fn multipart_bodies_never_panic_and_rejections_are_4xx() {
    let runtime = runtime();
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    // A valid form, then parts of any kind inserted anywhere, then damage to its bytes.
    let strategy = (
        valid_form(),
        prop::collection::vec((any::<usize>(), part()), 0..3),
        damage(),
    );
    let tally = Tally::default();
    runner()
        .run(&strategy, |(mut parts, extra, damage)| {
            for (at, part) in extra {
                parts.insert(at % (parts.len() + 1), part);
            }
            let body = apply(multipart_body(&parts), damage);
            tally.count(check_request(&runtime, Some(&content_type), body))
        })
        .unwrap();
    tally.assert_both("multipart forms");
}

#[test]
fn bodies_of_any_content_type_never_panic_and_rejections_are_4xx() {
    let runtime = runtime();
    let content_type = prop::option::of(prop_oneof![
        prop::sample::select(vec![
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/problem+json",
            "multipart/form-data",
            "multipart/form-data; boundary=",
            "multipart/form-data; boundary=\"\"",
            "multipart/mixed; boundary=x",
            "text/plain",
            "",
        ])
        .prop_map(str::to_string),
        "[ -~]{0,40}",
    ]);
    let body = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        json_value().prop_map(|v| v.text().into_bytes()),
        (prop::collection::vec(part(), 0..4), damage())
            .prop_map(|(parts, damage)| apply(multipart_body(&parts), damage)),
    ];
    runner()
        .run(&(content_type, body), |(content_type, body)| {
            check_request(&runtime, content_type.as_deref(), body).map(|_| ())
        })
        .unwrap();
}
