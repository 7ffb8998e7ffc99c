//! The Kafka source loop: Debezium's topics (`<prefix>.<database>.<table>`) consumed with
//! rdkafka and applied with the same code as the binlog loop (a table's [`TableSink`]:
//! `BronzeTable::apply_events`, `HistoryTable::append_history`; the same [`Masker`]), exactly
//! once.
//!
//! Exactly once, as kafka-delta-ingest does it and extended to updates and deletes: every Delta
//! commit of a table's data also records, per topic-partition it holds events of, two Delta
//! application transactions: `<app>/<topic>/<partition>` at the last source position applied
//! (the same position bookkeeping as the binlog loop, whose per-row MERGE guard keeps the
//! highest position per key) and `<app>/<topic>/<partition>/offset` at the next Kafka offset to
//! read. Kafka's own group offsets are only stored after that commit (manual offset store,
//! `enable.auto.offset.store=false`), so they never run ahead of the lake; on start and on every
//! rebalance the lake is read again and the consumer skips what the lake has or seeks back to
//! it. `kill -9` at any point therefore loses and duplicates nothing. Several processes can share
//! the topics in one consumer group (round-robin assignment); two writers of one table (topics
//! with several partitions) commit through Delta's optimistic concurrency and retry conflicts.
//!
//! Messages: tombstones are skipped (the delete before them did the work), snapshot rows (`r`)
//! are upserts at snapshot positions, transaction metadata gives each event its source
//! transaction id (the `<prefix>.transaction` topic itself is not needed: each table's commit
//! holds whole source transactions of that table, as on the binlog path), and a row with a
//! column the table does not have stops the loop with a schema-change error naming the message.
//!
//! Caught up (`--until-caught-up`): every partition assigned to this process has been read up
//! to its end offset (high watermark) as of when it was assigned.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deltalake::kernel::Transaction;
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tracing::{debug, info, instrument, warn};

use crate::ingest::binlog;
use crate::ingest::debezium;
use crate::ingest::event::{ChangeEvent, Position, Undecodable};
use crate::ingest::mask::{self, Masker};
use crate::lake::sink::TableSink;
use crate::lake::{self, DeadLetterTable, Lake, layout_for};

