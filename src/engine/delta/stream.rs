//! The end of every result stream: the statement deadline, metrics, the query's log line.

use super::*;

/// The end of every result stream: the statement deadline, metrics, and the query's log line.
pub(super) struct Finish {
    pub(super) inner: BoxStream<'static, Result<RecordBatch>>,
    pub(super) deadline: Option<(Duration, Pin<Box<tokio::time::Sleep>>)>,
    pub(super) span: Span,
    pub(super) started: Instant,
    pub(super) rows: u64,
    pub(super) batches: u64,
    pub(super) done: bool,
    pub(super) cached: bool,
    pub(super) metrics: Arc<Metrics>,
}

impl Finish {
    fn end(&mut self, outcome: &str) {
        self.done = true;
        let elapsed = self.started.elapsed();
        self.metrics.observe(elapsed);
        let _g = self.span.enter();
        info!(
            outcome,
            rows = self.rows,
            batches = self.batches,
            cached = self.cached,
            elapsed_ms = elapsed.as_secs_f64() * 1e3,
            "query finished"
        );
    }
}

impl Stream for Finish {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Some((limit, sleep)) = this.deadline.as_mut()
            && sleep.as_mut().poll(cx).is_ready()
        {
            let limit = *limit;
            Metrics::inc(&this.metrics.query_errors);
            this.end("timeout");
            return Poll::Ready(Some(Err(Error::Timeout(limit))));
        }
        let polled = {
            let _g = this.span.enter();
            this.inner.poll_next_unpin(cx)
        };
        match polled {
            Poll::Ready(Some(Ok(b))) => {
                this.rows += b.num_rows() as u64;
                this.batches += 1;
                this.metrics
                    .rows
                    .fetch_add(b.num_rows() as u64, Ordering::Relaxed);
                Metrics::inc(&this.metrics.batches);
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Ready(Some(Err(e))) => {
                Metrics::inc(&this.metrics.query_errors);
                {
                    let _g = this.span.enter();
                    warn!(error = %e, "query failed");
                }
                this.end("error");
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.end("ok");
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        if !self.done {
            // The client went away (or cancelled): dropping `inner` stops the execution.
            Metrics::inc(&self.metrics.cancelled);
            self.end("cancelled");
        }
    }
}

pub(super) fn short(sql: &str) -> String {
    const MAX: usize = 500;
    let one_line: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.len() <= MAX {
        return one_line;
    }
    let mut cut = MAX;
    while !one_line.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &one_line[..cut])
}
