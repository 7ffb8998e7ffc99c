//! The result cache: complete results of small queries, keyed by the query text, the bound
//! parameters and the versions of every table the query reads. A new commit changes a
//! version and so the key: a cached result can never be served for a newer snapshot. Bounded
//! by bytes (moka weigher); results larger than the per-entry limit are streamed and never
//! cached. Queries with non-immutable functions (`now()`, `random()`) or over
//! `information_schema` are not cached (see [`cacheable`]).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{Expr, LogicalPlan, Volatility};
use futures::Stream;
use moka::future::Cache;

use super::{Result, Versions};

/// What a cached result is found by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub sql: String,
    /// The parameter batch, IPC-encoded (empty without parameters).
    pub params: Vec<u8>,
    pub settings: std::collections::BTreeMap<String, String>,
    pub versions: Versions,
}

/// A complete result.
#[derive(Debug)]
pub struct CachedResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub bytes: usize,
}

/// Results by key, bounded by bytes.
#[derive(Debug, Clone)]
pub struct ResultCache {
    inner: Option<Cache<CacheKey, Arc<CachedResult>>>,
    max_entry_bytes: usize,
}

impl ResultCache {
    /// `capacity_bytes == 0` disables the cache.
    pub fn new(capacity_bytes: u64, max_entry_bytes: usize) -> Self {
        let inner = (capacity_bytes > 0 && max_entry_bytes > 0).then(|| {
            Cache::builder()
                .max_capacity(capacity_bytes)
                .weigher(|k: &CacheKey, v: &Arc<CachedResult>| {
                    let w = v.bytes + k.sql.len() + k.params.len() + 64;
                    u32::try_from(w).unwrap_or(u32::MAX)
                })
                .build()
        });
        Self {
            inner,
            max_entry_bytes,
        }
    }

    pub fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    pub async fn get(&self, key: &CacheKey) -> Option<Arc<CachedResult>> {
        self.inner.as_ref()?.get(key).await
    }

    pub async fn insert(&self, key: CacheKey, value: CachedResult) {
        if let Some(c) = &self.inner
            && value.bytes <= self.max_entry_bytes
        {
            c.insert(key, Arc::new(value)).await;
        }
    }

    /// Entries and weighted bytes (approximate: moka applies writes lazily).
    pub fn usage(&self) -> (u64, u64) {
        self.inner
            .as_ref()
            .map_or((0, 0), |c| (c.entry_count(), c.weighted_size()))
    }

    /// Wraps a result stream: batches pass through and are kept while the total stays under
    /// the per-entry limit; when the stream ends without error the result is inserted.
    pub fn tee<S>(&self, key: CacheKey, schema: SchemaRef, inner: S) -> Tee<S>
    where
        S: Stream<Item = Result<RecordBatch>> + Unpin,
    {
        Tee {
            inner,
            key: Some(key),
            schema,
            kept: Some(Vec::new()),
            bytes: 0,
            cache: self.clone(),
        }
    }
}

/// See [`ResultCache::tee`].
pub struct Tee<S> {
    inner: S,
    key: Option<CacheKey>,
    schema: SchemaRef,
    kept: Option<Vec<RecordBatch>>,
    bytes: usize,
    cache: ResultCache,
}

impl<S> std::fmt::Debug for Tee<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tee")
            .field("key", &self.key)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

impl<S> Stream for Tee<S>
where
    S: Stream<Item = Result<RecordBatch>> + Unpin,
{
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let item = Pin::new(&mut this.inner).poll_next(cx);
        match &item {
            Poll::Ready(Some(Ok(b))) => {
                this.bytes += b.get_array_memory_size();
                if this.bytes > this.cache.max_entry_bytes {
                    this.kept = None;
                } else if let Some(k) = this.kept.as_mut() {
                    k.push(b.clone());
                }
            }
            Poll::Ready(Some(Err(_))) => this.kept = None,
            Poll::Ready(None) => {
                if let (Some(batches), Some(key)) = (this.kept.take(), this.key.take()) {
                    let value = CachedResult {
                        schema: Arc::clone(&this.schema),
                        batches,
                        bytes: this.bytes,
                    };
                    let cache = this.cache.clone();
                    tokio::spawn(async move { cache.insert(key, value).await });
                }
            }
            Poll::Pending => {}
        }
        item
    }
}

