//! Virtual servers: combo states, the action table and volunteer rounds
//! (DESIGN section 5). Sans-IO, driven by the cluster core.
//!
//! Arrives with the vserver work (issue 5).
