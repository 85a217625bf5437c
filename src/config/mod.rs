//! The configuration file (docs/CONFIG.md): one file, the same on every box.
//!
//! [`parse`] turns text into a [`Config`] of fixed-capacity tables, or into a
//! list of [`ConfigError`]s, each naming `FILE:LINE:COL`. The daemon reads the
//! key file through [`load`]; everything else here is pure but [`check`],
//! where `bongoyo check` compares the file with this host. The grammar and
//! every decision the design leaves open are documented in `parse.rs`.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::time::Duration;

use heapless::{String, Vec};

use crate::limits::{
    MAX_COMMAND, MAX_IFNAME, MAX_KEY, MAX_NAME, MAX_NODES, MAX_PEERS, MAX_TRACKED, MAX_VSERVERS,
};

pub mod check;
mod parse;

pub use parse::{
    load, load_placed, parse, revision_of, validate_node, ConfigError, Count, Errors, Places, Pos,
    VsPos, MAX_DURATION, MAX_FILE_NAME, MAX_MESSAGE, MAX_REVISION, MIN_INTERVAL,
};

/// A cluster, node or vserver name.
pub type Name = String<MAX_NAME>;
/// An interface name such as `eth0`.
pub type IfName = String<MAX_IFNAME>;
/// Index of a `node` line, in file order. The same on every box because the
/// file is.
pub type NodeId = u8;
/// Index of a `vserver` block, in file order.
pub type VsId = u8;

/// Default multicast group (docs/CONFIG.md).
pub const DEFAULT_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 76, 7);

/// Default multicast group of a cluster whose nodes are IPv6: link-local
/// scope (`ff02::/16`), so routers and snooping switches leave it alone.
pub const DEFAULT_GROUP6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x7607);
/// Default UDP port.
pub const DEFAULT_PORT: u16 = 7607;
/// Default heartbeat interval.
pub const DEFAULT_HELLO: Duration = Duration::from_millis(200);
/// Default time a box may be lost before an alert (`lost-alert`).
pub const DEFAULT_LOST_ALERT: Duration = Duration::from_secs(30);
/// Default node priority.
pub const DEFAULT_PRIORITY: u8 = 100;
/// Default vserver poll interval.
pub const DEFAULT_CHECK: Duration = Duration::from_millis(200);
/// Default time PP0 has to reach UU1.
pub const DEFAULT_TAKEOVER_TIMEOUT: Duration = Duration::from_secs(3);
/// Default `max-load-percent`: from a 1-minute load average of 4 runnable
/// tasks per CPU a box's health falls, to its lowest at 8 per CPU (load
/// never puts a box on hold). An idle or merely busy box never comes near.
pub const DEFAULT_MAX_LOAD_PERCENT: u32 = 800;
/// Default `min-free-memory`, in KiB (4 MiB): below it the kernel is about
/// to reclaim hard or kill processes (health ramps down from 8 MiB).
pub const DEFAULT_MIN_FREE_MEMORY_KIB: u64 = 4 * 1024;

/// The whole configuration, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Cluster name; part of every message's authentication.
    pub cluster: Name,
    /// The shared secret, or `Insecure` (authentication disabled, loudly).
    pub key: Key,
    /// Where the cluster talks.
    pub interface: IfName,
    /// Multicast group (the nodes' family).
    pub multicast: IpAddr,
    /// UDP port for the cluster.
    pub port: u16,
    /// Unicast peers, where multicast is unavailable.
    pub peers: Vec<IpAddr, MAX_PEERS>,
    /// Heartbeat interval.
    pub hello: Duration,
    /// Silence after which a peer is suspected (default 3 x hello).
    pub dead: Duration,
    /// Live boxes needed before a boss acts (resolved from `auto`: majority).
    pub quorum: u8,
    /// Fencing mode (resolved from `auto`: lease when quorum >= 2).
    pub fencing: Fencing,
    /// Alert hook: run with the event name and fields as arguments.
    pub notify: Option<Command>,
    /// A box lost for longer than this raises an alert (`lost-alert`, default 30s).
    pub lost_alert: Duration,
    /// Every box, in file order; a box's index is its [`NodeId`].
    pub nodes: Vec<NodeConf, MAX_NODES>,
    /// Every virtual server, in file order; the index is its [`VsId`].
    pub vservers: Vec<VServer, MAX_VSERVERS>,
    /// What this box's health is computed from (each box of itself).
    pub health: HealthLimits,
}

