//! Scripting and functions: `EVAL`/`EVALSHA` (and their `_RO` forms),
//! [`Script`] run by SHA1 with a fallback to `EVAL`, `SCRIPT
//! LOAD/EXISTS/FLUSH`, `FCALL`/`FCALL_RO` and `FUNCTION LOAD/DELETE/LIST`.
//!
//! Replies are generic (`T: FromReply`): a script returns what it returns.
//! On a cluster, a script or function call goes to the slot of its keys (all
//! keys must share one, else [`Error::CrossSlot`]; with no keys, a random
//! primary). `SCRIPT LOAD`, `SCRIPT FLUSH`, `FUNCTION LOAD` and
//! `FUNCTION DELETE` reach every primary; `SCRIPT EXISTS` answers true only
//! when every primary has the script; `FUNCTION LIST` asks one random
//! primary. Not here: the `Script` type itself (`client`).

use std::collections::HashMap;
use std::future::Future;

use super::{expect_ok, Execute};
use crate::client::Script;
use crate::cmd::{cmd, Cmd, FromReply, ToArg};
use crate::error::{Error, ServerErrorKind};
use crate::resp::Frame;

fn call_cmd<K: ToArg, A: ToArg>(name: &str, head: &str, keys: &[K], args: &[A]) -> Cmd {
    cmd(name).arg(head).arg(keys.len()).args_from(keys).args_from(args)
}

/// One library of `FUNCTION LIST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionLibrary {
    /// The library's name.
    pub name: String,
    /// Its engine (`LUA`).
    pub engine: String,
    /// The names of its functions.
    pub functions: Vec<String>,
}

impl FromReply for FunctionLibrary {
    fn from_reply(frame: Frame) -> Result<Self, Error> {
        let mut fields: HashMap<String, Frame> = FromReply::from_reply(frame)?;
        let mut take = |name: &'static str| {
            fields
                .remove(name)
                .ok_or(Error::Type { expected: "a FUNCTION LIST library", got: format!("no {name}") })
        };
        let name = String::from_reply(take("library_name")?)?;
        let engine = String::from_reply(take("engine")?)?;
        let functions: Vec<HashMap<String, Frame>> = FromReply::from_reply(take("functions")?)?;
        let functions = functions
            .into_iter()
            .map(|mut f| match f.remove("name") {
                Some(n) => String::from_reply(n),
                None => Err(Error::Type { expected: "a function with a name", got: "no name".into() }),
            })
            .collect::<Result<_, _>>()?;
        Ok(FunctionLibrary { name, engine, functions })
    }
}

/// The scripting and functions group, for every [`Execute`].
pub trait ScriptingCommands: Execute {
    /// `EVAL script numkeys key... arg...`: the script's reply.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] for a script error;
    /// [`Error::Type`] when the reply does not convert to `T`.
    fn eval<T: FromReply, K: ToArg, A: ToArg>(
        &self,
        script: &str,
        keys: &[K],
        args: &[A],
    ) -> impl Future<Output = Result<T, Error>> + Send {
        let c = call_cmd("EVAL", script, keys, args);
        async move { self.query(&c).await }
    }

    /// `EVAL_RO`: as [`ScriptingCommands::eval`] for a script that only reads.
    ///
    /// # Errors
    /// As [`ScriptingCommands::eval`]; [`Error::Server`] when the script writes.
    fn eval_ro<T: FromReply, K: ToArg, A: ToArg>(
        &self,
        script: &str,
        keys: &[K],
        args: &[A],
    ) -> impl Future<Output = Result<T, Error>> + Send {
        let c = call_cmd("EVAL_RO", script, keys, args);
        async move { self.query(&c).await }
    }

    /// `EVALSHA sha1 numkeys key... arg...`.
    ///
    /// # Errors
    /// As [`ScriptingCommands::eval`]; [`Error::Server`] with kind
    /// `NoScript` when the server does not have the script.
    fn evalsha<T: FromReply, K: ToArg, A: ToArg>(
        &self,
        sha1: &str,
        keys: &[K],
        args: &[A],
    ) -> impl Future<Output = Result<T, Error>> + Send {
        let c = call_cmd("EVALSHA", sha1, keys, args);
        async move { self.query(&c).await }
    }

    /// `EVALSHA_RO`.
    ///
    /// # Errors
    /// As [`ScriptingCommands::evalsha`].
    fn evalsha_ro<T: FromReply, K: ToArg, A: ToArg>(
        &self,
        sha1: &str,
        keys: &[K],
        args: &[A],
    ) -> impl Future<Output = Result<T, Error>> + Send {
        let c = call_cmd("EVALSHA_RO", sha1, keys, args);
        async move { self.query(&c).await }
    }

