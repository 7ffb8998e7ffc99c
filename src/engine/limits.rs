//! Bounds on what queries may take from the process they share with the ingestion loop:
//! one memory pool for every query (spilling to a bounded directory), a cap on concurrent
//! queries with a short queue, and cancellation of running queries at shutdown.
//!
//! A query over a limit fails with an error naming the limit and the setting that raises it;
//! the other queries and the loop go on.

use std::future::Future;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, MemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use futures::stream::{BoxStream, Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::metrics::Metrics;
use super::{Error, Result};
use crate::util::human_bytes;

/// How much of the process queries may use.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Memory all running queries share, in bytes (operators that can spill do so first).
    pub memory_bytes: u64,
    /// Where spill files go (the OS temporary directory when `None`).
    pub spill_dir: Option<PathBuf>,
    /// Most bytes of spill files at once; a query that needs more fails.
    pub spill_bytes: u64,
    /// Queries running at once; more wait for a slot up to `queue_wait`, then are refused.
    pub max_queries: usize,
    pub queue_wait: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: crate::util::system_memory_bytes() / 4,
            spill_dir: None,
            spill_bytes: 4 << 30,
            max_queries: 8,
            queue_wait: Duration::from_secs(10),
        }
    }
}

/// What the queries use right now (for `/metrics`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub memory_limit: u64,
    pub memory_reserved: u64,
    pub spill_bytes: u64,
    pub spill_files: u64,
    pub running: u64,
    pub max_queries: u64,
}

/// The limits in force: the shared runtime (memory pool and spill directory), the query
/// slots and the shutdown signal.
pub(crate) struct Admission {
    limits: Limits,
    runtime: Arc<RuntimeEnv>,
    pool: Arc<dyn MemoryPool>,
    slots: Arc<Semaphore>,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Admission {
    pub(crate) fn new(limits: Limits) -> Result<Self> {
        let pool: Arc<dyn MemoryPool> = Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX)),
            NonZeroUsize::new(3).unwrap_or(NonZeroUsize::MIN),
        ));
        let mut disk =
            DiskManagerBuilder::default().with_max_temp_directory_size(limits.spill_bytes);
        if let Some(dir) = &limits.spill_dir {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::BadRequest(format!("spill directory {}: {e}", dir.display()))
            })?;
            disk = disk.with_mode(DiskManagerMode::Directories(vec![dir.clone()]));
        }
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::clone(&pool))
            .with_disk_manager_builder(disk)
            .build_arc()?;
        let slots = Arc::new(Semaphore::new(limits.max_queries.max(1)));
        Ok(Self {
            limits,
            runtime,
            pool,
            slots,
            shutdown: watch::channel(false).0,
        })
    }

    /// The runtime every query's session uses (one pool for all of them).
    pub(crate) fn runtime(&self) -> Arc<RuntimeEnv> {
        Arc::clone(&self.runtime)
    }

    /// A query slot, waiting up to the queue time for one.
    pub(crate) async fn admit(&self, metrics: &Metrics) -> Result<OwnedSemaphorePermit> {
        if *self.shutdown.borrow() {
            return Err(Error::ShuttingDown);
        }
        let wait = self.limits.queue_wait;
        match tokio::time::timeout(wait, Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(Error::ShuttingDown),
            Err(_) => {
                Metrics::inc(&metrics.refused);
                Err(Error::Busy {
                    limit: self.limits.max_queries,
                    waited: wait,
                })
            }
        }
    }

    /// Ends every running query (with [`Error::ShuttingDown`]) and refuses new ones.
    pub(crate) fn shut_down(&self) {
        self.shutdown.send_replace(true);
        self.slots.close();
    }

    /// `e`, or the memory-limit error naming the limit and its setting.
    pub(crate) fn explain(&self, e: Error, metrics: &Metrics) -> Error {
        explain(e, self.limits.memory_bytes, metrics)
    }

    /// The result stream of one query: holds its slot until the end, maps limit errors,
    /// ends at shutdown.
    pub(crate) fn guard(
        self: &Arc<Self>,
        inner: BoxStream<'static, Result<RecordBatch>>,
        permit: OwnedSemaphorePermit,
        metrics: Arc<Metrics>,
    ) -> BoxStream<'static, Result<RecordBatch>> {
        let mut rx = self.shutdown.subscribe();
        let shutdown = Box::pin(async move {
            let _ = rx.wait_for(|down| *down).await;
        });
        Guarded {
            inner: Some(inner),
            permit: Some(permit),
            shutdown,
            admission: Arc::clone(self),
            metrics,
        }
        .boxed()
    }

    pub(crate) fn usage(&self) -> Usage {
        let dm = &self.runtime.disk_manager;
        let progress = dm.spilling_progress();
        let max = self.limits.max_queries.max(1);
        Usage {
            memory_limit: self.limits.memory_bytes,
            memory_reserved: self.pool.reserved() as u64,
            spill_bytes: progress.current_bytes,
            spill_files: progress.active_files_count as u64,
            running: max.saturating_sub(self.slots.available_permits()) as u64,
            max_queries: max as u64,
        }
    }
}

