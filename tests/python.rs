//! The Python package end to end, as part of `cargo test --workspace`: `scripts/python-tests.sh`
//! makes its virtual environment (maturin, pytest, Ray from PyPI, once), builds the wheel from
//! this checkout with maturin, installs it, and runs pytest on `tests/python` — the engine's
//! API, the trainer adapters, the Ray pipeline. pytest's own output (its summary line
//! included) goes straight to the log; this test fails when pytest does.

mod common;

use common::repo;

#[test]
fn the_python_package_passes_its_pytest_suite() {
    let status = std::process::Command::new("bash")
        .arg(repo().join("scripts/python-tests.sh"))
        .arg("-q")
        .current_dir(repo())
        .status()
        .expect("bash runs scripts/python-tests.sh");
    assert!(
        status.success(),
        "scripts/python-tests.sh (the wheel build or pytest) failed: {status}; its output is above"
    );
}
