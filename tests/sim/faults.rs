//! The fault phase both scenario drivers share (`main.rs` for the cluster
//! world, `vsim.rs` for whole boxes): the ends of faults waiting for their
//! time, and the random shapes of the network faults.
//!
//! Each driver draws its faults from its own scenario `Rng`, separate from
//! the world's; the helpers here draw from it in the order the drivers
//! always did, so a seed still replays the same scenario.

use super::world::Rng;

/// A fault's end: undoes one fault on world `W` (restart a box, resume it,
/// heal the network, ...).
type End<W> = Box<dyn FnOnce(&mut W)>;

/// The ends of the faults injected so far, each with the time (ms) it is
/// due.
pub struct Pending<W> {
    ends: Vec<(u64, End<W>)>,
}

impl<W> Pending<W> {
    pub fn new() -> Self {
        Pending { ends: Vec::new() }
    }

    /// Undo a fault at `t_ms` with `end`.
    pub fn at(&mut self, t_ms: u64, end: impl FnOnce(&mut W) + 'static) {
        self.ends.push((t_ms, Box::new(end)));
    }

    /// Apply the ends due at or before `t_ms`, earliest first (those due at
    /// the same time in the order they were added).
    pub fn apply_due(&mut self, w: &mut W, t_ms: u64) {
        self.ends.sort_by_key(|p| p.0);
        let (due, rest) = std::mem::take(&mut self.ends)
            .into_iter()
            .partition(|p| p.0 <= t_ms);
        self.ends = rest;
        for (_, end) in due {
            end(w);
        }
    }

    /// The faults stop: apply every end now, in the order they wait (sorted
    /// by [`Pending::apply_due`] up to the last call, then as added).
    pub fn apply_all(self, w: &mut W) {
        for (_, end) in self.ends {
            end(w);
        }
    }
}

/// A random partition of `n` boxes into 2 or 3 groups, `group[i]` per box
/// (some groups may be empty). Draws the number of groups, then each box's.
pub fn random_groups(r: &mut Rng, n: usize) -> Vec<usize> {
    let groups = r.range(2, 3);
    (0..n).map(|_| r.below(groups) as usize).collect()
}

/// 1 to n-1 random directed links `(from, to)` to cut, the same one maybe
/// twice (a link to itself cuts nothing). Draws the count, then each link's
/// ends.
pub fn random_cuts(r: &mut Rng, n: usize) -> Vec<(usize, usize)> {
    (0..r.range(1, n as u64))
        .map(|_| {
            let a = r.below(n as u64) as usize;
            let b = r.below(n as u64) as usize;
            (a, b)
        })
        .collect()
}
