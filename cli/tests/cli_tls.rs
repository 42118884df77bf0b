//! The CLI over TLS against Debian's redis-server (7.0, built with TLS) with
//! throwaway certificates: `--tls-ca` / `--tls-cert` / `--tls-key`, one-line
//! refusals without the CA or the client certificate, and TLS flags on a
//! plain URL refused as a usage error.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::process::Command;

use support::{TestCerts, TlsAuthClients, TlsServer};

fn cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_redwire"))
        .args(args)
        .env_remove("REDWIRE_PASSWORD")
        .output()
        .expect("run")
}

#[test]
fn cli_over_tls() {
    let certs = TestCerts::generate();
    let ca = certs.ca_path().display().to_string();
    let cert = certs.client_cert_path().display().to_string();
    let key = certs.client_key_path().display().to_string();
    let server = TlsServer::start_with(
        support::TlsOptions::new(certs.server_cert_path(), certs.server_key_path(), certs.ca_path())
            .auth_clients(TlsAuthClients::Yes),
    );
    let url = server.url();

    let out = cli(&["--url", &url, "--tls-ca", &ca, "--tls-cert", &cert, "--tls-key", &key, "cmd", "PING"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "PONG\n");
    let out = cli(&[
        "--url",
        &url,
        "-3",
        "--tls-ca",
        &ca,
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "cmd",
        "SET",
        "k",
        "v",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK\n", "{}", String::from_utf8_lossy(&out.stderr));

    // Without the CA: refused, one line naming the problem.
    let out = cli(&["--url", &url, "--tls-cert", &cert, "--tls-key", &key, "cmd", "PING"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("tls") && err.contains("UnknownIssuer"), "{err}");

    // Without the client certificate: refused.
    let out = cli(&["--url", &url, "--tls-ca", &ca, "cmd", "PING"]);
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);

    // TLS options on a plain URL are a usage error, not silently ignored.
    let out = cli(&["--url", "redis://127.0.0.1:1", "--tls-ca", &ca, "cmd", "PING"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tls-ca") && err.contains("rediss://"), "{err}");
}