/// Errors of the Kafka loop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("{topic}[{partition}]@{offset}: {source}")]
    Decode {
        topic: String,
        partition: i32,
        offset: i64,
        #[source]
        source: debezium::Error,
    },
    #[error(transparent)]
    Lake(#[from] lake::Error),
    #[error(transparent)]
    Schema(#[from] binlog::Error),
    #[error(transparent)]
    Mask(#[from] mask::Error),
    #[error("kafka source: {0}")]
    Config(String),
    #[error(
        "{topic}[{partition}]: the lake has applied this partition up to offset {next}, but the \
         topic now starts at offset {low}: the records from {next} to {} were deleted (retention) \
         before the lake read them, so the lake cannot be completed from Kafka. Rebuild it in a \
         new location from a new snapshot: `finlake ingest --resnapshot --lake-uri <new location>` \
         (the binlog source, from the database), or take a new Debezium snapshot and run \
         `finlake ingest --source kafka --lake-uri <new location>`",
        low - 1
    )]
    OffsetGap {
        topic: String,
        partition: i32,
        next: i64,
        low: i64,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Settings of the Kafka source (`finlake ingest --source kafka`; the flags are
/// `cli::args::KafkaArgs`).
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    /// Kafka bootstrap servers (host:port,...).
    pub kafka_brokers: String,
    /// Debezium's topic.prefix: tables are read from `<prefix>.<database>.<table>`.
    pub kafka_topic_prefix: String,
    /// Consumer group; processes with the same group share the topics.
    pub kafka_group: String,
    /// Names this writer in the Delta application transactions.
    pub kafka_app_id: String,
}

/// What the Kafka loop needs.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    pub settings: KafkaSettings,
    /// The source database (its information_schema gives the table shapes; its name is the
    /// middle part of the topic names).
    pub source_url: String,
    pub tables: Vec<String>,
    pub max_batch_events: usize,
    pub max_wait: Duration,
    pub until_caught_up: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct KafkaReport {
    pub messages: u64,
    pub events: u64,
    pub batches: u64,
    pub commits: u64,
    pub partitions: usize,
    /// Events routed to `bronze/_dead_letters`.
    pub dead_letters: u64,
    pub secs: f64,
}

/// The database a source URL names (`mysql://.../finance` -> `finance`): the middle part of
/// Debezium's topic names.
pub fn source_database(source_url: &str) -> Option<String> {
    url::Url::parse(source_url)
        .ok()
        .map(|u| u.path().trim_start_matches('/').to_owned())
        .filter(|d| !d.is_empty())
}

/// The topic Debezium writes `table` of `database` to.
pub fn topic_name(prefix: &str, database: &str, table: &str) -> String {
    format!("{prefix}.{database}.{table}")
}

/// One rebalance: assigned (true) or revoked, and the topic-partitions.
type RebalanceEvent = (bool, Vec<(String, i32)>);

/// Rebalances seen by the consumer, drained by the loop.
#[derive(Debug, Default)]
struct Rebalances {
    events: Mutex<Vec<RebalanceEvent>>,
}

#[derive(Debug, Clone)]
struct Ctx(Arc<Rebalances>);

impl ClientContext for Ctx {}

impl ConsumerContext for Ctx {
    fn post_rebalance(&self, _c: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let (assigned, list) = match rebalance {
            Rebalance::Assign(l) => (true, *l),
            Rebalance::Revoke(l) => (false, *l),
            Rebalance::Error(e) => {
                warn!(error = %e, "rebalance error");
                return;
            }
        };
        let parts = list
            .elements()
            .iter()
            .map(|e| (e.topic().to_owned(), e.partition()))
            .collect();
        if let Ok(mut ev) = self.0.events.lock() {
            ev.push((assigned, parts));
        }
    }
}

/// One assigned topic-partition.
#[derive(Debug)]
struct Part {
    table: String,
    app_id: String,
    offset_app: String,
    /// Next offset the lake expects (everything below is applied).
    next: i64,
    /// Next offset to read (>= next; above it while events wait in `pending`).
    consumed: i64,
    /// Whether the lake has committed an offset of this partition (else `next` is 0 by default).
    committed: bool,
    /// Position of the last event sequenced (applied or pending).
    last: Option<Position>,
    /// Whether reading resumed exactly at `next`.
    verified: bool,
    seeks: u8,
    seeked_at: Option<Instant>,
    /// End offset when assigned (until-caught-up).
    high: i64,
    pending: Vec<ChangeEvent>,
    /// Messages that could not be decoded (dead letters, committed with `pending`).
    bad: Vec<Undecodable>,
}

/// Every table's sink, and the table of each topic.
async fn open_sinks(
    cfg: &KafkaConfig,
    lake: &Lake,
    database: &str,
) -> Result<(HashMap<String, TableSink>, HashMap<String, String>)> {
    let s = &cfg.settings;
    let schemas = binlog::table_schemas(&cfg.source_url, &cfg.tables).await?;
    let mut targets: HashMap<String, TableSink> = HashMap::new();
    let mut by_topic: HashMap<String, String> = HashMap::new();
    for schema in schemas {
        by_topic.insert(
            topic_name(&s.kafka_topic_prefix, database, &schema.name),
            schema.name.clone(),
        );
        let layout = layout_for(&schema.name);
        let sink = TableSink::open(lake, schema, layout).await?;
        targets.insert(sink.schema.name.clone(), sink);
    }
    Ok((targets, by_topic))
}

/// The group consumer: offsets stored by the loop only after the lake has the data.
fn group_consumer(s: &KafkaSettings, rebalances: &Arc<Rebalances>) -> Result<StreamConsumer<Ctx>> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", &s.kafka_brokers)
        .set("group.id", &s.kafka_group)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "roundrobin")
        .set("topic.metadata.refresh.interval.ms", "10000")
        .set("fetch.wait.max.ms", "50")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        .create_with_context(Ctx(Arc::clone(rebalances)))?)
}

