//! The parts of `bongoyo status` and of the log that say what this box
//! itself did or knows, written from facts the daemon gathers so they are
//! tested without a daemon: the `stop` line's counters.

use crate::config::VsId;

/// The `stop` line's counters: the vservers whose address this box gave up
/// while it stopped, one bit each, so a vserver counts once however many
/// steps touched it. Releases before the stop do not count, nor a removal
/// that found no address here (a release step of a takeover that never got
/// its address up).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct StopTally {
    stopping: bool,
    released: u64,
    forced: u64,
}

impl StopTally {
    /// SIGTERM or SIGINT came: count from now on.
    pub fn begin(&mut self) {
        self.stopping = true;
    }

    /// The address of `vs` was removed from this box (`here`: it was on an
    /// interface here), by its release (`forced` false) or directly at the
    /// stop deadline.
    pub fn removed(&mut self, vs: VsId, here: bool, forced: bool) {
        if !self.stopping || !here {
            return;
        }
        let bit = 1u64 << (vs as u32 % 64);
        if forced {
            self.forced |= bit;
        } else {
            self.released |= bit;
        }
    }

    /// `(released, forced)` for the `stop` line.
    pub fn counts(&self) -> (u32, u32) {
        (self.released.count_ones(), self.forced.count_ones())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 16: `released=45` on a box of a two-vserver pair. The stop
    /// line counts the vservers this box gave up while stopping, each once.
    #[test]
    fn the_stop_counts_each_address_given_up_while_stopping_once() {
        let mut t = StopTally::default();
        // A long run of takeovers and releases before the stop.
        for _ in 0..20 {
            t.removed(0, true, false);
            t.removed(1, true, false);
        }
        t.begin();
        // The same address removed twice (a retried step): once.
        t.removed(0, true, false);
        t.removed(0, true, false);
        // A release step that found no address here.
        t.removed(1, false, false);
        assert_eq!(t.counts(), (1, 0));
        t.removed(1, true, true);
        assert_eq!(t.counts(), (1, 1));
    }
}
