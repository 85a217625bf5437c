//! The datagram codec (docs/MODEL.md): frame, authenticate, reject replays.
//!
//! # Wire format
//!
//! Every datagram is a fixed 28-byte header, a postcard-encoded [`Body`], and
//! a tag. Integers in the header are big-endian (network order).
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 2 | magic `b"BG"` ([`MAGIC`]) |
//! | 2 | 1 | version ([`VERSION`]) |
//! | 3 | 1 | flags: bit 0 [`FLAG_UNKEYED`] (no tag follows); the other bits are reserved and must be zero |
//! | 4 | 4 | cluster id (`Config::cluster_id`, a hash of the cluster name) |
//! | 8 | 1 | sender [`NodeId`] |
//! | 9 | 1 | destination [`NodeId`], or [`TO_ALL`] |
//! | 10 | 8 | sender's incarnation (random per boot) |
//! | 18 | 8 | datagram sequence, assigned by [`Codec::seal`], strictly increasing per incarnation |
//! | 26 | 2 | body length |
//! | 28 | n | postcard body |
//! | 28 + n | 16 | tag: HMAC-SHA256 truncated to 16 bytes (absent when unkeyed) |
//!
//! The destination is authenticated with the rest, so a datagram meant for
//! one box (an `Assume`, a `Response`) cannot be replayed to another: the
//! replay window is per sender, not per sender and receiver, and a box that
//! never saw a datagram addressed to a neighbour would otherwise accept it.
//!
//! The tag covers `label || len(name) || name || header || body`, where
//! `name` is the cluster name: two clusters that share a key (an operator who
//! copied the key file) still reject each other even if their 32-bit cluster
//! ids collide. The keyed HMAC state with that prefix is computed once in
//! [`Codec::new`] and cloned per datagram.
//!
//! # Replays and incarnations
//!
//! A sender is identified by its node index and its incarnation (a random
//! number drawn at every boot). For each sender the codec keeps one
//! *verified* incarnation with a 64-entry sliding window over sequence
//! numbers (as IPsec anti-replay, RFC 4303 section 3.4.3): a datagram at or
//! below the window, or already marked in it, is [`DecodeError::Replayed`].
//!
//! A datagram recorded during an earlier boot of a box carries that boot's
//! incarnation, and its sequence numbers say nothing about the current boot.
//! So a datagram from an incarnation the codec has not verified is never
//! delivered: the codec challenges the sender with a fresh nonce
//! ([`Body::Challenge`], handed out by [`Codec::poll_transmit`]) and counts
//! the drop as [`DecodeError::UnverifiedIncarnation`]. Only a live box holding
//! the key can answer with a [`Body::Response`] echoing that nonce; the
//! incarnation that answers becomes the verified one, and its window starts
//! at the response's sequence (everything at or below it counts as seen).
//! Datagrams from the incarnation it replaced are then
//! [`DecodeError::StaleIncarnation`].
//!
//! The nonce is per sender, not per incarnation: any incarnation that echoes
//! it is live. This is on purpose. If the challenge were bound to the
//! incarnation that triggered it, a replayer feeding recorded datagrams of an
//! old boot could keep replacing the one outstanding challenge and starve the
//! real, restarted box of verification; with a per-sender nonce the replayed
//! datagram merely causes a challenge that the live box answers.
//!
//! A challenge received from any authenticated sender, verified or not, is
//! answered, and also makes the codec challenge that sender if its
//! incarnation is unverified: two boxes that meet challenge each other at
//! once, so the first exchange costs one round trip, not two.
//!
//! # Nonces
//!
//! Nonces come from SplitMix64 seeded by the shell from the kernel's random
//! source. That is enough because the nonce's one job is to make a recorded
//! response useless: a response is authenticated with the key, so without
//! the key nobody can forge one, and a recorded genuine response only matches
//! if this codec ever asks for the same nonce again. SplitMix64 is a
//! bijection over a 64-bit counter, so nonces never repeat within a boot, and
//! two boots with independent random seeds overlap with a probability of
//! about `n² / 2⁶⁴` for `n` nonces drawn: never in practice. Predictability
//! does not matter: knowing the next nonce does not help forge the MAC.
//!
//! # Robustness
//!
//! [`Codec::open`] never panics and never allocates: every read is bounds
//! checked, the body is decoded by postcard into `heapless` types, and every
//! rejection is a [`DecodeError`] counted in [`Drops`].

use core::fmt;
use core::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::{Config, Key, NodeId};
use crate::limits::{MAX_DATAGRAM, MAX_NODES};
use crate::proto::Body;
use crate::time::Instant;

/// First two bytes of every datagram.
pub const MAGIC: [u8; 2] = *b"BG";
/// Wire protocol version this codec speaks.
pub const VERSION: u8 = 2;
/// Flag bit: the datagram carries no tag (`key-file insecure`).
pub const FLAG_UNKEYED: u8 = 0x01;
/// Flag bits this version knows; any other set bit is a newer protocol.
const KNOWN_FLAGS: u8 = FLAG_UNKEYED;
/// Destination byte of a datagram for every box (multicast, or the same
/// datagram sent to every unicast peer). Never a node index (< `MAX_NODES`).
pub const TO_ALL: u8 = 0xff;
/// Bytes in the fixed header.
pub const HEADER_LEN: usize = 28;
/// Bytes of the truncated HMAC-SHA256 tag on a keyed datagram.
pub const TAG_LEN: usize = 16;
/// Largest postcard body a keyed datagram can carry.
pub const MAX_BODY: usize = MAX_DATAGRAM - HEADER_LEN - TAG_LEN;
/// Minimum time between two challenges to the same sender: a replayer cannot
/// make us send more than ten a second per sender.
pub const RECHALLENGE: Duration = Duration::from_millis(100);
/// Width of the anti-replay window, in datagrams.
pub const REPLAY_WINDOW: u64 = 64;

// Header field offsets (see the table in the module doc).
const OFF_VERSION: usize = 2;
const OFF_FLAGS: usize = 3;
const OFF_CLUSTER: usize = 4;
const OFF_SENDER: usize = 8;
const OFF_DEST: usize = 9;
const OFF_INCARNATION: usize = 10;
const OFF_SEQ: usize = 18;
const OFF_LEN: usize = 26;

/// Domain separation for the MAC input, so the key is never used for the
/// same input format by anything else.
const MAC_LABEL: &[u8] = b"bongoyo datagram v1\0";

type HmacSha256 = Hmac<Sha256>;

