//! What `bongoyo check` adds to parsing: warnings about the file, and, when
//! it knows which box it runs on, a check of this host against the file
//! (docs/DECISIONS.md, "`bongoyo check`").
//!
//! Parsing proves the file is well formed; it cannot tell that `interface
//! eth9` does not exist here, that this box's address is not on the
//! cluster interface, or that a hook is missing. `run` fails on the first
//! two, a takeover on the third. [`host`] finds them, each as an error at
//! the line that names the thing, and warns where a vserver address lies
//! outside every subnet of its interface (other hosts would not reach it).
//!
//! The checks read the host through [`Host`]: [`System`] answers from the
//! kernel (through [`crate::os`]) and the file system, the unit tests from
//! a table.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr};
use std::io;

use super::parse::{Errors, Places, Pos};
use super::{Check, Command, Config, IfName, Key, NodeId};
use crate::os::ifaddr;

/// One IPv4 address of this host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostAddr {
    /// The interface or alias label it is on (`eth0`, `eth0:3`).
    pub label: IfName,
    /// The address (IPv4, or IPv6 with the interface as its label).
    pub addr: IpAddr,
    /// Its prefix length.
    pub prefix: u8,
}

impl HostAddr {
    /// The interface, without an alias label's `:N`.
    fn interface(&self) -> &str {
        self.label.split(':').next().unwrap_or_default()
    }

    /// Whether `a` is in this IPv4 address's subnet.
    fn contains(&self, a: Ipv4Addr) -> bool {
        let IpAddr::V4(me) = self.addr else {
            return false;
        };
        let mask = u32::from(ifaddr::netmask(self.prefix));
        (u32::from(me) ^ u32::from(a)) & mask == 0
    }
}

/// Why a configured program cannot be run.
#[derive(Debug)]
pub enum Unrunnable {
    /// Nothing at the path.
    Missing,
    /// A directory, device or the like.
    NotFile,
    /// No execute permission bit.
    NotExecutable,
    /// The path could not be looked at.
    Io(io::Error),
}

impl fmt::Display for Unrunnable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unrunnable::Missing => f.write_str("does not exist"),
            Unrunnable::NotFile => f.write_str("is not a regular file"),
            Unrunnable::NotExecutable => f.write_str("is not executable (chmod +x)"),
            Unrunnable::Io(e) => write!(f, "cannot be looked at: {e}"),
        }
    }
}

/// What the checks need to know about this host.
pub trait Host {
    /// Whether a network interface of this name exists.
    fn has_interface(&self, name: &str) -> bool;
    /// Every address of this host: IPv4, and IPv6 when `six` (an IPv6
    /// cluster's node addresses are looked for there).
    fn addresses(&self, six: bool) -> io::Result<Vec<HostAddr>>;
    /// Whether the program at `path` could be started.
    fn program(&self, path: &str) -> Result<(), Unrunnable>;
}

/// The real host: interfaces and addresses from the kernel, programs from
/// the file system.
pub struct System;

impl Host for System {
    fn has_interface(&self, name: &str) -> bool {
        ifaddr::ifindex(name).is_ok()
    }

    fn addresses(&self, six: bool) -> io::Result<Vec<HostAddr>> {
        let mut out = Vec::new();
        for a in ifaddr::list_addresses()? {
            let prefix = ifaddr::prefix_len(&a.label, a.addr)?;
            out.push(HostAddr {
                label: a.label,
                addr: IpAddr::V4(a.addr),
                prefix,
            });
        }
        if six {
            for a in ifaddr::Rtnl::open()?.list_addresses6()? {
                if let Ok(label) = ifaddr::ifname(a.ifindex) {
                    out.push(HostAddr {
                        label,
                        addr: IpAddr::V6(a.addr),
                        prefix: a.prefix,
                    });
                }
            }
        }
        Ok(out)
    }

    fn program(&self, path: &str) -> Result<(), Unrunnable> {
        use std::os::unix::fs::PermissionsExt;
        // Followed like exec follows it: a link to a script is fine.
        let m = std::fs::metadata(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Unrunnable::Missing,
            _ => Unrunnable::Io(e),
        })?;
        if !m.is_file() {
            Err(Unrunnable::NotFile)
        } else if m.permissions().mode() & 0o111 == 0 {
            Err(Unrunnable::NotExecutable)
        } else {
            Ok(())
        }
    }
}

