//! The only layer with system calls. STUB until the shell work.
#![allow(unsafe_code)]

pub mod arp;
pub mod ifaddr;
pub mod child;
