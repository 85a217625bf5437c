//! The control socket (`-s PATH`, default `/var/run/bongoyo.sock`): a Unix
//! stream socket, mode 0600, one request line per connection.
//!
//! The daemon side ([`listen`]) claims the path before the daemon touches
//! anything else: it refuses to start when a daemon answers there already
//! or when something other than a socket is there, and replaces only a
//! stale socket (one nobody answers at: a daemon killed with -9). The
//! socket file it made is removed when its [`SocketFile`] drops, and only
//! if it is still that file. [`peer_uid`] and [`may_change`] say who may
//! change anything over a connection. The client side ([`request`]) is
//! what `bongoyo status`, `hold`, `resume` and `release` use.

use core::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why the control socket could not be set up.
#[derive(Debug)]
pub enum ListenError {
    /// A daemon answers at the path already (its pid, when the kernel
    /// says): another bongoyo runs with this socket.
    Live(Option<u32>),
    /// Something that is not a socket is at the path (what it is, for the
    /// message): it is not ours to replace.
    NotSocket(&'static str),
    /// The path could not be looked at, cleared or bound.
    Io(io::Error),
}

impl fmt::Display for ListenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenError::Live(Some(pid)) => write!(
                f,
                "a bongoyo daemon already answers there (pid {pid}); stop it first: nothing was changed"
            ),
            ListenError::Live(None) => f.write_str(
                "a bongoyo daemon already answers there (it does not accept: frozen?); stop it first: nothing was changed",
            ),
            ListenError::NotSocket(what) => write!(
                f,
                "{what} is there, not a socket; only a stale socket is replaced (remove it or choose another -s)"
            ),
            ListenError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for ListenError {
    fn from(e: io::Error) -> Self {
        ListenError::Io(e)
    }
}

/// The socket file [`listen`] made. Dropping it removes the file, unless
/// something else has been put at the path since (then that is left).
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFile {
    /// Still our socket at the path?
    fn ours(&self) -> bool {
        std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.file_type().is_socket() && m.dev() == self.dev && m.ino() == self.ino)
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if self.ours() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// What is at a path, in words, for [`ListenError::NotSocket`].
fn what(t: std::fs::FileType) -> &'static str {
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "something"
    }
}

/// Claim `path` and bind the control socket there, mode 0600,
/// non-blocking. Nothing at the path is changed unless it is a stale
/// socket, which is replaced.
pub fn listen(path: &Path) -> Result<(UnixListener, SocketFile), ListenError> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
        Ok(m) if !m.file_type().is_socket() => {
            return Err(ListenError::NotSocket(what(m.file_type())))
        }
        Ok(m) => match probe(path)? {
            Some(pid) => return Err(ListenError::Live(pid)),
            None => {
                // Stale. Removed only if it is still the socket just found.
                let same = std::fs::symlink_metadata(path)
                    .is_ok_and(|n| n.dev() == m.dev() && n.ino() == m.ino());
                if same {
                    std::fs::remove_file(path)?;
                }
            }
        },
    }
    // Created 0600 from the start: no window in which another user could
    // connect. umask is process-wide; the daemon is single-threaded here.
    // SAFETY: umask(2) cannot fail.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let listener = bound?;
    let file = match std::fs::symlink_metadata(path) {
        Ok(m) => SocketFile {
            path: path.to_owned(),
            dev: m.dev(),
            ino: m.ino(),
        },
        Err(e) => return Err(e.into()),
    };
    listener.set_nonblocking(true)?;
    Ok((listener, file))
}

/// Does a daemon listen at `path`? `Some(pid)` when one does (`pid` when
/// the kernel says whose listener it is), `None` for a stale socket. The
/// connect does not wait: a listener whose queue is full (a frozen daemon)
/// answers at once, and counts as a daemon.
fn probe(path: &Path) -> Result<Option<Option<u32>>, ListenError> {
    // SAFETY: sockaddr_un is plain old data; all-zero is valid.
    let mut sa: libc::sockaddr_un = unsafe { core::mem::zeroed() };
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= sa.sun_path.len() {
        return Err(
            io::Error::new(io::ErrorKind::InvalidInput, "path too long for a socket").into(),
        );
    }
    sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in sa.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    // SAFETY: plain socket(2); the result is checked before use.
    let fd = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error().into());
    }
    // SAFETY: `fd` is a fresh descriptor owned from here on.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: `sa` is a valid sockaddr_un of the length passed.
    let rc = unsafe {
        libc::connect(
            sock.as_raw_fd(),
            (&sa as *const libc::sockaddr_un).cast(),
            core::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        return Ok(Some(peer(&sock).ok().map(|c| c.pid as u32)));
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) => Ok(Some(None)),
        Some(libc::ECONNREFUSED) | Some(libc::ENOENT) => Ok(None),
        _ => Err(e.into()),
    }
}

/// The kernel's record of who is at the other end of a Unix socket.
fn peer(sock: &impl AsRawFd) -> io::Result<libc::ucred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: u32::MAX,
        gid: u32::MAX,
    };
    let mut len = core::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is a writable ucred and `len` its size.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cred)
}

/// The user id of a control client (`SO_PEERCRED`: the kernel's word,
/// taken when it connected).
pub fn peer_uid(sock: &impl AsRawFd) -> io::Result<u32> {
    peer(sock).map(|c| c.uid)
}

/// May a client with this user id change anything (`hold`, `resume`,
/// `release`)? Root and the daemon's own user may; others may only ask
/// for `status`. The socket's mode 0600 already keeps others out; this
/// holds also when an operator opens the socket to others for monitoring.
pub fn may_change(uid: u32) -> bool {
    // SAFETY: geteuid(2) cannot fail.
    uid == 0 || uid == unsafe { libc::geteuid() }
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
        let (l, file) = listen(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        match listen(&path) {
            Err(ListenError::Live(Some(pid))) => assert_eq!(pid, std::process::id()),
            other => panic!("{other:?}"),
        }
        // A daemon killed with -9: the file stays, nobody answers.
        drop(l);
        std::mem::forget(file);
        assert!(path.exists());
        let (_l2, file2) = listen(&path).unwrap();
        drop(file2);
        assert!(!path.exists());
        let _ = std::fs::remove_dir(&dir);
    }

    #[test]
    fn listen_leaves_what_is_not_a_socket() {
        let dir = std::env::temp_dir().join(format!("bongoyo-ctl2-{}", std::process::id()));
        let _ = std::fs::create_dir(&dir);
        let file = dir.join("file");
        std::fs::write(&file, "x").unwrap();
        let link = dir.join("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&file, &link).unwrap();
        for (p, want) in [
            (&file, "a regular file"),
            (&dir, "a directory"),
            (&link, "a symbolic link"),
        ] {
            match listen(p) {
                Err(ListenError::NotSocket(w)) => assert_eq!(w, want),
                other => panic!("{}: {other:?}", p.display()),
            }
        }
        assert_eq!(std::fs::read_to_string(&link).unwrap(), "x");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_socket_replaced_under_the_daemon_is_not_removed() {
        let dir = std::env::temp_dir().join(format!("bongoyo-ctl3-{}", std::process::id()));
        let _ = std::fs::create_dir(&dir);
        let path = dir.join("s.sock");
        let (_l, file) = listen(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "someone else's").unwrap();
        drop(file);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "someone else's");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_peer_is_this_process() {
        let (a, _b) = UnixStream::pair().unwrap();
        // SAFETY: geteuid(2) cannot fail.
        let me = unsafe { libc::geteuid() };
        assert_eq!(peer_uid(&a).unwrap(), me);
        assert!(may_change(me) && may_change(0));
    }
}
