//! Unit tests of `url`.

use super::*;

fn ok(url: &str) -> ConnectOptions {
    match parse_url(url) {
        Ok(o) => o,
        Err(e) => panic!("{url}: {e}"),
    }
}

fn err(url: &str) -> String {
    match parse_url(url) {
        Ok(o) => panic!("{url} parsed: {o:?}"),
        Err(Error::Url(m)) => m,
        Err(e) => panic!("{url}: not a url error: {e:?}"),
    }
}

fn tcp(o: &ConnectOptions) -> (&str, u16) {
    match &o.address {
        Address::Tcp { host, port } => (host, *port),
        Address::Unix(p) => panic!("unix {p:?}"),
    }
}

#[test]
fn plain_host_defaults() {
    let o = ok("redis://localhost");
    assert_eq!(tcp(&o), ("localhost", 6379));
    assert_eq!(o.db, 0);
    assert_eq!(o.username, None);
    assert_eq!(o.password, None);
    assert_eq!(o.tls, None);
    assert_eq!(o.protocol, Protocol::Resp2);
    assert_eq!(ok("redis://127.0.0.1/").db, 0);
    assert_eq!(tcp(&ok("  redis://h:1\n")), ("h", 1));
}

#[test]
fn port_and_db() {
    let o = ok("redis://cache.internal:6380/15");
    assert_eq!(tcp(&o), ("cache.internal", 6380));
    assert_eq!(o.db, 15);
    assert_eq!(tcp(&ok("redis://h:65535")), ("h", 65535));
    assert_eq!(tcp(&ok("redis://h:1")), ("h", 1));
    assert_eq!(tcp(&ok("redis://my_redis-1:7000")), ("my_redis-1", 7000));
}

#[test]
fn credentials() {
    let o = ok("redis://alice:s3cret@h");
    assert_eq!(o.username.as_deref(), Some("alice"));
    assert_eq!(o.password.as_ref().map(Secret::expose), Some("s3cret"));

    let o = ok("redis://:onlypass@h:7000/2");
    assert_eq!(o.username, None);
    assert_eq!(o.password.as_ref().map(Secret::expose), Some("onlypass"));
    assert_eq!(tcp(&o), ("h", 7000));
    assert_eq!(o.db, 2);

    let o = ok("redis://onlyuser@h");
    assert_eq!(o.username.as_deref(), Some("onlyuser"));
    assert_eq!(o.password, None);

    let o = ok("redis://u:@h");
    assert_eq!((o.username.as_deref(), o.password), (Some("u"), None));
    let o = ok("redis://@h");
    assert_eq!((o.username, o.password), (None, None));
}

#[test]
fn credentials_are_percent_decoded() {
    let o = ok("redis://us%40er:p%3Aa%2Fs%40s%25@h");
    assert_eq!(o.username.as_deref(), Some("us@er"));
    assert_eq!(o.password.as_ref().map(Secret::expose), Some("p:a/s@s%"));
    // '+' stays a plus (RFC 3986), and an unencoded ':' after the first belongs to the password.
    let o = ok("redis://u:a+b:c@h");
    assert_eq!(o.password.as_ref().map(Secret::expose), Some("a+b:c"));
    // The last '@' of the authority separates user-info from host.
    let o = ok("redis://u:p@ss@h");
    assert_eq!(o.password.as_ref().map(Secret::expose), Some("p@ss"));
    assert_eq!(tcp(&o), ("h", 6379));
    let o = ok("redis://u:%C3%A9t%C3%A9@h");
    assert_eq!(o.password.as_ref().map(Secret::expose), Some("été"));
}

#[test]
fn tls_schemes_and_synonyms() {
    for (url, tls) in [
        ("redis://h", false),
        ("valkey://h", false),
        ("REDIS://h", false),
        ("rediss://h", true),
        ("valkeys://h", true),
        ("Rediss://h", true),
    ] {
        let o = ok(url);
        assert_eq!(o.tls.is_some(), tls, "{url}");
        assert_eq!(tcp(&o), ("h", 6379));
    }
    assert_eq!(ok("rediss://h").tls, Some(TlsOptions::default()));
    let o = ok("rediss://h:6380#insecure");
    assert_eq!(o.tls, Some(TlsOptions { insecure: true, ..TlsOptions::default() }));
    assert!(ok("valkeys://h#INSECURE").tls.is_some_and(|t| t.insecure));
    assert!(ok("rediss://h#").tls.is_some_and(|t| !t.insecure));
}