fn error(e: &mut Errors, at: Pos, m: fmt::Arguments<'_>) {
    e.push(at.line, at.col, m);
}

fn warning(w: &mut Errors, at: Pos, m: fmt::Arguments<'_>) {
    w.push(at.line, at.col, format_args!("warning: {m}"));
}

/// Warnings about the file alone (also with `--offline`).
pub fn file_warnings(cfg: &Config, at: &Places, w: &mut Errors) {
    if cfg.key == Key::Insecure {
        warning(
            w,
            at.key_file,
            format_args!(
                "key-file insecure: cluster messages are not authenticated, anyone on the LAN can forge them (bongoyo keygen makes a key)"
            ),
        );
    }
}

/// Addresses, comma-separated, `A.B.C.D/P`, for a message.
struct AddrList<'a>(&'a [&'a HostAddr]);

impl fmt::Display for AddrList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no address");
        }
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}/{}", a.addr, a.prefix)?;
        }
        Ok(())
    }
}

/// Checks this host as node `me`: errors (what breaks `run` or a
/// takeover here) go to `e`, warnings to `w`.
pub fn host(cfg: &Config, at: &Places, me: NodeId, h: &impl Host, e: &mut Errors, w: &mut Errors) {
    let six = cfg.nodes.first().is_some_and(|n| n.address.is_ipv6());
    let addrs = match h.addresses(six) {
        Ok(a) => a,
        Err(err) => {
            error(
                e,
                Pos::default(),
                format_args!("cannot list this host's addresses: {err}"),
            );
            Vec::new()
        }
    };
    let on = |ifname: &str| -> Vec<&HostAddr> {
        addrs.iter().filter(|a| a.interface() == ifname).collect()
    };

    let cl = cfg.interface.as_str();
    if !h.has_interface(cl) {
        error(
            e,
            at.interface,
            format_args!("interface {cl} does not exist on this host"),
        );
    } else if let (Some(n), Some(&nat)) = (cfg.nodes.get(me as usize), at.nodes.get(me as usize)) {
        let mine = on(cl);
        if !mine.iter().any(|a| a.addr == n.address) {
            let (name, addr) = (&n.name, n.address);
            match addrs.iter().find(|a| a.addr == addr) {
                Some(other) => error(
                    e,
                    nat,
                    format_args!(
                        "node {name}'s address {addr} is on {}, not on the cluster interface {cl}",
                        other.label
                    ),
                ),
                None => error(
                    e,
                    nat,
                    format_args!(
                        "node {name}'s address {addr} is not on interface {cl} (it has {})",
                        AddrList(&mine)
                    ),
                ),
            }
        }
    }
    for (t, &tat) in cfg.health.track.iter().zip(at.track.iter()) {
        if !h.has_interface(t) {
            error(
                e,
                tat,
                format_args!(
                    "track-interface {t} does not exist on this host (a missing tracked link keeps the box on hold)"
                ),
            );
        }
    }
    if let Some(c) = &cfg.notify {
        program(e, h, at.notify, "notify", c);
    }

    for (v, vat) in cfg.vservers.iter().zip(at.vservers.iter()) {
        let ifname = v.interface.as_str();
        if !h.has_interface(ifname) {
            error(
                e,
                vat.interface,
                format_args!("interface {ifname} does not exist on this host"),
            );
        } else if let (false, IpAddr::V4(addr)) = (v.dedicated, v.address) {
            // The interface's own subnets: not the vserver addresses a
            // running daemon may hold there. (IPv6: not checked; an
            // interface's IPv6 prefixes come and go with router adverts.)
            let own: Vec<&HostAddr> = on(ifname)
                .into_iter()
                .filter(|a| a.addr.is_ipv4() && !cfg.vservers.iter().any(|x| x.address == a.addr))
                .collect();
            if !own.is_empty() && !own.iter().any(|a| a.contains(addr)) {
                warning(
                    w,
                    vat.address,
                    format_args!(
                        "vserver {}'s address {} is outside every subnet of {ifname} ({}): hosts there may not reach it",
                        v.name,
                        v.address,
                        AddrList(&own)
                    ),
                );
            }
        }
        for (c, cat, what) in [
            (&v.service, vat.service, "service exec"),
            (&v.self_check, vat.self_check, "self-check exec"),
        ] {
            if let Check::Exec(cmd) = c {
                program(e, h, cat, what, cmd);
            }
        }
        let names = [
            "pre-takeover",
            "post-takeover",
            "pre-release",
            "post-release",
        ];
        for ((hook, hat), what) in v.hooks.iter().zip(vat.hooks).zip(names) {
            if let Some(cmd) = hook {
                program(e, h, hat, what, cmd);
            }
        }
    }
}

