//! A volunteer round (docs/MODEL.md).
//!
//! The boss asks every live box that is not on hold; each answers with a
//! suitability 0-100 from its self-check and how many vservers it already
//! holds. The round ends when every asked box has answered, or when its
//! window closes; the best answer wins, ties by priority-list order.
//!
//! "Best" is `suitability - 10 x holding` (saturating): with equal self-checks
//! the box holding fewer vservers wins, so the load spreads, but a box with a
//! clearly better self-check still wins over one that is merely idle. A box
//! answering 0 (or on hold) never volunteers.

use crate::config::NodeId;
use crate::limits::MAX_NODES;
use crate::time::Instant;

/// Score points a box loses per vserver it already holds.
pub const LOAD_PENALTY: u8 = 10;

/// One round for one vserver.
#[derive(Clone, Debug)]
pub struct Round {
    /// The round's number (answers to other rounds are ignored).
    pub number: u32,
    /// When the window closes.
    pub deadline: Instant,
    /// Bit `n`: node `n` was asked.
    asked: u32,
    /// Bit `n`: node `n` answered.
    answered: u32,
    /// Score per node (valid where `answered`).
    score: [u8; MAX_NODES],
    /// Bit `n`: node `n` is willing (suitability above 0).
    willing: u32,
    /// Vservers each node already holds (breaks score ties toward the idle).
    holding: [u8; MAX_NODES],
    /// Every asked box probes the address before it answers.
    probe: bool,
    /// Bit `n`: node `n` may win (asked boxes not in it only probe).
    eligible: u32,
    /// Some box's probe saw the address answered.
    seen: bool,
}

impl Round {
    /// A round asking the boxes in the `asked` bitmap, open until `deadline`.
    pub fn new(number: u32, asked: u32, deadline: Instant) -> Round {
        Round {
            number,
            deadline,
            asked,
            answered: 0,
            score: [0; MAX_NODES],
            willing: 0,
            holding: [0; MAX_NODES],
            probe: false,
            eligible: asked,
            seen: false,
        }
    }

    /// Record an answer. Answers from boxes not asked, to another round, or a
    /// second answer from the same box are ignored (returns false).
    pub fn answer(&mut self, round: u32, from: NodeId, suitability: u8, holding: u8) -> bool {
        let bit = match 1u32.checked_shl(from as u32) {
            Some(b) if (from as usize) < MAX_NODES => b,
            _ => return false,
        };
        if round != self.number || self.asked & bit == 0 || self.answered & bit != 0 {
            return false;
        }
        self.answered |= bit;
        let penalty = LOAD_PENALTY.saturating_mul(holding);
        self.score[from as usize] = suitability.min(100).saturating_sub(penalty);
        self.holding[from as usize] = holding;
        if suitability > 0 && self.eligible & bit != 0 {
            self.willing |= bit;
        }
        true
    }

    /// Only the boxes in `mask` may win; the others asked only probe.
    pub fn eligible(mut self, mask: u32) -> Round {
        self.eligible = mask;
        self
    }

    /// A round whose asked boxes probe the address before they answer.
    pub fn probing(mut self) -> Round {
        self.probe = true;
        self
    }

    /// Whether a box's probe saw the address answered, or, in a probing
    /// round, a box asked did not answer: what it saw is not known, and a
    /// lost answer must not pass for silence.
    pub fn fenced(&self) -> bool {
        self.seen || (self.probe && self.answered != self.asked)
    }

    /// An answer's probe saw the address answered.
    pub fn saw(&mut self) {
        self.seen = true;
    }

    /// Whether box `n` answered and is willing (suitability above 0).
    pub fn willing(&self, n: NodeId) -> bool {
        1u32.checked_shl(n as u32)
            .is_some_and(|b| self.answered & self.willing & b != 0)
    }

    /// True when every asked box answered or the window closed.
    pub fn is_over(&self, now: Instant) -> bool {
        self.answered == self.asked || now >= self.deadline
    }

