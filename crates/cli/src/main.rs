fn main() {
    std::process::exit(rbac_gate::cli::main());
}
