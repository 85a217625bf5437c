//! The control socket (`-s PATH`, default `/run/bongoyo.sock`): a Unix
//! stream socket, mode 0600, one request line per connection.
//!
//! The daemon side refuses to start when another daemon answers at the path
//! and removes a stale socket file left by a killed one. The client side
//! ([`request`]) is what `bongoyo status`, `hold`, `resume` and `release`
//! use.

use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

/// Bind the control socket at `path`, mode 0600, non-blocking.
///
/// Fails with `AddrInUse` if a daemon answers there already. A socket file
/// nobody answers at (a daemon killed with -9) is removed first.
pub fn listen(path: &Path) -> io::Result<UnixListener> {
    match UnixStream::connect(path) {
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("another daemon answers at {}", path.display()),
            ))
        }
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => std::fs::remove_file(path)?,
        // Nothing there (ENOENT), or not a socket: bind reports the latter.
        Err(_) => {}
    }
    // Created 0600 from the start: no window in which another user could
    // connect. umask is process-wide; the daemon is single-threaded here.
    // SAFETY: umask(2) cannot fail.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let listener = bound?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Remove the control socket at exit. A missing file is fine.
pub fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// Send one request line to the daemon at `path` and return its whole
/// answer. Every step is bounded by `timeout`.
pub fn request(path: &Path, line: &str, timeout: Duration) -> io::Result<String> {
    let mut s = UnixStream::connect(path)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.write_all(line.as_bytes())?;
    s.write_all(b"\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn listen_is_0600_refuses_a_live_one_and_replaces_a_stale_one() {
        let dir = std::env::temp_dir().join(format!("bongoyo-ctl-{}", std::process::id()));
        let _ = std::fs::create_dir(&dir);
        let path = dir.join("s.sock");
        let l = listen(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(listen(&path).unwrap_err().kind(), io::ErrorKind::AddrInUse);
        drop(l); // the file stays: a stale socket
        assert!(path.exists());
        let _l2 = listen(&path).unwrap();
        remove(&path);
        assert!(!path.exists());
        let _ = std::fs::remove_dir(&dir);
    }
}
