//! The events a mail server broadcasts to the other nodes of its cluster.
//!
//! Lives here: [`Event`] and the small types it carries ([`NodeId`],
//! [`DataTypes`], [`ObjectType`], [`ObjectId`], [`CacheKind`]). Each event
//! has a one-byte kind tag ([`Event::kind`]) that the wire format (`codec`)
//! writes before it, so a node that does not know a kind can skip it. Not
//! here: the bytes (`codec`), sending and receiving (`Coordinator`).
//!
//! Pure: no IO.

use std::fmt;

use bytes::Bytes;

/// Identifies a node of the cluster; a node skips messages it sent itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u64);

impl NodeId {
    /// A random id, different for every process with overwhelming odds.
    pub fn random() -> NodeId {
        NodeId(rand::random::<u64>())
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// The data types of an account that changed, as a bitmap: bit `n` is the
/// application's data type number `n` (0 to 63); e.g. mailboxes, emails,
/// threads, calendars, contacts. IMAP IDLE and JMAP push read it to decide
/// whom to wake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DataTypes(pub u64);

impl DataTypes {
    /// No type.
    pub const NONE: DataTypes = DataTypes(0);

    /// These types plus type number `bit` (bits past 63 are ignored).
    #[must_use]
    pub fn with(self, bit: u8) -> DataTypes {
        DataTypes(self.0 | 1u64.checked_shl(u32::from(bit)).unwrap_or(0))
    }

    /// True when type number `bit` changed.
    pub fn contains(self, bit: u8) -> bool {
        1u64.checked_shl(u32::from(bit)).is_some_and(|mask| self.0 & mask != 0)
    }

    /// True when no type changed.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The type numbers that changed, ascending.
    pub fn iter(self) -> impl Iterator<Item = u8> {
        (0u8..64).filter(move |&bit| self.contains(bit))
    }
}

impl FromIterator<u8> for DataTypes {
    fn from_iter<I: IntoIterator<Item = u8>>(iter: I) -> Self {
        iter.into_iter().fold(DataTypes::NONE, DataTypes::with)
    }
}

/// A type of registry object (blocked IPs, ACME certificates, ...). Open:
/// applications number their own types; the constants name common ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectType(pub u16);

impl ObjectType {
    /// An IP address or network blocked by the security layer.
    pub const BLOCKED_IP: ObjectType = ObjectType(1);
    /// An IP address or network allowed past the security layer.
    pub const ALLOWED_IP: ObjectType = ObjectType(2);
    /// A certificate obtained with ACME.
    pub const ACME_CERTIFICATE: ObjectType = ObjectType(3);
    /// The server's settings.
    pub const SETTINGS: ObjectType = ObjectType(4);
    /// Spam filter rules and models.
    pub const SPAM_FILTER: ObjectType = ObjectType(5);
}

/// One registry object: its type and its id (an IP address, a domain name,
/// a number as text ... whatever the type uses).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectId {
    /// The object's type.
    pub object_type: ObjectType,
    /// The object's id within its type.
    pub id: Bytes,
}

/// A kind of cache whose entries another node may hold. Open, like [`ObjectType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKind(pub u16);

impl CacheKind {
    /// Access tokens (permissions, group memberships) by account id.
    pub const ACCESS_TOKEN: CacheKind = CacheKind(1);
    /// Account data (names, quotas, aliases) by account id.
    pub const ACCOUNT: CacheKind = CacheKind(2);
    /// Mailbox and message state by account id.
    pub const MAILBOX: CacheKind = CacheKind(3);
    /// Calendar and contact (DAV) state by account id.
    pub const DAV: CacheKind = CacheKind(4);
    /// Domain and directory lookups.
    pub const DIRECTORY: CacheKind = CacheKind(5);
    /// Every cache: Stalwart's "invalidate all" events carry no kind and
    /// read as this one.
    pub const ALL: CacheKind = CacheKind(u16::MAX);
}

/// One coordination event.
///
/// Account, email and event ids are `u32`, change ids `u64`, as a mail
/// server's stores number them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Data of an account changed: drives IMAP IDLE, JMAP push and event sources.
    StateChange {
        /// The account.
        account_id: u32,
        /// The change's id (monotonic per account).
        change_id: u64,
        /// Which data types changed.
        types: DataTypes,
    },
    /// An email arrived and should be pushed to the account's devices.
    EmailPush {
        /// The account.
        account_id: u32,
        /// The email.
        email_id: u32,
        /// The change that added it.
        change_id: u64,
    },
    /// A calendar alarm is due.
    CalendarAlert {
        /// The account.
        account_id: u32,
        /// The calendar event's document id.
        event_id: u32,
        /// The occurrence, for a recurring event (start as a UTC timestamp).
        recurrence_id: Option<i64>,
        /// The event's iCalendar UID.
        uid: String,
        /// The alarm's id within the event.
        alert_id: String,
    },
    /// The account's push subscriptions changed: push servers reload them.
    PushServerUpdate {
        /// The account.
        account_id: u32,
    },
    /// An object was added to the registry (e.g. an IP was blocked, a
    /// certificate was issued): other nodes load it.
    RegistryInsert(ObjectId),
    /// An object was removed from the registry: other nodes drop it.
    RegistryDelete(ObjectId),
    /// Every object of a type changed: other nodes reload the type.
    RegistryReload(ObjectType),
    /// Cache entries of `kind` with these ids are stale.
    CacheInvalidate {
        /// The cache.
        kind: CacheKind,
        /// The stale entries' ids.
        ids: Vec<u64>,
    },
    /// Every entry of the cache of this kind is stale.
    CacheInvalidateAll(CacheKind),
    /// The negative entries ("not found") of the cache of this kind are stale.
    CacheInvalidateNegative(CacheKind),
    /// The MTA queue was paused or resumed cluster-wide.
    QueueStatus {
        /// True when delivery is paused.
        paused: bool,
    },
    /// Messages were queued or rescheduled: queue managers look again now.
    QueueRefresh,
    /// An opaque event of the application, with its own kind number.
    Application {
        /// The application's kind number.
        kind: u32,
        /// The payload, as given.
        payload: Bytes,
    },
}

