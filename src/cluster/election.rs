//! Who is boss (docs/MODEL.md): cold start, succession, quorum, merge,
//! hold.
//!
//! * **Following.** A box follows the best box that announces boss or
//!   semi-boss among those it hears ("best" by the merge order below). It
//!   leaves its boss for another claimant when the other is better, or when
//!   its boss is suspect and someone else claims.
//! * **Succession.** When the followed boss is lost (after the indirect
//!   probe), steps down, or there never was one (cold start, after joining
//!   for one dead interval), the candidates are the published list without
//!   the old boss (deputy 1, deputy 2, then the rest), then other live boxes
//!   by rank. A box claims when no eligible candidate (alive or joining, not
//!   on hold) is ahead of it, or when the k candidates ahead of it have let
//!   k dead intervals pass without claiming. It claims with the highest
//!   generation it has seen + 1.
//! * **Quorum.** A claimant that sees at least `quorum` live boxes (itself
//!   included) and, under lease fencing, holds its boss lease (endorsed by a
//!   quorum) is boss, otherwise semi-boss: it monitors but does not act.
//!   A box that hears nobody never claims (unless quorum is 1: a two-box
//!   pair must be able to fail over, at the price of a split brain during a
//!   partition, resolved by the merge when it heals).
//! * **Acting.** A boss acts only while its boss lease holds (see
//!   [`lease`](super::lease)).
//! * **Stale claims.** A claimant that had quorum and then saw none for a
//!   dead interval (cut off, or frozen and resumed) drops its claim before
//!   it reads any input and listens for one dead interval, as after a boot,
//!   so a boss resumed with stale state never fights the boss the majority
//!   elected meanwhile.
//! * **Merge.** A claimant that hears a better claimant steps down at once
//!   and follows it. Order: one that sees a quorum (by its hello's `hears`)
//!   beats one that does not; then the lower generation; then the longer
//!   uptime (boot instants as estimated from hellos); then the lower name. Two claimants that keep rivalling for
//!   a dead interval (their uptime estimates disagree by a network delay)
//!   settle by name alone. A semi-boss cut off in a minority, or frozen and
//!   resumed, therefore yields to the boss the majority elected meanwhile.
//! * **Hold.** A box on hold never claims; a boss put on hold steps down at
//!   once and its followers elect a successor without waiting for a loss.
//! * **Continuity.** A deputy keeps the boss's streamed state; when it
//!   claims after that boss, it continues from the records (and vserver
//!   table) instead of starting afresh.

use super::timer::Timer;
use super::{ms, Action, Core, MemberState};
use crate::config::{Fencing, NodeId};
use crate::proto::Role;
use crate::time::Instant;

impl Core {
    /// Merge-order key: (sees no quorum, generation, boot instant, name rank).
    fn claim_key(&self, x: NodeId) -> (bool, u32, Instant, u8) {
        let (live, generation) = if x == self.me {
            (self.live_count(), self.generation)
        } else {
            let p = &self.peers[x as usize];
            (1 + p.hears.count_ones() as usize, p.generation)
        };
        (
            live < self.quorum as usize,
            generation,
            self.started_of(x),
            self.name_rank[x as usize],
        )
    }

    /// Whether claimant `a` wins the merge against claimant `b`.
    ///
    /// Two claimants booted within a network delay of each other may each
    /// believe it has the longer uptime. So when both have claimed while
    /// hearing each other for a dead interval, the lower name wins outright:
    /// both sides apply the same rule, so one of them steps down.
    pub(super) fn better(&self, a: NodeId, b: NodeId, now: Instant) -> bool {
        let rival = if a == self.me { b } else { a };
        if rival != self.me && (a == self.me || b == self.me) {
            let since = self.peers[rival as usize].rival_since;
            if since.is_some_and(|s| now >= s + ms(self.t.dead)) {
                return self.name_rank[a as usize] < self.name_rank[b as usize];
            }
        }
        self.claim_key(a) < self.claim_key(b)
    }

    /// Note which claimants this box has been rivalling, and since when.
    fn track_rivals(&mut self, now: Instant) {
        let claiming = self.boss == Some(self.me);
        for x in 0..self.n as usize {
            if x == self.me as usize {
                continue;
            }
            let p = &mut self.peers[x];
            let rival = claiming && p.state == MemberState::Alive && p.claims();
            if !rival {
                p.rival_since = None;
            } else if p.rival_since.is_none() {
                p.rival_since = Some(now);
            }
        }
    }

