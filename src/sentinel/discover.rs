//! Finding the master: ask the sentinels in turn, then check the answer with `ROLE`.
//!
//! Lives here: [`ask_master`] (one sentinel after another, each with its own
//! credentials and timeouts), [`connect_master`] (a [`Client`] on the
//! address, verified to be a master) and [`resolve`] (both, once, for callers
//! that keep no sentinel connections: the pub/sub subscriber). Not here: when to
//! ask (`SentinelClient`), listening for failovers (`watch`).

use std::sync::Arc;

use super::reply::{master_addr, role_of};
use super::SentinelOptions;
use crate::client::Client;
use crate::cmd::cmd;
use crate::conn::{Address, ConnectOptions, Reconnecting};
use crate::error::{Error, NodeAddr, ServerErrorKind};

/// Asks `SENTINEL GET-MASTER-ADDR-BY-NAME service` of each sentinel in
/// turn, starting at `start` (the one that answered last time), and returns
/// the first address given with the index of the sentinel that gave it.
///
/// # Errors
/// When none answers with an address: [`Error::Auth`] if a sentinel refused
/// the credentials, else [`Error::Config`] if a sentinel answered but does
/// not monitor `service`, else the last sentinel's error.
pub(super) async fn ask_master(
    sentinels: &[Reconnecting],
    start: usize,
    service: &str,
) -> Result<(usize, NodeAddr), Error> {
    let ask = cmd("SENTINEL").arg("GET-MASTER-ADDR-BY-NAME").arg(service);
    let mut auth: Option<Error> = None;
    let mut unknown = false;
    let mut last = Error::Config("no sentinel address configured".into());
    for step in 0..sentinels.len() {
        let index = (start + step) % sentinels.len();
        let Some(sentinel) = sentinels.get(index) else { continue };
        let answer = sentinel.send(&ask).await.and_then(|frame| master_addr(&frame));
        match answer {
            Ok(Some(addr)) => return Ok((index, addr)),
            Ok(None) => unknown = true,
            Err(e) => {
                if let Some(found) = auth_error(&e) {
                    auth = Some(found);
                }
                last = e;
            }
        }
    }
    if let Some(e) = auth {
        return Err(e);
    }
    if unknown {
        return Err(Error::Config(format!(
            "no sentinel monitors a master named \"{service}\" (serviceName)"
        )));
    }
    Err(last)
}

/// A rejected login, however it arrived (at connect, or as a reply).
fn auth_error(e: &Error) -> Option<Error> {
    match e {
        Error::Auth(_) => Some(e.clone()),
        Error::Server(s) if matches!(s.kind(), ServerErrorKind::NoAuth | ServerErrorKind::WrongPass) => {
            Some(Error::Auth(s.clone()))
        }
        Error::NotSent { cause } => auth_error(cause),
        _ => None,
    }
}

/// `template` pointed at `addr`.
pub(super) fn master_options(template: &ConnectOptions, addr: &NodeAddr) -> ConnectOptions {
    let mut opts = template.clone();
    opts.address = Address::Tcp { host: addr.host.to_string(), port: addr.port };
    opts
}

/// Connects a client to `addr` and checks that `ROLE` says `master` (a
/// user whose ACL refuses `ROLE` is taken at the sentinel's word).
///
/// # Errors
/// The connect error; [`Error::Other`] when the node is not a master (the
/// sentinels have not finished a failover, or were wrong).
pub(super) async fn connect_master(opts: &SentinelOptions, addr: &NodeAddr) -> Result<Client, Error> {
    let client = Client::connect(master_options(&opts.master, addr), opts.pool.clone()).await?;
    let role = client.send(&cmd("ROLE")).await.and_then(|frame| role_of(&frame));
    match role {
        Ok(role) if role == "master" => Ok(client),
        Ok(role) => Err(Error::Other(format!(
            "the sentinels name {addr} master of \"{}\", but its ROLE is {role}",
            opts.service_name
        ))),
        Err(Error::Server(e)) if *e.kind() == ServerErrorKind::NoPerm => Ok(client),
        Err(e) => Err(e),
    }
}

/// The options to reach the current master, asked of the sentinels once
/// (fresh connections, closed afterwards). Not verified with `ROLE`: a
/// subscriber works on a replica too, and is moved when the sentinels
/// reconfigure the node (they disconnect its pub/sub clients).
///
/// # Errors
/// As `ask_master` (each sentinel in turn; the last error when none answers).
pub async fn resolve(opts: &Arc<SentinelOptions>) -> Result<ConnectOptions, Error> {
    let sentinels: Vec<Reconnecting> =
        opts.sentinels.iter().map(|o| Reconnecting::new(o.clone(), None, None)).collect();
    let (_, addr) = ask_master(&sentinels, 0, &opts.service_name).await?;
    for s in &sentinels {
        s.reset();
    }
    Ok(master_options(&opts.master, &addr))
}
