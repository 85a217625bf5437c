//! The kernel's random source: incarnation numbers, codec seeds, challenge
//! nonces and `bongoyo keygen` keys.
//!
//! `getrandom(2)` first (no file descriptor, works before /dev is mounted in
//! an initramfs once the pool is ready); `/dev/urandom` on a kernel without it.

use std::io::{self, Read};

/// Fill `buf` with random bytes from the kernel.
pub fn fill(buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: `rest` is valid writable memory of `rest.len()` bytes.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ENOSYS) => return urandom(rest),
                _ => return Err(err),
            }
        }
        done += n as usize;
    }
    Ok(())
}

fn urandom(buf: &mut [u8]) -> io::Result<()> {
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

/// A random 64-bit number (incarnations, seeds).
pub fn u64() -> io::Result<u64> {
    let mut b = [0u8; 8];
    fill(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_draws_differ() {
        let (a, b) = (u64().unwrap(), u64().unwrap());
        assert_ne!(a, b);
        let mut key = [0u8; 64];
        fill(&mut key).unwrap();
        assert!(key.iter().any(|&x| x != 0));
    }
}