/// Subscribes to the tables' topics and returns those that exist now; `None` when caught up
/// is asked for and none exists yet (nothing to apply).
fn subscribe(
    cfg: &KafkaConfig,
    consumer: &StreamConsumer<Ctx>,
    by_topic: &HashMap<String, String>,
) -> Result<Option<Vec<String>>> {
    // Until caught up: the topics that exist now (Debezium creates a table's topic with its first
    // message); following: a pattern, so topics created later are picked up too.
    let metadata = consumer.fetch_metadata(None, Duration::from_secs(30))?;
    let existing: Vec<String> = metadata
        .topics()
        .iter()
        .map(|t| t.name().to_owned())
        .filter(|t| by_topic.contains_key(t))
        .collect();
    if cfg.until_caught_up {
        if existing.is_empty() {
            return Ok(None);
        }
        let names: Vec<&str> = existing.iter().map(String::as_str).collect();
        consumer.subscribe(&names)?;
    } else {
        let alternatives: Vec<String> = by_topic.keys().map(|t| regex_escape(t)).collect();
        let pattern = format!("^({})$", alternatives.join("|"));
        consumer.subscribe(&[pattern.as_str()])?;
    }
    Ok(Some(existing))
}

/// Runs the Kafka loop until caught up (if configured) or until `stop` resolves.
#[instrument(skip_all, fields(group = %cfg.settings.kafka_group, until_caught_up = cfg.until_caught_up))]
pub async fn run(
    cfg: &KafkaConfig,
    lake: &Lake,
    masker: &Masker,
    stop: impl std::future::Future<Output = ()>,
) -> Result<KafkaReport> {
    let started = Instant::now();
    let s = &cfg.settings;
    let database = source_database(&cfg.source_url)
        .ok_or_else(|| Error::Config("the source URL names no database".into()))?;
    let (targets, by_topic) = open_sinks(cfg, lake, &database).await?;
    let rebalances = Arc::new(Rebalances::default());
    let consumer = group_consumer(s, &rebalances)?;
    let mut report = KafkaReport::default();
    let Some(existing) = subscribe(cfg, &consumer, &by_topic)? else {
        warn!("none of the tables' topics exists yet: nothing to apply");
        report.secs = started.elapsed().as_secs_f64();
        return Ok(report);
    };
    info!(topics = ?existing, "kafka source subscribed");

    let mut loop_state = Loop {
        dead: DeadLetterTable::open(lake).await?,
        dead_letters: 0,
        cfg,
        consumer: &consumer,
        rebalances: &rebalances,
        targets,
        by_topic,
        parts: BTreeMap::new(),
        assigned_once: false,
    };
    tokio::pin!(stop);
    let mut stopping = false;
    while !stopping {
        let deadline = tokio::time::Instant::now() + cfg.max_wait;
        let mut taken = 0usize;
        while taken < cfg.max_batch_events.max(1) {
            let received = tokio::select! {
                _ = &mut stop => { stopping = true; break; }
                r = tokio::time::timeout_at(deadline, consumer.recv()) => r,
            };
            let message = match received {
                Err(_) => break,
                Ok(Err(e)) => {
                    warn!(error = %e, "kafka consumer error");
                    continue;
                }
                Ok(Ok(m)) => m,
            };
            loop_state.sync_assignment().await?;
            report.messages += 1;
            if loop_state.take(&message)? {
                taken += 1;
            }
        }
        loop_state.sync_assignment().await?;
        let (events, commits) = loop_state.commit(masker).await?;
        report.events += events;
        report.commits += commits;
        report.batches += u64::from(events > 0);
        if cfg.until_caught_up && loop_state.caught_up() {
            break;
        }
    }
    report.partitions = loop_state.parts.len();
    report.dead_letters = loop_state.dead_letters;
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        debug!(error = %e, "final group offset commit");
    }
    report.secs = started.elapsed().as_secs_f64();
    info!(
        messages = report.messages,
        events = report.events,
        commits = report.commits,
        secs = report.secs,
        "kafka ingest finished"
    );
    Ok(report)
}

struct Loop<'a> {
    dead: DeadLetterTable,
    dead_letters: u64,
    cfg: &'a KafkaConfig,
    consumer: &'a StreamConsumer<Ctx>,
    rebalances: &'a Rebalances,
    targets: HashMap<String, TableSink>,
    by_topic: HashMap<String, String>,
    parts: BTreeMap<(String, i32), Part>,
    assigned_once: bool,
}

