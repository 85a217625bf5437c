//! The cluster's messages: what they mean, not how they are framed.
//!
//! Nodes and vservers are named by their index in the configuration file,
//! which is the same on every box; hellos carry a digest of the file so a box
//! running a different one is noticed. Every collection is a `heapless` type
//! so decoding never allocates.

use heapless::Vec;
use serde::{Deserialize, Serialize};

use crate::config::{NodeId, VsId};
use crate::limits::{MAX_ANSWERING, MAX_NODES, MAX_VSERVERS};

// Sets of boxes travel as `u32` bitmasks (`hears`, `excluded`, and the
// monitor's and the core's node sets) and sets of vservers as `u64`
// (`claims`), bit `i` for index `i`: every index needs its bit.
const _: () = assert!(MAX_NODES <= u32::BITS as usize);
const _: () = assert!(MAX_VSERVERS <= u64::BITS as usize);

/// A box's role as it announces it in hellos (docs/MODEL.md).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Just started: listening for one dead interval before acting.
    Joining,
    /// On the priority list, neither boss nor deputy.
    Member,
    /// A live copy of the boss's state; the first in line to succeed it.
    Deputy,
    /// Boss elected but without quorum: monitors, does not act.
    SemiBoss,
    /// The one boss.
    Boss,
    /// Not fully functional: never boss, deputy or volunteer.
    Hold,
}

/// The heartbeat, multicast every `hello` by every box.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// Hello sequence number, counted by the sender's core from 1 per
    /// incarnation; acknowledgements name it (docs/MODEL.md, lease).
    pub seq: u32,
    /// What the sender is.
    pub role: Role,
    /// The boss the sender follows and endorses (itself if boss): the
    /// acknowledgement in `acks` for that boss counts toward its boss lease.
    /// `None` while the sender may not endorse anyone yet: while joining, and
    /// for one lease after it last heard a previous boss (see
    /// `cluster::lease`), so two bosses' leases can never overlap.
    pub boss: Option<NodeId>,
    /// The generation of the boss it follows.
    pub generation: u32,
    /// Milliseconds since the sender's daemon started.
    pub uptime_ms: u64,
    /// Health 0-100 (self-checks, load, free memory); ranks the priority list.
    pub health: u8,
    /// Digest of the sender's configuration (`Config::digest`).
    pub config_digest: u32,
    /// The sender's MAC on the cluster interface (tells who answers ARP).
    pub mac: [u8; 6],
    /// Bit `v` set: the sender claims vserver `v`.
    pub claims: u64,
    /// Suitability 0-100 per vserver, by index (0 = won't).
    pub suitability: Vec<u8, MAX_VSERVERS>,
    /// Bit `n` set: the sender heard node `n` within the dead interval.
    pub hears: u32,
    /// Acknowledgements: the newest hello sequence heard from each node, by
    /// index (0 = none). Leases are renewed by these (docs/MODEL.md).
    pub acks: Vec<Ack, MAX_NODES>,
    /// The boss's published priority list, best first (empty from others).
    pub list: Vec<NodeId, MAX_NODES>,
}

/// The newest hello heard from one node, echoed back to renew its lease.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The incarnation the sequence belongs to.
    pub incarnation: u64,
    /// The hello's sequence number.
    pub seq: u32,
}

/// One box's record as the boss keeps it (downtime history).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Total milliseconds this box was lost, decayed over time.
    pub downtime_ms: u64,
    /// Times it was declared lost.
    pub losses: u32,
    /// Milliseconds it has been lost so far (0 if alive).
    pub lost_for_ms: u64,
    /// The lost-alert for the current loss was raised already (a deputy
    /// that becomes boss does not raise it twice).
    pub alerted: bool,
}

/// One vserver's entry in the boss's table.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VsEntry {
    /// Combo state, three ASCII characters (`b"UU1"`).
    pub combo: [u8; 3],
    /// The box told to serve it, if any.
    pub holder: Option<NodeId>,
    /// The volunteer round or takeover under way (0 = none).
    pub round: u32,
    /// Milliseconds since the state last changed.
    pub since_ms: u64,
    /// Bit `n` set: node `n` is excluded from volunteering for a while.
    pub excluded: u32,
}

/// The boss's whole state, streamed to the deputies every hello.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateSync {
    /// The boss's generation.
    pub generation: u32,
    /// The priority list, best first.
    pub list: Vec<NodeId, MAX_NODES>,
    /// The deputies, first in line first.
    pub deputies: Vec<NodeId, 2>,
    /// Every box's record, by index (repeated in every page: each page
    /// stands alone, so a lost page costs nothing but its own entries).
    pub records: Vec<Record, MAX_NODES>,
    /// Index of the first vserver in this page.
    pub first: VsId,
    /// Vserver entries `first..first + len`, by index.
    pub vservers: Vec<VsEntry, SYNC_PAGE>,
}

