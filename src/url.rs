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
//! TLS forms also take `tls_ca=/path/ca.pem` (trust this CA instead of the
//! built-in roots: a private CA), `tls_cert=/path/client.pem` and
//! `tls_key=/path/client.key` (mutual TLS, both or neither), and
//! `tls_roots=native|webpki|both` (which built-in roots, see [`Roots`]). A
//! `tls_` parameter on a non-TLS URL, or an unknown `tls_` name, is an error.
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

use crate::conn::{Address, ConnectOptions, Protocol, Roots, TlsOptions};
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
    let params = parse_query(query)?;
    match scheme {
        Scheme::Tcp { tls } => {
            if tls {
                options.tls = Some(TlsOptions { insecure, ..TlsOptions::default() });
            }
            parse_tcp(rest, params, &mut options)?;
        }
        Scheme::Unix => parse_unix(rest, params, &mut options)?,
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
fn parse_tcp(rest: &str, params: Vec<QueryParam>, options: &mut ConnectOptions) -> Result<(), Error> {
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
    for param in params {
        match param.name {
            Param::Protocol => options.protocol = parse_protocol(&param.value)?,
            Param::Tls(which) => set_tls(which, param.value, options)?,
            Param::Db => {
                return Err(bad("the db query parameter is for unix socket URLs; put the database in the path: redis://host:6379/3"))
            }
            Param::User | Param::Pass => {
                return Err(bad("user and pass query parameters are for unix socket URLs; write redis://user:password@host"))
            }
        }
    }
    if let Some(tls) = &options.tls {
        if tls.client_cert.is_some() != tls.client_key.is_some() {
            return Err(bad("tls_cert and tls_key go together: give both or neither"));
        }
    }
    Ok(())
}

/// Applies one `tls_*` parameter; only TLS URLs take them.
fn set_tls(which: TlsParam, value: String, options: &mut ConnectOptions) -> Result<(), Error> {
    let Some(tls) = options.tls.as_mut() else {
        return Err(bad("tls_ query parameters only apply to TLS URLs (rediss://, valkeys://)"));
    };
    if value.is_empty() && which != TlsParam::Roots {
        return Err(bad(format!("empty {} query parameter (expected a file path)", which.name())));
    }
    match which {
        TlsParam::Ca => tls.ca_file = Some(PathBuf::from(value)),
        TlsParam::Cert => tls.client_cert = Some(PathBuf::from(value)),
        TlsParam::Key => tls.client_key = Some(PathBuf::from(value)),
        TlsParam::Roots => {
            tls.roots = match value.to_ascii_lowercase().as_str() {
                "native" => Roots::Native,
                "webpki" => Roots::Webpki,
                "both" => Roots::NativeAndWebpki,
                _ => return Err(bad("bad tls_roots value (expected native, webpki or both)")),
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
fn parse_unix(rest: &str, params: Vec<QueryParam>, options: &mut ConnectOptions) -> Result<(), Error> {
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
    for param in params {
        match param.name {
            Param::Tls(_) => {
                return Err(bad("tls_ query parameters only apply to TLS URLs (rediss://, valkeys://)"))
            }
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
    Tls(TlsParam),
}

/// The `tls_*` query parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsParam {
    Ca,
    Cert,
    Key,
    Roots,
}

impl TlsParam {
    fn name(self) -> &'static str {
        match self {
            TlsParam::Ca => "tls_ca",
            TlsParam::Cert => "tls_cert",
            TlsParam::Key => "tls_key",
            TlsParam::Roots => "tls_roots",
        }
    }
}

const EXPECTED_PARAMS: &str =
    "expected protocol, tls_ca, tls_cert, tls_key, tls_roots, or db, user, pass for unix sockets";

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
            "tls_ca" => Param::Tls(TlsParam::Ca),
            "tls_cert" => Param::Tls(TlsParam::Cert),
            "tls_key" => Param::Tls(TlsParam::Key),
            "tls_roots" => Param::Tls(TlsParam::Roots),
            _ if is_plain(raw_name, 32) && !after_password => {
                return Err(bad(format!("unknown query parameter \"{raw_name}\" ({EXPECTED_PARAMS})")));
            }
            _ => {
                return Err(bad(format!("unknown query parameter #{position} ({EXPECTED_PARAMS})")));
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
mod tests;
