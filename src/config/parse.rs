//! STUB: replaced by the config work.
use super::Config;
use core::fmt;

/// One error.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    /// Line.
    pub line: u32,
    /// Column.
    pub col: u32,
    /// Message.
    pub message: heapless::String<160>,
}

/// All errors of a file.
#[derive(Clone, Debug, Default)]
pub struct Errors {
    /// File name.
    pub file: heapless::String<192>,
    /// Errors.
    pub list: heapless::Vec<ConfigError, 64>,
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.list {
            writeln!(f, "{}:{}:{}: {}", self.file, e.line, e.col, e.message)?;
        }
        Ok(())
    }
}

/// Parse text.
pub fn parse(_file: &str, _text: &str) -> Result<Config, Errors> {
    Err(Errors::default())
}

/// Read and parse a file and its key file.
pub fn load(_path: &str) -> Result<Config, Errors> {
    Err(Errors::default())
}
