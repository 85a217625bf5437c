//! The priority list (docs/MODEL.md): who is best placed to be boss,
//! deputy and (in the vserver layer) volunteer.
//!
//! Ranked by configured priority (higher first), then health (higher
//! first), then record (less recent downtime first, in units of `dead` so
//! a few milliseconds do not reorder the list), then uptime (longer first:
//! compared as boot instants, which stay put, so the order does not flap
//! as time passes), then name (lower first).
//!
//! The boss computes it every hello from boxes that are alive or suspect
//! (not yet lost), never joining or on hold, and publishes it in its hello;
//! everyone else adopts the published list, so all agree on the order.

use core::cmp::Ordering;

use super::{Core, MemberState};
use crate::config::NodeId;
use crate::limits::MAX_NODES;
use crate::proto::Role;
use crate::time::Instant;
use heapless::Vec;

impl Core {
    /// Rank key of box `x` as this box sees it: smaller sorts first.
    fn rank_key(&self, x: NodeId) -> (u8, u8, u64, Instant, u8) {
        let i = x as usize;
        let health = if x == self.me {
            if self.on_hold() {
                0
            } else {
                self.health
            }
        } else {
            self.peers[i].health
        };
        (
            u8::MAX - self.priority[i],
            u8::MAX - health,
            self.records[i].downtime_ms / self.t.dead,
            self.started_of(x),
            self.name_rank[i],
        )
    }

    /// When box `x` booted, on this box's clock.
    pub(super) fn started_of(&self, x: NodeId) -> Instant {
        if x == self.me {
            self.started
        } else {
            self.peers[x as usize].started
        }
    }

    /// Compare two boxes by rank (`Less`: `a` is better).
    pub(super) fn rank_cmp(&self, a: NodeId, b: NodeId) -> Ordering {
        self.rank_key(a).cmp(&self.rank_key(b))
    }

    /// The boxes `keep` accepts, best first.
    pub(super) fn ranked(&self, keep: impl Fn(&Core, NodeId) -> bool) -> Vec<NodeId, MAX_NODES> {
        let mut v: Vec<NodeId, MAX_NODES> = Vec::new();
        for x in 0..self.n {
            if keep(self, x) {
                let _ = v.push(x);
            }
        }
        // Insertion sort: at most 32 entries, and no allocation.
        for i in 1..v.len() {
            let mut j = i;
            while j > 0 && self.rank_cmp(v[j], v[j - 1]) == Ordering::Less {
                v.swap(j, j - 1);
                j -= 1;
            }
        }
        v
    }

    /// Whether box `x` belongs on the list: alive or suspect, not joining or
    /// on hold.
    pub(super) fn listable(&self, x: NodeId) -> bool {
        if x == self.me {
            return !self.on_hold() && self.role != Role::Joining;
        }
        let p = &self.peers[x as usize];
        matches!(p.state, MemberState::Alive | MemberState::Suspect)
            && !matches!(p.role, Role::Hold | Role::Joining)
    }

    /// The boss recomputes the list it publishes.
    pub(super) fn recompute_list(&mut self) {
        self.list = self.ranked(|c, x| c.listable(x));
    }
}
