//! Time as the core sees it: milliseconds on a monotonic clock.
//!
//! Only the shell reads the clock (`os::clock`, `CLOCK_BOOTTIME`, which keeps
//! counting through suspend) and hands an [`Instant`] to the core. The
//! simulator hands in its own virtual time. Milliseconds are enough: the
//! shortest configured interval is a hello of a few tens of milliseconds.

use core::ops::{Add, Sub};
use core::time::Duration;

/// A point on the monotonic clock, in milliseconds since an arbitrary origin.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub u64);

impl Instant {
    /// The clock's origin.
    pub const ZERO: Instant = Instant(0);

    /// Milliseconds since the origin.
    pub fn as_millis(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.as_millis() as u64))
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(d.as_millis() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant(1000);
        assert_eq!(t + Duration::from_millis(250), Instant(1250));
        assert_eq!(t - Duration::from_secs(5), Instant::ZERO);
        assert_eq!(Instant(10).saturating_since(t), Duration::ZERO);
        assert_eq!(t.saturating_since(Instant(400)), Duration::from_millis(600));
    }
}