/// Vserver entries per state-sync page. The whole table does not fit one
/// datagram at the limits (64 maximal entries take 1,601 bytes, 32 maximal
/// records 833, a body 1,356 at most), so the boss streams it in pages of
/// 16: a page with every field at its maximum takes 1,277 bytes
/// (`tests/proto_sizes.rs` pins it).
pub const SYNC_PAGE: usize = 16;

/// Every message the cluster exchanges.
// The state sync is large; boxing it would allocate on every decode.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Body {
    /// The heartbeat.
    Hello(Hello),
    /// "Do you still hear `target`?" (indirect probe before declaring it lost).
    ProbeRequest {
        /// The box the asker misses.
        target: NodeId,
        /// Matches the answer to the question.
        nonce: u32,
    },
    /// The answer to a probe request.
    ProbeAnswer {
        /// The box asked about.
        target: NodeId,
        /// The question's nonce.
        nonce: u32,
        /// Milliseconds since the answerer last heard `target` (`None`: never).
        heard_ms_ago: Option<u32>,
    },
    /// Boss to all: who will take over this vserver?
    VolunteerRequest {
        /// The vserver.
        vserver: VsId,
        /// The round's number.
        round: u32,
        /// Probe the address before answering (fencing layer 3, seen from
        /// every volunteer): a lost box's kernel may still hold it.
        probe: bool,
    },
    /// A box's answer to a volunteer request.
    VolunteerAnswer {
        /// The vserver.
        vserver: VsId,
        /// The round answered.
        round: u32,
        /// Suitability 0-100 from the self-check (0 = won't).
        suitability: u8,
        /// How many vservers the box already holds (spreads the load).
        holding: u8,
        /// Asked to probe: the MACs that answered for the address (all
        /// zeros: something answered a check that shows no MAC).
        answering: Vec<[u8; 6], MAX_ANSWERING>,
    },
    /// Boss to the chosen volunteer: take over this vserver.
    Assume {
        /// The vserver.
        vserver: VsId,
        /// The round it was chosen in.
        round: u32,
        /// The boss's generation (a stale boss's orders are ignored).
        generation: u32,
    },
    /// Boss to a holder: release this vserver.
    Release {
        /// The vserver.
        vserver: VsId,
        /// The boss's generation.
        generation: u32,
        /// The planned move this release is part of (0: none). When not 0
        /// the holder reports the end of the release in an [`Body::Outcome`]
        /// with this round, and the boss then orders the successor at once.
        round: u32,
    },
    /// A box to the boss: how a takeover or a release it was told to do
    /// ended (a release only when its order carried a round).
    Outcome {
        /// The vserver.
        vserver: VsId,
        /// The round of the order.
        round: u32,
        /// True if it now serves (takeover), or if its address is gone
        /// (release: the alias was removed, the hooks ran).
        ok: bool,
    },
    /// Boss to its deputies: its whole state.
    StateSync(StateSync),
    /// "Prove you are live": sent on hearing a new incarnation, so packets
    /// recorded during an earlier boot cannot be replayed.
    Challenge {
        /// A fresh random number.
        nonce: u64,
    },
    /// The answer to a challenge, from the challenged incarnation.
    Response {
        /// The challenge's nonce.
        nonce: u64,
    },
    /// Any box to the boss it follows: `bongoyo release VSERVER` was run
    /// here; move that vserver off its holder (a planned move).
    MoveRequest {
        /// The vserver.
        vserver: VsId,
    },
    /// A box to all: its daemon stops on purpose (SIGTERM or SIGINT) and
    /// has handed over what it held. Its silence from now on is not a loss:
    /// the others show it as `left` and raise no `node-lost` alert.
    Leave,
}

impl Body {
    /// Short name for logs and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Hello(_) => "hello",
            Body::ProbeRequest { .. } => "probe-request",
            Body::ProbeAnswer { .. } => "probe-answer",
            Body::VolunteerRequest { .. } => "volunteer-request",
            Body::VolunteerAnswer { .. } => "volunteer-answer",
            Body::Assume { .. } => "assume",
            Body::Release { .. } => "release",
            Body::Outcome { .. } => "outcome",
            Body::StateSync(_) => "state-sync",
            Body::Challenge { .. } => "challenge",
            Body::Response { .. } => "response",
            Body::MoveRequest { .. } => "move-request",
            Body::Leave => "leave",
        }
    }
}
