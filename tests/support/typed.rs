//! The typed-API harness: one suite written once, run against three
//! topologies (standalone RESP2, standalone RESP3, the 6-node cluster).
//!
//! What lives here: [`Topology`], [`Env`] (a fresh `AnyClient` for one test,
//! key names private to that test, and a lock that keeps keyspace-wide tests
//! such as `FLUSHDB` apart from the others), the shared servers (one
//! standalone server and one cluster per test binary, started on first use),
//! raw subscribers for the publishing tests, and the [`typed_suite!`] macro
//! that instantiates test functions per topology. What does not: the tests.
//!
//! The servers live in statics, dropped by an `atexit` hook (which stops
//! them and removes their scratch dirs); a binary killed outright still takes
//! them along (`PR_SET_PDEATHSIG`, see `process`). Clients are
//! made per test, because each `#[tokio::test]` has its own runtime and a
//! client's background tasks die with the runtime that spawned them.
//!
//! Usage, in `tests/<name>.rs`:
//!
//! ```ignore
//! mod support;
//! use support::typed::Env;
//!
//! async fn get_set(env: Env) {
//!     let k = env.key("k");
//!     env.client.set(&k, "v").await.unwrap();
//! }
//! typed_suite!(get_set);
//! ```

use std::sync::{Arc, Mutex, OnceLock};

use redwire::AnyClient;
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use super::{Client, Cluster, Server};

/// Where a suite runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// One Valkey, RESP2.
    Resp2,
    /// One Valkey, RESP3 (`?protocol=resp3`).
    Resp3,
    /// 3 primaries + 3 replicas.
    Cluster,
}

impl Topology {
    /// Short name, used in key names.
    pub fn name(self) -> &'static str {
        match self {
            Topology::Resp2 => "resp2",
            Topology::Resp3 => "resp3",
            Topology::Cluster => "cluster",
        }
    }
}

// The shared servers, started on first use. They sit in `Mutex<Option>`s
// rather than plain statics so that `drop_servers` (run at exit) can drop
// them: that stops the processes and removes their scratch dirs.
static STANDALONE: Mutex<Option<Arc<Server>>> = Mutex::new(None);
static CLUSTER: Mutex<Option<Arc<Cluster>>> = Mutex::new(None);

fn shared<T>(slot: &'static Mutex<Option<Arc<T>>>, start: impl FnOnce() -> T) -> Arc<T> {
    let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
    if slot.is_none() {
        // SAFETY: registers a plain `extern "C" fn` with no captured state.
        static REGISTERED: std::sync::Once = std::sync::Once::new();
        REGISTERED.call_once(|| unsafe {
            libc::atexit(drop_servers);
        });
        *slot = Some(Arc::new(start()));
    }
    slot.as_ref().map(Arc::clone).unwrap_or_else(|| unreachable!("set above"))
}

extern "C" fn drop_servers() {
    let standalone = STANDALONE.lock().map(|mut s| s.take()).unwrap_or(None);
    let cluster = CLUSTER.lock().map(|mut c| c.take()).unwrap_or(None);
    drop((standalone, cluster));
}

fn standalone() -> Arc<Server> {
    shared(&STANDALONE, Server::start)
}

fn cluster() -> Arc<Cluster> {
    shared(&CLUSTER, || {
        let c = Cluster::start();
        c.wait_ok();
        c
    })
}

/// Shared by every test of a binary; taken exclusively by the tests that
/// touch the whole keyspace or server settings.
fn keyspace_lock() -> Arc<RwLock<()>> {
    static LOCK: OnceLock<Arc<RwLock<()>>> = OnceLock::new();
    LOCK.get_or_init(|| Arc::new(RwLock::new(()))).clone()
}