fn explain(e: Error, memory_bytes: u64, metrics: &Metrics) -> Error {
    let Error::DataFusion(d) = &e else {
        return e;
    };
    match d.find_root() {
        DataFusionError::ResourcesExhausted(detail) => {
            Metrics::inc(&metrics.memory_refused);
            let detail = detail.lines().next().unwrap_or_default().to_owned();
            Error::MemoryLimit {
                limit: human_bytes(memory_bytes),
                detail,
            }
        }
        _ if d
            .to_string()
            .contains("spilling process has exceeded the allowable limit") =>
        {
            Metrics::inc(&metrics.memory_refused);
            Error::MemoryLimit {
                limit: human_bytes(memory_bytes),
                detail: "it spilled to disk until the spill files reached --flight-spill-bytes"
                    .into(),
            }
        }
        _ => e,
    }
}

struct Guarded {
    inner: Option<BoxStream<'static, Result<RecordBatch>>>,
    permit: Option<OwnedSemaphorePermit>,
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    admission: Arc<Admission>,
    metrics: Arc<Metrics>,
}

impl Guarded {
    fn close(&mut self) {
        // Dropping the plan's stream stops its tasks; the slot frees with the permit.
        self.inner = None;
        self.permit = None;
    }
}

impl Stream for Guarded {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if this.shutdown.as_mut().poll(cx).is_ready() {
            this.close();
            Metrics::inc(&this.metrics.cancelled);
            return Poll::Ready(Some(Err(Error::ShuttingDown)));
        }
        match inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(b))) => Poll::Ready(Some(Ok(b))),
            Poll::Ready(Some(Err(e))) => {
                this.close();
                let e = this.admission.explain(e, &this.metrics);
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.close();
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    #[test]
    fn memory_errors_name_the_limit_and_the_setting() {
        let m = Metrics::default();
        let e = Error::DataFusion(DataFusionError::ResourcesExhausted(
            "Failed to allocate additional 10.0 MB for SortExec".into(),
        ));
        let text = explain(e, 64 << 20, &m).to_string();
        assert!(text.contains("64.0 MiB"), "{text}");
        assert!(text.contains("--flight-memory-limit"), "{text}");
        assert!(text.contains("SortExec"), "{text}");
        assert_eq!(m.memory_refused.load(Ordering::Relaxed), 1);
        let spill = Error::DataFusion(DataFusionError::External(Box::new(std::io::Error::other(
            "The used disk space during the spilling process has exceeded the allowable limit of 1.0 MB.",
        ))));
        let text = explain(spill, 64 << 20, &m).to_string();
        assert!(text.contains("--flight-spill-bytes"), "{text}");
        let other = explain(Error::BadRequest("x".into()), 1, &m);
        assert!(matches!(other, Error::BadRequest(_)));
    }

    #[tokio::test]
    async fn a_full_server_refuses_after_the_queue_wait_and_frees_slots() {
        let a = Arc::new(
            Admission::new(Limits {
                max_queries: 1,
                queue_wait: Duration::from_millis(50),
                ..Limits::default()
            })
            .unwrap(),
        );
        let m = Arc::new(Metrics::default());
        let held = a.admit(&m).await.unwrap();
        assert_eq!(a.usage().running, 1);
        let refused = a.admit(&m).await.unwrap_err();
        assert!(matches!(refused, Error::Busy { limit: 1, .. }), "{refused}");
        assert!(refused.to_string().contains("--flight-max-queries"));
        assert_eq!(m.refused.load(Ordering::Relaxed), 1);
        // A finished stream frees its slot.
        let s = a.guard(futures::stream::empty().boxed(), held, Arc::clone(&m));
        assert_eq!(s.collect::<Vec<_>>().await.len(), 0);
        let again = a.admit(&m).await.unwrap();
        // Shutdown ends a running query and refuses new ones.
        let pending = a.guard(futures::stream::pending().boxed(), again, Arc::clone(&m));
        a.shut_down();
        let out: Vec<_> = pending.collect().await;
        assert!(matches!(out.as_slice(), [Err(Error::ShuttingDown)]));
        assert!(matches!(a.admit(&m).await, Err(Error::ShuttingDown)));
    }
}
