//! What `bongoyo status` and `status --json` print (docs/STATUS.md), and the
//! words the log shares with it (roles, member states, drop counters).
//!
//! The parts that say what this box knows and how old it is (quorum, each
//! vserver's state as known here, the claims heard, the `stop` line's
//! counters) are written from facts the daemon gathers, so they are tested
//! without a daemon; [`Daemon::status`] and [`Daemon::status_json`] gather
//! those facts and write the whole answer.
//!
//! Every box answers for itself. Only the acting boss has a current vserver
//! table; a deputy has the copy its boss streams every hello, and shows its
//! age; any other box shows no table at all, only the claims it heard in
//! hellos, each with the age of the hello that carried it. A table kept from
//! an earlier boss, or from when this box acted itself, is never shown: it
//! is not what anyone knows now.

use core::fmt::{self, Write};

use heapless::Vec;

use super::Daemon;
use crate::config::{NodeId, VsId};
use crate::limits::MAX_NODES;
use crate::proto::{Role, VsEntry};
use crate::time::Instant;

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
            json_str(w, core::str::from_utf8(&e.combo).unwrap_or("???"))?;
            w.write_str(",\"holder\":")?;
            match e.holder {
                Some(h) => json_str(w, name(h))?,
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
        json_str(w, name(n))?;
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

impl Daemon {
    /// What this box knows of vserver `vs` (docs/STATUS.md): the acting
    /// boss's table, a deputy's recent copy of it with its age, or nothing;
    /// and the claims heard, with their age.
    fn vs_known(&self, now: Instant, vs: usize) -> (Known, Claimers) {
        let core = self.node.core();
        let acting = core.is_acting(now);
        let known = Known::of(self.node.known_table(now), acting, vs);
        let claims = |n: NodeId| {
            if n == self.me {
                return Some((self.node.holder().claims(), None));
            }
            let at = core.peer_claims_at(n)?;
            let ago = now.saturating_since(at).as_millis() as u64;
            Some((core.peer_claims(n), Some(ago)))
        };
        let claimers = claimers(self.config.nodes.len(), vs as VsId, claims);
        (known, claimers)
    }

    /// How this box sees box `n`: `left` when it said it left on purpose.
    fn member_word(&self, n: NodeId) -> &'static str {
        let core = self.node.core();
        if core.left(n) {
            "left"
        } else if core.other_file(n).is_some() {
            "other-file"
        } else {
            member_name(core.member(n))
        }
    }

    fn quorum(&self) -> Quorum {
        let core = self.node.core();
        Quorum {
            heard: core.live_boxes(),
            nodes: self.config.nodes.len(),
            needed: core.quorum(),
        }
    }

    pub(super) fn status(&self, now: Instant, w: &mut impl fmt::Write) -> fmt::Result {
        let core = self.node.core();
        writeln!(w, "node        {}", self.name(self.me))?;
        writeln!(w, "cluster     {}", self.config.cluster)?;
        writeln!(
            w,
            "config      {} revision {} digest {:08x}",
            self.config_path,
            Quoted(&self.revision),
            core.digest()
        )?;
        writeln!(w, "role        {}", role_name(core.role()))?;
        match core.boss() {
            Some(b) => writeln!(w, "boss        {}", self.name(b))?,
            None => writeln!(w, "boss        none")?,
        }
        writeln!(w, "generation  {}", core.generation())?;
        self.quorum().text(w)?;
        let up = now.saturating_since(self.started);
        writeln!(w, "uptime      {}.{:03}s", up.as_secs(), up.subsec_millis())?;
        writeln!(w, "incarnation {:016x}", self.incarnation)?;
        writeln!(w, "health      {}", self.health.why())?;
        if self.stop.is_some() {
            writeln!(w, "stopping    releasing every vserver")?;
        }
        writeln!(w, "members")?;
        for (i, n) in self.config.nodes.iter().enumerate() {
            write!(
                w,
                "  {:<16} {:<15} priority {:>3}  {:<8}",
                n.name,
                n.address,
                n.priority,
                self.member_word(i as NodeId)
            )?;
            if i == self.me as usize {
                w.write_str("  this box")?;
            } else {
                let h = self.heard.get(i).copied().unwrap_or_default();
                write!(w, "  received {}", h.received)?;
                match h.last {
                    Some(t) => write!(w, "  heard {}ms ago", now.saturating_since(t).as_millis())?,
                    None => w.write_str("  never heard")?,
                }
            }
            if core.boss() == Some(i as NodeId) {
                w.write_str("  boss")?;
            }
            if let Some(d) = core.other_file(i as NodeId) {
                write!(w, "  digest {d:08x}")?;
            }
            w.write_char('\n')?;
        }
        writeln!(w, "vservers")?;
        for (i, v) in self.config.vservers.iter().enumerate() {
            write!(
                w,
                "  {:<16} {}/{} on {}",
                v.name, v.address, v.prefix, v.interface
            )?;
            let (known, claimers) = self.vs_known(now, i);
            vs_text(w, known, &claimers, |n| self.name(n))?;
            if let Some(a) = &self.aliases[i] {
                write!(
                    w,
                    "  here as {} for {}ms",
                    a.label,
                    now.saturating_since(a.since).as_millis()
                )?;
            }
            w.write_char('\n')?;
        }
        w.write_str("claims     ")?;
        let claims = self.node.holder().claims();
        let mut any = false;
        for (i, v) in self.config.vservers.iter().enumerate() {
            if claims & (1u64 << i) != 0 {
                write!(w, " {}", v.name)?;
                any = true;
            }
        }
        w.write_str(if any { "\n" } else { " none\n" })?;
        let c = &self.counters;
        writeln!(
            w,
            "packets     received {} accepted {} sent {} send-errors {} ignored {}",
            c.received,
            c.accepted,
            c.sent,
            c.send_errors,
            self.node.ignored_messages()
        )?;
        let (checks, children) = self.work.in_flight();
        writeln!(
            w,
            "in-flight   checks {checks} children {children} waiting {}",
            self.waiting.len()
        )?;
        write!(w, "drops       total {}", self.codec.drops().total())?;
        write_drops(w, self.codec.drops(), false)?;
        w.write_char('\n')
    }

    pub(super) fn status_json(&self, now: Instant, w: &mut impl fmt::Write) -> fmt::Result {
        let core = self.node.core();
        w.write_str("{\"node\":")?;
        json_str(w, self.name(self.me))?;
        w.write_str(",\"cluster\":")?;
        json_str(w, &self.config.cluster)?;
        w.write_str(",\"config\":{\"file\":")?;
        json_str(w, &self.config_path)?;
        w.write_str(",\"revision\":")?;
        json_str(w, &self.revision)?;
        write!(w, ",\"digest\":\"{:08x}\"}}", core.digest())?;
        write!(w, ",\"role\":\"{}\",\"boss\":", role_name(core.role()))?;
        match core.boss() {
            Some(b) => json_str(w, self.name(b))?,
            None => w.write_str("null")?,
        }
        write!(
            w,
            ",\"generation\":{},\"uptime_ms\":{},\"incarnation\":\"{:016x}\",\"stopping\":{},\"health\":{},\"health_reason\":\"{}\"",
            core.generation(),
            now.saturating_since(self.started).as_millis(),
            self.incarnation,
            self.stop.is_some(),
            self.health.value,
            self.health.reason.word()
        )?;
        self.quorum().json(w)?;
        w.write_str(",\"members\":[")?;
        for (i, n) in self.config.nodes.iter().enumerate() {
            if i > 0 {
                w.write_char(',')?;
            }
            w.write_str("{\"name\":")?;
            json_str(w, &n.name)?;
            let h = self.heard.get(i).copied().unwrap_or_default();
            write!(
                w,
                ",\"address\":\"{}\",\"priority\":{},\"state\":\"{}\",\"self\":{},\"boss\":{},\"received\":{},\"heard_ms_ago\":",
                n.address,
                n.priority,
                self.member_word(i as NodeId),
                i == self.me as usize,
                core.boss() == Some(i as NodeId),
                h.received
            )?;
            match h.last {
                Some(t) => write!(w, "{}", now.saturating_since(t).as_millis())?,
                None => w.write_str("null")?,
            }
            match core.other_file(i as NodeId) {
                Some(d) => write!(w, ",\"other_digest\":\"{d:08x}\"}}")?,
                None => w.write_str(",\"other_digest\":null}")?,
            }
        }
        w.write_str("],\"vservers\":[")?;
        let claims = self.node.holder().claims();
        for (i, v) in self.config.vservers.iter().enumerate() {
            if i > 0 {
                w.write_char(',')?;
            }
            w.write_str("{\"name\":")?;
            json_str(w, &v.name)?;
            write!(
                w,
                ",\"address\":\"{}/{}\",\"interface\":",
                v.address, v.prefix
            )?;
            json_str(w, &v.interface)?;
            let (known, claimers) = self.vs_known(now, i);
            vs_json(w, known, &claimers, |n| self.name(n))?;
            write!(
                w,
                ",\"claimed_here\":{},\"label\":",
                claims & (1u64 << i) != 0
            )?;
            match &self.aliases[i] {
                Some(a) => json_str(w, &a.label)?,
                None => w.write_str("null")?,
            }
            w.write_char('}')?;
        }
        let c = &self.counters;
        let (checks, children) = self.work.in_flight();
        write!(
            w,
            "],\"packets\":{{\"received\":{},\"accepted\":{},\"sent\":{},\"send_errors\":{},\"ignored\":{}}},\"in_flight\":{{\"checks\":{checks},\"children\":{children},\"waiting\":{}}},\"drops\":{{\"total\":{},\"by_reason\":{{",
            c.received, c.accepted, c.sent, c.send_errors, self.node.ignored_messages(), self.waiting.len(), self.codec.drops().total()
        )?;
        write_drops(w, self.codec.drops(), true)?;
        w.write_str("}}}\n")
    }
}