/// The limits a box's health is measured against (`track-interface`,
/// `max-load-percent`, `min-free-memory`; docs/DECISIONS.md, "Health").
/// Each box applies them to itself; they are not in the [`Config::digest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthLimits {
    /// `track-interface`: links this box needs; one that is down (or
    /// missing) puts the box on hold (health 0).
    pub track: Vec<IfName, MAX_TRACKED>,
    /// `max-load-percent`: the 1-minute load average per online CPU, in
    /// percent, at which the load score is lowest (1: load alone never puts
    /// a box on hold); `None` (`none`): load is not counted.
    pub max_load_percent: Option<u32>,
    /// `min-free-memory`, in KiB: available memory at which health is 0;
    /// `None` (`none`): memory is not counted.
    pub min_free_memory_kib: Option<u64>,
}

impl Default for HealthLimits {
    fn default() -> Self {
        HealthLimits {
            track: Vec::new(),
            max_load_percent: Some(DEFAULT_MAX_LOAD_PERCENT),
            min_free_memory_kib: Some(DEFAULT_MIN_FREE_MEMORY_KIB),
        }
    }
}

/// Where the key came from and what it is.
#[derive(Clone, PartialEq)]
pub enum Key {
    /// The shared secret bytes (decoded from hex).
    Secret(Vec<u8, MAX_KEY>),
    /// `key-file insecure`: no authentication.
    Insecure,
    /// The key file was named but not read (parsing text without touching the
    /// filesystem); [`load`] replaces it with `Secret`.
    Unread(String<MAX_COMMAND>),
}

impl fmt::Debug for Key {
    // Never print the secret, not even in a debug log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Secret(k) => write!(f, "Secret({} bytes)", k.len()),
            Key::Insecure => f.write_str("Insecure"),
            Key::Unread(p) => write!(f, "Unread({p})"),
        }
    }
}

/// Fencing mode (docs/MODEL.md).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Fencing {
    /// Hold a vserver only while a quorum-acknowledged lease is valid.
    Lease,
    /// No lease: duplicates during a partition are resolved when it heals.
    None,
}

/// Hash an address: an IPv4 one as before IPv6 came (an IPv4 cluster's
/// digest is unchanged), an IPv6 one marked and whole.
fn addr_into(h: &mut Fnv, a: IpAddr) {
    match a {
        IpAddr::V4(a) => h.u64(u32::from(a) as u64),
        IpAddr::V6(a) => {
            h.bytes(b"v6");
            h.bytes(&a.octets());
        }
    }
}

/// One fail-over box.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeConf {
    /// Its name (`-n NAME`, default the host name, picks this box's line).
    pub name: Name,
    /// Its cluster address (every node is of one family).
    pub address: IpAddr,
    /// Configured priority; higher ranks first.
    pub priority: u8,
}

/// A program and its arguments, split on whitespace, run without a shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// The whole command line as written, single-spaced.
    pub line: String<MAX_COMMAND>,
}

impl Command {
    /// The program and its arguments.
    pub fn argv(&self) -> impl Iterator<Item = &str> {
        self.line.split_ascii_whitespace()
    }

    /// Number of words (program included); at most [`MAX_ARGS`](crate::limits::MAX_ARGS).
    pub fn argc(&self) -> usize {
        self.argv().count()
    }
}

/// A service check or a self-check (docs/CONFIG.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// Up when a TCP connect to this port succeeds.
    Tcp(u16),
    /// Up when the program exits 0 within the check's timeout.
    Exec(Command),
    /// No check: always up.
    None,
}

/// How the boss tells whether the vserver's address answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reachability {
    /// ARP request; also tells which MAC answers (original host, a box, nobody).
    Arp,
    /// TCP connect to this port.
    Tcp(u16),
}

/// What happens when the original host answers again.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Failback {
    /// Release to the original host.
    Auto,
    /// Alert and wait for `bongoyo release`.
    Manual,
}

