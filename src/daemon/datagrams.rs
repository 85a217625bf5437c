//! The cluster sockets: datagrams in, a burst at a time, through the codec
//! to the node; sealed messages out to the multicast group and the `peer`
//! addresses, or to one box. The codec counts every datagram it drops; the
//! counters here are what `bongoyo status` shows of the transport.

use core::net::SocketAddr;

use crate::os::net;
use std::io;

use log::debug;

use super::Daemon;
use crate::cluster::Dest;
use crate::proto::Body;
use crate::time::Instant;

/// What the shell itself sees of each box: its datagrams that passed the
/// codec.
#[derive(Copy, Clone, Default)]
pub(super) struct Heard {
    pub(super) last: Option<Instant>,
    pub(super) received: u64,
}

/// Transport counters.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) received: u64,
    pub(super) accepted: u64,
    pub(super) sent: u64,
    pub(super) send_errors: u64,
}

impl Daemon {
    /// Datagrams read from one cluster socket per turn. A flood must not
    /// hold the loop in one drain while timers and lease expiry wait: after
    /// a burst the loop fires what is due (with a fresh clock reading) and
    /// comes back to the socket at once.
    const RECV_BURST: usize = 256;

    /// Read the waiting datagrams from one socket, at most
    /// [`Self::RECV_BURST`]; true if it stopped with some left.
    pub(super) fn receive(&mut self, now: Instant, unicast: bool) -> bool {
        for _ in 0..Self::RECV_BURST {
            let sock = if unicast {
                &self.unicast
            } else {
                &self.multicast
            };
            let n = match sock.recv_from(&mut self.rx[..]) {
                Ok((n, _from)) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    debug!(
                        "receive-error socket={} error={e}",
                        if unicast { "unicast" } else { "multicast" }
                    );
                    return false;
                }
            };
            self.counters.received += 1;
            // The buffer is one byte larger than the largest datagram, so an
            // oversized one reaches the codec longer than it allows.
            let Some(datagram) = self.rx.get(..n) else {
                continue;
            };
            // Every Err is counted inside the codec (`drops()`).
            if let Ok(msg) = self.codec.open(now, datagram) {
                self.counters.accepted += 1;
                if let Some(msg) = msg {
                    let from = msg.header.sender;
                    if let Some(h) = self.heard.get_mut(from as usize) {
                        h.last = Some(now);
                        h.received += 1;
                    }
                    self.node
                        .handle_message(now, from, msg.header.incarnation, &msg.body);
                }
            }
        }
        true
    }

    pub(super) fn send(&mut self, to: Dest, body: &Body) {
        // A unicast datagram names its one receiver (authenticated), so it
        // cannot be replayed to another box.
        let dest = match to {
            Dest::All => None,
            Dest::Node(n) => Some(n),
        };
        let len = match self.codec.seal_to(dest, body, &mut self.tx[..]) {
            Ok(len) => len,
            Err(e) => {
                self.counters.send_errors += 1;
                debug!("seal-failed kind={} error={}", body.kind(), e.name());
                return;
            }
        };
        let port = self.config.port;
        let ifindex = self.iface.index;
        let my_addr = self.config.nodes.get(self.me as usize).map(|n| n.address);
        match to {
            Dest::All => {
                self.send_to(net::scoped(self.config.multicast, port, ifindex), len);
                for i in 0..self.config.peers.len() {
                    let peer = self.config.peers[i];
                    if Some(peer) != my_addr {
                        self.send_to(net::scoped(peer, port, ifindex), len);
                    }
                }
            }
            Dest::Node(n) => match self.config.nodes.get(n as usize) {
                Some(node) => {
                    let addr = net::scoped(node.address, port, ifindex);
                    self.send_to(addr, len)
                }
                None => self.counters.send_errors += 1,
            },
        }
    }

    fn send_to(&mut self, addr: SocketAddr, len: usize) {
        let Some(datagram) = self.tx.get(..len) else {
            self.counters.send_errors += 1;
            return;
        };
        loop {
            match self.unicast.send_to(datagram, addr) {
                Ok(_) => {
                    self.counters.sent += 1;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A full send buffer drops the datagram: the protocol
                // tolerates loss and the next hello repeats the state.
                Err(e) => {
                    self.counters.send_errors += 1;
                    debug!("send-error to={addr} error={e}");
                    return;
                }
            }
        }
    }
}
