//! The parts of `bongoyo status` (docs/STATUS.md) that say what this box
//! knows and how old it is: quorum, each vserver's state as known here, the
//! claims heard, and the `stop` line's counters. Written from facts the
//! daemon gathers, so they are tested without a daemon.
//!
//! Every box answers for itself. Only the acting boss has a current vserver
//! table; a deputy has the copy its boss streams every hello, and shows its
//! age; any other box shows no table at all, only the claims it heard in
//! hellos, each with the age of the hello that carried it. A table kept from
//! an earlier boss, or from when this box acted itself, is never shown: it
//! is not what anyone knows now.

use core::fmt::{self, Write};

use heapless::Vec;

use crate::config::{NodeId, VsId};
use crate::limits::MAX_NODES;
use crate::proto::VsEntry;

/// Quorum as this box sees it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Quorum {
    /// Boxes this box hears now (alive, joining or on hold), itself included.
    pub heard: usize,
    /// Boxes in the configuration.
    pub nodes: usize,
    /// Live boxes a boss needs (the resolved `quorum`).
    pub needed: u8,
}

impl Quorum {
    /// This box hears enough boxes for a boss to act.
    pub fn met(&self) -> bool {
        self.heard >= self.needed as usize
    }

    /// `quorum      1 of 3 boxes heard, 2 needed: no quorum` (with its newline).
    pub fn text(&self, w: &mut impl Write) -> fmt::Result {
        writeln!(
            w,
            "quorum      {} of {} boxes heard, {} needed: {}",
            self.heard,
            self.nodes,
            self.needed,
            if self.met() { "ok" } else { "no quorum" }
        )
    }

    /// `,"quorum":{"heard":1,"nodes":3,"needed":2,"met":false}`.
    pub fn json(&self, w: &mut impl Write) -> fmt::Result {
        write!(
            w,
            ",\"quorum\":{{\"heard\":{},\"nodes\":{},\"needed\":{},\"met\":{}}}",
            self.heard,
            self.nodes,
            self.needed,
            self.met()
        )
    }
}

/// Where one vserver's combo state and holder come from on this box.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Known {
    /// This box is the acting boss: its own table, current.
    Boss(VsEntry),
    /// The copy the boss this box follows streamed to it, this many
    /// milliseconds ago (a deputy).
    Synced(VsEntry, u64),
    /// No table here: only the claims heard.
    Unknown,
}

impl Known {
    /// The entry for vserver `vs` from `table` (as [`crate::node::Node::known_table`]
    /// gives it: the table and its age, 0 for the acting boss's own).
    pub fn of(table: Option<(&[VsEntry], u64)>, acting: bool, vs: usize) -> Known {
        match table.and_then(|(t, age)| t.get(vs).map(|e| (*e, age))) {
            Some((e, _)) if acting => Known::Boss(e),
            Some((e, age)) => Known::Synced(e, age),
            None => Known::Unknown,
        }
    }
}

/// The boxes whose newest hello claims a vserver, each with how long ago
/// that hello came (`None` for this box, whose claims are current).
pub type Claimers = Vec<(NodeId, Option<u64>), MAX_NODES>;

/// The claimers of vserver `vs`, from each box's claims (`claims(n)`: the
/// bitmap and when the hello carrying it came, ms ago; `None` when never
/// heard).
pub fn claimers(
    nodes: usize,
    vs: VsId,
    claims: impl Fn(NodeId) -> Option<(u64, Option<u64>)>,
) -> Claimers {
    let mut out = Claimers::new();
    for n in 0..nodes.min(MAX_NODES) as NodeId {
        if let Some((bits, ago)) = claims(n) {
            if bits & (1u64 << (vs as u32 % 64)) != 0 {
                // At most MAX_NODES: fits.
                let _ = out.push((n, ago));
            }
        }
    }
    out
}

