//! What sentinels and masters answer, read into values: the master's address
//! from `SENTINEL GET-MASTER-ADDR-BY-NAME`, the role from `ROLE`, and the
//! `+switch-master` event.
//!
//! Lives here: [`master_addr`], [`role_of`], [`SwitchMaster`]. Not here: asking
//! (`discover`), listening (`watch`).
//!
//! Pure: no tokio, no sockets.

use bytes::Bytes;

use crate::error::{Error, NodeAddr};
use crate::resp::Frame;

/// The channel sentinels announce a completed failover on.
pub const SWITCH_MASTER: &str = "+switch-master";

fn text(frame: &Frame) -> Option<&[u8]> {
    match frame.value() {
        Frame::BulkString(b) | Frame::SimpleString(b) => Some(b),
        Frame::VerbatimString { data, .. } => Some(data),
        _ => None,
    }
}

fn items(frame: &Frame) -> Option<&[Frame]> {
    match frame.value() {
        Frame::Array(items) | Frame::Push(items) | Frame::Set(items) => Some(items),
        _ => None,
    }
}

/// The reply to `SENTINEL GET-MASTER-ADDR-BY-NAME <service>`: `Ok(Some)` with
/// the address, `Ok(None)` when this sentinel does not monitor the service
/// (a null reply).
///
/// # Errors
/// [`Error::Server`] for an error reply (e.g. `NOAUTH`), [`Error::Type`] for
/// anything other than `[host, port]`.
pub fn master_addr(frame: &Frame) -> Result<Option<NodeAddr>, Error> {
    if frame.value().is_null() {
        return Ok(None);
    }
    if let Frame::SimpleError(e) | Frame::BlobError(e) = frame.value() {
        return Err(Error::Server(e.clone()));
    }
    let bad = || Error::Type { expected: "[host, port] from a sentinel", got: frame.type_name().into() };
    let [host, port] = items(frame).ok_or_else(bad)? else {
        return Err(bad());
    };
    let host = text(host).and_then(|h| std::str::from_utf8(h).ok()).ok_or_else(bad)?;
    let port = text(port)
        .and_then(|p| std::str::from_utf8(p).ok())
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|p| *p != 0)
        .ok_or_else(bad)?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok(Some(NodeAddr::new(host, port)))
}

/// The first element of a `ROLE` reply: `master`, `slave` (a replica) or `sentinel`.
///
/// # Errors
/// [`Error::Server`] for an error reply, [`Error::Type`] for another shape.
pub fn role_of(frame: &Frame) -> Result<String, Error> {
    if let Frame::SimpleError(e) | Frame::BlobError(e) = frame.value() {
        return Err(Error::Server(e.clone()));
    }
    items(frame)
        .and_then(<[Frame]>::first)
        .and_then(text)
        .map(|r| String::from_utf8_lossy(r).to_ascii_lowercase())
        .ok_or_else(|| Error::Type { expected: "a ROLE reply", got: frame.type_name().into() })
}

/// One `+switch-master` announcement: `<service> <old-ip> <old-port> <new-ip> <new-port>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchMaster {
    /// The service (master name) that failed over.
    pub service: String,
    /// The master before.
    pub old: NodeAddr,
    /// The master now.
    pub new: NodeAddr,
}

impl SwitchMaster {
    /// Parses the payload of a `+switch-master` message; `None` when it is not one.
    pub fn parse(payload: &[u8]) -> Option<SwitchMaster> {
        let text = std::str::from_utf8(payload).ok()?;
        let mut words = text.split_ascii_whitespace();
        let service = words.next()?.to_string();
        let mut addr = || -> Option<NodeAddr> {
            let host = words.next()?;
            let port = words.next()?.parse::<u16>().ok()?;
            Some(NodeAddr::new(host, port))
        };
        let old = addr()?;
        let new = addr()?;
        Some(SwitchMaster { service, old, new })
    }

