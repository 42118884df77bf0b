//! Where a password comes from: [`SecretSource`], and reading it.
//!
//! Lives here: the four forms of Stalwart's `SecretKeyOptional` (`None`,
//! `Value`, `EnvironmentVariable`, `File`) and [`SecretSource::resolve`], which
//! reads the environment or the file (std only) when a store is built, not when
//! the configuration is parsed: parsing stays pure and repeatable. Not here: the
//! JSON walk (`parse`).
//!
//! The secret itself never reaches `Debug`, `Display` or an error message: it is
//! held in a [`Secret`] from the moment it is read.

use std::path::PathBuf;

use crate::error::Error;
use crate::secret::Secret;

/// Where the password of a store comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SecretSource {
    /// No password (`{"@type": "None"}`).
    #[default]
    None,
    /// The password itself (`{"@type": "Value", "secret": "..."}`).
    Value(Secret),
    /// An environment variable holding the password
    /// (`{"@type": "EnvironmentVariable", "variableName": "..."}`).
    EnvironmentVariable(String),
    /// A file holding the password (`{"@type": "File", "filePath": "..."}`).
    File(PathBuf),
}

impl SecretSource {
    /// Reads the secret: `Ok(None)` for [`SecretSource::None`].
    ///
    /// An environment variable's value is trimmed of surrounding whitespace; a
    /// file's contents are trimmed of trailing whitespace (the newline editors
    /// add). Both must be UTF-8 and non-empty after trimming.
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable or the path (never the value) when
    /// the variable is unset, empty or not UTF-8, or the file is unreadable,
    /// empty or not UTF-8.
    pub fn resolve(&self) -> Result<Option<Secret>, Error> {
        match self {
            SecretSource::None => Ok(None),
            SecretSource::Value(secret) => Ok(Some(secret.clone())),
            SecretSource::EnvironmentVariable(name) => {
                let value = match std::env::var(name) {
                    Ok(value) => value,
                    Err(std::env::VarError::NotPresent) => {
                        return Err(fail(format!("environment variable \"{name}\" is not set")))
                    }
                    Err(std::env::VarError::NotUnicode(_)) => {
                        return Err(fail(format!("environment variable \"{name}\" is not valid UTF-8")))
                    }
                };
                let value = value.trim();
                if value.is_empty() {
                    return Err(fail(format!("environment variable \"{name}\" is empty")));
                }
                Ok(Some(Secret::new(value)))
            }
            SecretSource::File(path) => {
                let shown = path.display();
                let bytes = std::fs::read(path)
                    .map_err(|e| fail(format!("cannot read secret file \"{shown}\": {}", e.kind())))?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| fail(format!("secret file \"{shown}\" is not valid UTF-8")))?;
                let value = text.trim_end();
                if value.is_empty() {
                    return Err(fail(format!("secret file \"{shown}\" is empty")));
                }
                Ok(Some(Secret::new(value)))
            }
        }
    }

    /// True for [`SecretSource::None`].
    pub fn is_none(&self) -> bool {
        matches!(self, SecretSource::None)
    }
}

fn fail(message: String) -> Error {
    Error::Config(format!("authSecret: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENTINEL: &str = "s3ntinel-Pa55";

    fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("redwire-secret-{}-{}", std::process::id(), name));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret");
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn message(e: Error) -> String {
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(SENTINEL), "leaked: {shown}");
        shown
    }

    #[test]
    fn none_and_value() {
        assert_eq!(SecretSource::None.resolve().unwrap(), None);
        assert!(SecretSource::None.is_none());
        let s = SecretSource::Value(Secret::new(SENTINEL));
        assert_eq!(s.resolve().unwrap().unwrap().expose(), SENTINEL);
        assert!(!format!("{s:?}").contains(SENTINEL));
    }

    #[test]
    fn environment_variable_is_trimmed() {
        // Names unique to this test: the process environment is shared by all tests.
        std::env::set_var("REDWIRE_TEST_SECRET_SET", format!("  {SENTINEL}\n"));
        std::env::set_var("REDWIRE_TEST_SECRET_BLANK", " \t\n");
        let s = SecretSource::EnvironmentVariable("REDWIRE_TEST_SECRET_SET".into());
        assert_eq!(s.resolve().unwrap().unwrap().expose(), SENTINEL);
        assert!(!format!("{s:?}").contains(SENTINEL));

        let e = SecretSource::EnvironmentVariable("REDWIRE_TEST_SECRET_UNSET".into()).resolve().unwrap_err();
        assert!(message(e).contains("environment variable \"REDWIRE_TEST_SECRET_UNSET\" is not set"));
        let e = SecretSource::EnvironmentVariable("REDWIRE_TEST_SECRET_BLANK".into()).resolve().unwrap_err();
        assert!(message(e).contains("\"REDWIRE_TEST_SECRET_BLANK\" is empty"));
    }

    #[test]
    fn file_trailing_whitespace_is_trimmed() {
        let path = temp_file("ok", format!(" {SENTINEL}\r\n\n").as_bytes());
        let s = SecretSource::File(path.clone());
        assert_eq!(s.resolve().unwrap().unwrap().expose(), format!(" {SENTINEL}"));

        let empty = temp_file("empty", b"\n \n");
        let e = SecretSource::File(empty.clone()).resolve().unwrap_err();
        let shown = message(e);
        assert!(shown.contains("is empty") && shown.contains(&empty.display().to_string()), "{shown}");

        let binary = temp_file("binary", &[0xff, 0xfe, b'x']);
        assert!(message(SecretSource::File(binary).resolve().unwrap_err()).contains("not valid UTF-8"));

        let missing = path.with_file_name("missing");
        let shown = message(SecretSource::File(missing.clone()).resolve().unwrap_err());
        assert!(shown.contains("cannot read secret file") && shown.contains(&missing.display().to_string()));
    }
}
