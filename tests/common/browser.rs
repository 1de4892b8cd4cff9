//! Runs a script of tests/browser/ in headless Chromium (Debian's, driven by
//! playwright-core from `scripts/install-test-peers.sh`). Without Chromium,
//! playwright-core or Node the test fails saying how to get them; it never skips.

use std::path::PathBuf;
use std::time::Duration;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Chromium and playwright-core, or a failure saying how to get them.
fn browser_tools() -> (PathBuf, PathBuf) {
    let chromium = std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        chromium.exists(),
        "{} is missing: install Debian's chromium (`apt-get install chromium`, as .ci/run does) \
         or point CHROMIUM at a Chromium binary",
        chromium.display()
    );
    let playwright = repo().join(".peers/playwright/node_modules/playwright-core");
    assert!(
        playwright.join("package.json").exists(),
        "{} is missing: run scripts/install-test-peers.sh",
        playwright.display()
    );
    (chromium, playwright)
}

fn node() -> PathBuf {
    let ours = repo().join(".peers/node22/bin/node");
    if ours.exists() {
        ours
    } else {
        PathBuf::from("node")
    }
}

/// Runs `tests/browser/<script>` with `args` and `env`, and fails the test
/// with the script's output unless it exits 0.
pub async fn run_browser_script(script: &str, args: &[&str], env: &[(&str, &str)]) {
    let (chromium, playwright) = browser_tools();
    let mut command = tokio::process::Command::new(node());
    command
        .arg(repo().join("tests/browser").join(script))
        .args(args)
        .env("CHROMIUM", &chromium)
        .env("PLAYWRIGHT_CORE", &playwright)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(90), command.output())
        .await
        .expect("the browser script finishes within 90s")
        .expect("node runs (install Node.js or run scripts/install-test-peers.sh)");
    assert!(
        output.status.success(),
        "{script} {args:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
