//! Scratch directories for servers and certificates: `<crate>/.tmp/<kind>/<pid>-<n>-<nanos>/`.
//!
//! Each is unique across parallel test binaries and tests, and removed on drop (set
//! `REDWIRE_KEEP_SCRATCH=1` to keep them for a post-mortem). Servers get their scratch dir on the
//! command line (`--dir`), which is how `scripts/test` finds and kills strays.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A directory that is removed, with everything in it, when dropped.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `<CARGO_MANIFEST_DIR>/.tmp/<kind>/<unique>/`.
    pub fn new(kind: &str) -> ScratchDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let path = root().join(kind).join(format!("{}-{}-{}", std::process::id(), n, nanos));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create scratch dir {}: {e}", path.display()));
        ScratchDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if std::env::var_os("REDWIRE_KEEP_SCRATCH").is_some_and(|v| v == "1") {
            return;
        }
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// `<repository>/.tmp`, the root of every scratch dir (`scripts/test` kills whatever runs there).
pub fn root() -> PathBuf {
    repo_root().join(".tmp")
}

/// The repository's root: the crate's own dir for the library's tests, its parent for the CLI's
/// (`cli/tests` includes this module by path). Found by `scripts/install-deps`, which only the
/// root has.
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    match manifest.ancestors().find(|dir| dir.join("scripts/install-deps").is_file()) {
        Some(root) => root.to_path_buf(),
        None => manifest.to_path_buf(),
    }
}
