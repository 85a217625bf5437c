//! The core's own deadlines, one slot per kind (as quinn-proto's timer
//! table): [`Core::poll_timeout`](super::Core::poll_timeout) is the earliest
//! of them, of the succession deadline and of the peers' deadlines.

use crate::time::Instant;

/// A kind of deadline the core keeps.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Timer {
    /// The next hello is due (always armed).
    Hello,
    /// Joining ends: the box may claim boss (always armed; it counts for
    /// [`Core::poll_timeout`](super::Core::poll_timeout) only while joining).
    Joining,
    /// This box's hellos may endorse its boss (the lease block ends; always
    /// armed).
    Endorse,
    /// The boss lease ends (armed while this box claims and has one).
    Acting,
    /// The holding lease ends (armed while acknowledgements give one).
    Lease,
}

impl Timer {
    /// Every kind, in slot order.
    pub(super) const ALL: [Timer; 5] = [
        Timer::Hello,
        Timer::Joining,
        Timer::Endorse,
        Timer::Acting,
        Timer::Lease,
    ];
}

/// One optional deadline per [`Timer`].
#[derive(Copy, Clone, Debug, Default)]
pub(super) struct TimerTable {
    at: [Option<Instant>; Timer::ALL.len()],
}

impl TimerTable {
    /// The deadline of `timer`, if armed.
    pub(super) fn get(&self, timer: Timer) -> Option<Instant> {
        self.at[timer as usize]
    }

    /// Arm `timer` at `at`, or disarm it with `None`.
    pub(super) fn set(&mut self, timer: Timer, at: Option<Instant>) {
        self.at[timer as usize] = at;
    }

    /// `timer` is armed and `now` has not reached it.
    pub(super) fn running(&self, timer: Timer, now: Instant) -> bool {
        self.get(timer).is_some_and(|at| now < at)
    }

    /// `timer` is armed and `now` has reached it.
    pub(super) fn expired(&self, timer: Timer, now: Instant) -> bool {
        self.get(timer).is_some_and(|at| now >= at)
    }
}
