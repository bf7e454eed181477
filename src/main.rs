fn main() -> std::process::ExitCode {
    vorpal::cli::main()
}