    /// Runs `script` by SHA1 and, when the server answers `NOSCRIPT`, once
    /// more with `EVAL` (which also caches it there).
    ///
    /// # Errors
    /// As [`ScriptingCommands::eval`].
    fn run_script<T: FromReply, K: ToArg, A: ToArg>(
        &self,
        script: &Script,
        keys: &[K],
        args: &[A],
    ) -> impl Future<Output = Result<T, Error>> + Send {
        let by_sha = script.evalsha_cmd(keys, args);
        let by_source = script.eval_cmd(keys, args);
        async move {
            let frame = self.execute(&by_sha).await?;
            let frame = match frame.value() {
                Frame::SimpleError(e) | Frame::BlobError(e) if *e.kind() == ServerErrorKind::NoScript => {
                    self.execute(&by_source).await?
                }
                _ => frame,
            };
            T::from_reply(frame)
        }
    }

    /// `SCRIPT LOAD script`: its SHA1 (on a cluster, loaded on every primary).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] for a script that does not compile.
    fn script_load(&self, script: &str) -> impl Future<Output = Result<String, Error>> + Send {
        let c = cmd("SCRIPT").arg("LOAD").arg(script);
        async move { self.query(&c).await }
    }

    /// `SCRIPT EXISTS sha1...`: one flag per SHA1 (on a cluster, true only
    /// when every primary has it).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`].
    fn script_exists<S: ToArg>(&self, sha1s: &[S]) -> impl Future<Output = Result<Vec<bool>, Error>> + Send {
        let c = cmd("SCRIPT").arg("EXISTS").args_from(sha1s);
        async move { self.query(&c).await }
    }

    /// `SCRIPT FLUSH`: drops the script cache (on a cluster, of every primary).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`]; [`Error::Type`] unless `+OK`.
    fn script_flush(&self) -> impl Future<Output = Result<(), Error>> + Send {
        let c = cmd("SCRIPT").arg("FLUSH");
        async move { expect_ok(self.execute(&c).await?) }
    }

    /// `FCALL function numkeys key... arg...`.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (no such function, a function
    /// error); [`Error::Type`] when the reply does not convert to `T`.
    fn fcall<T: FromReply, K: ToArg, A: ToArg>(
        &self,
        function: &str,
        keys: &[K],
        args: &[A],
    ) -> impl Future<Output = Result<T, Error>> + Send {
        let c = call_cmd("FCALL", function, keys, args);
        async move { self.query(&c).await }
    }

    /// `FCALL_RO`: for functions flagged `no-writes`.
    ///
    /// # Errors
    /// As [`ScriptingCommands::fcall`]; [`Error::Server`] for a function
    /// not flagged `no-writes`.
    fn fcall_ro<T: FromReply, K: ToArg, A: ToArg>(
        &self,
        function: &str,
        keys: &[K],
        args: &[A],
    ) -> impl Future<Output = Result<T, Error>> + Send {
        let c = call_cmd("FCALL_RO", function, keys, args);
        async move { self.query(&c).await }
    }

    /// `FUNCTION LOAD [REPLACE] code`: the library's name (on a cluster,
    /// loaded on every primary).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (bad code; the library exists
    /// and `replace` is false).
    fn function_load(&self, code: &str, replace: bool) -> impl Future<Output = Result<String, Error>> + Send {
        let mut c = cmd("FUNCTION").arg("LOAD");
        if replace {
            c = c.arg("REPLACE");
        }
        let c = c.arg(code);
        async move { self.query(&c).await }
    }

    /// `FUNCTION DELETE library` (on a cluster, on every primary).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (no such library);
    /// [`Error::Type`] unless `+OK`.
    fn function_delete(&self, library: &str) -> impl Future<Output = Result<(), Error>> + Send {
        let c = cmd("FUNCTION").arg("DELETE").arg(library);
        async move { expect_ok(self.execute(&c).await?) }
    }

    /// `FUNCTION LIST [LIBRARYNAME pattern]`: the libraries and their
    /// functions (on a cluster, as one random primary knows them).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`]; [`Error::Type`] for a reply
    /// of another shape.
    fn function_list(
        &self,
        library_pattern: Option<&str>,
    ) -> impl Future<Output = Result<Vec<FunctionLibrary>, Error>> + Send {
        let mut c = cmd("FUNCTION").arg("LIST");
        if let Some(p) = library_pattern {
            c = c.arg("LIBRARYNAME").arg(p);
        }
        async move { self.query(&c).await }
    }
}

impl<T: Execute + ?Sized> ScriptingCommands for T {}