/// Write the non-zero drop counters as ` reason=count` pairs (or JSON
/// members) for the log and status.
pub(super) fn write_drops(
    w: &mut impl fmt::Write,
    drops: &crate::proto::Drops,
    json: bool,
) -> fmt::Result {
    let mut first = true;
    for (name, n) in drops.iter().filter(|(_, n)| *n > 0) {
        if json {
            w.write_str(if first { "" } else { "," })?;
            json_str(w, name)?;
            write!(w, ":{n}")?;
        } else {
            write!(w, " {name}={n}")?;
        }
        first = false;
    }
    Ok(())
}

/// A role as `status` prints it.
pub fn role_name(r: Role) -> &'static str {
    match r {
        Role::Joining => "joining",
        Role::Member => "member",
        Role::Deputy => "deputy",
        Role::SemiBoss => "semi-boss",
        Role::Boss => "boss",
        Role::Hold => "hold",
    }
}

/// `s` in double quotes with the escapes of `str`'s `Debug` (`"web\n"`),
/// written out so a build without `Debug` formatting (`make tiny`) prints
/// it too.
pub struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            // str's Debug escapes like char's, except the single quote.
            if c == '\'' {
                f.write_char(c)?;
            } else {
                write!(f, "{}", c.escape_debug())?;
            }
        }
        f.write_char('"')
    }
}

