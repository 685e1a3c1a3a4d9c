//! The `tandem` binary. Everything is in the library so tests can reach it.

fn main() -> std::process::ExitCode {
    tandem_server::main_with_args(std::env::args_os().collect())
}
