//! Connection URLs into [`ConnectOptions`], and [`redact_url`] for logs.
//!
//! Lives here: the URL forms users already write for Redis and Valkey, parsed by
//! hand (no `url` crate: the grammar we accept is small and we want every error to
//! be ours, with no chance of echoing a password). Not here: opening the
//! connection (`conn`), or the JSON configuration that carries URLs (`config`).
//!
//! Accepted forms:
//!
//! | form | meaning |
//! |---|---|
//! | `redis://[user][:password@]host[:port][/db]` | TCP, port 6379 by default, database from the path |
//! | `rediss://...` | the same over TLS |
//! | `valkey://...`, `valkeys://...` | synonyms of `redis://` and `rediss://` |
//! | `redis://[::1]:7000` | IPv6 hosts go in brackets |
//! | `unix:///path/to.sock` | Unix domain socket |
//! | `redis+unix:///path`, `valkey+unix:///path` | synonyms of `unix://` |
//!
//! On every form the query may carry `protocol=resp3` (also `3`, `resp2`, `2`).
//! Unix forms also take `db=`, `user=` (or `username=`), `pass=` (or `password=`), since they have
//! no user-info or path to put them in. The fragment `#insecure` turns off TLS
//! certificate verification; on a non-TLS URL it is rejected rather than ignored,
//! because someone who wrote it believes the connection is encrypted.
//!
//! User name, password, query values and the socket path are percent-decoded
//! (RFC 3986: `%XX` only; `+` stays a plus). A malformed `%` sequence is an
//! error, never passed through.
//!
//! Errors never contain the password: they never quote user-info, host, port or
//! query values, only the scheme and (when nothing secret can be hiding in them)
//! a database number, protocol value or parameter name.
//!
//! Pure: no IO, no tokio.

use std::net::Ipv6Addr;
use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use crate::conn::{Address, ConnectOptions, Protocol, TlsOptions};
use crate::error::Error;
use crate::secret::Secret;

/// The port used when a TCP URL names none.
pub const DEFAULT_PORT: u16 = 6379;

/// Parses a connection URL into [`ConnectOptions`] (everything not in the URL
/// keeps its default). Surrounding whitespace is ignored.
///
/// ```
/// let o = redwire::url::parse_url("rediss://app:s%40cret@cache.internal:6380/2?protocol=resp3").unwrap();
/// assert_eq!(o.db, 2);
/// assert_eq!(o.password.unwrap().expose(), "s@cret");
/// ```
///
/// # Errors
/// [`Error::Url`] naming the problem: unknown scheme, missing host, bad port,
/// bad database, bad percent-encoding, unknown or repeated query parameter, bad
/// protocol value, unknown fragment. The message never contains the password.
pub fn parse_url(url: &str) -> Result<ConnectOptions, Error> {
    let url = url.trim();
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("contains whitespace or control characters (percent-encode them)"));
    }
    let (scheme_text, rest) = url.split_once("://").ok_or_else(|| {
        bad("missing \"://\" after the scheme (expected e.g. redis://host:6379 or unix:///path/to.sock)")
    })?;
    let scheme = Scheme::parse(scheme_text)?;
    let (rest, fragment) = split_off(rest, '#');
    let (rest, query) = split_off(rest, '?');
    if matches!(scheme, Scheme::Tcp { .. })
        && [fragment, query, split_off(rest, '/').1].iter().any(|part| part.is_some_and(|p| p.contains('@')))
    {
        // Almost always a password with an unencoded '/', '?' or '#': quote nothing around it.
        return Err(bad(
            "'@' found after the host: percent-encode '@', '/', '?' and '#' in the user name and password",
        ));
    }
    let insecure = parse_fragment(fragment, scheme)?;
    let mut options = ConnectOptions::default();
    match scheme {
        Scheme::Tcp { tls } => {
            parse_tcp(rest, query, &mut options)?;
            if tls {
                options.tls = Some(TlsOptions { insecure, ..TlsOptions::default() });
            }
        }
        Scheme::Unix => parse_unix(rest, query, &mut options)?,
    }
    Ok(options)
}

/// Returns `url` with its password replaced by `***`, for logs.
///
/// Works on any text, parsable or not: the user-info password (everything
/// between the first `:` and the last `@` after `://`) and the values of `pass=`
/// and `password=` query parameters are replaced. Nothing else changes. It
/// errs on the side of hiding: in `redis://:p?w@host`, where the `?` should have
/// been percent-encoded, all of `p?w` is hidden.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let is_unix = scheme.to_ascii_lowercase().contains("unix");
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    // For TCP forms the last '@' ends the user-info even when '/', '?' or '#' were left
    // unencoded in the password: hiding too much is better than leaking part of it. Unix
    // forms have no user-info (their query may hold an '@'), so look only before the path.
    let userinfo_end = if is_unix {
        rest.split('/').next().and_then(|authority| authority.rfind('@'))
    } else {
        rest.rfind('@')
    };
    let mut tail = rest;
    if let Some(at) = userinfo_end {
        let (userinfo, after) = rest.split_at(at);
        match userinfo.split_once(':') {
            Some((user, pass)) if !pass.is_empty() => {
                out.push_str(user);
                out.push_str(":***");
            }
            _ => out.push_str(userinfo),
        }
        tail = after;
    }
    redact_query(tail, &mut out);
    out
}

