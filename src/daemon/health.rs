//! This box's health (docs/MODEL.md; docs/DECISIONS.md, "Health"): the
//! load average, available memory and tracked links, measured every
//! [`SAMPLE_EVERY`], turned into the 0-100 that the cluster core ranks the
//! priority list by. 0 puts the box on hold (never boss, deputy or
//! volunteer; the boss moves its vservers away by planned moves); above 0
//! it is back on the list.
//!
//! Each measure scores 0-100 against its limit ([`load_score`], which
//! never goes below 1, [`memory_score`], a tracked link: down 0, up 100);
//! the health is the lowest score. What is reported moves in steps of 10 and only when the
//! health moved 15 or more, or reached 0 or 100 ([`next`]): a load that
//! hovers at a boundary must not reorder the priority list every second.
//! The measuring ([`measure`]) reads `/proc` and asks the kernel for link
//! flags, local calls answered at once; the rest is pure.

use core::fmt;
use core::time::Duration;

use log::{info, warn};

use crate::config::{HealthLimits, IfName};
use crate::os::{ifaddr, sysinfo};
use crate::time::Instant;

/// How often health is measured: a link that goes down puts the box on
/// hold within this (the load average itself moves over a minute).
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// What one measuring found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// The 1-minute load average per online CPU, x 100; `None`: not
    /// counted (no limit, or it could not be read).
    pub load_percent: Option<u32>,
    /// Available memory in KiB; `None`: not counted.
    pub mem_kib: Option<u64>,
    /// The first tracked link that is down or missing.
    pub link_down: Option<IfName>,
}

/// The measure that limits the health.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Nothing: health 100.
    Ok,
    /// The load average.
    Load,
    /// Available memory.
    Memory,
    /// A tracked link is down.
    LinkDown,
}

impl Reason {
    /// As the log and `status` write it.
    pub fn word(self) -> &'static str {
        match self {
            Reason::Ok => "ok",
            Reason::Load => "load",
            Reason::Memory => "memory",
            Reason::LinkDown => "link-down",
        }
    }
}

/// Load score: 100 up to half the limit, then down in a straight line to
/// 1 at the limit and above. Never 0: load alone ranks a box lower but
/// does not put it on hold. A loaded box still serves; and a load that
/// every box shares (a host's load average seen from containers, a burst
/// of work on the whole site) or that a vserver's own service causes would
/// otherwise put every box on hold, all at once or one after the other.
/// `load_percent` and `limit` are per CPU, x 100.
pub fn load_score(load_percent: u32, limit: u32) -> u8 {
    let half = limit / 2;
    if load_percent >= limit {
        1
    } else if load_percent <= half {
        100
    } else {
        let s = 100 * u64::from(limit - load_percent) / u64::from(limit - half);
        s.clamp(1, 100) as u8
    }
}

/// Memory score: 100 from twice the minimum up, then down in a straight
/// line to 0 at the minimum (and below it).
pub fn memory_score(available_kib: u64, min_kib: u64) -> u8 {
    if available_kib <= min_kib {
        0
    } else if available_kib >= min_kib.saturating_mul(2) {
        100
    } else {
        let s = 100 * u128::from(available_kib - min_kib) / u128::from(min_kib.max(1));
        s.clamp(1, 100) as u8
    }
}

/// The health a sample gives against the limits, unrounded, and the
/// measure that sets it (on a tie: a link, then memory, then load).
pub fn raw(s: &Sample, limits: &HealthLimits) -> (u8, Reason) {
    let mut worst = (100, Reason::Ok);
    let scores = [
        (
            s.load_percent
                .zip(limits.max_load_percent)
                .map(|(l, m)| load_score(l, m)),
            Reason::Load,
        ),
        (
            s.mem_kib
                .zip(limits.min_free_memory_kib)
                .map(|(a, m)| memory_score(a, m)),
            Reason::Memory,
        ),
        (s.link_down.as_ref().map(|_| 0), Reason::LinkDown),
    ];
    for (score, why) in scores {
        if let Some(x) = score {
            if x <= worst.0 && x < 100 {
                worst = (x, why);
            }
        }
    }
    worst
}

/// The health to report next, given the one reported now and the raw one:
/// 0 and 100 at once, anything from 0 at once (a box comes off hold as
/// soon as it is fit), else only a move of 15 or more, rounded to a step
/// of 10 (at least 10: only a limit reached makes 0).
pub fn next(reported: u8, raw: u8) -> u8 {
    let step = |r: u8| (((u16::from(r) + 5) / 10 * 10) as u8).clamp(10, 100);
    match (reported, raw) {
        (_, 0) => 0,
        (_, 100) => 100,
        (0, r) => step(r),
        (p, r) if p.abs_diff(r) >= 15 => step(r),
        (p, _) => p,
    }
}

