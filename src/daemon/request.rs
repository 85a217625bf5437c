//! A control-socket request, parsed (bytes apart from meaning).
//!
//! The client (`bongoyo status`, `hold`, `resume`, `release NAME`, `reload
//! [-c FILE]`) sends one
//! line of ASCII words; the daemon answers with one or more lines. Anybody
//! who may connect to the socket may send anything, so this parser takes
//! arbitrary bytes and either names the request or says why it is not one;
//! it never panics (fuzzed: `fuzz/fuzz_targets/control.rs`).

use core::fmt;

/// The longest request line, in bytes (`release` and a vserver name fit
/// with room to spare, `reload` and an absolute path of up to 500 bytes).
pub const REQUEST_BYTES: usize = 512;

/// What a client asks.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// `status`: the human-readable status.
    Status,
    /// `status-json`: the same as JSON.
    StatusJson,
    /// `hold`: put this box on hold.
    Hold,
    /// `resume`: back on the list.
    Resume,
    /// `release NAME`: move vserver NAME off its holder.
    Release(&'a str),
    /// `reload [PATH]`: read the configuration again (from PATH, else the
    /// running one's file) and apply it; no blanks in PATH.
    Reload(Option<&'a str>),
}

impl Request<'_> {
    /// Whether it changes anything (only root, or the daemon's own user,
    /// may send these).
    pub fn changes(&self) -> bool {
        !matches!(self, Request::Status | Request::StatusJson)
    }

    /// The request's first word, for logs.
    pub fn word(&self) -> &'static str {
        match self {
            Request::Status => "status",
            Request::StatusJson => "status-json",
            Request::Hold => "hold",
            Request::Resume => "resume",
            Request::Release(_) => "release",
            Request::Reload(_) => "reload",
        }
    }
}

/// Why a line is not a request.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BadRequest {
    /// Longer than [`REQUEST_BYTES`].
    TooLong,
    /// Not UTF-8.
    NotText,
    /// Nothing but blanks.
    Empty,
    /// An unknown word, or a known one with the wrong arguments.
    Unknown,
}

impl fmt::Display for BadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BadRequest::TooLong => "request too long",
            BadRequest::NotText => "request is not UTF-8 text",
            BadRequest::Empty => "empty request",
            BadRequest::Unknown => "unknown request",
        })
    }
}

/// Parse one request line (without its newline; blanks around the words
/// are ignored).
pub fn parse(line: &[u8]) -> Result<Request<'_>, BadRequest> {
    if line.len() > REQUEST_BYTES {
        return Err(BadRequest::TooLong);
    }
    let text = core::str::from_utf8(line).map_err(|_| BadRequest::NotText)?;
    let mut words = text.split_ascii_whitespace();
    let first = words.next().ok_or(BadRequest::Empty)?;
    let request = match (first, words.next()) {
        ("status", None) => Request::Status,
        ("status-json", None) => Request::StatusJson,
        ("hold", None) => Request::Hold,
        ("resume", None) => Request::Resume,
        ("release", Some(name)) => Request::Release(name),
        ("reload", path) => Request::Reload(path),
        _ => return Err(BadRequest::Unknown),
    };
    match words.next() {
        None => Ok(request),
        Some(_) => Err(BadRequest::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_and_its_arguments() {
        assert_eq!(parse(b"status"), Ok(Request::Status));
        assert_eq!(parse(b"  status-json \r"), Ok(Request::StatusJson));
        assert_eq!(parse(b"hold"), Ok(Request::Hold));
        assert_eq!(parse(b"resume"), Ok(Request::Resume));
        assert_eq!(parse(b"release web"), Ok(Request::Release("web")));
        assert_eq!(parse(b"reload"), Ok(Request::Reload(None)));
        assert_eq!(
            parse(b"reload /etc/b.conf"),
            Ok(Request::Reload(Some("/etc/b.conf")))
        );
        assert!(Request::Reload(None).changes());
        assert!(Request::Release("web").changes() && !Request::Status.changes());
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        assert_eq!(parse(b""), Err(BadRequest::Empty));
        assert_eq!(parse(b" \t "), Err(BadRequest::Empty));
        assert_eq!(parse(b"release"), Err(BadRequest::Unknown));
        assert_eq!(parse(b"release a b"), Err(BadRequest::Unknown));
        assert_eq!(parse(b"hold now"), Err(BadRequest::Unknown));
        assert_eq!(parse(b"reload /a /b"), Err(BadRequest::Unknown));
        assert_eq!(parse(b"reboot"), Err(BadRequest::Unknown));
        assert_eq!(parse(b"status\xff"), Err(BadRequest::NotText));
        assert_eq!(parse(&[b'x'; REQUEST_BYTES + 1]), Err(BadRequest::TooLong));
    }
}
