//! The three-character combo state and the one table that decides what the
//! boss does about each of the 27 (docs/MODEL.md).
//!
//! A combo state is service (P/U/D), reachability (P/U/D) and how many boxes
//! claim the vserver (0/1/M). `P` means "no verdict yet": a check is in
//! flight, or a takeover is under way (the boss sets `PP0` when it assigns).
//! [`decide`] is the single place that maps a state to the boss's action;
//! the refinements that need more than the three characters (an address still
//! answered by a lost box's MAC, failback to the original host, a holder on
//! hold, a box not heard) are found by the monitor and passed in with the
//! table's decision as explicit inputs (`monitor::Refinements`), in a fixed
//! order documented there.

use core::fmt;

/// A check's verdict, as the first two characters of a combo state.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Tri {
    /// No verdict yet (check in flight, or takeover under way).
    Pending,
    /// It answers.
    Up,
    /// It does not answer.
    Down,
}

/// How many boxes claim the vserver in their hellos: the third character.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Claims {
    /// Nobody.
    Zero,
    /// Exactly one box: what you hope to see.
    One,
    /// Several boxes.
    Many,
}

impl Claims {
    /// Claims from a count of claiming boxes.
    pub fn from_count(n: u32) -> Claims {
        match n {
            0 => Claims::Zero,
            1 => Claims::One,
            _ => Claims::Many,
        }
    }
}

/// A combo state such as `DD0`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Combo {
    /// Is the service up?
    pub service: Tri,
    /// Does the address answer?
    pub reach: Tri,
    /// How many boxes claim it.
    pub claims: Claims,
}

impl Combo {
    /// Build from the three parts.
    pub const fn new(service: Tri, reach: Tri, claims: Claims) -> Combo {
        Combo {
            service,
            reach,
            claims,
        }
    }

    /// The three ASCII characters, as carried in [`crate::proto::VsEntry`].
    pub fn to_bytes(self) -> [u8; 3] {
        let t = |t: Tri| match t {
            Tri::Pending => b'P',
            Tri::Up => b'U',
            Tri::Down => b'D',
        };
        let c = match self.claims {
            Claims::Zero => b'0',
            Claims::One => b'1',
            Claims::Many => b'M',
        };
        [t(self.service), t(self.reach), c]
    }

    /// Parse three ASCII characters; `None` if they are not a combo state.
    pub fn from_bytes(b: [u8; 3]) -> Option<Combo> {
        let t = |c: u8| match c {
            b'P' => Some(Tri::Pending),
            b'U' => Some(Tri::Up),
            b'D' => Some(Tri::Down),
            _ => None,
        };
        let claims = match b[2] {
            b'0' => Claims::Zero,
            b'1' => Claims::One,
            b'M' => Claims::Many,
            _ => return None,
        };
        Some(Combo::new(t(b[0])?, t(b[1])?, claims))
    }

    /// Every one of the 27 states, in table order.
    pub fn all() -> impl Iterator<Item = Combo> {
        const T: [Tri; 3] = [Tri::Pending, Tri::Up, Tri::Down];
        const C: [Claims; 3] = [Claims::Zero, Claims::One, Claims::Many];
        (0..27).map(|i| Combo::new(T[i / 9], T[(i / 3) % 3], C[i % 3]))
    }
}

impl fmt::Display for Combo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.to_bytes();
        // Always ASCII by construction.
        f.write_str(core::str::from_utf8(&b).unwrap_or("???"))
    }
}

/// What the boss does about a combo state.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// It is served (by the original host or by one box): nothing to do.
    Nothing,
    /// A verdict is missing: wait for the next check result.
    AwaitCheck,
    /// A takeover is under way: wait up to `takeover-timeout` for UU1, then
    /// go back to DD0 and exclude that box for a while.
    AwaitTakeover,
    /// Dead and free: call a volunteer round, then assume → PP0.
    VolunteerRound,
    /// Several boxes claim it: keep the best claimer, tell the others to release.
    KeepBestReleaseOthers,
    /// Its holder's service is dead: after a grace period tell the holder to
    /// release, then reassign.
    ReleaseAfterGrace,
    /// Its holder claims but is not reachable: wait for the holder's lease to
    /// expire (or its release), then reassign.
    AwaitLeaseThenReassign,
    /// Service dead, address alive, nobody claims: nothing can be done; alert.
    Alert,
}

