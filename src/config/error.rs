//! Configuration errors: each one carries the JSON path of the value at fault.
//!
//! Lives here: [`ConfigError`] (one problem) and [`ConfigErrors`] (every problem
//! found in one parse, so a user fixes a file in one pass). Not here: the
//! crate-wide [`Error`], into which these convert as [`Error::Config`].
//!
//! Pure: no IO.

use std::fmt;

use crate::error::Error;

/// One problem in a configuration, at one JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where: `timeout`, `stores[1].poolMaxConnections`, `authSecret.@type`;
    /// empty for the document as a whole.
    pub path: String,
    /// What is wrong and what was expected. Never contains a secret.
    pub message: String,
}

impl ConfigError {
    /// Builds an error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError { path: path.into(), message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found while parsing one configuration, in document order
/// (fields of an object in the order the schema lists them; unknown fields first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    errors: Vec<ConfigError>,
}

impl ConfigErrors {
    pub(crate) fn new(errors: Vec<ConfigError>) -> ConfigErrors {
        ConfigErrors { errors }
    }

    /// The problems, at least one.
    pub fn errors(&self) -> &[ConfigError] {
        &self.errors
    }

    /// How many problems were found.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Always false for a value returned by `parse`; present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The problems, one after another.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.errors.iter()
    }

    /// The first problem at exactly `path`, if any (handy in tests and UIs).
    pub fn at(&self, path: &str) -> Option<&ConfigError> {
        self.errors.iter().find(|e| e.path == path)
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

/// One problem per line.
impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigErrors> for Error {
    fn from(e: ConfigErrors) -> Error {
        Error::Config(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_path_then_message() {
        let errors = ConfigErrors::new(vec![
            ConfigError::new("timeout", "bad"),
            ConfigError::new("", "not JSON"),
            ConfigError::new("stores[1].url", "worse"),
        ]);
        assert_eq!(errors.to_string(), "timeout: bad\nnot JSON\nstores[1].url: worse");
        assert_eq!(errors.len(), 3);
        assert_eq!(errors.at("stores[1].url").map(|e| e.message.as_str()), Some("worse"));
        assert!(errors.at("url").is_none());
        let e: Error = errors.into();
        assert!(matches!(e, Error::Config(m) if m.starts_with("timeout: bad\n")));
    }
}
