//! The crates' modules form layers: a module imports only from its own layer and the layers below it.
//!
//! Each crate lists its top-level modules (the first segment after `crate::`) bottom-up, a layer per inner
//! list. The test reads every source file of the crate (`lib.rs`/`main.rs` excepted: they only declare
//! and re-export), takes its imports (`crate::x` paths, and `super::x` in a top-level file, which names a
//! sibling), and fails on an import of a higher layer that is not in the crate's list of exceptions, each
//! of which says why. Code after a file's first `#[cfg(test)]` (its unit tests) and comments are not
//! read. A module in no layer fails the test too, so a new module is placed when it is written.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One crate's layering.
struct Layering {
    /// Source folder, relative to the workspace root.
    src: &'static str,
    /// Top-level modules, bottom-up; modules in one inner list may import each other.
    layers: &'static [&'static [&'static str]],
    /// Allowed upward imports: (file relative to `src`, imported module, why).
    exceptions: &'static [(&'static str, &'static str, &'static str)],
}

const CRATES: &[Layering] = &[
    Layering {
        src: "crates/engine/src",
        layers: &[
            &["types", "pdq", "video", "ranking"],
            &["store", "analytics"],
            &["rerank"],
            &["search", "qdrant"],
            &["safety"],
            &["backend", "pipeline"],
            &["reports"],
            &["answers"],
        ],
        exceptions: &[(
            "search/collection.rs",
            "safety",
            "opening a collection computes what its blocks hide (a block's reach is a similarity search \
             or the duplicate finder over the opened collection), so every state served applies them",
        )],
    },
    Layering {
        src: "crates/core/src",
        layers: &[&["codec", "durable", "quantization", "simd", "vector"]],
        exceptions: &[],
    },
    Layering {
        src: "crates/embed/src",
        layers: &[
            &["error"],
            &["device", "hub", "image_io", "precision", "torch_legacy", "preset", "cpu", "embedder"],
            &["weights", "preprocess", "encoder", "ahead", "coalesce"],
            &["clip", "siglip", "efficientnet"],
            &["registry"],
        ],
        exceptions: &[],
    },
    Layering {
        src: "crates/index/src",
        layers: &[
            &["kind", "error", "id_filter", "distance"],
            &["config", "int8_codes"],
            &["vector_index"],
            &["topk", "persist"],
            &["flat", "hnsw", "ivf"],
            &["eval"],
        ],
        exceptions: &[],
    },
    Layering {
        src: "crates/qdrant/src",
        layers: &[&["error", "layout", "convert"], &["store"], &["collection", "points", "read"]],
        exceptions: &[],
    },
    Layering {
        src: "crates/bench/src",
        layers: &[
            &["dataset_kind"],
            &["error"],
            &["files", "measure", "collection", "neural_set"],
            &["dataset"],
            &["groundtruth", "results"],
            &["sweep", "qdrant", "plot"],
            &["report"],
        ],
        exceptions: &[],
    },
    Layering {
        src: "crates/server/src",
        layers: &[
            &["error", "assets"],
            &["pool", "thumbnails", "metrics"],
            &["api"],
            &["openapi"],
        ],
        exceptions: &[],
    },
    Layering {
        src: "crates/testkit/src",
        layers: &[&["skip", "planted"], &["kernels", "qdrant"]],
        exceptions: &[],
    },
    Layering {
        src: "src",
        layers: &[&["allocator"], &["cli"]],
        exceptions: &[],
    },
];

/// An import that goes up a layer.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Violation {
    file: String,
    from: String,
    to: String,
}

/// The `.rs` files below `dir`, relative to it.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path.strip_prefix(dir).expect("below dir").to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// The code of a file without its unit tests (what follows the first `#[cfg(test)]`) and comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module names that follow `prefix` in `code` (`crate::` or `super::`), where `prefix` is not
/// itself part of a longer path or identifier (`$crate::`, `a::super::`).
fn paths_after<'a>(code: &'a str, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    code.match_indices(prefix).filter_map(move |(at, _)| {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == ':') {
            return None;
        }
        let rest = &code[at + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..end];
        (!name.is_empty() && name.starts_with(|c: char| c.is_ascii_lowercase())).then_some(name)
    })
}