/// Copies `text` into `out`, hiding the values of `pass=` and `password=`.
fn redact_query(text: &str, out: &mut String) {
    let Some(q) = text.find('?') else {
        out.push_str(text);
        return;
    };
    let (head, query) = text.split_at(q + 1);
    out.push_str(head);
    let (query, fragment) = split_off(query, '#');
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((name, value))
                if !value.is_empty()
                    && (name.eq_ignore_ascii_case("pass") || name.eq_ignore_ascii_case("password")) =>
            {
                out.push_str(name);
                out.push_str("=***");
            }
            _ => out.push_str(pair),
        }
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Tcp { tls: bool },
    Unix,
}

impl Scheme {
    fn parse(text: &str) -> Result<Scheme, Error> {
        match text.to_ascii_lowercase().as_str() {
            "redis" | "valkey" => Ok(Scheme::Tcp { tls: false }),
            "rediss" | "valkeys" => Ok(Scheme::Tcp { tls: true }),
            "unix" | "redis+unix" | "valkey+unix" => Ok(Scheme::Unix),
            _ => {
                const EXPECTED: &str =
                    "expected redis, rediss, valkey, valkeys, unix, redis+unix or valkey+unix";
                if is_plain(text, 20) {
                    Err(bad(format!("unknown scheme \"{text}\" ({EXPECTED})")))
                } else {
                    Err(bad(format!("invalid scheme ({EXPECTED})")))
                }
            }
        }
    }

    fn is_tls(self) -> bool {
        matches!(self, Scheme::Tcp { tls: true })
    }
}

/// `redis://[userinfo@]host[:port][/db]`, `rest` being what follows `://` with
/// query and fragment already split off.
fn parse_tcp(rest: &str, query: Option<&str>, options: &mut ConnectOptions) -> Result<(), Error> {
    let (authority, path) = split_off(rest, '/');
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => (Some(userinfo), hostport),
        None => (None, authority),
    };
    if let Some(userinfo) = userinfo {
        let (user, pass) = match userinfo.split_once(':') {
            Some((user, pass)) => (user, Some(pass)),
            None => (userinfo, None),
        };
        let user = decode(user, "user name")?;
        options.username = (!user.is_empty()).then_some(user);
        if let Some(pass) = pass {
            let pass = decode(pass, "password")?;
            options.password = (!pass.is_empty()).then(|| Secret::new(pass));
        }
    }
    let (host, port) = parse_host_port(hostport)?;
    options.address = Address::Tcp { host, port };
    if let Some(path) = path {
        options.db = parse_db(path, "path")?;
    }
    for param in parse_query(query)? {
        match param.name {
            Param::Protocol => options.protocol = parse_protocol(&param.value)?,
            Param::Db => {
                return Err(bad("the db query parameter is for unix socket URLs; put the database in the path: redis://host:6379/3"))
            }
            Param::User | Param::Pass => {
                return Err(bad("user and pass query parameters are for unix socket URLs; write redis://user:password@host"))
            }
        }
    }
    Ok(())
}

fn parse_host_port(hostport: &str) -> Result<(String, u16), Error> {
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let (inside, after) = bracketed.split_once(']').ok_or_else(|| bad("unclosed '[' in the host"))?;
        if inside.parse::<Ipv6Addr>().is_err() {
            return Err(bad("the host in brackets is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(|| bad("unexpected text after ']' in the host"))?),
        };
        (inside, port)
    } else {
        match hostport.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err(bad("an IPv6 host must be written in brackets: redis://[::1]:6379"));
            }
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(bad("missing host"));
    }
    if !host.contains(':')
        && !host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return Err(bad("the host contains characters not allowed in a host name"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some("") => return Err(bad("empty port after ':'")),
        Some(p) if !p.bytes().all(|b| b.is_ascii_digit()) => return Err(bad("the port is not a number")),
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err(bad("the port is out of range (1 to 65535)")),
            Ok(port) => port,
        },
    };
    Ok((host.to_string(), port))
}

