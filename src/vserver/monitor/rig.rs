//! What the monitor's unit tests and its phases' unit tests share: three
//! boxes, their MACs and priority list, a view of them, and the release
//! orders among actions.

use super::{MonitorAction, Order, View};
use crate::cluster::Dest;
use crate::config::NodeId;

/// The MACs of boxes 0, 1 and 2.
pub(super) const MACS: [[u8; 6]; 3] = [[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 3]];
/// The priority list: box 0 first.
pub(super) const LIST: [NodeId; 3] = [0, 1, 2];

/// Three boxes at generation 4, every one volunteering, none lost, unknown,
/// held, silent or with its kernel gone; `claimers` per vserver. Tests set
/// what differs with struct update syntax.
pub(super) fn three_boxes(claimers: &[u32]) -> View<'_> {
    View {
        volunteers: 0b111,
        claimers,
        list: &LIST,
        macs: &MACS,
        lost: 0,
        unknown: 0,
        held: 0,
        kernel_gone: 0,
        silent: 0,
        generation: 4,
    }
}

/// The boxes `actions` order to release.
pub(super) fn releases(actions: &[MonitorAction]) -> std::vec::Vec<NodeId> {
    actions
        .iter()
        .filter_map(|a| match a {
            MonitorAction::Send {
                to: Dest::Node(n),
                order: Order::Release { .. },
            } => Some(*n),
            _ => None,
        })
        .collect()
}