#[test]
fn insecure_fragment_rejected_without_tls() {
    assert!(err("redis://h#insecure").contains("only applies to TLS"));
    assert!(err("unix:///tmp/s#insecure").contains("only applies to TLS"));
    assert!(err("rediss://h#verify").contains("unknown fragment"));
}

#[test]
fn ipv6() {
    let o = ok("redis://[::1]:7000");
    assert_eq!(tcp(&o), ("::1", 7000));
    assert_eq!(tcp(&ok("rediss://u:p@[2001:db8::1]/3")), ("2001:db8::1", 6379));
    assert_eq!(ok("redis://[::1]").describe(), "redis://[::1]:6379");
    assert!(err("redis://::1:7000").contains("brackets"));
    assert!(err("redis://[::1:7000").contains("unclosed"));
    assert!(err("redis://[not-v6]:7000").contains("not an IPv6"));
    assert!(err("redis://[::1]7000").contains("after ']'"));
    assert!(err("redis://[]:1").contains("not an IPv6"));
}

#[test]
fn protocol_query() {
    for (q, p) in [
        ("resp3", Protocol::Resp3),
        ("3", Protocol::Resp3),
        ("RESP3", Protocol::Resp3),
        ("resp2", Protocol::Resp2),
        ("2", Protocol::Resp2),
    ] {
        assert_eq!(ok(&format!("redis://h/1?protocol={q}")).protocol, p, "{q}");
        assert_eq!(ok(&format!("unix:///s?protocol={q}")).protocol, p, "{q}");
    }
    assert_eq!(ok("rediss://h?protocol=3#insecure").protocol, Protocol::Resp3);
    assert_eq!(ok("redis://h?protocol=3&").protocol, Protocol::Resp3);
    assert!(err("redis://h?protocol=4").contains("bad protocol \"4\""));
    assert!(err("redis://h?protocol=").contains("bad protocol"));
    assert!(err("redis://h?protocol=3&protocol=2").contains("repeats"));
}

#[test]
fn unix_forms() {
    for scheme in ["unix", "redis+unix", "valkey+unix", "Redis+Unix"] {
        let o = ok(&format!("{scheme}:///var/run/redis.sock"));
        assert_eq!(o.address, Address::Unix(PathBuf::from("/var/run/redis.sock")), "{scheme}");
        assert_eq!(o.tls, None);
        assert_eq!(o.db, 0);
    }
    let o = ok("redis+unix:///tmp/r%20s.sock?db=4&user=bob&pass=p%26w&protocol=resp3");
    assert_eq!(o.address, Address::Unix(PathBuf::from("/tmp/r s.sock")));
    assert_eq!(o.db, 4);
    assert_eq!(o.username.as_deref(), Some("bob"));
    assert_eq!(o.password.as_ref().map(Secret::expose), Some("p&w"));
    assert_eq!(o.protocol, Protocol::Resp3);
    let o = ok("valkey+unix:///s?password=x");
    assert_eq!(o.password.as_ref().map(Secret::expose), Some("x"));
    assert_eq!(ok("unix:///s?db=").db, 0);
    assert_eq!(ok("unix:///s?pass=").password, None);
}

#[test]
fn unix_errors() {
    assert!(err("unix://host/tmp/s").contains("no host"));
    assert!(err("unix://u:p@/tmp/s").contains("credentials in the query"));
    assert!(err("unix://").contains("no host"));
    assert!(err("unix:///").contains("missing socket path"));
    assert!(err("unix:///s?db=x").contains("bad database \"x\""));
    assert!(err("unix:///s?db=-1").contains("bad database"));
    assert!(err("unix:///s?db=99999999999999999999").contains("too large"));
    assert!(err("unix:///s?nope=1").contains("unknown query parameter \"nope\""));
    assert!(err("unix:///s?db=1&db=2").contains("repeats"));
    assert!(err("unix:///s?pass=a&password=b").contains("repeats"));
    assert!(err("unix:///s?db").contains("no '=value'"));
    assert!(err("unix:///s%zz").contains("bad percent-encoding in the socket path"));
}