/// The four hooks of a takeover and a release, in the order they run.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HookKind {
    /// Before the address is aliased.
    PreTakeover,
    /// After the alias and gratuitous ARP.
    PostTakeover,
    /// Before the address is removed.
    PreRelease,
    /// After the address is removed.
    PostRelease,
}

impl HookKind {
    /// Every kind, in the order they run (and their index in
    /// [`VServer::hooks`]).
    pub const ALL: [HookKind; 4] = [
        HookKind::PreTakeover,
        HookKind::PostTakeover,
        HookKind::PreRelease,
        HookKind::PostRelease,
    ];
}

/// One virtual server.
#[derive(Clone, Debug, PartialEq)]
pub struct VServer {
    /// Its name.
    pub name: Name,
    /// The address taken over: IPv4 or IPv6 (one vserver is one family).
    pub address: IpAddr,
    /// Its prefix length (`/24`, `/64`).
    pub prefix: u8,
    /// The interface it is aliased on.
    pub interface: IfName,
    /// `interface eth1 dedicated`: set as the interface's own address, no label.
    pub dedicated: bool,
    /// The service check.
    pub service: Check,
    /// The reachability check.
    pub reachability: Reachability,
    /// Poll interval.
    pub check: Duration,
    /// Suitability module run on each volunteer.
    pub self_check: Check,
    /// PP0 must reach UU1 within this.
    pub takeover_timeout: Duration,
    /// Hooks, indexed by `HookKind as usize`.
    pub hooks: [Option<Command>; 4],
    /// Failback policy.
    pub failback: Failback,
    /// `original-mac`: the original host's MAC. Only this MAC (or, without
    /// it, the one the boss learns, see `vserver::monitor`) is taken for
    /// the original host; any other MAC that is no box's is foreign.
    pub original_mac: Option<[u8; 6]>,
    /// `prefer NODE…`: the boxes that should serve it, best first (empty:
    /// none preferred, the volunteer rounds spread the load).
    pub prefer: heapless::Vec<NodeId, MAX_NODES>,
    /// `preempt-delay`: how long a preferred box must be alive and on the
    /// list before the vserver is moved to it (`None`: 5 hellos).
    pub preempt_delay: Option<Duration>,
    /// `garp-refresh`: while held, one gratuitous ARP this long after the
    /// last (the block's own, else the top-level one; `None`: off).
    pub garp_refresh: Option<Duration>,
}

impl VServer {
    /// The hook of one kind, if configured.
    pub fn hook(&self, kind: HookKind) -> Option<&Command> {
        self.hooks[kind as usize].as_ref()
    }

    /// Whether `other` is the same vserver for the cluster: everything but
    /// its per-box settings (`service`, `self-check`, hooks) is equal.
    pub fn same_cluster_view(&self, other: &VServer) -> bool {
        self.without_local() == other.without_local()
    }

    /// A copy with the per-box settings cleared.
    fn without_local(&self) -> VServer {
        VServer {
            service: Check::None,
            self_check: Check::None,
            hooks: [None, None, None, None],
            ..self.clone()
        }
    }

    /// Hash the cluster-wide settings (what [`VServer::same_cluster_view`]
    /// compares; a field added to [`VServer`] is added here unless it is a
    /// per-box one, cleared in `without_local`).
    fn digest_into(&self, h: &mut Fnv) {
        h.str(&self.name);
        addr_into(h, self.address);
        h.u64(self.prefix as u64);
        h.str(&self.interface);
        h.u64(self.dedicated as u64);
        match self.reachability {
            Reachability::Arp => h.u64(0),
            Reachability::Tcp(port) => h.u64(1 << 16 | port as u64),
        }
        h.u64(self.check.as_millis() as u64);
        h.u64(self.takeover_timeout.as_millis() as u64);
        h.u64(matches!(self.failback, Failback::Auto) as u64);
        h.bytes(
            &self
                .original_mac
                .map_or([0xff; 7], |m| [0, m[0], m[1], m[2], m[3], m[4], m[5]]),
        );
        h.bytes(&self.prefer);
        h.bytes(&[0xff]);
        h.u64(
            self.preempt_delay
                .map_or(u64::MAX, |d| d.as_millis() as u64),
        );
        h.u64(self.garp_refresh.map_or(u64::MAX, |d| d.as_millis() as u64));
    }
}

