//! STUB: replaced by the codec work. Signatures are the contract.
use crate::config::{Key, NodeId};
use crate::proto::Body;
use crate::time::Instant;

/// Fixed datagram header.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Sending node.
    pub sender: NodeId,
    /// Sender's incarnation.
    pub incarnation: u64,
    /// Datagram sequence (replay protection).
    pub seq: u64,
}

/// Why a datagram was dropped.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Placeholder.
    Malformed,
}

/// Drop counters.
#[derive(Clone, Debug, Default)]
pub struct Drops;

/// A message that passed every check.
#[derive(Clone, Debug, PartialEq)]
pub struct Received {
    /// Its header.
    pub header: Header,
    /// Its body.
    pub body: Body,
}

/// Encoder/decoder with authentication and replay state.
pub struct Codec;

impl Codec {
    /// New codec for this box.
    pub fn new(_cluster_id: u32, _key: &Key, _me: NodeId, _incarnation: u64, _seed: u64) -> Self {
        Codec
    }
    /// Frame `body` into `buf`; returns the datagram length.
    pub fn seal(&mut self, _body: &Body, _buf: &mut [u8]) -> Result<usize, DecodeError> {
        Err(DecodeError::Malformed)
    }
    /// Check and decode a datagram. `Ok(None)`: handled inside the codec (challenge/response).
    pub fn open(&mut self, _now: Instant, _buf: &[u8]) -> Result<Option<Received>, DecodeError> {
        Err(DecodeError::Malformed)
    }
    /// A message the codec itself wants sent (challenge or response), and to whom.
    pub fn poll_transmit(&mut self) -> Option<(NodeId, Body)> {
        None
    }
    /// The drop counters.
    pub fn drops(&self) -> &Drops {
        &Drops
    }
}
