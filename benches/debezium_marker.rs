//! Waits until Debezium has published everything committed so far: writes a marker row into
//! the signal table (a Debezium `log` signal) and polls the signal topic until the marker's
//! change event is there. Debezium publishes in binlog order, so every change committed before
//! the marker is in Kafka then. `benches/kafka.sh` uses it to time Debezium's capture and to
//! know when a backlog is complete before the drain runs.
//!
//! Environment: FINLAKE_SOURCE_URL (an account that may insert into `debezium_signal`),
//! FINLAKE_KAFKA_BROKERS, FINLAKE_KAFKA_TOPIC_PREFIX, MARKER_TIMEOUT_S (default 1800).
//! Prints `debezium marker after X s; table topics hold N messages`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mysql_async::prelude::Queryable;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

type AnyResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

use finlake::lake::TABLES;

#[tokio::main]
async fn main() -> AnyResult<()> {
    let url = std::env::var("FINLAKE_SOURCE_URL")?;
    let brokers = std::env::var("FINLAKE_KAFKA_BROKERS")?;
    let prefix = std::env::var("FINLAKE_KAFKA_TOPIC_PREFIX")?;
    let timeout = Duration::from_secs(
        std::env::var("MARKER_TIMEOUT_S")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1800),
    );
    let database = url::Url::parse(&url)?
        .path()
        .trim_start_matches('/')
        .to_owned();
    let marker = format!(
        "bench-marker-{}",
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis()
    );
    let started = Instant::now();
    let mut conn = mysql_async::Conn::from_url(url.as_str()).await?;
    conn.exec_drop(
        "INSERT INTO debezium_signal (id, type, data) VALUES (?, 'log', '{\"message\": \"finlake bench marker\"}')",
        (&marker,),
    )
    .await?;
    conn.disconnect().await?;

    let topic = format!("{prefix}.{database}.debezium_signal");
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", &marker)
        .set("enable.auto.commit", "false")
        .create()?;
    let deadline = started + timeout;
    let mut assigned = false;
    loop {
        if Instant::now() > deadline {
            return Err(format!("no marker {marker} in {topic} after {timeout:?}").into());
        }
        if !assigned {
            let md = consumer.fetch_metadata(Some(&topic), Duration::from_secs(5))?;
            if md
                .topics()
                .iter()
                .any(|t| t.name() == topic && !t.partitions().is_empty())
            {
                let mut tpl = TopicPartitionList::new();
                tpl.add_partition_offset(&topic, 0, Offset::Beginning)?;
                consumer.assign(&tpl)?;
                assigned = true;
            } else {
                std::thread::sleep(Duration::from_millis(200));
            }
            continue;
        }
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200))
            && m.payload()
                .is_some_and(|p| String::from_utf8_lossy(p).contains(&marker))
        {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let mut messages = 0i64;
    for table in TABLES {
        let t = format!("{prefix}.{database}.{table}");
        let md = consumer.fetch_metadata(Some(&t), Duration::from_secs(5))?;
        for topic in md.topics().iter().filter(|x| x.name() == t) {
            for p in topic.partitions() {
                let (low, high) = consumer.fetch_watermarks(&t, p.id(), Duration::from_secs(5))?;
                messages += high - low;
            }
        }
    }
    println!("debezium marker after {secs:.1} s; table topics hold {messages} messages");
    Ok(())
}
