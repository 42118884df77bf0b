//! GETs through one `Client`, for instruction counts per GET under callgrind.
//!
//! `get_loop [N] [TASKS]` connects to `REDWIRE_URL` (default
//! `redis://127.0.0.1:6379`), writes a 64-byte value, then runs `N` GETs
//! (default 20,000) split over `TASKS` tasks (default 1) on a current-thread
//! runtime, so every instruction of the client (caller, writer, reader) runs
//! on one thread. The measured phase is the function `measured_gets`; under
//! callgrind collect only it:
//!
//! ```text
//! valgrind --tool=callgrind --toggle-collect='get_loop::measured_gets' \
//!     target/release/examples/get_loop 20000 1
//! ```
//!
//! and divide the instruction count by `N`. Every reply is checked.
//!
//! With `REDWIRE_CLUSTER` set to comma-separated seed URLs, the GETs go
//! through one `ClusterClient` instead (the key's slot decides the node).

use std::time::Instant;

use redwire::cluster::ClusterClient;
use redwire::{cmd, Client, Cmd, Error, Frame};

/// One standalone client or one cluster client.
#[derive(Clone)]
enum Target {
    One(Client),
    Cluster(ClusterClient),
}

impl Target {
    async fn send(&self, c: &Cmd) -> Result<Frame, Error> {
        match self {
            Target::One(client) => client.send(c).await,
            Target::Cluster(client) => client.send(c).await,
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(20_000);
    let tasks: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1).max(1);
    let url = std::env::var("REDWIRE_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let client = rt.block_on(async {
        let client = match std::env::var("REDWIRE_CLUSTER") {
            Ok(seeds) => Target::Cluster(ClusterClient::open(&seeds.split(',').collect::<Vec<_>>()).await?),
            Err(_) => Target::One(Client::open(&url).await?),
        };
        client.send(&cmd("SET").arg("bench:get_loop:key").arg([b'v'; 64])).await?;
        // Warm up: buffers reach their working size.
        run(&client, 1000, tasks).await?;
        Ok::<_, Error>(client)
    })?;
    let start = Instant::now();
    measured_gets(&rt, &client, n, tasks)?;
    let took = start.elapsed();
    eprintln!(
        "{n} GETs over {tasks} task(s) in {took:?} ({:.2} µs/GET)",
        took.as_secs_f64() * 1e6 / n as f64
    );
    Ok(())
}

/// The phase callgrind collects.
#[inline(never)]
fn measured_gets(rt: &tokio::runtime::Runtime, client: &Target, n: usize, tasks: usize) -> Result<(), Error> {
    rt.block_on(run(client, n, tasks))
}

async fn run(client: &Target, n: usize, tasks: usize) -> Result<(), Error> {
    let mut set = tokio::task::JoinSet::new();
    for t in 0..tasks {
        let client = client.clone();
        let share = n / tasks + usize::from(t < n % tasks);
        set.spawn(async move {
            for _ in 0..share {
                match client.send(&cmd("GET").arg("bench:get_loop:key")).await? {
                    Frame::BulkString(b) if b.len() == 64 => {}
                    other => {
                        return Err(Error::Type { expected: "64-byte bulk", got: other.type_name().into() })
                    }
                }
            }
            Ok(())
        });
    }
    while let Some(done) = set.join_next().await {
        done.map_err(|e| Error::InvalidArgument(e.to_string().into()))??;
    }
    Ok(())
}
