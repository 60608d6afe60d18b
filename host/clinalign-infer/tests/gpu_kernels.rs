//! The kernels on a GPU against their CPU references (see `clinalign_infer::cuda::check`).
//! Without a usable GPU the test says why and passes: CI machines have none; the device
//! machine runs `clinalign kernels test --require-gpu` (scripts/gpu/check.sh).

use clinalign_infer::cuda::{self, check, nvrtc};

#[test]
fn every_kernel_matches_its_cpu_reference_on_a_gpu() {
    let driver = cuda::probe();
    let gpu = match driver.gpu(0) {
        Ok(gpu) => gpu,
        Err(why) => {
            println!("SKIPPED: GPU kernel tests: {why}");
            eprintln!("SKIPPED: GPU kernel tests: {why}");
            return;
        }
    };
    let toolkit = nvrtc::Toolkit::locate().ok();
    let cache = tempfile::tempdir().unwrap();
    let dev = check::Device::open(gpu, cache.path(), toolkit.as_ref()).expect("the kernels load");
    let results = check::run_all(&dev).expect("every kernel runs");
    let failed: Vec<String> = results.iter().filter(|r| !r.passed).map(|r| format!("{r:?}")).collect();
    assert!(failed.is_empty(), "kernel checks failed:\n{}", failed.join("\n"));
}