/// Measure what the limits ask for. A figure that cannot be read is not
/// counted (`failed` names it, for a warning); a tracked link that cannot
/// be asked about (missing) counts as down.
pub fn measure(
    limits: &HealthLimits,
    failed: &mut impl FnMut(&'static str, std::io::Error),
) -> Sample {
    let mut s = Sample::default();
    if limits.max_load_percent.is_some() {
        match sysinfo::load_hundredths() {
            Ok(l) => s.load_percent = Some(l / sysinfo::cpus()),
            Err(e) => failed("/proc/loadavg", e),
        }
    }
    if limits.min_free_memory_kib.is_some() {
        match sysinfo::mem_available_kib() {
            Ok(m) => s.mem_kib = m,
            Err(e) => failed("/proc/meminfo", e),
        }
    }
    s.link_down = limits
        .track
        .iter()
        .find(|t| !ifaddr::link_up(t).unwrap_or(false))
        .cloned();
    s
}

/// The shell's view of this box's health: what it reports to the node,
/// why, and when it measures next.
#[derive(Debug)]
pub struct Health {
    /// The reported health, 0-100.
    pub value: u8,
    /// What set it, and the figures of that measuring.
    pub reason: Reason,
    /// The last sample.
    pub last: Sample,
    next: Instant,
    /// A warning about each unreadable file is logged once.
    warned: [bool; 2],
}

impl Health {
    /// Health 100 (as the node starts), first measured at `now`.
    pub fn new(now: Instant) -> Health {
        Health {
            value: 100,
            reason: Reason::Ok,
            last: Sample::default(),
            next: now,
            warned: [false; 2],
        }
    }

    /// When to measure next.
    pub fn poll_timeout(&self) -> Instant {
        self.next
    }

    /// Measure if due; the new health when it changed (logged here).
    pub fn sample(&mut self, now: Instant, limits: &HealthLimits) -> Option<u8> {
        if now < self.next {
            return None;
        }
        self.next = now + SAMPLE_EVERY;
        let warned = &mut self.warned;
        let s = measure(limits, &mut |file, e| {
            let i = usize::from(file == "/proc/meminfo");
            if !core::mem::replace(&mut warned[i], true) {
                warn!("health-unmeasured file={file} error={e}");
            }
        });
        let r = self.update(s, limits);
        if let Some(v) = r {
            if v == 0 {
                warn!("health {self}");
            } else {
                info!("health {self}");
            }
        }
        r
    }

    /// Take a sample; the new health when it changed.
    fn update(&mut self, s: Sample, limits: &HealthLimits) -> Option<u8> {
        let (raw, why) = raw(&s, limits);
        let v = next(self.value, raw);
        self.last = s;
        if v == self.value {
            return None;
        }
        self.value = v;
        self.reason = if v == 100 { Reason::Ok } else { why };
        Some(v)
    }
}

/// The health as `bongoyo status` shows it ([`Health::why`]).
pub struct Why<'a>(&'a Health);

impl fmt::Display for Why<'_> {
    /// `100`, or `0  link-down eth1`, `50  load 600% per CPU`, `30  memory
    /// 5400 KiB available`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.0;
        write!(f, "{}", h.value)?;
        match h.reason {
            Reason::Ok => Ok(()),
            Reason::LinkDown => match &h.last.link_down {
                Some(i) => write!(f, "  link-down {i}"),
                None => f.write_str("  link-down"),
            },
            Reason::Load => match h.last.load_percent {
                Some(l) => write!(f, "  load {l}% per CPU"),
                None => f.write_str("  load"),
            },
            Reason::Memory => match h.last.mem_kib {
                Some(m) => write!(f, "  memory {m} KiB available"),
                None => f.write_str("  memory"),
            },
        }
    }
}

impl Health {
    /// For `bongoyo status`: the value and what limits it.
    pub fn why(&self) -> Why<'_> {
        Why(self)
    }
}