/// Fixed datagram header, as far as the receiver needs it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Sending node.
    pub sender: NodeId,
    /// The one box it was addressed to; `None`: every box.
    pub to: Option<NodeId>,
    /// Sender's incarnation.
    pub incarnation: u64,
    /// Datagram sequence (replay protection).
    pub seq: u64,
}

/// Why a datagram was dropped. Every variant is counted in [`Drops`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than the fixed header.
    TooShort,
    /// Longer than `limits::MAX_DATAGRAM`.
    TooLarge,
    /// Does not start with the magic bytes: not a bongoyo datagram.
    BadMagic,
    /// Another protocol version, or flag bits this version does not know.
    BadVersion,
    /// Another cluster's id in the header.
    OtherCluster,
    /// The header's body length does not match the datagram's size.
    BadLength,
    /// No tag, but this box has a cluster key.
    Unkeyed,
    /// A tag, but this box runs with `key-file insecure`.
    Keyed,
    /// Sender index beyond the configured nodes.
    UnknownSender,
    /// Our own datagram (multicast loops back): dropped silently.
    FromSelf,
    /// Addressed to another box (a unicast message seen on multicast).
    NotForUs,
    /// Authentication failed: wrong key, wrong cluster name, or altered bytes.
    BadTag,
    /// Authenticated, but the body does not decode (or has trailing bytes).
    Malformed,
    /// Sequence at or below the replay window, or already seen.
    Replayed,
    /// From an incarnation a newer, verified one of the same box replaced.
    StaleIncarnation,
    /// From an incarnation not yet verified by a challenge; one is sent.
    UnverifiedIncarnation,
}

impl DecodeError {
    /// Number of reasons (the size of [`Drops`]).
    pub const COUNT: usize = 16;

    /// Every reason, in counter order.
    pub const ALL: [DecodeError; DecodeError::COUNT] = [
        DecodeError::TooShort,
        DecodeError::TooLarge,
        DecodeError::BadMagic,
        DecodeError::BadVersion,
        DecodeError::OtherCluster,
        DecodeError::BadLength,
        DecodeError::Unkeyed,
        DecodeError::Keyed,
        DecodeError::UnknownSender,
        DecodeError::FromSelf,
        DecodeError::NotForUs,
        DecodeError::BadTag,
        DecodeError::Malformed,
        DecodeError::Replayed,
        DecodeError::StaleIncarnation,
        DecodeError::UnverifiedIncarnation,
    ];

    /// Short name for counters, `bongoyo status` and logs.
    pub fn name(self) -> &'static str {
        match self {
            DecodeError::TooShort => "too-short",
            DecodeError::TooLarge => "too-large",
            DecodeError::BadMagic => "bad-magic",
            DecodeError::BadVersion => "bad-version",
            DecodeError::OtherCluster => "other-cluster",
            DecodeError::BadLength => "bad-length",
            DecodeError::Unkeyed => "unkeyed",
            DecodeError::Keyed => "keyed",
            DecodeError::UnknownSender => "unknown-sender",
            DecodeError::FromSelf => "from-self",
            DecodeError::NotForUs => "not-for-us",
            DecodeError::BadTag => "bad-tag",
            DecodeError::Malformed => "malformed",
            DecodeError::Replayed => "replayed",
            DecodeError::StaleIncarnation => "stale-incarnation",
            DecodeError::UnverifiedIncarnation => "unverified-incarnation",
        }
    }

    /// Index of this reason's counter in [`Drops`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether a drop for this reason is normal operation and not worth a
    /// log line (our own multicast looping back, duplicates from sending
    /// one datagram both by multicast and unicast, a box being verified).
    pub fn is_routine(self) -> bool {
        matches!(
            self,
            DecodeError::FromSelf
                | DecodeError::NotForUs
                | DecodeError::Replayed
                | DecodeError::UnverifiedIncarnation
        )
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecodeError::TooShort => "datagram shorter than the bongoyo header",
            DecodeError::TooLarge => "datagram larger than the largest bongoyo datagram",
            DecodeError::BadMagic => "not a bongoyo datagram (bad magic)",
            DecodeError::BadVersion => {
                "another bongoyo protocol version: run the same bongoyo version on every box"
            }
            DecodeError::OtherCluster => "datagram from another cluster (check `cluster` in the config)",
            DecodeError::BadLength => "body length in the header does not match the datagram",
            DecodeError::Unkeyed => {
                "unauthenticated datagram, but this cluster has a key: a box runs with `key-file insecure`"
            }
            DecodeError::Keyed => {
                "authenticated datagram, but this box runs with `key-file insecure`: use the same key-file on every box"
            }
            DecodeError::UnknownSender => {
                "sender is not a node of this config: every box needs the same node lines"
            }
            DecodeError::FromSelf => "our own datagram looped back",
            DecodeError::NotForUs => "datagram addressed to another box",
            DecodeError::BadTag => {
                "authentication failed: wrong key, another cluster name, or a corrupted or forged datagram"
            }
            DecodeError::Malformed => {
                "authenticated datagram whose body does not decode: run the same bongoyo version on every box"
            }
            DecodeError::Replayed => "replayed or duplicate datagram",
            DecodeError::StaleIncarnation => "datagram from an earlier boot of a box that has restarted",
            DecodeError::UnverifiedIncarnation => {
                "datagram from a boot of a box not yet verified (challenge sent)"
            }
        })
    }
}

/// Why a body could not be framed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The caller's buffer is too small; pass one of `limits::MAX_DATAGRAM` bytes.
    BufferTooSmall,
    /// The body does not fit in `limits::MAX_DATAGRAM` bytes.
    TooLarge,
    /// The body could not be serialised (postcard error other than size).
    Serialize,
    /// The key file was never read (`Key::Unread`): nothing can be sent.
    NoKey,
    /// 2⁶⁴ datagrams sent in this incarnation: restart to get a new one.
    SequenceExhausted,
}

impl EncodeError {
    /// The variant's name (`TooLarge`), as logged (`seal-failed error=`).
    pub fn name(self) -> &'static str {
        match self {
            EncodeError::BufferTooSmall => "BufferTooSmall",
            EncodeError::TooLarge => "TooLarge",
            EncodeError::Serialize => "Serialize",
            EncodeError::NoKey => "NoKey",
            EncodeError::SequenceExhausted => "SequenceExhausted",
        }
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EncodeError::BufferTooSmall => "send buffer too small for the datagram",
            EncodeError::TooLarge => "message too large for one datagram",
            EncodeError::Serialize => "message could not be encoded",
            EncodeError::NoKey => "the cluster key was not loaded",
            EncodeError::SequenceExhausted => {
                "datagram sequence numbers exhausted for this incarnation"
            }
        })
    }
}

