//! Free loopback TCP ports for servers started by the tests.
//!
//! A port is found by binding `127.0.0.1:0` and closing the socket again. Another process may take
//! it before the server binds it, so callers retry with fresh ports when a server reports
//! "Address already in use" (see `process::launch`). Within one test binary a port is never handed
//! out twice, even if the kernel offers it again.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};

fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(|| Mutex::new(HashSet::new()))
}

/// A loopback port nothing listens on right now, never returned before in this process.
///
/// Panics when no port can be found (the machine is out of ports).
pub fn free_port() -> u16 {
    for _ in 0..1000 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr of a bound listener").port();
        drop(listener);
        // The default server port is never ours, whatever the kernel's port range is.
        if port == 6379 {
            continue;
        }
        let mut seen = handed_out().lock().unwrap_or_else(|e| e.into_inner());
        if seen.insert(port) {
            return port;
        }
    }
    panic!("no free loopback port found after 1000 tries");
}

/// `n` distinct free ports.
pub fn free_ports(n: usize) -> Vec<u16> {
    (0..n).map(|_| free_port()).collect()
}
