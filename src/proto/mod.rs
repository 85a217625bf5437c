//! Bytes on the wire (docs/MODEL.md).
//!
//! Every datagram is a fixed [`Header`] (magic, version, cluster id, sender,
//! incarnation, sequence), a postcard-encoded [`Body`], and an HMAC-SHA256 tag
//! truncated to 16 bytes over the cluster name, header and body. [`msg`]
//! holds the meaning (message types); [`codec`] holds the bytes (encode,
//! decode, authenticate, reject replays and earlier boots, count every drop
//! by reason).

pub mod codec;
pub mod msg;

pub use codec::{Codec, DecodeError, Drops, EncodeError, Header, Received};
pub use msg::*;