    /// The winner among the willing (suitability above 0): highest score,
    /// then fewer vservers held, then `list` order (best first; boxes not on
    /// the list lose ties to those on it). A willing box whose load penalty
    /// ate its whole score still wins when nobody scores higher: a box that
    /// already holds ten vservers is busy, not unsuitable.
    pub fn winner(&self, list: &[NodeId]) -> Option<NodeId> {
        let rank = |n: usize| {
            list.iter()
                .position(|&m| m as usize == n)
                .unwrap_or(MAX_NODES)
        };
        (0..MAX_NODES)
            .filter(|&n| self.answered & self.willing & (1 << n) != 0)
            .max_by(|&a, &b| {
                self.score[a]
                    .cmp(&self.score[b])
                    .then(self.holding[b].cmp(&self.holding[a]))
                    .then(rank(b).cmp(&rank(a)))
            })
            .map(|n| n as NodeId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: [NodeId; 4] = [2, 0, 1, 3];

    #[test]
    fn a_probing_round_is_fenced_by_a_sighting_or_a_missing_answer() {
        // Sim seed 117: a lost answer must not pass for silence.
        let mut r = Round::new(1, 0b11, Instant(100)).probing();
        assert!(r.answer(1, 0, 100, 0));
        assert!(r.is_over(Instant(100)) && r.fenced());
        assert!(r.answer(1, 1, 100, 0));
        assert!(!r.fenced(), "all answered, nothing seen");
        r.saw();
        assert!(r.fenced());
        // Without probing, a missing answer is just a box that did not answer.
        let mut r = Round::new(2, 0b11, Instant(100));
        assert!(r.answer(2, 0, 100, 0));
        assert!(!r.fenced());
    }

    #[test]
    fn best_suitability_wins() {
        let mut r = Round::new(7, 0b1111, Instant(1000));
        assert!(r.answer(7, 0, 60, 0));
        assert!(r.answer(7, 1, 90, 0));
        assert!(r.answer(7, 2, 80, 0));
        assert!(!r.is_over(Instant(10)));
        assert!(r.answer(7, 3, 0, 0));
        assert!(r.is_over(Instant(10)));
        assert_eq!(r.winner(&LIST), Some(1));
    }

    #[test]
    fn load_spreads_and_ties_follow_the_list() {
        let mut r = Round::new(1, 0b111, Instant(1000));
        r.answer(1, 0, 100, 2); // 80
        r.answer(1, 1, 100, 0); // 100
        r.answer(1, 2, 100, 0); // 100, but 2 ranks above 1 on the list
        assert_eq!(r.winner(&LIST), Some(2));
    }

    #[test]
    fn zero_and_strangers_never_win() {
        let mut r = Round::new(1, 0b011, Instant(1000));
        assert!(!r.answer(1, 2, 100, 0), "not asked");
        assert!(!r.answer(2, 0, 100, 0), "other round");
        assert!(!r.answer(1, 40, 100, 0), "index out of range");
        r.answer(1, 0, 0, 0);
        assert_eq!(r.winner(&LIST), None, "suitability 0 never volunteers");
        assert!(!r.answer(1, 0, 100, 0), "second answer ignored");
    }

    #[test]
    fn a_busy_box_is_still_a_volunteer() {
        // Found by the simulator: 15 vservers on two boxes, each holding 10,
        // scored 100 - 10 x 10 = 0 and nobody took the 15th.
        let mut r = Round::new(1, 0b011, Instant(1000));
        r.answer(1, 0, 100, 10);
        r.answer(1, 1, 100, 11);
        assert_eq!(r.winner(&LIST), Some(0), "the less loaded box");
        let mut r = Round::new(2, 0b011, Instant(1000));
        r.answer(2, 0, 5, 1); // 5 - 10 saturates to 0, still willing
        r.answer(2, 1, 0, 0);
        assert_eq!(r.winner(&LIST), Some(0));
    }

    #[test]
    fn window_closes() {
        let r = Round::new(1, 0b11, Instant(500));
        assert!(!r.is_over(Instant(499)));
        assert!(r.is_over(Instant(500)));
        assert_eq!(r.winner(&LIST), None);
    }
}
