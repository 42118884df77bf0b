//! A struct stored as a hash and as a JSON string, read back typed (feature
//! `serde`, on by default): `cargo run --example serde_struct [URL ...]`.

use redwire::cmd::{Hash, Json};
use redwire::commands::*;
use redwire::{cmd, pipe};
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Account {
    owner: String,
    balance: i64,
    frozen: bool,
    tags: Vec<String>,
    note: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut urls: Vec<String> = std::env::args().skip(1).collect();
    if urls.is_empty() {
        urls.push("redis://127.0.0.1:6379".into());
    }
    let client = redwire::connect(&urls).await?;
    let account =
        Account { owner: "ann".into(), balance: 120, frozen: false, tags: vec!["gold".into()], note: None };

    // As a hash: one field per struct field (`None` left out, a Vec as JSON text).
    let fields = Hash(&account).to_fields()?;
    client.execute(&cmd("DEL").arg("example:account")).await?;
    client.execute(&cmd("HSET").arg("example:account").arg(&fields)).await?;
    let Hash(from_hash): Hash<Account> = client.query(&cmd("HGETALL").arg("example:account")).await?;
    assert_eq!(from_hash, account);
    println!("from the hash: {from_hash:?}");

    // As JSON in a string, in a pipeline with the hash read.
    client.set("example:account.json", Json(&account).encode()?).await?;
    let (Json(from_json), Hash(again)): (Json<Account>, Hash<Account>) =
        pipe().get("example:account.json").hgetall("example:account").query(&client).await?;
    assert_eq!(from_json, again);
    println!("from JSON: {from_json:?}");
    Ok(())
}