enum Guard {
    Shared(#[allow(dead_code)] OwnedRwLockReadGuard<()>),
    Exclusive(#[allow(dead_code)] OwnedRwLockWriteGuard<()>),
}

/// One test's view of a topology.
pub struct Env {
    /// The client under test.
    pub client: AnyClient,
    /// Where it runs.
    pub topology: Topology,
    prefix: String,
    _guard: Guard,
}

impl Env {
    /// A client for `topology`, sharing the servers with the other tests.
    pub async fn new(topology: Topology, test: &str) -> Env {
        let guard = Guard::Shared(keyspace_lock().read_owned().await);
        Env::with_guard(topology, test, guard).await
    }

    /// As [`Env::new`], alone on the servers: for `FLUSHDB`, `DBSIZE`,
    /// `CONFIG SET` and the like.
    pub async fn exclusive(topology: Topology, test: &str) -> Env {
        let guard = Guard::Exclusive(keyspace_lock().write_owned().await);
        Env::with_guard(topology, test, guard).await
    }

    async fn with_guard(topology: Topology, test: &str, guard: Guard) -> Env {
        let urls = tokio::task::spawn_blocking(move || match topology {
            Topology::Resp2 => vec![standalone().url()],
            Topology::Resp3 => vec![format!("{}?protocol=resp3", standalone().url())],
            Topology::Cluster => cluster().seed_urls(),
        })
        .await
        .expect("servers start");
        let client = redwire::connect(&urls).await.unwrap_or_else(|e| panic!("connect to {urls:?}: {e}"));
        match (&client, topology) {
            (AnyClient::Cluster(_), Topology::Cluster)
            | (AnyClient::Standalone(_), Topology::Resp2 | Topology::Resp3) => {}
            _ => panic!("redwire::connect chose the wrong topology for {topology:?}"),
        }
        Env { client, topology, prefix: format!("{{{}.{test}}}", topology.name()), _guard: guard }
    }

    /// True on the cluster.
    pub fn is_cluster(&self) -> bool {
        self.topology == Topology::Cluster
    }

    /// A key private to this test and topology. All keys of one test share a
    /// hash tag, so multi-key commands stay in one slot on the cluster.
    pub fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    /// A key of this test in a slot of its own (no shared hash tag), to make
    /// multi-key commands span slots on the cluster.
    pub fn untagged_key(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix.trim_matches(|c| c == '{' || c == '}'))
    }

    /// Raw connections, one per primary (one on a standalone server),
    /// each having sent `args` (e.g. `SUBSCRIBE ch`) and read its first reply.
    /// Keep them alive for as long as the subscription should last.
    pub fn on_every_primary(&self, args: &[&str]) -> Vec<Client> {
        let mut clients = match self.topology {
            Topology::Cluster => cluster().primaries().into_iter().map(|n| n.client()).collect(),
            _ => vec![standalone().client()],
        };
        for c in &mut clients {
            let reply = c.cmd(args);
            assert!(!reply.is_error(), "{args:?}: {reply:?}");
        }
        clients
    }

    /// A raw connection to the node serving `key`'s slot (the standalone
    /// server otherwise), having sent `args`.
    pub fn on_node_of(&self, key: &str, args: &[&str]) -> Client {
        let mut c = match self.topology {
            Topology::Cluster => {
                let cl = cluster();
                cl.primary_for_slot(cl.slot_of(key)).client()
            }
            _ => standalone().client(),
        };
        let reply = c.cmd(args);
        assert!(!reply.is_error(), "{args:?}: {reply:?}");
        c
    }
}

/// Instantiates async test functions `fn(Env)` once per topology, in
/// modules `resp2`, `resp3` and `cluster`. Functions listed after
/// `exclusive:` run alone on the servers (see [`Env::exclusive`]).
#[macro_export]
macro_rules! typed_suite {
    ($($name:ident),* $(,)? $(; exclusive: $($ex:ident),* $(,)?)?) => {
        $crate::typed_suite!(@topology resp2, Resp2, [$($name),*], [$($($ex),*)?]);
        $crate::typed_suite!(@topology resp3, Resp3, [$($name),*], [$($($ex),*)?]);
        $crate::typed_suite!(@topology cluster, Cluster, [$($name),*], [$($($ex),*)?]);
    };
    (@topology $module:ident, $topology:ident, [$($name:ident),*], [$($ex:ident),*]) => {
        mod $module {
            use super::support::typed::{Env, Topology};
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(Env::new(Topology::$topology, stringify!($name)).await).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $ex() {
                    super::$ex(Env::exclusive(Topology::$topology, stringify!($ex)).await).await;
                }
            )*
        }
    };
}