    /// The announcement carried by a pushed pub/sub frame (`["message",
    /// "+switch-master", payload]`, as a RESP3 push or a RESP2 array), if it is one.
    pub fn from_push(frame: &Frame) -> Option<SwitchMaster> {
        let [kind, channel, payload] = items(frame)? else {
            return None;
        };
        let is_message = text(kind).is_some_and(|k| k.eq_ignore_ascii_case(b"message"));
        if !is_message || text(channel) != Some(SWITCH_MASTER.as_bytes()) {
            return None;
        }
        SwitchMaster::parse(text(payload)?)
    }
}

/// The `SUBSCRIBE +switch-master` confirmation names.
pub fn switch_master_names() -> Vec<Bytes> {
    vec![Bytes::from_static(SWITCH_MASTER.as_bytes())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServerError;

    fn bulk(s: &str) -> Frame {
        Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn master_address_replies() {
        let reply = Frame::Array(vec![bulk("10.0.0.5"), bulk("6380")]);
        assert_eq!(master_addr(&reply).unwrap(), Some(NodeAddr::new("10.0.0.5", 6380)));
        let v6 = Frame::Array(vec![bulk("::1"), bulk("6379")]);
        assert_eq!(master_addr(&v6).unwrap(), Some(NodeAddr::new("::1", 6379)));
        assert_eq!(master_addr(&Frame::NullArray).unwrap(), None);
        assert_eq!(master_addr(&Frame::Null).unwrap(), None);
        for bad in [
            Frame::Array(vec![bulk("h")]),
            Frame::Array(vec![bulk("h"), bulk("port")]),
            Frame::Array(vec![bulk("h"), bulk("0")]),
            Frame::Array(vec![bulk(""), bulk("1")]),
            Frame::Array(vec![bulk("h"), bulk("70000")]),
            Frame::Integer(1),
        ] {
            assert!(matches!(master_addr(&bad), Err(Error::Type { .. })), "{bad:?}");
        }
        let noauth = Frame::SimpleError(ServerError::from_line("NOAUTH Authentication required.").unwrap());
        assert!(matches!(master_addr(&noauth), Err(Error::Server(_))));
    }

    #[test]
    fn roles() {
        let master = Frame::Array(vec![bulk("master"), Frame::Integer(3), Frame::Array(vec![])]);
        assert_eq!(role_of(&master).unwrap(), "master");
        let replica = Frame::Array(vec![bulk("slave"), bulk("127.0.0.1"), Frame::Integer(6379)]);
        assert_eq!(role_of(&replica).unwrap(), "slave");
        assert!(role_of(&Frame::Integer(0)).is_err());
        assert!(role_of(&Frame::Array(vec![])).is_err());
    }

    #[test]
    fn switch_master_messages() {
        let payload = "mymaster 127.0.0.1 7000 127.0.0.1 7001";
        let expected = SwitchMaster {
            service: "mymaster".into(),
            old: NodeAddr::new("127.0.0.1", 7000),
            new: NodeAddr::new("127.0.0.1", 7001),
        };
        assert_eq!(SwitchMaster::parse(payload.as_bytes()), Some(expected.clone()));
        let resp2 = Frame::Array(vec![bulk("message"), bulk(SWITCH_MASTER), bulk(payload)]);
        assert_eq!(SwitchMaster::from_push(&resp2), Some(expected.clone()));
        let resp3 = Frame::Push(vec![bulk("message"), bulk(SWITCH_MASTER), bulk(payload)]);
        assert_eq!(SwitchMaster::from_push(&resp3), Some(expected));
        let other_channel = Frame::Push(vec![bulk("message"), bulk("+sdown"), bulk(payload)]);
        assert_eq!(SwitchMaster::from_push(&other_channel), None);
        let confirm = Frame::Push(vec![bulk("subscribe"), bulk(SWITCH_MASTER), Frame::Integer(1)]);
        assert_eq!(SwitchMaster::from_push(&confirm), None);
        for bad in ["", "mymaster", "mymaster 1.2.3.4 x 1.2.3.4 5", "mymaster 1.2.3.4 5 1.2.3.4"] {
            assert_eq!(SwitchMaster::parse(bad.as_bytes()), None, "{bad}");
        }
    }
}
