//! Pub/sub throughput against a running server: how many messages per second
//! one subscriber receives while publishers pipeline `PUBLISH` over one
//! multiplexed connection, and how many coordination events per second two
//! coordinators exchange (batched up to 100 per message).
//!
//! ```text
//! cargo run --release --example pubsub_throughput -- [URL] [MESSAGES] [resp2|resp3]
//! ```
//!
//! Defaults: `redis://127.0.0.1:6379`, 200000 messages, resp2. Every message
//! is checked: the run fails if one is missing, duplicated or out of order,
//! unless the subscriber reported the loss (a lag or a gap event).

use std::sync::Arc;
use std::time::{Duration, Instant};

use redwire::conn::Protocol;
use redwire::coord::{Coordinator, CoordinatorOptions, Delivery, Event as CoordEvent, NodeId};
use redwire::pubsub::{Event, Publisher, Servers, Subscriber, SubscriberOptions};

const PUBLISHERS: u64 = 16;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = args.first().cloned().unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let total: u64 = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(200_000);
    let mut opts = redwire::url::parse_url(&url)?;
    if args.get(2).map(String::as_str) == Some("resp3") {
        opts.protocol = Protocol::Resp3;
    }
    let servers = Servers::standalone(opts);

    // --- raw pub/sub ---
    let options = SubscriberOptions { buffer: 1 << 20, ..SubscriberOptions::default() };
    let subscriber = Subscriber::connect(servers.clone(), options).await?;
    subscriber.subscribe(["bench.pubsub"]).await?;
    let publisher = Publisher::connect(servers.clone()).await?;
    let started = Instant::now();
    let per = total / PUBLISHERS;
    let mut tasks = Vec::new();
    for p in 0..PUBLISHERS {
        let publisher = publisher.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                publisher.publish("bench.pubsub", format!("{p}:{i}")).await?;
            }
            Ok::<_, redwire::Error>(())
        }));
    }
    let mut next = vec![0u64; PUBLISHERS as usize];
    let mut received = 0u64;
    let mut reported_loss = false;
    while received < per * PUBLISHERS {
        match tokio::time::timeout(Duration::from_secs(10), subscriber.recv()).await {
            Ok(Some(Event::Message(m))) => {
                let text = std::str::from_utf8(&m.payload)?;
                let (p, i) = text.split_once(':').ok_or("malformed payload")?;
                let (p, i): (usize, u64) = (p.parse()?, i.parse()?);
                let expected = next.get_mut(p).ok_or("unknown publisher")?;
                if i != *expected && !reported_loss {
                    return Err(format!("publisher {p}: got {i}, expected {expected}").into());
                }
                *expected = i + 1;
                received += 1;
            }
            Ok(Some(other)) => {
                println!("event: {other:?}");
                reported_loss = true;
            }
            Ok(None) => return Err("the subscriber closed".into()),
            Err(_) => return Err(format!("stalled after {received} messages").into()),
        }
    }
    for t in tasks {
        t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!("pubsub: {received} messages in {secs:.2}s = {:.0} msg/s", received as f64 / secs);

    // --- coordination events ---
    let channel = format!("bench.coord.{}", std::process::id());
    let make = |node| CoordinatorOptions {
        node_id: NodeId(node),
        channel: channel.clone(),
        buffer: 1 << 20,
        ..CoordinatorOptions::default()
    };
    let a = Arc::new(Coordinator::over(servers.clone(), make(1)).await?);
    let b = Coordinator::over(servers, make(2)).await?;
    let started = Instant::now();
    let sender = {
        let a = a.clone();
        tokio::spawn(async move {
            for i in 0..total {
                a.publish(CoordEvent::EmailPush {
                    account_id: 1,
                    email_id: (i % u64::from(u32::MAX)) as u32,
                    change_id: i,
                })
                .await?;
            }
            a.flush().await;
            Ok::<_, redwire::Error>(())
        })
    };
    let mut got = 0u64;
    while got < total {
        match tokio::time::timeout(Duration::from_secs(10), b.recv()).await {
            Ok(Some(Delivery::Event { event: CoordEvent::EmailPush { change_id, .. }, .. })) => {
                if change_id != got {
                    return Err(format!("event {change_id} arrived, expected {got}").into());
                }
                got += 1;
            }
            Ok(Some(other)) => return Err(format!("unexpected delivery {other:?}").into()),
            Ok(None) => return Err("the coordinator stopped".into()),
            Err(_) => return Err(format!("stalled after {got} events").into()),
        }
    }
    sender.await??;
    let secs = started.elapsed().as_secs_f64();
    let stats = a.stats();
    println!(
        "coord: {got} events in {secs:.2}s = {:.0} events/s, {} messages ({:.1} events per message)",
        got as f64 / secs,
        stats.messages_sent,
        stats.events_sent as f64 / stats.messages_sent.max(1) as f64
    );
    Ok(())
}