/// Write `s` as a JSON string literal.
pub fn json_str(w: &mut impl fmt::Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    for ch in s.chars() {
        match ch {
            '"' => w.write_str("\\\"")?,
            '\\' => w.write_str("\\\\")?,
            '\n' => w.write_str("\\n")?,
            c if (c as u32) < 0x20 => write!(w, "\\u{:04x}", c as u32)?,
            c => w.write_char(c)?,
        }
    }
    w.write_char('"')
}

/// A member's state as `bongoyo status` shows it.
pub fn member_name(s: crate::cluster::MemberState) -> &'static str {
    use crate::cluster::MemberState::*;
    match s {
        Unknown => "unknown",
        Joining => "joining",
        Alive => "alive",
        Suspect => "suspect",
        Lost => "lost",
        Hold => "hold",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::DecodeError;

    const NAMES: [&str; 3] = ["ux1", "ux2", "ux3"];

    #[test]
    fn quoted_is_strs_debug() {
        for s in [
            "web",
            "",
            "it's",
            "a\"b",
            "back\\slash",
            "tab\tnl\n",
            "\u{7f}\u{0}",
            "é\u{301}x",
            "\u{301}",
            "日本",
        ] {
            assert_eq!(Quoted(s).to_string(), format!("{s:?}"));
        }
    }

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

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\nd\u{1}").unwrap();
        assert_eq!(s, r#""a\"b\\c\nd\u0001""#);
    }

    #[test]
    fn only_nonzero_drops_are_written() {
        let mut d = crate::proto::Drops::default();
        d.count(DecodeError::Malformed);
        d.count(DecodeError::Malformed);
        let name = DecodeError::Malformed.name();
        let mut s = String::new();
        write_drops(&mut s, &d, false).unwrap();
        assert_eq!(s, format!(" {name}=2"));
        s.clear();
        write_drops(&mut s, &d, true).unwrap();
        assert_eq!(s, format!("\"{name}\":2"));
    }
}
