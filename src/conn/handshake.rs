//! The connection handshake: HELLO / AUTH / SETNAME / SELECT, with RESP2 fallback.
//!
//! Runs on the bare transport, one command at a time, before the driver takes
//! the stream over. RESP3 asks `HELLO 3 [AUTH user pass] [SETNAME name]`; if the
//! server does not know HELLO (or refuses protocol 3), it falls back to RESP2:
//! `AUTH`, `CLIENT SETNAME`. Then `SELECT db` when a database is chosen. A
//! rejected password is [`Error::Auth`], never retried here. Not here: TCP/TLS
//! (`transport`) and the multiplexed driver (`driver`).
//!
//! Over TLS, a handshake that would send nothing sends a `PING`: with TLS 1.3
//! a server that refuses the client's certificate says so only when the client
//! first reads, and that refusal belongs to connecting, as [`Error::Tls`].

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::options::{ConnectOptions, Protocol};
use super::transport::{stream_error, Transport};
use crate::cmd::{cmd, Cmd};
use crate::error::{Error, ServerErrorKind};
use crate::resp::{Decoder, Frame};

/// What the handshake settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The protocol in force on the connection.
    pub protocol: Protocol,
}

/// Runs the handshake. Bytes read past the last reply stay in `rbuf`.
///
/// # Errors
/// [`Error::Auth`] for rejected credentials, [`Error::Server`] for other
/// refusals (e.g. `SELECT` of a missing db), IO and protocol errors as is.
pub async fn handshake(
    t: &mut Transport,
    opts: &ConnectOptions,
    decoder: &mut Decoder,
    rbuf: &mut BytesMut,
) -> Result<Negotiated, Error> {
    let mut protocol = Protocol::Resp2;
    let mut authenticated = false;
    let mut sent_any =
        opts.protocol == Protocol::Resp3 || opts.password.is_some() || opts.db != 0 || opts.readonly;
    if opts.protocol == Protocol::Resp3 {
        let mut hello = cmd("HELLO").arg("3");
        if let Some(pass) = &opts.password {
            hello = hello.arg("AUTH").arg(opts.username.as_deref().unwrap_or("default")).arg(pass.expose());
        }
        if let Some(name) = &opts.client_name {
            hello = hello.arg("SETNAME").arg(name.as_str());
        }
        match request(t, &hello, decoder, rbuf).await? {
            Frame::SimpleError(e) | Frame::BlobError(e) => match e.kind() {
                ServerErrorKind::NoProto => {}
                ServerErrorKind::Generic if is_unknown_command(e.message()) => {}
                ServerErrorKind::WrongPass | ServerErrorKind::NoAuth | ServerErrorKind::NoPerm => {
                    return Err(Error::Auth(e))
                }
                _ if is_auth_failure(e.message()) => return Err(Error::Auth(e)),
                _ => return Err(Error::Server(e)),
            },
            _ => {
                protocol = Protocol::Resp3;
                authenticated = true;
            }
        }
    }
    if protocol == Protocol::Resp2 {
        if let Some(pass) = &opts.password {
            let auth = match &opts.username {
                Some(user) => cmd("AUTH").arg(user.as_str()).arg(pass.expose()),
                None => cmd("AUTH").arg(pass.expose()),
            };
            if let Some(e) = error_of(request(t, &auth, decoder, rbuf).await?) {
                return Err(Error::Auth(e));
            }
        }
        if let Some(name) = &opts.client_name {
            if !authenticated {
                sent_any = true;
                if let Some(e) =
                    error_of(request(t, &cmd("CLIENT").arg("SETNAME").arg(name), decoder, rbuf).await?)
                {
                    return Err(Error::Server(e));
                }
            }
        }
    }
    if opts.db != 0 {
        if let Some(e) = error_of(request(t, &cmd("SELECT").arg(opts.db), decoder, rbuf).await?) {
            return Err(match e.kind() {
                ServerErrorKind::NoAuth => Error::Auth(e),
                _ => Error::Server(e),
            });
        }
    }
    if opts.readonly {
        if let Some(e) = error_of(request(t, &cmd("READONLY"), decoder, rbuf).await?) {
            return Err(Error::Server(e));
        }
    }
    if !sent_any && t.is_tls() {
        // Only the round trip matters: an error reply (NOAUTH) still proves
        // the session was accepted.
        request(t, &cmd("PING"), decoder, rbuf).await?;
    }
    Ok(Negotiated { protocol })
}

fn error_of(frame: Frame) -> Option<crate::error::ServerError> {
    match frame {
        Frame::SimpleError(e) | Frame::BlobError(e) => Some(e),
        _ => None,
    }
}

fn is_unknown_command(message: &[u8]) -> bool {
    message.starts_with(b"unknown command")
}

fn is_auth_failure(message: &[u8]) -> bool {
    // Older servers answer a bad AUTH inside HELLO with a plain ERR.
    let text = String::from_utf8_lossy(message).to_ascii_lowercase();
    text.contains("invalid password") || text.contains("invalid username-password")
}

/// Sends one command and reads its reply, skipping push frames.
pub(crate) async fn request(
    t: &mut Transport,
    command: &Cmd,
    decoder: &mut Decoder,
    rbuf: &mut BytesMut,
) -> Result<Frame, Error> {
    let mut out = BytesMut::with_capacity(command.encoded_len());
    command.write_to(&mut out);
    t.write_all(&out).await.map_err(stream_error)?;
    t.flush().await.map_err(stream_error)?;
    loop {
        if let Some(frame) = decoder.decode(rbuf)? {
            if frame.is_push() {
                continue;
            }
            return Ok(frame.strip_attributes());
        }
        rbuf.reserve(4096);
        if t.read_buf(rbuf).await.map_err(stream_error)? == 0 {
            return Err(Error::from(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "server closed the connection during the handshake",
            )));
        }
    }
}
