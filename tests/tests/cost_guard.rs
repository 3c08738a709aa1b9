//! A deterministic regression guard for mod_rjk's cost per request: user-space instructions of
//! a 1 KiB keep-alive request through `apache2 -X` (callgrind, `bench/cost.sh`: the difference
//! of two runs, so start-up cancels) must stay within 10 % of the ceiling committed in
//! `bench/cost-ceiling.txt`. Not a timing test: the count repeats whatever the machine does.

use std::path::Path;
use std::process::Command;

fn ceiling() -> f64 {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("bench/cost-ceiling.txt")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix("mod_rjk debug 1024 "))
        .and_then(|v| v.trim().parse().ok())
        .expect("bench/cost-ceiling.txt names the mod_rjk debug 1024 ceiling")
}

#[test]
fn mod_rjk_instructions_per_request_stay_under_the_committed_ceiling() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::env::temp_dir().join(format!("rjk-cost-guard-{}.md", std::process::id()));
    let run = Command::new(root.join("bench/cost.sh"))
        .env("PROFILE", "debug")
        .env("TARGET", rjk_tests::target_dir())
        .env("NO_BUILD", "1")
        .env("SIZES", "1024")
        .env("FRONTS", "mod_rjk")
        .env("W", "5")
        .env("N", "50")
        .env("OUT", &out)
        .output()
        .expect("bench/cost.sh runs");
    assert!(
        run.status.success(),
        "bench/cost.sh failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let table = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    // | 1024 B | mod_rjk | 232.1 k | ... |
    let measured: f64 = table
        .lines()
        .find(|l| l.starts_with("| 1024 B | mod_rjk |"))
        .and_then(|l| l.split('|').nth(3))
        .and_then(|c| c.trim().trim_end_matches(" k").parse::<f64>().ok())
        .map(|k| k * 1000.0)
        .unwrap_or_else(|| panic!("no mod_rjk row in:\n{table}"));
    let limit = ceiling() * 1.10;
    assert!(
        measured <= limit,
        "mod_rjk costs {measured:.0} instructions per 1 KiB request (debug build); the ceiling \
         is {:.0} + 10 % = {limit:.0}. Find what the request path does more \
         (bench/cost.sh with KEEP=1, then callgrind_annotate), or raise the ceiling in \
         bench/cost-ceiling.txt with the reason in the commit.",
        ceiling()
    );
}
