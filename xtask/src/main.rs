//! `cargo xtask`: developer automation.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "ci" => ci(),
        _ => {
            eprintln!("usage: cargo xtask <task>\n\ntasks:\n  ci    format check and the whole test suite (what .ci/run does)");
            if task.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn cargo(args: &[&str]) -> bool {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("== cargo {}", args.join(" "));
    Command::new(cargo)
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

fn ci() -> ExitCode {
    let ok = cargo(&["fmt", "--all", "--check"]) && cargo(&["test", "--workspace", "--locked"]);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
