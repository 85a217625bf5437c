//! STUB: replaced by the cluster work. Signatures are the contract the shell codes against.
use crate::config::{Config, NodeId};
use crate::proto::{Body, Role};
use crate::time::Instant;

/// Where a message goes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Dest {
    /// Every box (multicast, plus each unicast peer).
    All,
    /// One box, unicast to its node address.
    Node(NodeId),
}

/// What the core asks the shell to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Send a message.
    Send {
        /// Destination.
        to: Dest,
        /// The message.
        body: Body,
    },
}

/// Operator commands that reach the core.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// `bongoyo hold`.
    Hold,
    /// `bongoyo resume`.
    Resume,
}

/// The cluster core of one box.
pub struct Core;

impl Core {
    /// A new core for box `me`.
    pub fn new(_config: &Config, _me: NodeId, _incarnation: u64, _now: Instant) -> Self {
        Core
    }
    /// A verified message from `from` (incarnation from the header).
    pub fn handle_message(
        &mut self,
        _now: Instant,
        _from: NodeId,
        _incarnation: u64,
        _body: &Body,
    ) {
    }
    /// Time passed.
    pub fn handle_timeout(&mut self, _now: Instant) {}
    /// An operator command.
    pub fn handle_control(&mut self, _now: Instant, _cmd: Control) {}
    /// The next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    /// The next action.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        None
    }
    /// This box's role.
    pub fn role(&self) -> Role {
        Role::Joining
    }
    /// The boss this box follows.
    pub fn boss(&self) -> Option<NodeId> {
        None
    }
    /// The boss's generation.
    pub fn generation(&self) -> u32 {
        0
    }
}