/// What a reload would change ([`Config::changes`]): each list names the
/// settings that differ, in the words the log and `bongoyo reload` use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Settings the whole cluster must agree on (in the [`Config::digest`]).
    pub cluster: Vec<&'static str, 12>,
    /// Settings each box applies to itself at once.
    pub local: Vec<&'static str, 8>,
}

impl Config {
    /// The node with this name.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .map(|i| i as NodeId)
    }

    /// The vserver with this name.
    pub fn vserver_id(&self, name: &str) -> Option<VsId> {
        self.vservers
            .iter()
            .position(|v| v.name == name)
            .map(|i| i as VsId)
    }

    /// A 32-bit digest of everything the boxes must agree on: every
    /// cluster-wide setting [`Config::changes`] compares but the key (a
    /// box with another key cannot be heard at all, and the digest travels
    /// in the clear). Carried in hellos so a box can tell a peer runs a
    /// different file; two files with the same digest differ at most in
    /// per-box settings (hooks, checks, `notify`, health limits).
    pub fn digest(&self) -> u32 {
        let mut h = Fnv::new();
        h.str(&self.cluster);
        h.str(&self.interface);
        addr_into(&mut h, self.multicast);
        h.u64(self.port as u64);
        for p in &self.peers {
            addr_into(&mut h, *p);
        }
        h.u64(self.hello.as_millis() as u64);
        h.u64(self.dead.as_millis() as u64);
        h.u64(self.lost_alert.as_millis() as u64);
        h.u64(self.quorum as u64);
        h.u64(matches!(self.fencing, Fencing::Lease) as u64);
        for n in &self.nodes {
            h.str(&n.name);
            addr_into(&mut h, n.address);
            h.u64(n.priority as u64);
        }
        for v in &self.vservers {
            v.digest_into(&mut h);
        }
        h.finish()
    }

    /// What differs between the running configuration (`self`) and `new`,
    /// split into what a box may apply alone and what the whole cluster
    /// must change together (docs/CONFIG.md, "Reloading").
    pub fn changes(&self, new: &Config) -> Changes {
        let mut c = Changes::default();
        let mut cluster = |differs: bool, what: &'static str| {
            if differs {
                // Fewer names than room (one per line below).
                let _ = c.cluster.push(what);
            }
        };
        cluster(self.cluster != new.cluster, "cluster");
        cluster(self.key != new.key, "key");
        cluster(self.interface != new.interface, "interface");
        cluster(
            self.multicast != new.multicast || self.port != new.port,
            "multicast",
        );
        cluster(self.peers != new.peers, "peers");
        cluster(self.hello != new.hello || self.dead != new.dead, "timers");
        cluster(self.lost_alert != new.lost_alert, "lost-alert");
        cluster(
            self.quorum != new.quorum || self.fencing != new.fencing,
            "quorum",
        );
        cluster(self.nodes != new.nodes, "nodes");
        let same_vservers = self.vservers.len() == new.vservers.len()
            && self
                .vservers
                .iter()
                .zip(&new.vservers)
                .all(|(a, b)| a.same_cluster_view(b));
        cluster(!same_vservers, "vservers");
        let mut local = |differs: bool, what: &'static str| {
            if differs {
                let _ = c.local.push(what);
            }
        };
        local(self.notify != new.notify, "notify");
        local(self.health != new.health, "health");
        let pairs = || self.vservers.iter().zip(&new.vservers);
        local(pairs().any(|(a, b)| a.hooks != b.hooks), "hooks");
        local(pairs().any(|(a, b)| a.service != b.service), "service");
        local(
            pairs().any(|(a, b)| a.self_check != b.self_check),
            "self-check",
        );
        c
    }

    /// A 32-bit identifier of the cluster name, put in every datagram header.
    pub fn cluster_id(&self) -> u32 {
        let mut h = Fnv::new();
        h.str(&self.cluster);
        h.finish()
    }
}

