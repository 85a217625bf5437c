//! The command line. STUB until the shell work.