/// An error at `at` unless the command's program can be started.
fn program(e: &mut Errors, h: &impl Host, at: Pos, what: &str, cmd: &Command) {
    let Some(path) = cmd.argv().next() else {
        return;
    };
    if let Err(why) = h.program(path) {
        error(e, at, format_args!("{what} program {path} {why}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host from a table: interfaces, addresses, runnable programs.
    struct Fake {
        ifs: &'static [&'static str],
        addrs: &'static [(&'static str, &'static str, u8)],
        programs: &'static [&'static str],
    }

    impl Host for Fake {
        fn has_interface(&self, name: &str) -> bool {
            self.ifs.contains(&name)
        }
        fn addresses(&self, six: bool) -> io::Result<Vec<HostAddr>> {
            Ok(self
                .addrs
                .iter()
                .map(|&(l, a, p)| HostAddr {
                    label: IfName::try_from(l).unwrap(),
                    addr: a.parse().unwrap(),
                    prefix: p,
                })
                .filter(|a| six || a.addr.is_ipv4())
                .collect())
        }
        fn program(&self, path: &str) -> Result<(), Unrunnable> {
            match path {
                "/bin/dir" => Err(Unrunnable::NotFile),
                "/bin/plain" => Err(Unrunnable::NotExecutable),
                p if self.programs.contains(&p) => Ok(()),
                _ => Err(Unrunnable::Missing),
            }
        }
    }

    const HOST: Fake = Fake {
        ifs: &["lo", "eth0", "eth1"],
        addrs: &[
            ("lo", "127.0.0.1", 8),
            ("eth0", "10.0.0.1", 24),
            ("eth0:0", "10.0.0.50", 24),
            ("eth1", "192.168.1.1", 24),
            ("eth0", "fd00::1", 64),
            ("eth1", "fd01::1", 64),
        ],
        programs: &["/bin/true"],
    };

    /// (errors, warnings) of checking `text` as node `me` on `h`.
    fn check(text: &str, me: NodeId, h: &Fake) -> (String, String) {
        let (cfg, at) = super::super::parse::parse_at("t.conf", text).unwrap();
        let (mut e, mut w) = (Errors::new("t.conf"), Errors::new("t.conf"));
        file_warnings(&cfg, &at, &mut w);
        host(&cfg, &at, me, h, &mut e, &mut w);
        e.sort();
        w.sort();
        (e.to_string(), w.to_string())
    }

    const HEAD: &str = "cluster c\nkey-file /k\ninterface eth0\nnode a 10.0.0.1\nnode b 10.0.0.2\n";

    #[test]
    fn a_matching_host_passes() {
        let t = format!(
            "{HEAD}notify /bin/true\nvserver web {{\naddress 10.0.0.50/24\ninterface eth0\nservice exec /bin/true\npre-takeover /bin/true x\n}}\n"
        );
        assert_eq!(check(&t, 0, &HOST), (String::new(), String::new()));
    }

    #[test]
    fn missing_interfaces_and_this_nodes_address_are_errors() {
        let t = "cluster c\nkey-file /k\ninterface eth9\nnode a 10.0.0.1\nvserver v {\naddress 10.0.0.60/24\ninterface eth8\n}\n";
        let (e, w) = check(t, 0, &HOST);
        assert_eq!(
            e,
            "t.conf:3:11: interface eth9 does not exist on this host\n\
             t.conf:7:11: interface eth8 does not exist on this host\n"
        );
        assert_eq!(w, "");
        // Node b's address is nowhere; on eth1 it would be the wrong one.
        let (e, _) = check(HEAD, 1, &HOST);
        assert_eq!(
            e,
            "t.conf:5:8: node b's address 10.0.0.2 is not on interface eth0 (it has 10.0.0.1/24, 10.0.0.50/24)\n"
        );
        let t = "cluster c\nkey-file /k\ninterface eth1\nnode a 10.0.0.1\n";
        let (e, _) = check(t, 0, &HOST);
        assert_eq!(
            e,
            "t.conf:4:8: node a's address 10.0.0.1 is on eth0, not on the cluster interface eth1\n"
        );
    }

    #[test]
    fn a_tracked_interface_must_exist() {
        let t = format!("{HEAD}track-interface eth1\ntrack-interface wan0\n");
        let (e, w) = check(&t, 0, &HOST);
        assert_eq!(
            e,
            "t.conf:7:17: track-interface wan0 does not exist on this host (a missing tracked link keeps the box on hold)\n"
        );
        assert_eq!(w, "");
    }

    #[test]
    fn programs_must_exist_and_be_executable() {
        let t = format!(
            "{HEAD}notify /bin/nope\nvserver v {{\naddress 10.0.0.60/24\ninterface eth0\nservice exec /bin/dir\nself-check exec /bin/true\npost-release /bin/plain a b\n}}\n"
        );
        let (e, _) = check(&t, 0, &HOST);
        assert_eq!(
            e,
            "t.conf:6:8: notify program /bin/nope does not exist\n\
             t.conf:10:14: service exec program /bin/dir is not a regular file\n\
             t.conf:12:14: post-release program /bin/plain is not executable (chmod +x)\n"
        );
    }

    #[test]
    fn an_address_outside_every_subnet_is_a_warning() {
        let vs = |a: &str, i: &str| format!("{HEAD}vserver v {{\naddress {a}\ninterface {i}\n}}\n");
        let (e, w) = check(&vs("10.9.0.5/24", "eth0"), 0, &HOST);
        assert_eq!(e, "");
        assert_eq!(
            w,
            "t.conf:7:9: warning: vserver v's address 10.9.0.5 is outside every subnet of eth0 (10.0.0.1/24, 10.0.0.50/24): hosts there may not reach it\n"
        );
        // A vserver's own address (a running daemon's alias) is not one of
        // the interface's subnets.
        let t =
            vs("10.9.0.5/24", "eth0") + "vserver w {\naddress 10.0.0.50/24\ninterface eth0\n}\n";
        assert_eq!(
            check(&t, 0, &HOST).1,
            "t.conf:7:9: warning: vserver v's address 10.9.0.5 is outside every subnet of eth0 (10.0.0.1/24): hosts there may not reach it\n"
        );
        assert_eq!(check(&vs("192.168.1.9/24", "eth1"), 0, &HOST).1, "");
        // A dedicated interface gets the vserver address as its own.
        assert_eq!(check(&vs("10.9.0.5/24", "eth1 dedicated"), 0, &HOST).1, "");
    }

    #[test]
    fn insecure_is_a_warning_from_the_file_alone() {
        let t = "cluster c\nkey-file insecure\ninterface eth0\nnode a 10.0.0.1\n";
        let (e, w) = check(t, 0, &HOST);
        assert_eq!(e, "");
        assert!(
            w.starts_with(
                "t.conf:2:10: warning: key-file insecure: cluster messages are not authenticated"
            ),
            "{w}"
        );
    }

    /// Issue 15: an IPv6 cluster's node address is looked for among the
    /// cluster interface's IPv6 addresses.
    #[test]
    fn an_ipv6_nodes_address_must_be_on_the_cluster_interface() {
        let head6 = "cluster c\nkey-file /k\ninterface eth0\nnode a fd00::1\nnode b fd00::2\n";
        assert_eq!(check(head6, 0, &HOST), (String::new(), String::new()));
        let (e, _) = check(head6, 1, &HOST);
        assert_eq!(
            e,
            "t.conf:5:8: node b's address fd00::2 is not on interface eth0 (it has 10.0.0.1/24, 10.0.0.50/24, fd00::1/64)\n"
        );
        let t = "cluster c\nkey-file /k\ninterface eth0\nnode a fd01::1\n";
        let (e, _) = check(t, 0, &HOST);
        assert_eq!(
            e,
            "t.conf:4:8: node a's address fd01::1 is on eth1, not on the cluster interface eth0\n"
        );
    }
}