/// One vserver line's state part, after `NAME ADDRESS/P on IFACE`:
/// `  state UU1  holder f2  since 60114ms` on the acting boss; on a deputy
/// the same plus `  synced 180ms ago`; elsewhere `  state unknown`; then,
/// except on the acting boss, `  claimed by f2 43ms ago` (or `none`).
pub fn vs_text<'a>(
    w: &mut impl Write,
    known: Known,
    claimers: &Claimers,
    name: impl Fn(NodeId) -> &'a str,
) -> fmt::Result {
    let entry = |w: &mut dyn Write, e: &VsEntry| {
        write!(
            w,
            "  state {}  holder {}  since {}ms",
            core::str::from_utf8(&e.combo).unwrap_or("???"),
            e.holder.map_or("none", &name),
            e.since_ms
        )
    };
    match known {
        Known::Boss(e) => return entry(w, &e),
        Known::Synced(e, age) => {
            entry(w, &e)?;
            write!(w, "  synced {age}ms ago")?;
        }
        Known::Unknown => w.write_str("  state unknown")?,
    }
    w.write_str("  claimed by")?;
    if claimers.is_empty() {
        return w.write_str(" none");
    }
    for (i, &(n, ago)) in claimers.iter().enumerate() {
        w.write_str(if i == 0 { " " } else { ", " })?;
        w.write_str(name(n))?;
        match ago {
            Some(ms) => write!(w, " {ms}ms ago")?,
            None => w.write_str(" (this box)")?,
        }
    }
    Ok(())
}

