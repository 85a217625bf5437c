//! Helpers for the tests that run the real kernel or the real binary
//! (the network-test rules in README.md), in one place so that a namespace, a daemon or a
//! bounded wait means the same in every test file:
//!
//! - [`netns`]: root check, setup commands, namespaces and links with
//!   guards, MACs, code run inside a namespace, threads stopped on drop,
//!   bounded waits;
//! - [`daemon`]: the daemon under test and its client, a syslog stand-in,
//!   temporary directories, key files and hook scripts;
//! - [`lan`]: the fail-over LAN (switch, three boxes, original host and a
//!   client that measures what it saw), built from the two above.
//!
//! Each test file uses a part; the rest is dead code there.
#![allow(dead_code)]

pub mod daemon;
pub mod lan;
pub mod netns;
