//! This process and its children: the host name (the default `-n NAME`),
//! the pid, its capabilities, and reaping exited children after SIGCHLD.

use core::fmt;
use std::io;

/// The host name from `uname(2)`, which picks this box's `node` line when
/// `-n` is not given.
pub fn hostname() -> io::Result<String> {
    // SAFETY: utsname is plain old data; all-zero is a valid value.
    let mut u: libc::utsname = unsafe { core::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let bytes: Vec<u8> = u
        .nodename
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "host name is not UTF-8"))
}

/// This process's id.
pub fn pid() -> u32 {
    std::process::id()
}

/// Network administration: adding and removing addresses, their lifetimes
/// (linux/capability.h).
pub const CAP_NET_ADMIN: u32 = 12;
/// Raw and packet sockets: the ARP packet socket.
pub const CAP_NET_RAW: u32 = 13;

/// Whether this process has capability `cap` in its effective set
/// (`capget(2)`, version 3: two 32-bit words per set).
pub fn has_capability(cap: u32) -> io::Result<bool> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Copy, Clone, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut h = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let mut d = [Data::default(); 2];
    // SAFETY: capget reads the header and, for version 3, writes two Data.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut h as *mut Header, d.as_mut_ptr()) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    let word = d.get((cap / 32) as usize).map_or(0, |x| x.effective);
    Ok(word & (1 << (cap % 32)) != 0)
}

/// How a reaped child ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

/// `Code(1)`, `Signal(9)`: the text of the derived `Debug` (docs/LOGS.md,
/// `child-exit how=`), written out so that a build without `Debug`
/// formatting (`make tiny`) logs it too.
impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "Code({c})"),
            Exit::Signal(s) => write!(f, "Signal({s})"),
        }
    }
}

/// Reap every child that has exited, without blocking, calling `each` with
/// its pid and how it ended. Returns how many were reaped.
pub fn reap(mut each: impl FnMut(i32, Exit)) -> usize {
    let mut n = 0;
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `status` is a valid, writable int.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            n += 1;
            let how = if libc::WIFEXITED(status) {
                Exit::Code(libc::WEXITSTATUS(status))
            } else {
                Exit::Signal(libc::WTERMSIG(status))
            };
            each(pid, how);
            continue;
        }
        if pid < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        // 0: children remain but none has exited; ECHILD: no children at all.
        return n;
    }
}

/// Stack kept below the caller's frame by [`trim_stack`]: the frames it
/// calls (madvise, a log line) and the x86_64 red zone fit many times over.
const TRIM_MARGIN: usize = 16 * 1024;

/// Give the kernel back the main thread's stack pages below the caller's
/// frame. Start-up and a reload read and build large fixed-size tables
/// (the configuration, the node) in deep frames; the pages they touched
/// stay resident for the process's life though the loop never reaches that
/// deep again. Released pages read as zero if the stack grows there again.
/// Returns the bytes released (0 if the stack mapping was not found).
pub fn trim_stack() -> io::Result<usize> {
    let here = 0u8;
    let sp = core::ptr::addr_of!(here) as usize;
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    // `START-END perms offset dev inode [stack]`
    let range = maps
        .lines()
        .filter(|l| l.ends_with("[stack]"))
        .find_map(|l| {
            let (start, rest) = l.split_once('-')?;
            let end = rest.split(' ').next()?;
            Some((
                usize::from_str_radix(start, 16).ok()?,
                usize::from_str_radix(end, 16).ok()?,
            ))
        });
    // Only on the main thread's stack: another thread's frame is elsewhere.
    let Some((low, _)) = range.filter(|&(low, end)| (low..end).contains(&sp)) else {
        return Ok(0);
    };
    let page = 4096;
    let high = sp.saturating_sub(TRIM_MARGIN) & !(page - 1);
    if high <= low {
        return Ok(0);
    }
    let len = high - low;
    // SAFETY: [low, high) is the main thread's stack mapping below the
    // caller's frame, at least TRIM_MARGIN under it: only frames that have
    // returned lived there (the stack grows down, this is the only thread,
    // and signals are read from a signalfd, so no handler runs on it).
    // MADV_DONTNEED on private anonymous memory frees the pages; they read
    // as zero if touched again. No Rust object is there to see it.
    let r = unsafe { libc::madvise(low as *mut libc::c_void, len, libc::MADV_DONTNEED) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_from_another_thread_than_main_releases_nothing() {
        // Test threads are not the main thread: their stacks are not the
        // `[stack]` mapping, so nothing is touched.
        assert_eq!(trim_stack().expect("maps"), 0);
    }

    #[test]
    fn hostname_is_not_empty() {
        assert!(!hostname().unwrap().is_empty());
    }

    #[test]
    // reap() is the wait: that is what is under test.
    #[allow(clippy::zombie_processes)]
    fn reaps_an_exited_child() {
        let child = std::process::Command::new("sh")
            .args(["-c", "exit 3"])
            .spawn()
            .unwrap();
        let want = child.id() as i32;
        let mut seen = None;
        for _ in 0..200 {
            reap(|pid, how| {
                if pid == want {
                    seen = Some(how)
                }
            });
            if seen.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(seen, Some(Exit::Code(3)));
    }
}