/// `unix:///path/to.sock[?db=&user=&pass=&protocol=]`.
fn parse_unix(rest: &str, query: Option<&str>, options: &mut ConnectOptions) -> Result<(), Error> {
    if !rest.starts_with('/') {
        if rest.contains('@') {
            return Err(bad("a unix socket URL takes credentials in the query: unix:///path?user=u&pass=p"));
        }
        return Err(bad("a unix socket URL has no host: write unix:///absolute/path/to.sock"));
    }
    let path = decode(rest, "socket path")?;
    if path.trim_end_matches('/').is_empty() {
        return Err(bad("missing socket path: write unix:///absolute/path/to.sock"));
    }
    options.address = Address::Unix(PathBuf::from(path));
    for param in parse_query(query)? {
        match param.name {
            Param::Db => options.db = parse_db(&param.value, "db parameter")?,
            Param::User => options.username = (!param.value.is_empty()).then_some(param.value),
            Param::Pass => options.password = (!param.value.is_empty()).then(|| Secret::new(param.value)),
            Param::Protocol => options.protocol = parse_protocol(&param.value)?,
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    Db,
    User,
    Pass,
    Protocol,
}

struct QueryParam {
    name: Param,
    /// Percent-decoded.
    value: String,
}

/// Splits `a=1&b=2` into known parameters, decoding values. Unknown names are
/// quoted only when no password parameter came before them: a password with an
/// unencoded `&` would otherwise leak its tail as a "parameter name".
fn parse_query(query: Option<&str>) -> Result<Vec<QueryParam>, Error> {
    let mut params: Vec<QueryParam> = Vec::new();
    let mut after_password = false;
    for (index, pair) in query.unwrap_or("").split('&').enumerate().filter(|(_, p)| !p.is_empty()) {
        let position = index + 1;
        let Some((raw_name, raw_value)) = pair.split_once('=') else {
            return Err(bad(format!("query parameter #{position} has no '=value'")));
        };
        let name = match raw_name.to_ascii_lowercase().as_str() {
            "db" => Param::Db,
            "user" | "username" => Param::User,
            "pass" | "password" => Param::Pass,
            "protocol" => Param::Protocol,
            _ if is_plain(raw_name, 32) && !after_password => {
                return Err(bad(format!(
                    "unknown query parameter \"{raw_name}\" (expected protocol, or db, user, pass for unix sockets)"
                )));
            }
            _ => {
                return Err(bad(format!(
                    "unknown query parameter #{position} (expected protocol, or db, user, pass for unix sockets)"
                )));
            }
        };
        if params.iter().any(|p| p.name == name) {
            return Err(bad(format!("query parameter #{position} repeats an earlier one")));
        }
        after_password |= name == Param::Pass;
        let what = if name == Param::Pass { "password" } else { "query parameter value" };
        params.push(QueryParam { name, value: decode(raw_value, what)? });
    }
    Ok(params)
}

fn parse_protocol(value: &str) -> Result<Protocol, Error> {
    match value.to_ascii_lowercase().as_str() {
        "resp3" | "3" => Ok(Protocol::Resp3),
        "resp2" | "2" => Ok(Protocol::Resp2),
        _ if is_plain(value, 20) => {
            Err(bad(format!("bad protocol \"{value}\" (expected resp2, resp3, 2 or 3)")))
        }
        _ => Err(bad("bad protocol value (expected resp2, resp3, 2 or 3)")),
    }
}

/// A database number: `""` is 0, otherwise decimal digits.
fn parse_db(text: &str, what: &str) -> Result<i64, Error> {
    if text.is_empty() {
        return Ok(0);
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(db) = text.parse::<i64>() {
            return Ok(db);
        }
        return Err(bad(format!("bad database in the {what}: number too large")));
    }
    if is_plain(text, 20) {
        Err(bad(format!("bad database \"{text}\" in the {what} (expected a number such as /0)")))
    } else {
        Err(bad(format!("bad database in the {what} (expected a number such as /0)")))
    }
}

/// `#insecure` on a TLS URL; an empty fragment is no fragment.
fn parse_fragment(fragment: Option<&str>, scheme: Scheme) -> Result<bool, Error> {
    match fragment {
        None | Some("") => Ok(false),
        Some(f) if f.eq_ignore_ascii_case("insecure") => {
            if scheme.is_tls() {
                Ok(true)
            } else {
                Err(bad("#insecure only applies to TLS URLs (rediss://, valkeys://)"))
            }
        }
        Some(_) => Err(bad("unknown fragment (the only one supported is #insecure)")),
    }
}

/// Strict RFC 3986 percent-decoding into UTF-8. `what` names the part in errors;
/// the text itself is never quoted.
fn decode(text: &str, what: &str) -> Result<String, Error> {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'%' {
            let ok = bytes.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !ok {
                return Err(bad(format!(
                    "bad percent-encoding in the {what} ('%' must be followed by two hex digits)"
                )));
            }
        }
    }
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| bad(format!("the {what} is not valid UTF-8 after percent-decoding")))
}

/// Splits at the first `sep`, dropping it.
fn split_off(text: &str, sep: char) -> (&str, Option<&str>) {
    match text.split_once(sep) {
        Some((a, b)) => (a, Some(b)),
        None => (text, None),
    }
}

/// Safe to quote in an error: short, and made only of name-like characters.
fn is_plain(text: &str, max: usize) -> bool {
    !text.is_empty()
        && text.len() <= max
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+'))
}

fn bad(message: impl Into<String>) -> Error {
    Error::Url(message.into())
}

#[cfg(test)]
mod tests {
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
}