/// The top-level modules a file (at `rel` inside the crate's source folder) imports.
fn imports(rel: &str, text: &str) -> BTreeSet<String> {
    let code = code(text);
    let mut out: BTreeSet<String> = paths_after(&code, "crate::").map(str::to_string).collect();
    // In a top-level file, `super::x` is the crate's module `x`; deeper, it stays in the same module.
    if !rel.contains('/') {
        out.extend(paths_after(&code, "super::").map(str::to_string));
    }
    out
}

/// The layer of a top-level module.
fn layer_of(layering: &Layering, module: &str) -> Option<usize> {
    layering.layers.iter().position(|l| l.contains(&module))
}

/// The upward imports of one crate's files (`files`: path relative to `src`, text), and the modules that
/// are in no layer.
fn check(layering: &Layering, files: &[(String, String)]) -> (Vec<Violation>, BTreeSet<String>) {
    let mut violations = Vec::new();
    let mut unplaced = BTreeSet::new();
    for (rel, text) in files {
        if matches!(rel.as_str(), "lib.rs" | "main.rs") {
            continue;
        }
        let from = rel.split('/').next().unwrap_or(rel).trim_end_matches(".rs");
        let Some(from_layer) = layer_of(layering, from) else {
            unplaced.insert(from.to_string());
            continue;
        };
        for to in imports(rel, text) {
            if to == from {
                continue;
            }
            // Names that are not modules (`crate::Result` is filtered by case; items re-exported at
            // the root in lowercase, e.g. functions, are looked up like modules).
            let Some(to_layer) = layer_of(layering, &to) else {
                if files
                    .iter()
                    .any(|(r, _)| r == &format!("{to}.rs") || r.starts_with(&format!("{to}/")))
                {
                    unplaced.insert(to);
                }
                continue;
            };
            let allowed = layering
                .exceptions
                .iter()
                .any(|(file, module, _)| file == rel && *module == to);
            if to_layer > from_layer && !allowed {
                violations.push(Violation {
                    file: rel.clone(),
                    from: from.to_string(),
                    to,
                });
            }
        }
    }
    (violations, unplaced)
}

fn read_crate(src: &Path) -> Vec<(String, String)> {
    sources(src)
        .into_iter()
        .map(|rel| {
            let text = std::fs::read_to_string(src.join(&rel))
                .unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
            (rel.to_string_lossy().replace('\\', "/"), text)
        })
        .collect()
}

#[test]
fn modules_import_only_from_their_layer_and_below() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    for layering in CRATES {
        let files = read_crate(&root.join(layering.src));
        assert!(!files.is_empty(), "{}: no source files", layering.src);
        let (violations, unplaced) = check(layering, &files);
        for v in violations {
            failures.push(format!(
                "{}/{}: module `{}` imports `crate::{}`, a higher layer",
                layering.src, v.file, v.from, v.to
            ));
        }
        for m in unplaced {
            failures.push(format!(
                "{}: module `{m}` is in no layer: add it to tests/it/architecture.rs",
                layering.src
            ));
        }
        // Every exception still names an import that exists (stale ones go).
        for (file, module, _) in layering.exceptions {
            let used = files
                .iter()
                .any(|(rel, text)| rel == file && imports(rel, text).contains(*module));
            if !used {
                failures.push(format!(
                    "{}: the exception for {file} importing `{module}` is no longer needed: remove it",
                    layering.src
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "layers broken:\n{}",
        failures.join("\n")
    );
}

#[test]
fn a_planted_upward_import_is_caught() {
    let layering = Layering {
        src: "planted",
        layers: &[&["types"], &["store"], &["pipeline"]],
        exceptions: &[],
    };
    let files = vec![
        ("types/error.rs".to_string(), "use crate::pipeline::LOCK;\n// crate::store in a comment\n".to_string()),
        ("store/mod.rs".to_string(), "use crate::types::error::E;\n".to_string()),
        ("pipeline.rs".to_string(), "use super::store; use $crate::types;\n#[cfg(test)]\nmod tests { use crate::nowhere; }\n".to_string()),
        ("types/mod.rs".to_string(), "pub mod error; pub(crate) fn f() { super::store::g() }".to_string()),
    ];
    let (violations, unplaced) = check(&layering, &files);
    assert_eq!(
        violations,
        vec![Violation {
            file: "types/error.rs".into(),
            from: "types".into(),
            to: "pipeline".into(),
        }]
    );
    assert!(unplaced.is_empty(), "{unplaced:?}");
}
