//! The ThreadSanitizer build of the simulated device (`EMBER_SIM_TSAN=1`, run by
//! `scripts/racecheck.sh`) reports every planted race of `kernels/sim_checks.cu`, including the
//! non-atomic read-modify-write that no thread order can expose, and stays silent on their fixes.
//! In an ordinary build the test says it was skipped.
#![cfg(feature = "sim")]
use ember_gpu::{ExecContext, Gpu, Kernel, LaunchConfig};

/// (racy, fixed, grid, block, output words): the grid and block each race needs to show.
const CASES: &[(&str, &str, u32, u32, usize)] = &[
    ("race_barrier_racy", "race_barrier_fixed", 1, 256, 256),
    ("race_warp_racy", "race_warp_fixed", 1, 32, 1),
    ("race_blocks_racy", "race_blocks_fixed", 64, 32, 64),
    ("race_counter_racy", "race_counter_fixed", 4, 64, 1),
];

/// Runs one kernel named by `EMBER_TSAN_KERNEL` (the parent test runs this in a child process so
/// that each kernel's reports land in their own log).
#[test]
#[ignore = "run by tsan_reports_each_planted_race in a child process"]
fn planted_race_child() {
    let name = std::env::var("EMBER_TSAN_KERNEL").expect("EMBER_TSAN_KERNEL");
    let &(_, _, grid, block, words) = CASES.iter().find(|c| c.0 == name || c.1 == name).expect("a kernel of CASES");
    let g = ExecContext::new(Gpu::sim().unwrap());
    let input: Vec<i32> = (1..=256).collect();
    let inp = g.upload(&input).unwrap();
    let out = g.alloc_zeroed(words * 4).unwrap();
    let cfg = LaunchConfig { grid: (grid, 1, 1), block: (block, 1, 1), shared_mem_bytes: 0 };
    let args = if name.starts_with("race_counter") { vec![(&out).into()] } else { vec![(&inp).into(), (&out).into()] };
    g.launch(Kernel::named("sim_checks", &name), cfg, &args).unwrap();
    let _ = g.download::<i32>(&out, words).unwrap();
}

#[test]
fn tsan_reports_each_planted_race() {
    if !ember_gpu::sim::TSAN {
        eprintln!("skipped: not a ThreadSanitizer build (scripts/racecheck.sh runs this one)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("ember-tsan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let reports = |kernel: &str| -> (usize, String) {
        let log = dir.join(kernel);
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "planted_race_child", "--test-threads", "1"])
            .env("EMBER_TSAN_KERNEL", kernel)
            .env(
                "TSAN_OPTIONS",
                format!("ignore_interceptors_accesses=1 halt_on_error=0 exitcode=0 log_path={}", log.display()),
            )
            .status()
            .unwrap();
        assert!(status.success(), "{kernel}: child failed: {status}");
        let mut text = String::new();
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().unwrap().to_string_lossy().starts_with(&format!("{kernel}.")) {
                text.push_str(&std::fs::read_to_string(p).unwrap());
            }
        }
        (text.matches("WARNING: ThreadSanitizer:").count(), text)
    };
    for &(racy, fixed, ..) in CASES {
        let (n, text) = reports(racy);
        assert!(n > 0, "TSan did not report the planted race in {racy}");
        assert!(text.contains(racy), "the report does not name {racy}:\n{text}");
        eprintln!("{racy}: {n} report(s)");
        let (n, text) = reports(fixed);
        assert_eq!(n, 0, "TSan reported the fixed kernel {fixed}:\n{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
