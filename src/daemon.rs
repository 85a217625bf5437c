//! The mio shell. STUB until the shell work.