impl fmt::Display for Health {
    /// `value=N reason=R` and the figures: the log line's fields.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "value={} reason={}", self.value, self.reason.word())?;
        if let (Reason::LinkDown, Some(i)) = (self.reason, &self.last.link_down) {
            write!(f, " interface={i}")?;
        }
        if let Some(l) = self.last.load_percent {
            write!(f, " load_percent={l}")?;
        }
        if let Some(m) = self.last.mem_kib {
            write!(f, " mem_available_kib={m}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(load: Option<u32>, mem: Option<u64>) -> HealthLimits {
        HealthLimits {
            track: heapless::Vec::new(),
            max_load_percent: load,
            min_free_memory_kib: mem,
        }
    }

    #[test]
    fn load_is_full_health_up_to_half_the_limit_and_lowest_at_it() {
        assert_eq!(load_score(0, 800), 100);
        assert_eq!(load_score(400, 800), 100);
        assert_eq!(load_score(500, 800), 75);
        assert_eq!(load_score(600, 800), 50);
        assert_eq!(load_score(799, 800), 1);
        // At the limit and above: lowest, never 0 (never on hold).
        assert_eq!(load_score(800, 800), 1);
        assert_eq!(load_score(5000, 800), 1);
        // The smallest limit the parser takes.
        assert_eq!(load_score(5, 10), 100);
        assert_eq!(load_score(9, 10), 20);
    }

    #[test]
    fn memory_is_full_health_from_twice_the_minimum_and_zero_at_it() {
        let min = 4096;
        assert_eq!(memory_score(1 << 30, min), 100);
        assert_eq!(memory_score(8192, min), 100);
        assert_eq!(memory_score(6144, min), 50);
        assert_eq!(memory_score(4097, min), 1);
        assert_eq!(memory_score(4096, min), 0);
        assert_eq!(memory_score(0, min), 0);
        assert_eq!(memory_score(u64::MAX, u64::MAX / 2 + 1), 100);
    }

    #[test]
    fn health_is_the_lowest_score_and_names_it() {
        let l = limits(Some(800), Some(4096));
        let idle = Sample {
            load_percent: Some(20),
            mem_kib: Some(1 << 20),
            link_down: None,
        };
        assert_eq!(raw(&idle, &l), (100, Reason::Ok));
        let busy = Sample {
            load_percent: Some(600),
            ..idle.clone()
        };
        assert_eq!(raw(&busy, &l), (50, Reason::Load));
        let swamped = Sample {
            load_percent: Some(3000),
            ..idle.clone()
        };
        assert_eq!(raw(&swamped, &l), (1, Reason::Load));
        assert_eq!(next(100, raw(&swamped, &l).0), 10, "never on hold");
        let tight = Sample {
            mem_kib: Some(5000),
            ..busy.clone()
        };
        assert_eq!(raw(&tight, &l), (22, Reason::Memory));
        let down = Sample {
            link_down: Some(IfName::try_from("eth1").unwrap()),
            ..tight
        };
        assert_eq!(raw(&down, &l), (0, Reason::LinkDown));
        // No limit, or no figure: not counted.
        assert_eq!(raw(&busy, &limits(None, Some(4096))), (100, Reason::Ok));
        let unread = Sample {
            load_percent: None,
            ..busy
        };
        assert_eq!(raw(&unread, &l), (100, Reason::Ok));
    }

    #[test]
    fn reported_health_moves_in_steps_with_hysteresis() {
        // 0 and 100 at once; off 0 at once.
        assert_eq!(next(70, 0), 0);
        assert_eq!(next(70, 100), 100);
        assert_eq!(next(0, 3), 10);
        assert_eq!(next(0, 64), 60);
        // Small moves are ignored, large ones rounded to a step.
        assert_eq!(next(100, 90), 100);
        assert_eq!(next(100, 85), 90);
        assert_eq!(next(60, 52), 60);
        assert_eq!(next(60, 45), 50);
        assert_eq!(next(60, 74), 60);
        assert_eq!(next(60, 75), 80);
        assert_eq!(next(20, 1), 10);
        // A load hovering at a boundary does not flap.
        let mut v = 100;
        let mut changes = 0;
        for raw in [86, 84, 86, 84, 86, 84, 86] {
            let n = next(v, raw);
            changes += u32::from(n != v);
            v = n;
        }
        assert_eq!((v, changes), (80, 1));
    }

    #[test]
    fn a_change_is_reported_once_with_its_reason() {
        let l = limits(Some(800), None);
        let mut h = Health::new(Instant(0));
        let at = |load| Sample {
            load_percent: Some(load),
            ..Sample::default()
        };
        assert_eq!(h.update(at(100), &l), None);
        assert_eq!(h.update(at(600), &l), Some(50));
        assert_eq!(h.update(at(610), &l), None);
        assert_eq!(h.to_string(), "value=50 reason=load load_percent=610");
        assert_eq!(h.why().to_string(), "50  load 610% per CPU");
        let down = Sample {
            link_down: Some(IfName::try_from("trk0").unwrap()),
            ..at(100)
        };
        assert_eq!(h.update(down, &l), Some(0));
        assert_eq!(
            h.to_string(),
            "value=0 reason=link-down interface=trk0 load_percent=100"
        );
        assert_eq!(h.why().to_string(), "0  link-down trk0");
        assert_eq!(h.update(at(100), &l), Some(100));
        assert_eq!(h.why().to_string(), "100");
        assert_eq!(h.to_string(), "value=100 reason=ok load_percent=100");
    }

    #[test]
    fn measuring_this_host() {
        let mut l = limits(Some(800), Some(4096));
        let _ = l.track.push(IfName::try_from("lo").unwrap());
        let _ = l.track.push(IfName::try_from("no-such-if0").unwrap());
        let s = measure(&l, &mut |f, e| panic!("{f}: {e}"));
        assert!(s.load_percent.is_some() && s.mem_kib.is_some(), "{s:?}");
        assert_eq!(s.link_down.as_deref(), Some("no-such-if0"));
        let s = measure(&limits(None, None), &mut |f, e| panic!("{f}: {e}"));
        assert_eq!(s, Sample::default());
    }
}
