//! `infra/docker-compose.yml` is validated, not run (no Docker engine here): the checker parses
//! it and checks services, ports, volumes and the files they reference; a broken copy fails.

use std::path::Path;
use std::process::Command;

fn check(compose: &Path) -> std::process::Output {
    Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/compose/check.py"))
        .arg(compose)
        .output()
        .expect("run infra/compose/check.py")
}

#[test]
fn docker_compose_file_is_valid_and_references_real_files() {
    let compose = Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/docker-compose.yml");
    let out = check(&compose);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for service in [
        "mysql",
        "kafka",
        "connect",
        "minio",
        "finlake-ingest",
        "dremio",
        "superset",
        "airflow",
    ] {
        assert!(stdout.contains(service), "{service} listed:\n{stdout}");
    }
}

#[test]
fn a_compose_file_with_a_missing_mount_or_port_clash_is_rejected() {
    let infra = Path::new(env!("CARGO_MANIFEST_DIR")).join("infra");
    let text = std::fs::read_to_string(infra.join("docker-compose.yml")).expect("compose");
    let broken = text
        .replace("./compose/mysql-init.sh:", "./compose/no-such-init.sh:")
        .replace("\"9047:9047\"", "\"9092:9047\"");
    // Beside the real one, so the relative paths resolve the same way.
    let path = infra.join(format!(".compose-check-{}.yml", std::process::id()));
    std::fs::write(&path, broken).expect("write");
    let out = check(&path);
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the broken file passed");
    assert!(stderr.contains("no-such-init.sh"), "{stderr}");
    assert!(stderr.contains("host port 9092"), "{stderr}");
}
