//! Faults of the scale-out path, on a stack of its own (so the other tests keep theirs): Kafka
//! Connect, the Kafka broker and MinIO are stopped and started again while the source keeps
//! changing and a Kafka loop writes the lake on MinIO; afterwards `finlake verify` finds source
//! and lake equal.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{Reaped, finlake, fresh_db, ok, text};
use crate::stack::{
    Stack, delete_connector_on, kafka_env_on, register_connector_on, run_prefix, s3_env_on,
    wait_for_debezium_on,
};

use crate::common::MASK_KEY;

fn faults_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("finlake-stack-faults")
}

#[tokio::test]
async fn restarting_connect_kafka_and_minio_loses_nothing() {
    let dir = faults_dir();
    let stack = Stack::start(&dir);
    let db = "t_faults";
    let prefix = run_prefix(db);
    let url = fresh_db(db).await;
    let mut env: Vec<(&'static str, String)> = vec![
        ("FINLAKE_SOURCE_URL", url.clone()),
        ("FINLAKE_MASK_KEY", MASK_KEY.into()),
        ("FINLAKE_BATCH_EVENTS", "2000".into()),
    ];
    env.extend(s3_env_on(&stack, &prefix));
    env.extend(kafka_env_on(&stack, &prefix, "g_t_faults"));
    let view: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ok(finlake(
        &["datagen", "--scale", "0.001", "--seed", "11"],
        &view,
    ));
    register_connector_on(&stack, &url, &prefix, &prefix, 5504);

    // A continuous loop and a live workload, while each component goes down and up again.
    let mut cmd = crate::common::finlake_command();
    let ingest = cmd
        .arg("ingest")
        .envs(view.iter().copied())
        .env("FINLAKE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ingest");
    let ingest = Reaped(ingest);
    let workload = {
        let view: Vec<(String, String)> = view
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        std::thread::spawn(move || {
            let view: Vec<(&str, &str)> =
                view.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            finlake(
                &[
                    "simulate",
                    "--rate",
                    "100",
                    "--duration",
                    "20s",
                    "--label-delay",
                    "1s",
                    "--connections",
                    "2",
                ],
                &view,
            )
        })
    };
    // The broker first, under a running Connect (its connector rides out the outage or fails);
    // then Connect itself, which resumes the connector from its stored offsets; then MinIO
    // under the Kafka loop.
    for component in ["kafka", "connect", "minio"] {
        Stack::script(&dir, &["down", component]);
        Stack::script(&dir, &["up", component]);
    }
    let sim = workload.join().expect("workload");
    assert!(sim.status.success(), "workload failed:\n{}", text(&sim));
    wait_for_debezium_on(&stack, &url, &prefix, db).await;

    // The loop may have given up during an outage (it exits with the error); either way a
    // catch-up afterwards must make the lake equal.
    drop(ingest);
    ok(finlake(&["ingest", "--until-caught-up"], &view));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = finlake(&["verify"], &view);
        if out.status.success() {
            assert_eq!(text(&out).matches(" equal").count(), 5, "{}", text(&out));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "source and lake differ after the faults:\n{}",
            text(&out)
        );
        // Connect may still be publishing what it re-read after its restart.
        std::thread::sleep(Duration::from_secs(2));
        ok(finlake(&["ingest", "--until-caught-up"], &view));
    }
    delete_connector_on(&stack, &prefix);
    Stack::script(&dir, &["down"]);
}