/// Drop counters, one per [`DecodeError`], indexed by [`DecodeError::index`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Drops {
    counts: [u64; DecodeError::COUNT],
}

impl Drops {
    /// Count one drop.
    pub fn count(&mut self, reason: DecodeError) {
        if let Some(c) = self.counts.get_mut(reason.index()) {
            *c = c.saturating_add(1);
        }
    }

    /// Drops for one reason.
    pub fn get(&self, reason: DecodeError) -> u64 {
        self.counts.get(reason.index()).copied().unwrap_or(0)
    }

    /// Add every counter of `other` (drops summed over several codecs, as
    /// the simulator does over the daemons of a run).
    pub fn add(&mut self, other: &Drops) {
        for (c, o) in self.counts.iter_mut().zip(other.counts.iter()) {
            *c = c.saturating_add(*o);
        }
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.counts.iter().fold(0u64, |a, &c| a.saturating_add(c))
    }

    /// `(name, count)` for every reason, in a fixed order (zeros included).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DecodeError::ALL
            .iter()
            .map(move |&r| (r.name(), self.get(r)))
    }
}

/// A message that passed every check.
#[derive(Clone, Debug, PartialEq)]
pub struct Received {
    /// Its header.
    pub header: Header,
    /// Its body.
    pub body: Body,
}

/// How datagrams are authenticated.
#[derive(Clone)]
enum Auth {
    /// `key-file insecure`: no tag; [`FLAG_UNKEYED`] set.
    Insecure,
    /// HMAC state keyed and fed the label and cluster name, cloned per datagram.
    Keyed(HmacSha256),
    /// `Key::Unread`: fail closed; nothing is sent or accepted.
    Unusable,
}

impl Auth {
    fn tag_len(&self) -> usize {
        match self {
            Auth::Insecure => 0,
            Auth::Keyed(_) | Auth::Unusable => TAG_LEN,
        }
    }
}

/// The anti-replay window of one verified incarnation.
#[derive(Copy, Clone, Debug)]
struct Window {
    incarnation: u64,
    /// Highest sequence accepted.
    top: u64,
    /// Bit `i` set: sequence `top - i` was accepted (or predates verification).
    seen: u64,
}

impl Window {
    /// A window for an incarnation just verified at `seq`: everything it sent
    /// before (possibly recorded by a replayer) counts as seen.
    fn verified_at(incarnation: u64, seq: u64) -> Self {
        Window {
            incarnation,
            top: seq,
            seen: u64::MAX,
        }
    }

    /// Whether `seq` is new; does not change the window.
    fn check(&self, seq: u64) -> Result<(), DecodeError> {
        if seq > self.top {
            return Ok(());
        }
        let back = self.top - seq;
        if back >= REPLAY_WINDOW || self.seen & (1u64 << back) != 0 {
            return Err(DecodeError::Replayed);
        }
        Ok(())
    }

    /// Mark `seq` seen (after [`Window::check`] passed).
    fn mark(&mut self, seq: u64) {
        if seq > self.top {
            let shift = seq - self.top;
            self.seen = if shift >= REPLAY_WINDOW {
                0
            } else {
                self.seen << shift
            };
            self.seen |= 1;
            self.top = seq;
        } else {
            let back = self.top - seq;
            if back < REPLAY_WINDOW {
                self.seen |= 1u64 << back;
            }
        }
    }
}

/// What the codec knows about one sender.
#[derive(Copy, Clone, Debug, Default)]
struct Peer {
    /// The verified incarnation and its window.
    current: Option<Window>,
    /// The incarnation `current` replaced (a box that restarted).
    previous: Option<u64>,
    /// The outstanding challenge's nonce, kept until some incarnation echoes it.
    nonce: Option<u64>,
    /// When the last challenge was queued (rate limit).
    challenged_at: Option<Instant>,
    /// A challenge waits in [`Codec::poll_transmit`].
    send_challenge: bool,
    /// A response with this nonce waits in [`Codec::poll_transmit`].
    respond: Option<u64>,
}

/// SplitMix64: a bijection over a counter, so nonces never repeat in a boot.
#[derive(Clone, Debug)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Encoder/decoder with authentication and replay state (sans-IO: the shell
/// moves the bytes and hands in `now`).
pub struct Codec {
    cluster_id: u32,
    auth: Auth,
    me: NodeId,
    nodes: usize,
    incarnation: u64,
    /// Sequence of the last datagram sealed (0: none yet).
    seq: u64,
    rng: SplitMix,
    peers: [Peer; MAX_NODES],
    /// Where [`Codec::poll_transmit`] resumes, so no sender is starved.
    cursor: usize,
    drops: Drops,
}

impl Codec {
    /// New codec for this box.
    ///
    /// `cluster_id` is `Config::cluster_id()`, `cluster` the cluster name
    /// (authenticated in every tag), `me` this box's index, `nodes` the number
    /// of `node` lines (clamped to `MAX_NODES`), `incarnation` this boot's
    /// random incarnation, `seed` a random seed for challenge nonces. Both
    /// random numbers come from the kernel's random source.
    ///
    /// `Key::Unread` (a key file that was never loaded) fails closed: every
    /// `seal` is [`EncodeError::NoKey`], every keyed datagram [`DecodeError::BadTag`].
    pub fn new(
        cluster_id: u32,
        cluster: &str,
        key: &Key,
        me: NodeId,
        nodes: usize,
        incarnation: u64,
        seed: u64,
    ) -> Self {
        let auth = match key {
            Key::Insecure => Auth::Insecure,
            Key::Unread(_) => Auth::Unusable,
            Key::Secret(k) => match HmacSha256::new_from_slice(k) {
                Ok(mut mac) => {
                    mac.update(MAC_LABEL);
                    // A name is at most MAX_NAME bytes; the length byte keeps
                    // the name and the header apart in the MAC input.
                    let name = cluster.as_bytes();
                    mac.update(&[name.len().min(usize::from(u8::MAX)) as u8]);
                    mac.update(name);
                    Auth::Keyed(mac)
                }
                // HMAC takes keys of any length; fail closed all the same.
                Err(_) => Auth::Unusable,
            },
        };
        Codec {
            cluster_id,
            auth,
            me,
            nodes: nodes.min(MAX_NODES),
            incarnation,
            seq: 0,
            rng: SplitMix(seed),
            peers: [Peer::default(); MAX_NODES],
            cursor: 0,
            drops: Drops::default(),
        }
    }

