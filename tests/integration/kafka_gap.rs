//! A Kafka topic whose retention deleted records the lake had not read yet: the Kafka loop
//! stops with an error naming the gap and the recovery command (it used to warn and go on,
//! leaving the lake short of those changes for good).

use std::process::Stdio;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::common::{fresh_db, text};
use crate::scaleout::Env;
use crate::stack::{
    delete_connector, kafka_env, register_connector, run_prefix, stack, wait_for_debezium,
};

/// Deletes every record of `topic` (what a retention policy does to a topic's start).
async fn delete_all_records(topic: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &stack().kafka)
        .create()
        .expect("admin client");
    let metadata = admin
        .inner()
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .expect("metadata");
    let mut list = TopicPartitionList::new();
    for t in metadata.topics() {
        for p in t.partitions() {
            list.add_partition_offset(topic, p.id(), Offset::End)
                .expect("partition");
        }
    }
    assert!(list.count() > 0, "topic {topic} has partitions");
    let done = admin
        .delete_records(&list, &AdminOptions::new())
        .await
        .expect("delete records");
    for e in done.elements() {
        assert!(
            e.error().is_ok(),
            "delete records of {topic}: {:?}",
            e.error()
        );
    }
}

#[tokio::test]
async fn a_retention_gap_stops_the_kafka_loop_with_the_recovery_command() {
    let db = "t_kafka_gap";
    let prefix = run_prefix(db);
    let url = fresh_db(db).await;
    let lake = tempfile::tempdir().expect("tempdir");
    let lake_uri = lake.path().to_str().expect("utf8");
    let env = Env::new(&url, lake_uri).with(kafka_env(&prefix, "g_t_kafka_gap"));
    env.run(&["datagen", "--scale", "0.001", "--seed", "6"]);
    register_connector(&url, &prefix, &prefix, 5521);
    wait_for_debezium(&url, &prefix, db).await;
    env.run(&["ingest", "--until-caught-up"]);
    env.verify_equal();

    // New changes reach the topics; retention deletes them before the lake reads them.
    env.run(&[
        "simulate",
        "--rate",
        "200",
        "--duration",
        "2s",
        "--connections",
        "2",
    ]);
    wait_for_debezium(&url, &prefix, db).await;
    delete_all_records(&format!("{prefix}.{db}.transactions")).await;

    // Before the fix the loop waited forever for the deleted records (or skipped them with a
    // warning when later ones arrived): bound it.
    let mut child = crate::common::finlake_command()
        .args(["ingest", "--until-caught-up"])
        .envs(env.view())
        .env("FINLAKE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ingest");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            child.kill().expect("kill");
            let out = child.wait_with_output().expect("reap");
            panic!(
                "the loop neither stopped nor reported the gap:\n{}",
                text(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = child.wait_with_output().expect("output");
    let report = text(&out);
    assert!(!out.status.success(), "the gap was skipped:\n{report}");
    assert!(report.contains(".transactions["), "{report}");
    assert!(report.contains("were deleted (retention)"), "{report}");
    assert!(
        report.contains("finlake ingest --resnapshot --lake-uri"),
        "{report}"
    );
    delete_connector(&prefix);
}