/// Whether a plan's result depends only on its tables' versions and parameters: no
/// information_schema, no volatile or stable functions (`random()`, `now()`), not EXPLAIN.
pub fn cacheable(plan: &LogicalPlan, reads_information_schema: bool) -> bool {
    if reads_information_schema {
        return false;
    }
    // A plan's text depends on more than the data (which reflections are current, settings):
    // never cached.
    if matches!(plan, LogicalPlan::Explain(_) | LogicalPlan::Analyze(_)) {
        return false;
    }
    let mut pure = true;
    let _ = plan.apply_with_subqueries(|node| {
        node.apply_expressions(|e| {
            e.apply(|e| {
                let volatility = match e {
                    Expr::ScalarFunction(f) => Some(f.func.signature().volatility),
                    Expr::AggregateFunction(f) => Some(f.func.signature().volatility),
                    Expr::WindowFunction(_) => None,
                    _ => None,
                };
                if volatility.is_some_and(|v| v != Volatility::Immutable) {
                    pure = false;
                    return Ok(TreeNodeRecursion::Stop);
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    });
    pure
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::prelude::SessionContext;
    use futures::StreamExt;

    fn batch(n: i64) -> RecordBatch {
        RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![n])) as _)])
            .expect("batch")
    }

    fn key(v: u64) -> CacheKey {
        CacheKey {
            sql: "select x".into(),
            params: vec![],
            settings: Default::default(),
            versions: Versions::from([("bronze.t".to_owned(), v)]),
        }
    }

    #[tokio::test]
    async fn complete_small_results_are_kept_per_version() {
        let cache = ResultCache::new(1 << 20, 1 << 16);
        let b = batch(1);
        let stream = futures::stream::iter(vec![Ok(b.clone()), Ok(batch(2))]);
        let out: Vec<_> = cache
            .tee(key(1), b.schema(), stream)
            .collect::<Vec<_>>()
            .await;
        assert_eq!(out.len(), 2);
        // The insert runs in a task: wait for it.
        for _ in 0..100 {
            if cache.get(&key(1)).await.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let hit = cache.get(&key(1)).await.expect("cached");
        assert_eq!(hit.batches.len(), 2);
        // Another version is another key.
        assert!(cache.get(&key(2)).await.is_none());
    }

    #[tokio::test]
    async fn large_or_failed_results_are_not_kept() {
        let cache = ResultCache::new(1 << 20, 8);
        let b = batch(1);
        let _: Vec<_> = cache
            .tee(
                key(1),
                b.schema(),
                futures::stream::iter(vec![Ok(b.clone())]),
            )
            .collect()
            .await;
        let cache2 = ResultCache::new(1 << 20, 1 << 16);
        let failing = futures::stream::iter(vec![
            Ok(b.clone()),
            Err(super::super::Error::BadRequest("boom".into())),
        ]);
        let _: Vec<_> = cache2.tee(key(1), b.schema(), failing).collect().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(cache.get(&key(1)).await.is_none());
        assert!(cache2.get(&key(1)).await.is_none());
    }

    #[tokio::test]
    async fn volatile_functions_are_not_cacheable() {
        let ctx = SessionContext::new();
        let state = ctx.state();
        let p = |sql: &'static str| {
            let state = state.clone();
            async move { state.create_logical_plan(sql).await.expect("plan") }
        };
        assert!(cacheable(&p("select abs(-1)").await, false));
        assert!(!cacheable(&p("select random()").await, false));
        assert!(!cacheable(&p("select now()").await, false));
        assert!(!cacheable(
            &p("select 1 where exists (select random())").await,
            false
        ));
        assert!(!cacheable(&p("select 1").await, true));
        assert!(!cacheable(&p("explain select abs(-1)").await, false));
    }
}
