//! Virtual servers: combo states, the action table and volunteer rounds
//! (docs/MODEL.md). Sans-IO, driven by the cluster core.
//!
//! * [`combo`]: the three-character state and [`combo::decide`], the one
//!   table that maps each of the 27 states to the boss's action.
//! * [`volunteer`]: a volunteer round: who answered, who wins.
//! * [`monitor`]: the boss's monitor: checks, combo states, the table's
//!   decision with its refinements, orders; each phase of a vserver (a
//!   takeover, a release, a round, a planned move) has its own transitions
//!   in `monitor/phase.rs`.

pub mod combo;
pub mod monitor;
pub mod volunteer;
