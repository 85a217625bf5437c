//! The only layer with system calls. STUB until the shell work.
#![allow(unsafe_code)]

pub mod arp;
pub mod child;
pub mod ifaddr;