#[test]
fn tcp_errors_name_the_problem() {
    assert!(err("localhost:6379").contains("missing \"://\""));
    assert!(err("http://h").contains("unknown scheme \"http\""));
    assert!(err("://h").contains("invalid scheme"));
    assert!(err("redis://").contains("missing host"));
    assert!(err("redis://:6379").contains("missing host"));
    assert!(err("redis://u:p@").contains("missing host"));
    assert!(err("redis:///0").contains("missing host"));
    assert!(err("redis://h:").contains("empty port"));
    assert!(err("redis://h:x").contains("not a number"));
    assert!(err("redis://h:-1").contains("not a number"));
    assert!(err("redis://h:0").contains("out of range"));
    assert!(err("redis://h:65536").contains("out of range"));
    assert!(err("redis://h:99999999999999999999").contains("out of range"));
    assert!(err("redis://h/x").contains("bad database \"x\" in the path"));
    assert!(err("redis://h/1/2").contains("bad database in the path"));
    assert!(err("redis://h/-1").contains("bad database"));
    assert!(err("redis://h?db=1").contains("put the database in the path"));
    assert!(err("redis://h?pass=1").contains("for unix socket URLs"));
    assert!(err("redis://h?bogus=1").contains("unknown query parameter \"bogus\""));
    assert!(err("redis://h?x").contains("no '=value'"));
    assert!(err("redis://h#x").contains("unknown fragment"));
    assert!(err("redis://ho st").contains("whitespace"));
    assert!(err("redis://h\u{7f}").contains("control"));
    assert!(err("redis://h$st").contains("not allowed in a host name"));
    assert!(err("redis://u%4@h").contains("bad percent-encoding in the user name"));
    assert!(err("redis://u:%ff@h").contains("password is not valid UTF-8"));
    for url in ["redis://u:a/b@h", "redis://u:a?b@h", "redis://u:a#b@h", "redis://h/0?x=a@b"] {
        assert!(err(url).contains("'@' found after the host"), "{url}");
    }
}

#[test]
fn errors_never_echo_the_password() {
    let urls = [
        "redis://user:hunter2@host:badport",
        "redis://user:hunter2@host:0",
        "redis://user:hunter2@host:99999",
        "redis://user:hunter2@host:",
        "http://user:hunter2@host",
        "redis:user:hunter2@host",
        "redis:hunter2@host://x",
        "redis://user:hunter2@:6379",
        "redis://user:hunter2@",
        "redis://user:hunter2@host/db",
        "redis://user:hunter2@host/1/2",
        "redis://user:hunter2@host?protocol=9",
        "redis://user:hunter2@host?bogus=1",
        "redis://user:hunter2@host?pass=x",
        "redis://user:hunter2@host#bogus",
        "redis://user:hunter2@host#insecure",
        "redis://user:hunter2%zz@host",
        "redis://user:hunter2%ff@host",
        "redis://user:hunter2@ho st",
        "redis://user:hunter2@h$st",
        "redis://user:hunter2@[::1",
        "redis://user:hunter2@[hunter2]:1",
        "redis://user:hunter2@::1:5",
        // Forgotten '@host': the password lands where the port should be.
        "redis://user:hunter2",
        "redis://:hunter2",
        "redis://u:hun:ter2",
        // Unencoded separators inside the password.
        "redis://u:hun/hunter2@host",
        "redis://u:hun?hunter2=1@host",
        "redis://u:hun#hunter2@host",
        "redis://u:hun?hunter2@host",
        "unix:///s?pass=hunter2&db=x",
        "unix:///s?pass=hunter2&bogus=1",
        "unix:///s?pass=hun&hunter2=1",
        "unix:///s?pass=hun&hunter2",
        "unix:///s?pass=hunter2%zz",
        "unix:///s?pass=hunter2&pass=hunter2",
        "unix:///s?pass=hunter2&protocol=x",
        "unix:///s?pass=hunter2#insecure",
        "unix://u:hunter2@/s",
        "unix://hunter2/s",
    ];
    for url in urls {
        let message = err(url);
        assert!(!message.contains("hunter2"), "{url} leaked: {message}");
        let shown = format!("{} {:?}", Error::Url(message.clone()), Error::Url(message));
        assert!(!shown.contains("hunter2"), "{url} leaked: {shown}");
    }
}

