//! bongoyo: an IP fail-over daemon for appliances.
//!
//! Several fail-over boxes watch virtual servers (an IP address plus a
//! service). When one dies, an elected **boss** picks a **volunteer**, which
//! aliases the address on an interface, sends gratuitous ARP and serves.
//!
//! # Layers
//!
//! The crate is cut along one line: code that decides, and code that touches
//! the operating system.
//!
//! * [`proto`]: bytes on the wire. The datagram header, the postcard body, the
//!   HMAC, replay protection, and the counted reasons a datagram is dropped.
//! * [`cluster`]: membership, boss election with deputies, generations,
//!   merge, quorum and lease fencing. A sans-IO state machine: it is fed
//!   `(now, input)` and hands back actions; it never opens a socket, reads a
//!   clock or allocates.
//! * [`vserver`]: combo states, the action table, volunteer rounds (sans-IO).
//! * [`takeover`]: the ordered steps of a takeover and a release, and what
//!   one box holds (sans-IO).
//! * [`node`]: one box's whole sans-IO brain: the cluster core, the boss's
//!   vserver monitor and this box's holder, joined. The shell and the
//!   simulator drive a `Node`.
//! * [`config`]: the configuration file, parsed into fixed-capacity tables,
//!   every error as `FILE:LINE:COL: message`.
//! * [`os`]: the system calls that std and mio do not wrap: ioctl,
//!   rtnetlink, the ARP packet socket, signalfd, `posix_spawn` for hooks and
//!   checks, the clock, syslog. `unsafe` is allowed here and nowhere else.
//!   Other I/O goes through std or mio in two places: [`daemon`] (the
//!   cluster and control sockets, non-blocking TCP connects in
//!   `daemon/work.rs`) and [`config`] (`config/parse.rs` opens and reads the
//!   configuration and key files, `config/check.rs` looks at the programs
//!   they name). The sans-IO layers above do none.
//! * [`daemon`]: the thin mio shell. One thread, one `Poll`; it reads the
//!   clock once per turn, moves bytes between sockets and the core, and
//!   carries out the core's actions.
//! * [`cli`]: the command line (argh) and sysexits exit codes.
//!
//! Capacities are compile-time constants in [`limits`]; time inside the core is
//! a [`time::Instant`] in milliseconds handed in by the shell.

#![warn(missing_docs)]

pub mod cli;
pub mod cluster;
pub mod config;
pub mod daemon;
pub mod limits;
pub mod node;
pub mod os;
pub mod proto;
pub mod takeover;
pub mod time;
pub mod vserver;
