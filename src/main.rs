fn main() {
    std::process::exit(rollout::app::main_with_args(std::env::args_os()));
}
