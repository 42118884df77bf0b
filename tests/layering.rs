//! The layer rules of ARCHITECTURE.md, checked on the sources: one test that
//! reads the imports and paths of every module said to be pure, and of the
//! connection layer, and fails naming the file and the line that breaks a rule.
//!
//! Lives here: the lists of pure and IO modules and the rules between them.
//! Not here: anything that runs the code (every other test does).
//!
//! The rules:
//! - the pure core (`resp/`, `cmd/`, the routing decisions, `backoff.rs`,
//!   `error.rs`, the pub/sub state machine, the coordination format, the
//!   sentinel reply parsing) imports neither the async runtime, nor sockets
//!   or TLS, nor any of the crate's IO modules;
//! - the configuration edge (`config/`, `url.rs`, the store's argument
//!   mapping) builds the IO layers' option types but never imports the runtime;
//! - the connection layer (`conn/`) never reaches up: no `route`, no client,
//!   no pool, no store, no pub/sub, no sentinel.

use std::fs;
use std::path::{Path, PathBuf};

/// The runtime, sockets and TLS.
const RUNTIME: &[&str] = &["tokio", "socket2", "rustls", "std::net::TcpStream", "std::thread::sleep"];

/// The crate's modules that do IO (paths as they appear in `use` lines).
const IO_MODULES: &[&str] = &[
    "crate::conn",
    "crate::pool",
    "crate::client",
    "crate::store",
    "crate::sentinel::",
    "crate::sentinel::{",
    "crate::pubsub::subscriber",
    "crate::pubsub::publisher",
    "crate::pubsub::servers",
    "crate::coord::coordinator",
    "crate::coord::bus",
    "route::cluster",
    "route::fetch",
    "super::cluster",
    "super::fetch",
    "crate::commands",
];

/// What the connection layer may not import: every layer above it.
const ABOVE_CONN: &[&str] = &[
    "crate::route",
    "crate::client",
    "crate::pool",
    "crate::store",
    "crate::pubsub",
    "crate::sentinel",
    "crate::coord",
    "crate::commands",
];

/// The pure core, relative to `src/`: a directory means every file under it.
const PURE: &[&str] = &[
    "resp",
    "cmd",
    "route/slot.rs",
    "route/keys.rs",
    "route/split.rs",
    "route/topology.rs",
    "route/topology",
    "route/redirect.rs",
    "route/nodes.rs",
    "backoff.rs",
    "error.rs",
    "error",
    "secret.rs",
    "pubsub/registry.rs",
    "pubsub/registry",
    "pubsub/message.rs",
    "coord/codec.rs",
    "coord/codec",
    "coord/event.rs",
    "sentinel/reply.rs",
    "cache/options.rs",
    "cache/commands.rs",
    "cache/store.rs",
    "cache/store",
];

/// The configuration edge: no runtime, but it builds the IO layers' options.
const CONFIG_EDGE: &[&str] = &["config", "url.rs", "url", "store/translate.rs", "store/connect.rs"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file of `entry` (a file or a directory, recursively).
fn files(entry: &str) -> Vec<PathBuf> {
    fn walk(path: &Path, out: &mut Vec<PathBuf>) {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = fs::read_dir(path).unwrap().map(|e| e.unwrap().path()).collect();
            entries.sort();
            for p in entries {
                walk(&p, out);
            }
        } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
            out.push(path.to_path_buf());
        }
    }
    let mut out = Vec::new();
    walk(&src().join(entry), &mut out);
    out
}

/// The lines of code of a file (comment lines dropped), numbered from 1.
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l.to_string()))
        .collect()
}

/// Each line of the files of `entries` that mentions one of `forbidden`.
fn violations(entries: &[&str], forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in entries {
        let paths = files(entry);
        // A renamed module must be renamed here too, or its rules lapse.
        assert!(!paths.is_empty(), "src/{entry} is listed but holds no Rust file");
        for path in paths {
            for (n, line) in code_lines(&path) {
                for word in forbidden {
                    if line.contains(word) {
                        let file = path.strip_prefix(src()).unwrap_or(&path).display().to_string();
                        found.push(format!("src/{file}:{n}: `{word}` in `{}`", line.trim()));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn layers_import_only_downwards() {
    let mut all = Vec::new();
    let pure_forbidden: Vec<&str> = RUNTIME.iter().chain(IO_MODULES).copied().collect();
    all.extend(violations(PURE, &pure_forbidden));
    all.extend(violations(CONFIG_EDGE, RUNTIME));
    all.extend(violations(&["conn"], ABOVE_CONN));
    assert!(all.is_empty(), "layer rules broken (see ARCHITECTURE.md):\n{}", all.join("\n"));
}

/// The test can fail: the scanner finds a forbidden import when one is there.
#[test]
fn the_scanner_sees_an_import() {
    let dir = std::env::temp_dir().join(format!("redwire-layering-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("probe.rs");
    fs::write(&file, "//! tokio in a comment is fine\nuse tokio::sync::Notify;\n").unwrap();
    let lines = code_lines(&file);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].1.contains("tokio"));
    fs::remove_dir_all(&dir).unwrap();
    // Every pure directory listed exists and holds code.
    for entry in ["resp", "cmd", "route/topology", "error", "pubsub/registry"] {
        assert!(!files(entry).is_empty(), "{entry}");
    }
}