/// FNV-1a: a tiny stable hash for identifiers (not for security: the HMAC is).
struct Fnv(u32);

impl Fnv {
    fn new() -> Self {
        Fnv(0x811c_9dc5)
    }
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= x as u32;
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
        self.bytes(&[0xff]);
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn finish(&self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "# r1: first\ncluster t\nkey-file insecure\ninterface eth0\nhello 200ms\n\
        node f1 10.0.0.11\nnode f2 10.0.0.12\n\
        vserver web {\n address 10.0.0.50/24\n interface eth0\n service tcp 80\n \
        self-check none\n pre-takeover /bin/true\n}\n";

    fn changed(from: &str, to: &str) -> Changes {
        let a = parse("a.conf", from).expect("a");
        let b = parse("b.conf", to).expect("b");
        let c = a.changes(&b);
        assert_eq!(
            c.cluster.is_empty(),
            a.digest() == b.digest(),
            "the digest covers exactly the cluster-wide settings: {c:?}"
        );
        c
    }

    #[test]
    fn per_box_settings_are_local_changes() {
        let c = changed(
            BASE,
            &BASE.replace("pre-takeover /bin/true", "post-release /bin/true"),
        );
        assert_eq!(
            (c.cluster.as_slice(), c.local.as_slice()),
            (&[][..], &["hooks"][..])
        );
        let c = changed(
            BASE,
            &BASE.replace("service tcp 80", "service exec /bin/true"),
        );
        assert_eq!(c.local.as_slice(), &["service"]);
        let c = changed(BASE, &BASE.replace("self-check none", "self-check tcp 22"));
        assert_eq!(c.local.as_slice(), &["self-check"]);
        let c = changed(
            BASE,
            &BASE.replace(
                "hello 200ms",
                "hello 200ms\nnotify /bin/true\nmin-free-memory 1M",
            ),
        );
        assert_eq!(c.local.as_slice(), &["notify", "health"]);
        assert!(c.cluster.is_empty());
        // A comment is no change at all.
        let c = changed(BASE, &BASE.replace("# r1: first", "# r2: same"));
        assert_eq!(c, Changes::default());
    }

    #[test]
    fn cluster_wide_settings_are_named() {
        let c = changed(BASE, &BASE.replace("hello 200ms", "hello 100ms"));
        assert_eq!(c.cluster.as_slice(), &["timers"]);
        let c = changed(
            BASE,
            &BASE.replace("interface eth0\n service", "interface eth1\n service"),
        );
        assert_eq!(c.cluster.as_slice(), &["vservers"]);
        let more = format!(
            "{BASE}vserver mail {{\n address 10.0.0.51/24\n interface eth0\n service none\n}}\n"
        );
        let c = changed(BASE, &more);
        assert_eq!(c.cluster.as_slice(), &["vservers"]);
        let c = changed(
            BASE,
            &BASE.replace("node f2 10.0.0.12", "node f2 10.0.0.12 priority 50"),
        );
        assert_eq!(c.cluster.as_slice(), &["nodes"]);
        let c = changed(
            BASE,
            &BASE.replace("hello 200ms", "hello 200ms\npeer 10.0.0.12"),
        );
        assert_eq!(c.cluster.as_slice(), &["peers"]);
        // Both kinds at once: each named in its list.
        let both = BASE
            .replace("hello 200ms", "hello 100ms")
            .replace("self-check none", "self-check tcp 22");
        let c = changed(BASE, &both);
        assert_eq!(
            (c.cluster.as_slice(), c.local.as_slice()),
            (&["timers"][..], &["self-check"][..])
        );
    }

    #[test]
    fn a_revision_is_the_first_comment_line() {
        assert_eq!(
            revision_of("# r7: adds mail\ncluster t\n# later\n"),
            "r7: adds mail"
        );
        assert_eq!(revision_of("cluster t\n  ##  v2  \n"), "v2");
        assert_eq!(revision_of("cluster t\n"), "");
        let long = format!("# {}é\n", "x".repeat(MAX_REVISION - 1));
        assert_eq!(
            revision_of(&long).len(),
            MAX_REVISION - 1,
            "cut on a character boundary"
        );
    }
}