    /// New codec from the configuration (what the shell calls).
    pub fn for_config(config: &Config, me: NodeId, incarnation: u64, seed: u64) -> Self {
        Codec::new(
            config.cluster_id(),
            &config.cluster,
            &config.key,
            me,
            config.nodes.len(),
            incarnation,
            seed,
        )
    }

    /// This box's incarnation, as sealed into every header.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// Sequence of the last datagram sealed (0: none yet).
    pub fn last_seq(&self) -> u64 {
        self.seq
    }

    /// The verified incarnation of `node`, if any (for `bongoyo status`).
    pub fn verified_incarnation(&self, node: NodeId) -> Option<u64> {
        self.peers
            .get(usize::from(node))?
            .current
            .map(|w| w.incarnation)
    }

    /// Frame `body` for every box into `buf`; returns the datagram length.
    /// Same as [`Codec::seal_to`] with `None`.
    pub fn seal(&mut self, body: &Body, buf: &mut [u8]) -> Result<usize, EncodeError> {
        self.seal_to(None, body, buf)
    }

    /// Frame `body` into `buf` for one box (`Some(node)`: every other box
    /// drops it as [`DecodeError::NotForUs`]) or for all (`None`); returns
    /// the datagram length. `buf` should hold `limits::MAX_DATAGRAM` bytes;
    /// nothing longer is ever produced. Every datagram gets the next
    /// sequence number; a failed seal uses none.
    pub fn seal_to(
        &mut self,
        to: Option<NodeId>,
        body: &Body,
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let tag_len = self.auth.tag_len();
        if matches!(self.auth, Auth::Unusable) {
            return Err(EncodeError::NoKey);
        }
        let cap = buf.len().min(MAX_DATAGRAM);
        if cap < HEADER_LEN + tag_len {
            return Err(EncodeError::BufferTooSmall);
        }
        let seq = self
            .seq
            .checked_add(1)
            .ok_or(EncodeError::SequenceExhausted)?;
        let (head, rest) = buf.split_at_mut(HEADER_LEN);
        let room = cap - HEADER_LEN - tag_len;
        let body_len = match rest.get_mut(..room).map(|b| postcard::to_slice(body, b)) {
            Some(Ok(out)) => out.len(),
            Some(Err(postcard::Error::SerializeBufferFull)) if cap == MAX_DATAGRAM => {
                return Err(EncodeError::TooLarge)
            }
            Some(Err(postcard::Error::SerializeBufferFull)) | None => {
                return Err(EncodeError::BufferTooSmall)
            }
            Some(Err(_)) => return Err(EncodeError::Serialize),
        };
        let flags = if tag_len == 0 { FLAG_UNKEYED } else { 0 };
        head[..2].copy_from_slice(&MAGIC);
        head[OFF_VERSION] = VERSION;
        head[OFF_FLAGS] = flags;
        head[OFF_CLUSTER..OFF_SENDER].copy_from_slice(&self.cluster_id.to_be_bytes());
        head[OFF_SENDER] = self.me;
        head[OFF_DEST] = to.unwrap_or(TO_ALL);
        head[OFF_INCARNATION..OFF_SEQ].copy_from_slice(&self.incarnation.to_be_bytes());
        head[OFF_SEQ..OFF_LEN].copy_from_slice(&seq.to_be_bytes());
        // body_len <= MAX_BODY < 2^16.
        head[OFF_LEN..HEADER_LEN].copy_from_slice(&(body_len as u16).to_be_bytes());
        let end = HEADER_LEN + body_len;
        if let Auth::Keyed(base) = &self.auth {
            let mut mac = base.clone();
            mac.update(&buf[..end]);
            let tag = mac.finalize().into_bytes();
            buf[end..end + TAG_LEN].copy_from_slice(&tag[..TAG_LEN]);
        }
        self.seq = seq;
        Ok(end + tag_len)
    }

    /// Check and decode a datagram. `Ok(None)`: handled inside the codec
    /// (challenge or response). Every `Err` has been counted in [`Codec::drops`].
    pub fn open(&mut self, now: Instant, buf: &[u8]) -> Result<Option<Received>, DecodeError> {
        let r = self.open_inner(now, buf);
        if let Err(e) = r {
            self.drops.count(e);
        }
        r
    }