/// Kind tags on the wire. Never reuse or renumber one: old nodes skip
/// unknown tags, and would misread a reused one.
pub(crate) mod tag {
    pub const STATE_CHANGE: u8 = 1;
    pub const EMAIL_PUSH: u8 = 2;
    pub const CALENDAR_ALERT: u8 = 3;
    pub const PUSH_SERVER_UPDATE: u8 = 4;
    pub const REGISTRY_INSERT: u8 = 5;
    pub const REGISTRY_DELETE: u8 = 6;
    pub const REGISTRY_RELOAD: u8 = 7;
    pub const CACHE_INVALIDATE: u8 = 8;
    pub const CACHE_INVALIDATE_ALL: u8 = 9;
    pub const CACHE_INVALIDATE_NEGATIVE: u8 = 10;
    pub const QUEUE_STATUS: u8 = 11;
    pub const QUEUE_REFRESH: u8 = 12;
    pub const APPLICATION: u8 = 13;
}

impl Event {
    /// The event's kind tag on the wire.
    pub fn kind(&self) -> u8 {
        match self {
            Event::StateChange { .. } => tag::STATE_CHANGE,
            Event::EmailPush { .. } => tag::EMAIL_PUSH,
            Event::CalendarAlert { .. } => tag::CALENDAR_ALERT,
            Event::PushServerUpdate { .. } => tag::PUSH_SERVER_UPDATE,
            Event::RegistryInsert(_) => tag::REGISTRY_INSERT,
            Event::RegistryDelete(_) => tag::REGISTRY_DELETE,
            Event::RegistryReload(_) => tag::REGISTRY_RELOAD,
            Event::CacheInvalidate { .. } => tag::CACHE_INVALIDATE,
            Event::CacheInvalidateAll(_) => tag::CACHE_INVALIDATE_ALL,
            Event::CacheInvalidateNegative(_) => tag::CACHE_INVALIDATE_NEGATIVE,
            Event::QueueStatus { .. } => tag::QUEUE_STATUS,
            Event::QueueRefresh => tag::QUEUE_REFRESH,
            Event::Application { .. } => tag::APPLICATION,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_types_bitmap() {
        let t: DataTypes = [0u8, 3, 63].into_iter().collect();
        assert_eq!(t.0, 1 | 8 | (1 << 63));
        assert!(t.contains(3) && t.contains(63) && !t.contains(1));
        assert_eq!(t.iter().collect::<Vec<_>>(), vec![0, 3, 63]);
        // Out-of-range bits neither panic nor set anything.
        assert_eq!(DataTypes::NONE.with(64), DataTypes::NONE);
        assert!(!t.contains(200));
        assert!(DataTypes::default().is_empty());
    }

    #[test]
    fn node_ids_print_as_fixed_width_hex() {
        assert_eq!(NodeId(255).to_string(), "00000000000000ff");
        assert_ne!(NodeId::random(), NodeId::random());
    }
}