#[test]
fn options_debug_hides_the_password() {
    let o = ok("redis://u:hunter2@h");
    assert!(!format!("{o:?}").contains("hunter2"));
    assert!(!o.describe().contains("hunter2"));
}

#[test]
fn redacts_passwords() {
    for (url, want) in [
        ("redis://u:hunter2@h:1/2", "redis://u:***@h:1/2"),
        ("redis://:hunter2@h", "redis://:***@h"),
        ("rediss://u@h", "rediss://u@h"),
        ("redis://u:@h", "redis://u:@h"),
        ("redis://h:6379/0?protocol=3", "redis://h:6379/0?protocol=3"),
        ("redis://u:hun/ter?2@h", "redis://u:***@h"),
        ("redis://u:p@ss@h#insecure", "redis://u:***@h#insecure"),
        ("unix:///s?db=1&pass=hunter2&protocol=3", "unix:///s?db=1&pass=***&protocol=3"),
        ("unix:///s?PASSWORD=hunter2#x", "unix:///s?PASSWORD=***#x"),
        ("unix:///s?user=a@b", "unix:///s?user=a@b"),
        ("unix://u:hunter2@/s?user=a@b", "unix://u:***@/s?user=a@b"),
        ("redis+unix:///s@x?pass=p", "redis+unix:///s@x?pass=***"),
        ("not a url u:hunter2@h", "not a url u:***@h"),
        ("", ""),
    ] {
        assert_eq!(redact_url(url), want, "{url}");
    }
}

#[test]
fn tls_query_parameters() {
    let o =
        ok("rediss://h:6380/?tls_ca=/etc/ca%20dir/ca.pem&tls_cert=/c.pem&tls_key=/k.pem&tls_roots=webpki");
    let tls = o.tls.expect("tls");
    assert_eq!(tls.ca_file.as_deref(), Some(std::path::Path::new("/etc/ca dir/ca.pem")));
    assert_eq!(tls.client_cert.as_deref(), Some(std::path::Path::new("/c.pem")));
    assert_eq!(tls.client_key.as_deref(), Some(std::path::Path::new("/k.pem")));
    assert_eq!(tls.roots, Roots::Webpki);
    assert!(!tls.insecure);
    assert_eq!(ok("rediss://h").tls.expect("tls").roots, Roots::Native);
    assert_eq!(ok("valkeys://h?tls_roots=both").tls.expect("tls").roots, Roots::NativeAndWebpki);
    assert_eq!(
        ok("rediss://h?TLS_CA=/x#insecure").tls.expect("tls").ca_file.as_deref(),
        Some(std::path::Path::new("/x"))
    );
}

#[test]
fn tls_query_errors() {
    assert!(err("rediss://h?tls_verify=no").contains("unknown query parameter \"tls_verify\""));
    assert!(err("redis://h?tls_ca=/x").contains("only apply to TLS URLs"));
    assert!(err("unix:///s?tls_ca=/x").contains("only apply to TLS URLs"));
    assert!(err("rediss://h?tls_cert=/c").contains("give both or neither"));
    assert!(err("rediss://h?tls_key=/k").contains("give both or neither"));
    assert!(err("rediss://h?tls_ca=").contains("empty tls_ca"));
    assert!(err("rediss://h?tls_roots=all").contains("bad tls_roots value"));
    assert!(err("rediss://h?tls_ca=/a&tls_ca=/b").contains("repeats"));
}
