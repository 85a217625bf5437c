//! The one clock the daemon reads: `CLOCK_BOOTTIME`, monotonic and counting
//! through suspend, so a box that slept sees its leases expired
//! (docs/MODEL.md) instead of trusting a stale view.

use crate::time::Instant;

/// Now, in milliseconds on `CLOCK_BOOTTIME`.
///
/// Falls back to `CLOCK_MONOTONIC` on a kernel without `CLOCK_BOOTTIME`
/// (before 2.6.39); both never go backwards.
pub fn now() -> Instant {
    read(libc::CLOCK_BOOTTIME)
        .or_else(|| read(libc::CLOCK_MONOTONIC))
        .unwrap_or(Instant::ZERO)
}

fn read(clock: libc::clockid_t) -> Option<Instant> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return None;
    }
    let ms = (ts.tv_sec as u64).saturating_mul(1000) + (ts.tv_nsec as u64) / 1_000_000;
    Some(Instant(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boottime_moves_forward() {
        let a = now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = now();
        assert!(a.0 > 0);
        assert!(b.0 >= a.0 + 15, "{a:?} -> {b:?}");
    }
}
