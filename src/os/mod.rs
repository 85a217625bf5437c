//! The only layer with system calls (docs/MODEL.md): the clock, the random
//! source, signals, sockets, the control socket, processes, ARP and IPv6
//! Neighbour Discovery, interface addresses and link state, load and memory
//! figures, the service manager's notify socket, and the log.
//!
//! Each file is one concern and hands the rest of the crate a small safe API;
//! `unsafe` is allowed here and nowhere else. Nothing here decides anything:
//! the core decides, the shell ([`crate::daemon`]) calls these.
#![allow(unsafe_code)]

pub mod arp;
pub mod child;
pub mod clock;
pub mod control;
pub mod ifaddr;
pub mod log;
pub mod ndp;
pub mod net;
pub mod notify;
pub mod process;
pub mod random;
pub mod signals;

/// `e`, naming the capability it means is missing when it is a permission
/// error (EPERM, EACCES): "Operation not permitted" alone does not tell an
/// operator what to grant. Error paths only: it allocates.
fn needs(e: std::io::Error, cap: &str) -> std::io::Error {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        std::io::Error::new(e.kind(), format!("{e}: needs {cap}"))
    } else {
        e
    }
}
pub mod sysinfo;