/// The same as JSON members, each preceded by a comma: `state`, `holder`,
/// `since_ms`, `table` (`boss`, `sync`, `none`), `table_age_ms` and
/// `claimers`.
pub fn vs_json<'a>(
    w: &mut impl Write,
    known: Known,
    claimers: &Claimers,
    name: impl Fn(NodeId) -> &'a str,
) -> fmt::Result {
    let (entry, table, age) = match known {
        Known::Boss(e) => (Some(e), "boss", Some(0)),
        Known::Synced(e, age) => (Some(e), "sync", Some(age)),
        Known::Unknown => (None, "none", None),
    };
    match entry {
        Some(e) => {
            w.write_str(",\"state\":")?;
            super::json_str(w, core::str::from_utf8(&e.combo).unwrap_or("???"))?;
            w.write_str(",\"holder\":")?;
            match e.holder {
                Some(h) => super::json_str(w, name(h))?,
                None => w.write_str("null")?,
            }
            write!(w, ",\"since_ms\":{}", e.since_ms)?;
        }
        None => w.write_str(",\"state\":\"unknown\",\"holder\":null,\"since_ms\":null")?,
    }
    write!(w, ",\"table\":\"{table}\",\"table_age_ms\":")?;
    match age {
        Some(a) => write!(w, "{a}")?,
        None => w.write_str("null")?,
    }
    w.write_str(",\"claimers\":[")?;
    for (i, &(n, ago)) in claimers.iter().enumerate() {
        w.write_str(if i == 0 { "{\"name\":" } else { ",{\"name\":" })?;
        super::json_str(w, name(n))?;
        match ago {
            Some(ms) => write!(w, ",\"heard_ms_ago\":{ms}}}")?,
            None => w.write_str(",\"heard_ms_ago\":null}")?,
        }
    }
    w.write_char(']')
}

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

    const NAMES: [&str; 3] = ["ux1", "ux2", "ux3"];

    fn name(n: NodeId) -> &'static str {
        NAMES.get(n as usize).copied().unwrap_or("?")
    }

    fn entry(combo: &[u8; 3], holder: Option<NodeId>, since_ms: u64) -> VsEntry {
        VsEntry {
            combo: *combo,
            holder,
            since_ms,
            ..VsEntry::default()
        }
    }

    fn text(known: Known, c: &Claimers) -> String {
        let mut s = String::new();
        vs_text(&mut s, known, c, name).unwrap();
        s
    }

    fn json(known: Known, c: &Claimers) -> String {
        let mut s = String::new();
        vs_json(&mut s, known, c, name).unwrap();
        s
    }

    #[test]
    fn a_lone_box_says_it_has_no_quorum() {
        let q = Quorum {
            heard: 1,
            nodes: 3,
            needed: 2,
        };
        let mut s = String::new();
        q.text(&mut s).unwrap();
        assert_eq!(s, "quorum      1 of 3 boxes heard, 2 needed: no quorum\n");
        s.clear();
        q.json(&mut s).unwrap();
        assert_eq!(
            s,
            ",\"quorum\":{\"heard\":1,\"nodes\":3,\"needed\":2,\"met\":false}"
        );
        let q = Quorum { heard: 2, ..q };
        s.clear();
        q.text(&mut s).unwrap();
        assert_eq!(s, "quorum      2 of 3 boxes heard, 2 needed: ok\n");
    }

    #[test]
    fn the_acting_boss_shows_its_table_as_before() {
        let e = entry(b"UU1", Some(1), 60_114);
        let k = Known::of(Some((&[e], 0)), true, 0);
        assert_eq!(k, Known::Boss(e));
        assert_eq!(
            text(k, &Claimers::new()),
            "  state UU1  holder ux2  since 60114ms"
        );
        assert_eq!(
            json(k, &Claimers::new()),
            ",\"state\":\"UU1\",\"holder\":\"ux2\",\"since_ms\":60114,\"table\":\"boss\",\"table_age_ms\":0,\"claimers\":[]"
        );
    }

    #[test]
    fn a_deputy_shows_the_copy_with_its_age() {
        let e = entry(b"UU1", Some(0), 5_000);
        let k = Known::of(Some((&[e], 180)), false, 0);
        let mut c = Claimers::new();
        c.push((0, Some(43))).unwrap();
        assert_eq!(
            text(k, &c),
            "  state UU1  holder ux1  since 5000ms  synced 180ms ago  claimed by ux1 43ms ago"
        );
        assert!(json(k, &c).contains("\"table\":\"sync\",\"table_age_ms\":180,\"claimers\":[{\"name\":\"ux1\",\"heard_ms_ago\":43}]"));
    }

    /// Issue 16: a box on hold, or cut off, showed the table it had kept as
    /// fact (`state UU1 holder ux1` with a frozen `since`). Without a table
    /// from the boss it follows now, it says what it heard, and how long
    /// ago.
    #[test]
    fn a_box_without_a_current_table_shows_only_claims_heard() {
        let k = Known::of(None, false, 0);
        assert_eq!(k, Known::Unknown);
        let mut c = Claimers::new();
        c.push((0, Some(3_200))).unwrap();
        c.push((2, None)).unwrap();
        let t = text(k, &c);
        assert_eq!(
            t,
            "  state unknown  claimed by ux1 3200ms ago, ux3 (this box)"
        );
        assert!(!t.contains("holder"), "{t}");
        assert_eq!(
            text(k, &Claimers::new()),
            "  state unknown  claimed by none"
        );
        assert_eq!(
            json(k, &c),
            ",\"state\":\"unknown\",\"holder\":null,\"since_ms\":null,\"table\":\"none\",\"table_age_ms\":null,\"claimers\":[{\"name\":\"ux1\",\"heard_ms_ago\":3200},{\"name\":\"ux3\",\"heard_ms_ago\":null}]"
        );
        // A vserver beyond the table is unknown too.
        let e = entry(b"UU1", Some(0), 1);
        assert_eq!(Known::of(Some((&[e], 0)), true, 1), Known::Unknown);
    }

    #[test]
    fn claimers_are_the_boxes_whose_newest_hello_claims_it() {
        let claims = |n: NodeId| match n {
            0 => Some((0b10, Some(40))),
            1 => Some((0b11, None)),
            _ => None,
        };
        assert_eq!(
            claimers(3, 1, claims).as_slice(),
            &[(0, Some(40)), (1, None)]
        );
        assert_eq!(claimers(3, 0, claims).as_slice(), &[(1, None)]);
        assert!(claimers(3, 2, claims).is_empty());
    }

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
