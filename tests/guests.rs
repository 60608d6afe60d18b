//! The guest crates' own unit tests (SDK text helpers, template logic, custom principles)
//! run natively, so that one `cargo test` from the repository root covers them too.

mod common;

use std::process::Command;

use common::*;

#[test]
fn guest_workspace_unit_tests_pass() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = run(Command::new(cargo)
        .current_dir(repo().join("plugins"))
        .args(["test", "--workspace", "--target-dir"])
        .arg(repo().join("target/guest-tests"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR"));
    assert!(out.status.success(), "guest unit tests failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let passed: usize = text
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
        .sum();
    assert!(passed >= 20, "expected the guest unit tests to run, saw {passed}");
}