    /// A message the codec itself wants sent (challenge or response), and to
    /// whom. Seal it with [`Codec::seal_to`]`(Some(node), ..)` (so no other
    /// box answers it) and send it to that node, by unicast or multicast.
    /// Call until `None` after each `open`.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<(NodeId, Body)> {
        for i in 0..self.nodes {
            let n = (self.cursor + i) % self.nodes;
            let Some(peer) = self.peers.get_mut(n) else {
                continue;
            };
            let out = if let Some(nonce) = peer.respond.take() {
                Body::Response { nonce }
            } else if peer.send_challenge {
                peer.send_challenge = false;
                match peer.nonce {
                    Some(nonce) => Body::Challenge { nonce },
                    None => continue,
                }
            } else {
                continue;
            };
            self.cursor = (n + 1) % self.nodes;
            return Some((n as NodeId, out));
        }
        None
    }

    /// The drop counters.
    pub fn drops(&self) -> &Drops {
        &self.drops
    }

    fn open_inner(&mut self, now: Instant, buf: &[u8]) -> Result<Option<Received>, DecodeError> {
        let (header, body) = self.check_frame(buf)?;
        let sender = usize::from(header.sender);
        let Some(peer) = self.peers.get_mut(sender) else {
            return Err(DecodeError::UnknownSender);
        };

        // The verified incarnation: the replay window decides.
        if let Some(w) = peer
            .current
            .as_mut()
            .filter(|w| w.incarnation == header.incarnation)
        {
            w.check(header.seq)?;
            w.mark(header.seq);
            return Ok(match body {
                Body::Challenge { nonce } => {
                    peer.respond = Some(nonce);
                    None
                }
                Body::Response { nonce } => {
                    // Our challenge (sent because of some other incarnation's
                    // datagram) is answered by the live one: nothing to change.
                    if peer.nonce == Some(nonce) {
                        peer.nonce = None;
                        peer.send_challenge = false;
                    }
                    None
                }
                body => Some(Received { header, body }),
            });
        }
        if peer.previous == Some(header.incarnation) {
            return Err(DecodeError::StaleIncarnation);
        }

        // An incarnation we have not verified.
        match body {
            Body::Challenge { nonce } => {
                peer.respond = Some(nonce);
                Self::challenge(peer, &mut self.rng, now);
                Ok(None)
            }
            Body::Response { nonce } if peer.nonce == Some(nonce) => {
                peer.previous = peer.current.map(|w| w.incarnation);
                peer.current = Some(Window::verified_at(header.incarnation, header.seq));
                peer.nonce = None;
                peer.send_challenge = false;
                Ok(None)
            }
            _ => {
                Self::challenge(peer, &mut self.rng, now);
                Err(DecodeError::UnverifiedIncarnation)
            }
        }
    }

    /// Queue a challenge to `peer` unless one waits or one went out less
    /// than [`RECHALLENGE`] ago. The nonce stays the same until answered, so
    /// a response to an earlier copy of the challenge still counts.
    fn challenge(peer: &mut Peer, rng: &mut SplitMix, now: Instant) {
        if peer.send_challenge {
            return;
        }
        if let Some(at) = peer.challenged_at {
            if now < at + RECHALLENGE {
                return;
            }
        }
        if peer.nonce.is_none() {
            peer.nonce = Some(rng.next());
        }
        peer.challenged_at = Some(now);
        peer.send_challenge = true;
    }

    /// Every check that needs no per-sender state, in the order of the
    /// cheapest first; the MAC last before decoding the body.
    fn check_frame(&self, buf: &[u8]) -> Result<(Header, Body), DecodeError> {
        let head: &[u8; HEADER_LEN] = buf
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(DecodeError::TooShort)?;
        if buf.len() > MAX_DATAGRAM {
            return Err(DecodeError::TooLarge);
        }
        if head[..OFF_VERSION] != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let flags = head[OFF_FLAGS];
        if head[OFF_VERSION] != VERSION || flags & !KNOWN_FLAGS != 0 {
            return Err(DecodeError::BadVersion);
        }
        if be_u32(head, OFF_CLUSTER) != self.cluster_id {
            return Err(DecodeError::OtherCluster);
        }
        let unkeyed = flags & FLAG_UNKEYED != 0;
        match (&self.auth, unkeyed) {
            (Auth::Insecure, false) => return Err(DecodeError::Keyed),
            (Auth::Keyed(_) | Auth::Unusable, true) => return Err(DecodeError::Unkeyed),
            _ => {}
        }
        let tag_len = if unkeyed { 0 } else { TAG_LEN };
        let body_len = usize::from(u16::from_be_bytes([head[OFF_LEN], head[OFF_LEN + 1]]));
        if HEADER_LEN + body_len + tag_len != buf.len() {
            return Err(DecodeError::BadLength);
        }
        let header = Header {
            sender: head[OFF_SENDER],
            to: match head[OFF_DEST] {
                TO_ALL => None,
                n => Some(n),
            },
            incarnation: be_u64(head, OFF_INCARNATION),
            seq: be_u64(head, OFF_SEQ),
        };
        if usize::from(header.sender) >= self.nodes {
            return Err(DecodeError::UnknownSender);
        }
        if header.sender == self.me {
            return Err(DecodeError::FromSelf);
        }
        if header.to.is_some_and(|to| to != self.me) {
            return Err(DecodeError::NotForUs);
        }
        let end = HEADER_LEN + body_len;
        let (signed, tag) = buf.split_at(end);
        match &self.auth {
            Auth::Insecure => {}
            Auth::Keyed(base) => {
                let mut mac = base.clone();
                mac.update(signed);
                mac.verify_truncated_left(tag)
                    .map_err(|_| DecodeError::BadTag)?;
            }
            Auth::Unusable => return Err(DecodeError::BadTag),
        }
        let body_bytes = signed.get(HEADER_LEN..).ok_or(DecodeError::BadLength)?;
        match postcard::take_from_bytes::<Body>(body_bytes) {
            Ok((body, [])) => Ok((header, body)),
            _ => Err(DecodeError::Malformed),
        }
    }
}

fn be_u32(head: &[u8; HEADER_LEN], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(s) = head.get(at..at + 4) {
        b.copy_from_slice(s);
    }
    u32::from_be_bytes(b)
}