    /// The best other box heard announcing boss or semi-boss.
    fn best_claimant(&self, now: Instant) -> Option<NodeId> {
        let mut best: Option<NodeId> = None;
        for x in self.others() {
            let p = &self.peers[x as usize];
            if p.state == MemberState::Alive
                && p.claims()
                && best.is_none_or(|b| self.better(x, b, now))
            {
                best = Some(x);
            }
        }
        best
    }

    pub(super) fn live_count(&self) -> usize {
        1 + self
            .others()
            .filter(|&x| self.peers[x as usize].state.is_live())
            .count()
    }

    /// A claimant that had quorum and has not seen one for a dead interval
    /// (cut off, or frozen and just resumed) gives up its claim before it
    /// reads anything: its view is stale, and a majority may have moved on.
    pub(super) fn abandon_stale_claim(&mut self, now: Instant) {
        if self.boss == Some(self.me)
            && self.had_quorum
            && self.live_count() < self.quorum as usize
            && now >= self.quorum_seen_at + ms(self.t.dead)
        {
            self.had_quorum = false;
            self.switch_boss(None);
            // Listen for one dead interval, as after a boot: what it
            // remembers of the list and its rank is stale.
            self.timers.set(Timer::Joining, Some(now + ms(self.t.dead)));
        }
    }

    /// No input for a dead interval, while one was due within a hello (see
    /// [`Core::poll_timeout`]): this daemon was frozen (SIGSTOP, a paused
    /// VM, swapped out). What it reads first was sent before or during the
    /// freeze, and nothing it remembers is current: it gives up any boss
    /// claim and listens for a dead interval, as after a boot. By then
    /// every box it heard only in the backlog is suspect, and its claims
    /// stale. (Sim seed 391: a box frozen 6 s read the buffered hellos of a
    /// box cut off from it since, took it for alive with its old claims,
    /// became boss at once and gave away a vserver that box held.)
    pub(super) fn resume_after_stall(&mut self, now: Instant) {
        if self.boss == Some(self.me) {
            self.had_quorum = false;
            self.switch_boss(None);
        }
        self.timers.set(Timer::Joining, Some(now + ms(self.t.dead)));
    }

    /// Decide role and boss after any input.
    pub(super) fn decide(&mut self, now: Instant) {
        let before = (self.role, self.boss, self.generation);
        let hold = self.on_hold();
        let joining = self.timers.running(Timer::Joining, now);
        self.track_rivals(now);
        if self.boss == Some(self.me) {
            if hold {
                // Never boss on hold: step down at once.
                self.switch_boss(None);
            } else if let Some(c) = self.best_claimant(now) {
                if self.better(c, self.me, now) {
                    self.switch_boss(Some(c));
                }
            }
        }
        if self.boss != Some(self.me) {
            self.follow(now, !hold && !joining);
        }
        if self.boss == Some(self.me) && self.live_count() >= self.quorum as usize {
            self.had_quorum = true;
            self.quorum_seen_at = now;
        }
        self.role = if self.boss == Some(self.me) {
            // Boss only with quorum, and under lease fencing only while the
            // boss lease holds: a boss frozen and resumed, or cut off, is a
            // semi-boss at once and yields to one that acts.
            let leased = self.fencing == Fencing::None || self.timers.running(Timer::Acting, now);
            if self.live_count() >= self.quorum as usize && leased {
                Role::Boss
            } else {
                Role::SemiBoss
            }
        } else if hold {
            Role::Hold
        } else if joining {
            Role::Joining
        } else if self.deputies().contains(&self.me) {
            Role::Deputy
        } else {
            Role::Member
        };
        if (self.role, self.boss, self.generation) != before {
            self.want_hello = true;
            self.push(Action::RoleChanged {
                role: self.role,
                boss: self.boss,
                generation: self.generation,
            });
        }
    }

    /// A box that does not claim picks whom to follow, and claims when
    /// succession says so (`may_claim`: not joining, not on hold).
    fn follow(&mut self, now: Instant, may_claim: bool) {
        let best = self.best_claimant(now);
        if let Some(b) = self.boss.filter(|&b| b != self.me) {
            let p = &self.peers[b as usize];
            if matches!(p.state, MemberState::Alive | MemberState::Suspect) && p.claims() {
                // The boss is there (or not lost yet): no succession running.
                self.boss_gone_at = None;
            }
            if p.state == MemberState::Alive && p.claims() {
                if let Some(c) = best.filter(|&c| c != b && self.better(c, b, now)) {
                    self.switch_boss(Some(c));
                }
                return;
            }
            if p.state == MemberState::Suspect && p.claims() {
                // Not lost yet: stay, unless someone else already claims.
                if let Some(c) = best.filter(|&c| c != b) {
                    self.switch_boss(Some(c));
                }
                return;
            }
        }
        // Lost, stepped down, or none at all.
        if let Some(c) = best {
            self.switch_boss(Some(c));
            return;
        }
        if may_claim {
            let gone = *self.boss_gone_at.get_or_insert(now);
            self.succession(now, gone);
        }
    }

