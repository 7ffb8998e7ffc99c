//! The binary as a shell user meets it: output into a pipe that closes early.

use std::process::Stdio;

use crate::common::finlake_command;

/// `finlake config | head -0`: the reader is gone before the first line; the binary ends
/// quietly with status 0 (it panicked on the write before, exit 101).
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let mut child = finlake_command()
        .arg("config")
        .env("FINLAKE_LAKE_URI", "/tmp/finlake-cli-test-lake")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn finlake");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
