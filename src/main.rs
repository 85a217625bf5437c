//! The `bongoyo` binary: everything is in the library; see [`bongoyo::cli`].

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(bongoyo::cli::main())
}
