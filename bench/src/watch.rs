//! The failover helpers: kill a process with SIGKILL, and poll a replica
//! with `ROLE` until it reports itself a primary.
//!
//! The poll uses a plain blocking socket on its own thread, not any of the
//! clients under test, so it neither helps nor slows them (its CPU, a few
//! connects per second, is counted with the run's and is negligible).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Sends SIGKILL to `pid`.
///
/// # Errors
/// The OS error, e.g. when the process is gone.
pub fn kill(pid: i32) -> Result<(), String> {
    if pid <= 0 {
        return Err(format!("refusing to signal pid {pid}"));
    }
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!("kill {pid}: {}", std::io::Error::last_os_error()))
    }
}

/// Polls `addr` (host:port) with `ROLE` every `every` until it answers as a
/// primary or `until` passes. Returns when it was first seen as a primary.
pub fn wait_for_promotion(addr: &str, every: Duration, until: Instant) -> Option<Instant> {
    while Instant::now() < until {
        if ask_role(addr) == Some(true) {
            return Some(Instant::now());
        }
        std::thread::sleep(every);
    }
    None
}

/// One `ROLE` round trip: `Some(true)` for a primary, `Some(false)` for a
/// replica, `None` when the node does not answer in time.
fn ask_role(addr: &str) -> Option<bool> {
    let timeout = Duration::from_millis(200);
    let sock = addr.to_socket_addrs().ok()?.next()?;
    let mut stream = TcpStream::connect_timeout(&sock, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    stream.write_all(b"*1\r\n$4\r\nROLE\r\n").ok()?;
    let mut buf = [0u8; 64];
    let mut len = 0;
    while len < buf.len() {
        let n = stream.read(buf.get_mut(len..)?).ok()?;
        if n == 0 {
            break;
        }
        len += n;
        if let Some(answer) = role_is_primary(buf.get(..len)?) {
            return Some(answer);
        }
    }
    role_is_primary(buf.get(..len)?)
}

/// Reads the first element of a `ROLE` reply (`*N\r\n$6\r\nmaster\r\n...`):
/// `Some(true)` for `master`, `Some(false)` for `slave` / `sentinel`,
/// `None` while incomplete or for anything else.
pub fn role_is_primary(reply: &[u8]) -> Option<bool> {
    let mut lines = reply.split(|b| *b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let head = lines.next()?;
    if head.first() != Some(&b'*') {
        return None;
    }
    let _len = lines.next()?;
    match lines.next()? {
        b"master" => Some(true),
        b"slave" | b"replica" | b"sentinel" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_replies() {
        assert_eq!(role_is_primary(b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"), Some(true));
        assert_eq!(role_is_primary(b"*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n"), Some(false));
        assert_eq!(role_is_primary(b"*3\r\n$6\r\nmas"), None);
        assert_eq!(role_is_primary(b"-ERR unknown command\r\n"), None);
        assert_eq!(role_is_primary(b""), None);
    }

    #[test]
    fn refuses_to_signal_process_groups() {
        assert!(kill(0).is_err());
        assert!(kill(-1).is_err());
    }

    #[test]
    fn a_node_answering_master_is_seen_as_promoted() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        // First a replica, then a primary: the wait returns on the second answer.
        let server = std::thread::spawn(move || {
            for answer in [&b"*5\r\n$5\r\nslave\r\n"[..], b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"] {
                let (mut s, _) = listener.accept().unwrap();
                let mut req = [0u8; 14];
                s.read_exact(&mut req).unwrap();
                assert_eq!(&req, b"*1\r\n$4\r\nROLE\r\n");
                s.write_all(answer).unwrap();
            }
        });
        let until = Instant::now() + Duration::from_secs(5);
        assert!(wait_for_promotion(&addr, Duration::from_millis(10), until).is_some());
        server.join().unwrap();
    }

    #[test]
    fn a_closed_port_never_reads_as_promoted() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let until = Instant::now() + Duration::from_millis(120);
        assert_eq!(wait_for_promotion(&addr, Duration::from_millis(20), until), None);
    }
}