/// The action table: the single place that decides (docs/MODEL.md). Each
/// arm says why; the tests walk all 27 states.
pub fn decide(c: Combo) -> Decision {
    use Claims::*;
    use Decision::*;
    use Tri::*;
    match (c.service, c.reach, c.claims) {
        // Several claimers is wrong whatever the checks say, and is the one
        // thing the boss can fix without a verdict: resolve it first.
        (_, _, Many) => KeepBestReleaseOthers,

        // PP0 is the state the boss itself sets when it assigns a volunteer.
        (Pending, Pending, Zero) => AwaitTakeover,
        // A claimer exists and a verdict is missing (the takeover reached its
        // claim, or a check is in flight): the next result decides.
        (Pending, _, One) | (_, Pending, One) => AwaitCheck,
        // No claimer and one verdict missing: never act on half a picture.
        (Pending, _, Zero) | (_, Pending, Zero) => AwaitCheck,

        // The goals: the original host, or one box, serves.
        (Up, Up, Zero) | (Up, Up, One) => Nothing,
        // Service answers but the address does not: the two checks disagree
        // (for example an ARP reply lost on a busy segment while TCP got
        // through). The service check is the stronger evidence that clients
        // are served; do not move a working vserver on it.
        (Up, Down, Zero) | (Up, Down, One) => Nothing,

        (Down, Down, Zero) => VolunteerRound,
        (Down, Up, One) => ReleaseAfterGrace,
        (Down, Down, One) => AwaitLeaseThenReassign,
        (Down, Up, Zero) => Alert,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Combo {
        let b = s.as_bytes();
        Combo::from_bytes([b[0], b[1], b[2]]).expect("valid combo")
    }

    #[test]
    fn every_state_has_its_action() {
        use Decision::*;
        let table = [
            ("PP0", AwaitTakeover),
            ("PP1", AwaitCheck),
            ("PPM", KeepBestReleaseOthers),
            ("PU0", AwaitCheck),
            ("PU1", AwaitCheck),
            ("PUM", KeepBestReleaseOthers),
            ("PD0", AwaitCheck),
            ("PD1", AwaitCheck),
            ("PDM", KeepBestReleaseOthers),
            ("UP0", AwaitCheck),
            ("UP1", AwaitCheck),
            ("UPM", KeepBestReleaseOthers),
            ("UU0", Nothing),
            ("UU1", Nothing),
            ("UUM", KeepBestReleaseOthers),
            ("UD0", Nothing),
            ("UD1", Nothing),
            ("UDM", KeepBestReleaseOthers),
            ("DP0", AwaitCheck),
            ("DP1", AwaitCheck),
            ("DPM", KeepBestReleaseOthers),
            ("DU0", Alert),
            ("DU1", ReleaseAfterGrace),
            ("DUM", KeepBestReleaseOthers),
            ("DD0", VolunteerRound),
            ("DD1", AwaitLeaseThenReassign),
            ("DDM", KeepBestReleaseOthers),
        ];
        assert_eq!(table.len(), 27);
        for (state, want) in table {
            assert_eq!(decide(c(state)), want, "state {state}");
        }
        // The table above and Combo::all() cover the same 27 states.
        let listed: usize = Combo::all()
            .filter(|s| table.iter().any(|(t, _)| c(t) == *s))
            .count();
        assert_eq!(listed, 27);
    }

    #[test]
    fn bytes_round_trip_and_reject_garbage() {
        for s in Combo::all() {
            assert_eq!(Combo::from_bytes(s.to_bytes()), Some(s));
        }
        assert_eq!(Combo::from_bytes(*b"XU1"), None);
        assert_eq!(Combo::from_bytes(*b"UU2"), None);
        assert_eq!(c("DU1").to_string(), "DU1");
    }

    #[test]
    fn claims_count() {
        assert_eq!(Claims::from_count(0), Claims::Zero);
        assert_eq!(Claims::from_count(1), Claims::One);
        assert_eq!(Claims::from_count(7), Claims::Many);
    }
}
