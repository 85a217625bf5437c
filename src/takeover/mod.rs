//! The ordered steps of a takeover (pre-takeover hook, alias, gratuitous ARP,
//! post-takeover hook, claim) and of a release, as sans-IO actions.
//!
//! Arrives with the vserver work (issue 5).