    fn eligible(&self, x: NodeId) -> bool {
        let p = &self.peers[x as usize];
        matches!(p.state, MemberState::Alive | MemberState::Joining) && p.role != Role::Hold
    }

    fn succession(&mut self, now: Instant, gone: Instant) {
        let isolated = self.live_count() == 1;
        if isolated && self.quorum > 1 {
            return;
        }
        let old = self.boss;
        let mut ahead = 0u64;
        let mut found = false;
        for &c in self.list.iter().filter(|&&c| Some(c) != old) {
            if c == self.me {
                found = true;
                break;
            }
            if self.eligible(c) {
                ahead += 1;
            }
        }
        if !found {
            let me = self.me;
            let extra = self.ranked(|s, x| {
                x != old.unwrap_or(u8::MAX) && !s.list.contains(&x) && (x == me || s.eligible(x))
            });
            for &c in &extra {
                if c == me {
                    break;
                }
                ahead += 1;
            }
        }
        if ahead == 0 || now >= gone + ms(self.t.dead.saturating_mul(ahead)) {
            self.claim(now);
        }
    }

    fn claim(&mut self, now: Instant) {
        let old = self.boss;
        self.max_generation = self.max_generation.saturating_add(1);
        // Continue from the old boss's streamed state (no reset).
        if let Some((from, generation)) = self.synced_from {
            if Some(from) == old && generation == self.generation {
                self.records = self.synced_records;
                for i in 0..self.n as usize {
                    let lost_for = self.records[i].lost_for_ms;
                    match (self.peers[i].lost_at, lost_for > 0) {
                        (Some(at), true) => {
                            self.peers[i].lost_at = Some(at.min(now - ms(lost_for)))
                        }
                        // A loss the old boss did not see (its own, say).
                        (Some(_), false) => {
                            let r = &mut self.records[i];
                            r.losses = r.losses.saturating_add(1);
                        }
                        _ => {}
                    }
                }
            }
        }
        self.switch_boss(Some(self.me));
        self.generation = self.max_generation;
        for p in self.peers.iter_mut() {
            p.ack_endorse = 0;
        }
        self.self_endorsed = None;
        self.had_quorum = false;
        self.quorum_seen_at = now;
        self.role = Role::SemiBoss;
        self.recompute_list();
    }

    /// Follow `new` (this box itself when claiming), and block endorsing it
    /// while another box may still act on this box's endorsement (lease
    /// module): until W after the newest hello this box sent endorsing
    /// any box but `new` that may still act (its newest hello claims). A
    /// boss counts an endorsement from the send time of
    /// its own hello that the endorsing hello acknowledges, which is before
    /// the endorsing hello was sent and before this box last heard that
    /// boss, so its boss lease from it ends within W of the earlier of the
    /// two. A box it never endorsed cannot act on it: following it
    /// for a moment and coming back (a burst of buffered hellos read after
    /// a pause, a merge) blocks nothing; before, it blocked a whole W after
    /// that box was last heard, and the boss this box came back to lost its
    /// quorum of endorsements for that long (sim seeds 4252888721,
    /// 5709372906). The block every run starts with stays.
    pub(super) fn switch_boss(&mut self, new: Option<NodeId>) {
        let old = self.boss;
        if old == new {
            return;
        }
        // A box whose newest hello no longer claims cannot act on old
        // endorsements: claiming again starts its count afresh.
        let may_act = |b: usize| {
            let p = &self.peers[b];
            p.state == MemberState::Unknown || p.claims()
        };
        let others = self
            .endorsed_at
            .iter()
            .enumerate()
            .filter(|&(b, _)| Some(b as NodeId) != new && may_act(b))
            .filter_map(|(b, at)| at.map(|e| e.min(self.peers[b].heard)))
            .max();
        let from = others.map_or(self.boot_block, |e| {
            self.boot_block.max(e + ms(self.t.block))
        });
        self.timers.set(Timer::Endorse, Some(from));
        self.endorse_pending = from > self.now;
        self.boss = new;
        if let Some(b) = new.filter(|&b| b != self.me) {
            self.generation = self.peers[b as usize].generation;
        }
        self.boss_gone_at = None;
        self.want_hello = true;
    }
}
