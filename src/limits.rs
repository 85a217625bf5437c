//! Every capacity in one place (STYLE: full tables have a stated policy).
//!
//! The tables are `heapless` collections sized by these constants; nothing
//! grows after start-up. `bongoyo check` rejects a configuration that exceeds
//! any of them with a message naming the limit.

/// Fail-over boxes (`node` lines) in one cluster.
pub const MAX_NODES: usize = 32;
/// Virtual servers (`vserver` blocks).
pub const MAX_VSERVERS: usize = 64;
/// Unicast `peer` lines.
pub const MAX_PEERS: usize = MAX_NODES;
/// MACs a volunteer reports from its probe of a vserver's address (more
/// answering are dropped: one is enough to fence).
pub const MAX_ANSWERING: usize = 4;
/// `track-interface` lines: links whose loss puts this box on hold.
pub const MAX_TRACKED: usize = 8;
/// Hooks and exec checks running at once; more wait for a free slot.
pub const MAX_CHILDREN: usize = 8;
/// Bytes in a cluster, node or vserver name.
pub const MAX_NAME: usize = 32;
/// Bytes in an interface name, including the `:N` label (kernel IFNAMSIZ - 1).
pub const MAX_IFNAME: usize = 15;
/// Bytes in a path or a command line (program and its arguments).
pub const MAX_COMMAND: usize = 192;
/// Arguments in one command line, the program included.
pub const MAX_ARGS: usize = 16;
/// Bytes of the shared cluster key (64 hex digits = 32 bytes from keygen; up to 128 digits).
pub const MAX_KEY: usize = 64;
/// Minimum key length in bytes (32 hex digits).
pub const MIN_KEY: usize = 16;
/// Largest datagram we send or accept (fits an Ethernet MTU with IP/UDP headers).
pub const MAX_DATAGRAM: usize = 1400;
/// Bytes in a configuration file.
pub const MAX_CONFIG_BYTES: usize = 256 * 1024;
/// Errors `bongoyo check` collects before it stops reporting.
pub const MAX_CONFIG_ERRORS: usize = 64;