fn be_u64(head: &[u8; HEADER_LEN], at: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(s) = head.get(at..at + 8) {
        b.copy_from_slice(s);
    }
    u64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_error_names_are_their_debug() {
        for e in [
            EncodeError::BufferTooSmall,
            EncodeError::TooLarge,
            EncodeError::Serialize,
            EncodeError::NoKey,
            EncodeError::SequenceExhausted,
        ] {
            assert_eq!(e.name(), format!("{e:?}"));
        }
    }

    const ID: u32 = 0x1234_5678;
    const NAME: &str = "office-nas";
    const T0: Instant = Instant(1_000);

    fn secret(fill: u8) -> Key {
        Key::Secret(heapless::Vec::from_slice(&[fill; 32]).unwrap())
    }

    fn keyed(me: NodeId, incarnation: u64) -> Codec {
        Codec::new(
            ID,
            NAME,
            &secret(7),
            me,
            3,
            incarnation,
            1000 + u64::from(me),
        )
    }

    fn insecure(me: NodeId, incarnation: u64) -> Codec {
        Codec::new(
            ID,
            NAME,
            &Key::Insecure,
            me,
            3,
            incarnation,
            2000 + u64::from(me),
        )
    }

    fn probe() -> Body {
        Body::ProbeRequest {
            target: 2,
            nonce: 99,
        }
    }

    fn seal(c: &mut Codec, body: &Body) -> Vec<u8> {
        let mut buf = [0u8; MAX_DATAGRAM];
        let n = c.seal(body, &mut buf).unwrap();
        buf[..n].to_vec()
    }

    /// A datagram with an arbitrary body, correctly tagged with `c`'s key.
    fn forge(c: &Codec, incarnation: u64, seq: u64, body: &[u8]) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&MAGIC);
        d.push(VERSION);
        d.push(if matches!(c.auth, Auth::Insecure) {
            FLAG_UNKEYED
        } else {
            0
        });
        d.extend_from_slice(&ID.to_be_bytes());
        d.push(c.me);
        d.push(TO_ALL);
        d.extend_from_slice(&incarnation.to_be_bytes());
        d.extend_from_slice(&seq.to_be_bytes());
        d.extend_from_slice(&(body.len() as u16).to_be_bytes());
        d.extend_from_slice(body);
        retag(c, &mut d);
        d
    }

    /// Recompute the tag of `d` (without a tag) with `c`'s key and append it.
    fn retag(c: &Codec, d: &mut Vec<u8>) {
        if let Auth::Keyed(base) = &c.auth {
            let mut mac = base.clone();
            mac.update(d);
            d.extend_from_slice(&mac.finalize().into_bytes()[..TAG_LEN]);
        }
    }

    /// Make `b` verify `a`'s current incarnation: a's datagram, then the
    /// challenges and responses both codecs queue, until both are quiet.
    fn verify(a: &mut Codec, b: &mut Codec, now: Instant) {
        let d = seal(a, &probe());
        assert_eq!(b.open(now, &d), Err(DecodeError::UnverifiedIncarnation));
        for _ in 0..4 {
            while let Some((to, body)) = b.poll_transmit() {
                assert_eq!(to, a.me);
                let d = seal(b, &body);
                assert_eq!(a.open(now, &d), Ok(None));
            }
            while let Some((to, body)) = a.poll_transmit() {
                assert_eq!(to, b.me);
                let d = seal(a, &body);
                assert_eq!(b.open(now, &d), Ok(None));
            }
        }
        assert_eq!(b.verified_incarnation(a.me), Some(a.incarnation));
    }

    #[test]
    fn header_layout_is_fixed() {
        let mut a = keyed(1, 0x0102_0304_0506_0708);
        let d = seal(&mut a, &probe());
        assert_eq!(&d[..2], b"BG");
        assert_eq!(d[2], VERSION);
        assert_eq!(d[3], 0);
        assert_eq!(&d[4..8], &ID.to_be_bytes());
        assert_eq!(d[8], 1);
        assert_eq!(d[9], TO_ALL);
        assert_eq!(&d[10..18], &0x0102_0304_0506_0708u64.to_be_bytes());
        assert_eq!(&d[18..26], &1u64.to_be_bytes());
        let body_len = usize::from(u16::from_be_bytes([d[26], d[27]]));
        assert_eq!(d.len(), HEADER_LEN + body_len + TAG_LEN);
        // The sequence is assigned by the codec and strictly increases.
        let d2 = seal(&mut a, &probe());
        assert_eq!(&d2[18..26], &2u64.to_be_bytes());
        assert_eq!(a.last_seq(), 2);
    }

    #[test]
    fn too_short_and_every_truncation() {
        let mut a = keyed(1, 5);
        let mut b = keyed(0, 6);
        let d = seal(&mut a, &probe());
        for len in 0..d.len() {
            let want = if len < HEADER_LEN {
                DecodeError::TooShort
            } else {
                DecodeError::BadLength
            };
            assert_eq!(b.open(T0, &d[..len]), Err(want), "truncated to {len}");
        }
        assert_eq!(b.drops().get(DecodeError::TooShort), HEADER_LEN as u64);
        assert_eq!(
            b.drops().get(DecodeError::BadLength),
            (d.len() - HEADER_LEN) as u64
        );
    }

    #[test]
    fn too_large() {
        let a = keyed(1, 5);
        let mut b = keyed(0, 6);
        let d = forge(&a, 5, 1, &[0u8; MAX_BODY + 1]);
        assert_eq!(d.len(), MAX_DATAGRAM + 1);
        assert_eq!(b.open(T0, &d), Err(DecodeError::TooLarge));
        assert_eq!(b.open(T0, &[0u8; 65_535]), Err(DecodeError::TooLarge));
        assert_eq!(b.drops().get(DecodeError::TooLarge), 2);
    }

    #[test]
    fn bad_magic_and_garbage() {
        let mut a = keyed(1, 5);
        let mut b = keyed(0, 6);
        let mut d = seal(&mut a, &probe());
        d[0] = b'X';
        assert_eq!(b.open(T0, &d), Err(DecodeError::BadMagic));
        assert_eq!(b.open(T0, &[0xa5; 100]), Err(DecodeError::BadMagic));
        assert_eq!(
            b.open(T0, b"GET / HTTP/1.1\r\nHost: example\r\n\r\n"),
            Err(DecodeError::BadMagic)
        );
    }

    #[test]
    fn bad_version_and_unknown_flags() {
        let mut a = keyed(1, 5);
        let mut b = keyed(0, 6);
        let mut d = seal(&mut a, &probe());
        d[OFF_VERSION] = VERSION + 1;
        assert_eq!(b.open(T0, &d), Err(DecodeError::BadVersion));
        let mut d = seal(&mut a, &probe());
        d[OFF_FLAGS] = 0x80;
        assert_eq!(b.open(T0, &d), Err(DecodeError::BadVersion));
        assert_eq!(b.drops().get(DecodeError::BadVersion), 2);
    }

    #[test]
    fn other_cluster_by_id() {
        let mut a = Codec::new(ID ^ 1, "other", &secret(7), 1, 3, 5, 1);
        let mut b = keyed(0, 6);
        let d = seal(&mut a, &probe());
        assert_eq!(b.open(T0, &d), Err(DecodeError::OtherCluster));
    }

    #[test]
    fn same_key_same_id_other_cluster_name_is_bad_tag() {
        // Two clusters sharing a key whose 32-bit ids collide: the name in the
        // MAC still keeps them apart.
        let mut a = Codec::new(ID, "lab-nas", &secret(7), 1, 3, 5, 1);
        let mut b = keyed(0, 6);
        let d = seal(&mut a, &probe());
        assert_eq!(b.open(T0, &d), Err(DecodeError::BadTag));
    }

    #[test]
    fn bad_length_declared_vs_actual() {
        let mut a = keyed(1, 5);
        let mut b = keyed(0, 6);
        let mut d = seal(&mut a, &probe());
        d[OFF_LEN + 1] = d[OFF_LEN + 1].wrapping_add(1);
        assert_eq!(b.open(T0, &d), Err(DecodeError::BadLength));
        let mut d = seal(&mut a, &probe());
        d.push(0);
        assert_eq!(b.open(T0, &d), Err(DecodeError::BadLength));
    }

    #[test]
    fn keyed_and_unkeyed_do_not_mix() {
        let mut k = keyed(1, 5);
        let mut i = insecure(0, 6);
        let d = seal(&mut k, &probe());
        assert_eq!(i.open(T0, &d), Err(DecodeError::Keyed));
        let d = seal(&mut i, &probe());
        assert_eq!(d[OFF_FLAGS], FLAG_UNKEYED);
        assert_eq!(k.open(T0, &d), Err(DecodeError::Unkeyed));
        // Setting the flag on a keyed datagram does not make it acceptable
        // to an insecure box either: the length no longer matches.
        let mut d = seal(&mut k, &probe());
        d[OFF_FLAGS] = FLAG_UNKEYED;
        assert_eq!(i.open(T0, &d), Err(DecodeError::BadLength));
    }

    #[test]
    fn insecure_round_trip() {
        let mut a = insecure(1, 5);
        let mut b = insecure(0, 6);
        verify(&mut a, &mut b, T0);
        let d = seal(&mut a, &probe());
        assert_eq!(d.len(), HEADER_LEN + 3);
        let r = b.open(T0, &d).unwrap().unwrap();
        assert_eq!(r.body, probe());
        assert_eq!(
            r.header,
            Header {
                sender: 1,
                to: None,
                incarnation: 5,
                seq: a.last_seq()
            }
        );
    }

    #[test]
    fn unknown_sender() {
        let mut a = Codec::new(ID, NAME, &secret(7), 5, 8, 5, 1);
        let mut b = keyed(0, 6);
        let d = seal(&mut a, &probe());
        assert_eq!(b.open(T0, &d), Err(DecodeError::UnknownSender));
    }

    #[test]
    fn from_self_is_counted() {
        let mut a = keyed(1, 5);
        let d = seal(&mut a, &probe());
        assert_eq!(a.open(T0, &d), Err(DecodeError::FromSelf));
        assert!(a.poll_transmit().is_none());
        assert_eq!(a.drops().get(DecodeError::FromSelf), 1);
    }

    #[test]
    fn not_for_us() {
        let mut a = keyed(1, 5);
        let mut b = keyed(0, 6);
        let mut c = keyed(2, 7);
        verify(&mut a, &mut b, T0);
        verify(&mut a, &mut c, T0);
        let mut buf = [0u8; MAX_DATAGRAM];
        let n = a.seal_to(Some(2), &probe(), &mut buf).unwrap();
        assert_eq!(b.open(T0, &buf[..n]), Err(DecodeError::NotForUs));
        let r = c.open(T0, &buf[..n]).unwrap().unwrap();
        assert_eq!(r.header.to, Some(2));
        // Readdressing it breaks the tag.
        let mut d = buf[..n].to_vec();
        d[OFF_DEST] = 0;
        assert_eq!(b.open(T0, &d), Err(DecodeError::BadTag));
        d[OFF_DEST] = TO_ALL;
        assert_eq!(b.open(T0, &d), Err(DecodeError::BadTag));
    }

    #[test]
    fn wrong_key_is_bad_tag() {
        let mut a = Codec::new(ID, NAME, &secret(8), 1, 3, 5, 1);
        let mut b = keyed(0, 6);
        let d = seal(&mut a, &probe());
        assert_eq!(b.open(T0, &d), Err(DecodeError::BadTag));
        assert!(
            b.poll_transmit().is_none(),
            "no challenge to an unauthenticated sender"
        );
    }

    #[test]
    fn every_flipped_bit_is_rejected() {
        let mut a = keyed(1, 5);
        let mut b = keyed(0, 6);
        verify(&mut a, &mut b, T0);
        let d = seal(
            &mut a,
            &Body::Outcome {
                vserver: 3,
                round: 17,
                ok: true,
            },
        );
        for byte in 0..d.len() {
            for bit in 0..8 {
                let mut f = d.clone();
                f[byte] ^= 1 << bit;
                let r = b.open(T0, &f);
                if byte >= OFF_INCARNATION && !(OFF_LEN..HEADER_LEN).contains(&byte) {
                    assert_eq!(r, Err(DecodeError::BadTag), "byte {byte} bit {bit}");
                } else {
                    assert!(r.is_err(), "byte {byte} bit {bit}: {r:?}");
                }
            }
        }
        // The genuine datagram still passes afterwards.
        assert!(b.open(T0, &d).unwrap().is_some());
    }

    #[test]
    fn malformed_body_and_trailing_bytes() {
        let mut a = keyed(1, 5);
        let mut b = keyed(0, 6);
        verify(&mut a, &mut b, T0);
        // Enum tag 200 does not exist.
        let d = forge(&a, 5, 100, &[200, 1, 2]);
        assert_eq!(b.open(T0, &d), Err(DecodeError::Malformed));
        // A Hello cut short.
        let d = forge(&a, 5, 101, &[0, 1]);
        assert_eq!(b.open(T0, &d), Err(DecodeError::Malformed));
        // A valid body followed by a stray byte.
        let mut body = [0u8; 64];
        let n = postcard::to_slice(&probe(), &mut body).unwrap().len();
        let mut with_tail = body[..n].to_vec();
        with_tail.push(0);
        let d = forge(&a, 5, 102, &with_tail);
        assert_eq!(b.open(T0, &d), Err(DecodeError::Malformed));
        // An empty body.
        let d = forge(&a, 5, 103, &[]);
        assert_eq!(b.open(T0, &d), Err(DecodeError::Malformed));
        assert_eq!(b.drops().get(DecodeError::Malformed), 4);
        // The forged bodies were right otherwise: a good one passes.
        let d = forge(&a, 5, 104, &body[..n]);
        assert_eq!(b.open(T0, &d).unwrap().unwrap().body, probe());
    }

    #[test]
    fn replay_of_the_same_datagram() {
        let mut a = keyed(1, 5);
        let mut b = keyed(0, 6);
        verify(&mut a, &mut b, T0);
        let d = seal(&mut a, &probe());
        assert!(b.open(T0, &d).unwrap().is_some());
        assert_eq!(b.open(T0, &d), Err(DecodeError::Replayed));
        assert_eq!(b.open(T0, &d), Err(DecodeError::Replayed));
        assert_eq!(b.drops().get(DecodeError::Replayed), 2);
    }

    #[test]
    fn window_accepts_reordering_once_and_rejects_below_it() {
        let mut a = keyed(1, 5);
        let mut b = keyed(0, 6);
        verify(&mut a, &mut b, T0);
        let held: Vec<Vec<u8>> = (0..70).map(|_| seal(&mut a, &probe())).collect();
        // Deliver the newest first, then the rest in reverse: those within
        // 64 of the newest pass once, the older ones are below the window.
        let mut accepted = 0;
        for d in held.iter().rev() {
            if b.open(T0, d).is_ok() {
                accepted += 1;
            }
        }
        assert_eq!(accepted, REPLAY_WINDOW as usize);
        assert_eq!(b.drops().get(DecodeError::Replayed), 70 - REPLAY_WINDOW);
        for d in &held {
            assert_eq!(b.open(T0, d), Err(DecodeError::Replayed));
        }
    }

    #[test]
    fn replay_after_the_window_moved() {
        let mut a = keyed(1, 5);
        let mut b = keyed(0, 6);
        verify(&mut a, &mut b, T0);
        let first = seal(&mut a, &probe());
        assert!(b.open(T0, &first).is_ok());
        for _ in 0..200 {
            let d = seal(&mut a, &probe());
            assert!(b.open(T0, &d).is_ok());
        }
        assert_eq!(b.open(T0, &first), Err(DecodeError::Replayed));
    }

    #[test]
    fn datagrams_sent_before_verification_stay_undelivered() {
        let mut a = keyed(1, 5);
        let mut b = keyed(0, 6);
        let early = seal(&mut a, &probe());
        verify(&mut a, &mut b, T0);
        // A replayer holding `early` (or a late copy of it) gets nothing.
        assert_eq!(b.open(T0, &early), Err(DecodeError::Replayed));
    }

    #[test]
    fn unverified_incarnation_is_challenged_with_a_rate_limit() {
        let mut a = keyed(1, 5);
        let mut b = keyed(0, 6);
        let d1 = seal(&mut a, &probe());
        assert_eq!(b.open(T0, &d1), Err(DecodeError::UnverifiedIncarnation));
        let Some((1, Body::Challenge { nonce })) = b.poll_transmit() else {
            panic!("no challenge")
        };
        assert!(b.poll_transmit().is_none());
        // Within 100 ms: dropped and counted, no second challenge.
        let d2 = seal(&mut a, &probe());
        assert_eq!(
            b.open(Instant(T0.0 + 99), &d2),
            Err(DecodeError::UnverifiedIncarnation)
        );
        assert!(b.poll_transmit().is_none());
        // After 100 ms: challenged again with the same nonce (an answer to
        // the first copy still counts).
        let d3 = seal(&mut a, &probe());
        assert_eq!(
            b.open(Instant(T0.0 + 100), &d3),
            Err(DecodeError::UnverifiedIncarnation)
        );
        assert_eq!(b.poll_transmit(), Some((1, Body::Challenge { nonce })));
        assert_eq!(b.drops().get(DecodeError::UnverifiedIncarnation), 3);
    }

    #[test]
    fn wrong_nonce_does_not_verify() {
        let mut a = keyed(1, 5);
        let mut b = keyed(0, 6);
        let d = seal(&mut a, &probe());
        assert_eq!(b.open(T0, &d), Err(DecodeError::UnverifiedIncarnation));
        let Some((1, Body::Challenge { nonce })) = b.poll_transmit() else {
            panic!("no challenge")
        };
        let d = seal(&mut a, &Body::Response { nonce: nonce ^ 1 });
        assert_eq!(b.open(T0, &d), Err(DecodeError::UnverifiedIncarnation));
        assert_eq!(b.verified_incarnation(1), None);
        let d = seal(&mut a, &Body::Response { nonce });
        assert_eq!(b.open(T0, &d), Ok(None));
        assert_eq!(b.verified_incarnation(1), Some(5));
    }

    #[test]
    fn restart_makes_the_old_incarnation_stale() {
        let mut b = keyed(0, 6);
        let mut old = keyed(1, 5);
        verify(&mut old, &mut b, T0);
        let recorded = seal(&mut old, &probe());
        let late = seal(&mut old, &probe());
        assert!(b.open(T0, &recorded).unwrap().is_some());

        // The box restarts: new incarnation, sequence from 1 again.
        let mut new = keyed(1, 77);
        let t1 = Instant(T0.0 + 5_000);
        verify(&mut new, &mut b, t1);
        assert_eq!(b.open(t1, &late), Err(DecodeError::StaleIncarnation));
        assert_eq!(b.open(t1, &recorded), Err(DecodeError::StaleIncarnation));
        assert!(
            b.poll_transmit().is_none(),
            "no challenge for a stale incarnation"
        );
        let d = seal(&mut new, &probe());
        assert!(b.open(t1, &d).unwrap().is_some());
    }

    #[test]
    fn unusable_key_fails_closed() {
        let unread = Key::Unread(heapless::String::try_from("/etc/bongoyo.key").unwrap());
        let mut u = Codec::new(ID, NAME, &unread, 0, 3, 6, 1);
        let mut buf = [0u8; MAX_DATAGRAM];
        assert_eq!(u.seal(&probe(), &mut buf), Err(EncodeError::NoKey));
        let mut a = keyed(1, 5);
        let d = seal(&mut a, &probe());
        assert_eq!(u.open(T0, &d), Err(DecodeError::BadTag));
    }

    #[test]
    fn seal_errors_use_no_sequence() {
        let mut a = keyed(1, 5);
        let mut small = [0u8; HEADER_LEN + TAG_LEN];
        assert_eq!(
            a.seal(&probe(), &mut small),
            Err(EncodeError::BufferTooSmall)
        );
        assert_eq!(
            a.seal(&probe(), &mut [0u8; 3]),
            Err(EncodeError::BufferTooSmall)
        );
        assert_eq!(a.last_seq(), 0);
    }

    #[test]
    fn drops_add_up_by_reason() {
        let mut a = Drops::default();
        let mut b = Drops::default();
        a.count(DecodeError::Replayed);
        b.count(DecodeError::Replayed);
        b.count(DecodeError::BadTag);
        a.add(&b);
        assert_eq!(a.get(DecodeError::Replayed), 2);
        assert_eq!(a.get(DecodeError::BadTag), 1);
        assert_eq!(a.total(), 3);
        assert_eq!(b.total(), 2, "the other side is unchanged");
    }

    #[test]
    fn drops_iterate_by_name() {
        let mut b = keyed(0, 6);
        let _ = b.open(T0, &[]);
        let _ = b.open(T0, &[0; 40]);
        let names: Vec<(&str, u64)> = b.drops().iter().collect();
        assert_eq!(names.len(), DecodeError::COUNT);
        assert!(names.contains(&("too-short", 1)));
        assert!(names.contains(&("bad-magic", 1)));
        assert_eq!(b.drops().total(), 2);
        for (i, r) in DecodeError::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            assert!(!r.to_string().is_empty());
        }
    }
}