impl Loop<'_> {
    /// Applies the rebalances seen since the last call: revoked partitions drop what they
    /// hold uncommitted; assigned ones read where to resume from the lake.
    async fn sync_assignment(&mut self) -> Result<()> {
        let events = match self.rebalances.events.lock() {
            Ok(mut ev) => std::mem::take(&mut *ev),
            Err(_) => return Err(Error::Config("rebalance state poisoned".into())),
        };
        for (assigned, list) in events {
            if !assigned {
                for tp in list {
                    if let Some(p) = self.parts.remove(&tp) {
                        info!(topic = %tp.0, partition = tp.1, dropped = p.pending.len(), "partition revoked");
                    }
                }
                continue;
            }
            self.assigned_once = true;
            for (topic, partition) in list {
                let Some(table) = self.by_topic.get(&topic).cloned() else {
                    continue;
                };
                let part = self.open_part(&topic, partition, table).await?;
                info!(%topic, partition, next = part.next, high = part.high, "partition assigned");
                self.parts.insert((topic, partition), part);
            }
        }
        Ok(())
    }

    async fn open_part(&mut self, topic: &str, partition: i32, table: String) -> Result<Part> {
        let app_id = format!("{}/{topic}/{partition}", self.cfg.settings.kafka_app_id);
        let offset_app = format!("{app_id}/offset");
        let t = self
            .targets
            .get_mut(&table)
            .ok_or_else(|| Error::Config(format!("no table {table}")))?;
        // The table behind is the one to resume from; the other skips what it already has
        // (reading the positions also tells the sink which events bronze already holds).
        t.resume_from(&app_id).await?;
        let offsets = (
            t.bronze.txn_version(&offset_app).await?,
            t.history.txn_version(&offset_app).await?,
        );
        let committed = offsets.0.is_some() || offsets.1.is_some();
        let bronze = (offsets.0.unwrap_or(0), t.bronze.applied(&app_id).await?);
        let history = (offsets.1.unwrap_or(0), t.history.applied(&app_id).await?);
        let (next, last) = if bronze.0 <= history.0 {
            bronze
        } else {
            history
        };
        let (low, high) =
            self.consumer
                .fetch_watermarks(topic, partition, Duration::from_secs(30))?;
        // The records the lake still needs are gone from the topic (retention): stop, as the
        // binlog source does for a purged position, rather than skip them (or wait for them).
        if retention_gap(committed, next, low) {
            return Err(Error::OffsetGap {
                topic: topic.to_owned(),
                partition,
                next,
                low,
            });
        }
        let high = if self.cfg.until_caught_up {
            high
        } else {
            i64::MAX
        };
        Ok(Part {
            table,
            app_id,
            offset_app,
            next,
            consumed: next,
            committed,
            last,
            verified: false,
            seeks: 0,
            seeked_at: None,
            high,
            pending: Vec::new(),
            bad: Vec::new(),
        })
    }

    /// Takes one message into its partition's pending events; false when skipped.
    fn take(&mut self, m: &rdkafka::message::BorrowedMessage<'_>) -> Result<bool> {
        let key = (m.topic().to_owned(), m.partition());
        let offset = m.offset();
        let Some(part) = self.parts.get_mut(&key) else {
            return Ok(false); // not (or no longer) ours
        };
        if offset < part.consumed {
            return Ok(false); // in the lake already, or delivered twice
        }
        if !part.verified && offset > part.next {
            // The group's offset is ahead of the lake (or the lake was reset): go back to it.
            // Messages fetched before the seek may still arrive for a moment: skip them.
            if part
                .seeked_at
                .is_some_and(|t| t.elapsed() < Duration::from_secs(3))
            {
                return Ok(false);
            }
            // The records the lake still needs are gone from the topic: stop (as the binlog
            // source does for a purged position) rather than skip them.
            let (low, _) =
                self.consumer
                    .fetch_watermarks(&key.0, key.1, Duration::from_secs(30))?;
            if retention_gap(part.committed, part.next, low) {
                return Err(Error::OffsetGap {
                    topic: key.0.clone(),
                    partition: key.1,
                    next: part.next,
                    low,
                });
            }
            if part.seeks < 3 {
                part.seeked_at = Some(Instant::now());
                part.seeks += 1;
                info!(topic = %key.0, partition = key.1, from = offset, to = part.next, "seeking to the lake's offset");
                if let Err(e) = self.consumer.seek(
                    &key.0,
                    key.1,
                    Offset::Offset(part.next),
                    Duration::from_secs(10),
                ) {
                    warn!(error = %e, "seek failed; retrying on the next message");
                }
                return Ok(false);
            }
            // Still ahead of the lake with the records in between present (or a lake that
            // never read this partition): offsets without records (compaction, transaction
            // markers), or a new lake on a topic whose start was deleted.
            warn!(topic = %key.0, partition = key.1, expected = part.next, got = offset, low, "offset gap without lost records, or a new lake on a truncated topic");
        }
        part.verified = true;
        part.consumed = offset + 1;
        let target = &self.targets[&part.table];
        let event = match debezium::decode(&target.schema, m.payload()) {
            Ok(event) => event,
            // The table's shape changed: nothing after it can be applied safely.
            Err(source @ debezium::Error::SchemaChange { .. }) => {
                return Err(Error::Decode {
                    topic: key.0.clone(),
                    partition: key.1,
                    offset,
                    source,
                });
            }
            // One message that cannot be read (not JSON, no envelope, a value that does not
            // decode): a dead letter; the partition and every other table go on.
            Err(e) => {
                let u =
                    debezium::undecodable(&target.schema.name, &mut part.last, &key, offset, &e);
                warn!(topic = %key.0, partition = key.1, offset, position = ?u.event.position,
                    reason = %u.reason, "undecodable message: set aside as a dead letter");
                part.bad.push(u);
                return Ok(true);
            }
        };
        let Some(event) = event else {
            return Ok(false); // tombstone
        };
        match debezium::sequence(&mut part.last, event) {
            Some(e) => {
                part.pending.push(e);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Commits every partition's pending events (history, then bronze, each one Delta commit
    /// with the partition's position and next offset), then stores the offsets in Kafka.
    async fn commit(&mut self, masker: &Masker) -> Result<(u64, u64)> {
        let (mut events, mut commits) = (0u64, 0u64);
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), part) in &mut self.parts {
            if part.pending.is_empty() && part.bad.is_empty() {
                continue;
            }
            let Some(target) = self.targets.get_mut(&part.table) else {
                continue;
            };
            let mut batch = std::mem::take(&mut part.pending);
            for e in &mut batch {
                masker.mask(&target.schema, e);
            }
            let bad = std::mem::take(&mut part.bad);
            let up_to = batch
                .last()
                .map(|e| &e.position)
                .into_iter()
                .chain(bad.last().map(|u| &u.event.position))
                .max()
                .cloned()
                .ok_or_else(|| Error::Config("empty batch".into()))?;
            let extra = [Transaction::new(part.offset_app.as_str(), part.consumed)];
            let outcome = target
                .apply(
                    batch,
                    &up_to,
                    &part.app_id,
                    &extra,
                    &mut self.dead,
                    Vec::new(),
                )
                .await?;
            self.dead_letters += outcome.dead_letters as u64;
            commits += u64::from(!outcome.bronze.replayed);
            events += outcome.applied as u64;
            part.next = part.consumed;
            offsets.add_partition_offset(topic, *partition, Offset::Offset(part.consumed))?;
            debug!(%topic, partition, events = outcome.applied, next = part.next, "partition committed");
        }
        if offsets.count() > 0 {
            self.consumer.store_offsets(&offsets)?;
        }
        Ok((events, commits))
    }

    fn caught_up(&self) -> bool {
        self.assigned_once && self.parts.values().all(|p| p.consumed >= p.high)
    }
}

/// Whether records a partition's lake needs were deleted from the topic: the lake has
/// committed `next` as its next offset and the topic's first offset is above it.
fn retention_gap(committed: bool, next: i64, low: i64) -> bool {
    committed && low > next
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let escape = !(c.is_ascii_alphanumeric() || c == '_' || c == '-');
            escape.then_some('\\').into_iter().chain(std::iter::once(c))
        })
        .collect()
}

#[cfg(test)]
#[path = "kafka_tests.rs"]
mod tests;
