//! [`QueryEngine`] for [`DeltaEngine`]: planning, execution and the catalog metadata.

use super::*;

fn function_category(label: &str) -> usize {
    match label {
        "Math Functions" => 0,
        "String Functions" | "Binary String Functions" | "Regular Expression Functions" => 1,
        "Time and Date Functions" => 2,
        _ => 3,
    }
}

#[async_trait]
impl QueryEngine for DeltaEngine {
    fn catalog(&self) -> &str {
        &self.opts.catalog
    }

    async fn plan(&self, statement: &Statement) -> Result<Planned> {
        let fut = async {
            let p = self.prepare(statement, None).await?;
            let parameters = params::parameter_schema(&p.plan)?;
            let plan = match &statement.params {
                Some(b) if b.num_columns() > 0 => params::bind(p.plan, Some(b))?,
                _ => p.plan,
            };
            Ok(Planned {
                schema: plain_schema(plan.schema().as_arrow()),
                parameters,
                versions: p.versions,
            })
        };
        match self.opts.statement_timeout {
            Some(t) => tokio::time::timeout(t, fut)
                .await
                .map_err(|_| Error::Timeout(t))?,
            None => fut.await,
        }
    }

    async fn execute(&self, statement: &Statement, at: Option<&Versions>) -> Result<ResultStream> {
        let id = self.next_query.fetch_add(1, Ordering::Relaxed);
        let span = info_span!("query", id, sql = %short(&statement.sql));
        let started = Instant::now();
        Metrics::inc(&self.metrics.queries);
        let out = match self.admission.admit(&self.metrics).await {
            Ok(permit) => {
                let fut = self
                    .run(statement, at, span.clone(), started)
                    .instrument(span.clone());
                let out = match self.opts.statement_timeout {
                    Some(t) => tokio::time::timeout(t, fut)
                        .await
                        .unwrap_or(Err(Error::Timeout(t))),
                    None => fut.await,
                };
                out.map(|mut r| {
                    r.stream = self
                        .admission
                        .guard(r.stream, permit, Arc::clone(&self.metrics));
                    r
                })
                .map_err(|e| self.admission.explain(e, &self.metrics))
            }
            Err(e) => Err(e),
        };
        if let Err(e) = &out {
            Metrics::inc(&self.metrics.query_errors);
            self.metrics.observe(started.elapsed());
            let _g = span.enter();
            if e.is_client_error() {
                info!(error = %e, "query rejected");
            } else {
                warn!(error = %e, "query failed");
            }
        }
        out
    }

    async fn tables(&self) -> Result<Vec<TableInfo>> {
        self.discover(self.opts.refresh_interval).await?;
        let mut out = Vec::new();
        let lake: Vec<Arc<LakeTable>> = self.read_tables().values().cloned().collect();
        for t in lake {
            let snap = t.current();
            let columns: Vec<&str> = snap
                .schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            let primary_key = self.opts.keys.key_for(
                &t.id.schema,
                &t.id.name,
                snap.primary_key.as_deref(),
                &columns,
            );
            out.push(TableInfo {
                catalog: self.opts.catalog.clone(),
                schema: t.id.schema.clone(),
                name: t.id.name.clone(),
                kind: TableKind::Table,
                arrow_schema: plain_schema(&snap.schema),
                version: Some(snap.version),
                committed_ms: snap.committed_ms,
                primary_key,
            });
        }
        out.extend(self.view_infos().await);
        let state = self.query_state(&BTreeMap::new())?;
        let info = InformationSchemaProvider::new(Arc::clone(state.catalog_list()));
        for name in info.table_names() {
            if let Some(p) = info.table(&name).await? {
                out.push(TableInfo {
                    catalog: self.opts.catalog.clone(),
                    schema: INFORMATION_SCHEMA.to_owned(),
                    name,
                    kind: TableKind::System,
                    arrow_schema: plain_schema(&p.schema()),
                    version: None,
                    committed_ms: None,
                    primary_key: Vec::new(),
                });
            }
        }
        Ok(out)
    }

    fn schemas(&self) -> Vec<String> {
        let mut out: BTreeSet<String> = self.opts.layers.first().cloned().into_iter().collect();
        out.extend(self.read_tables().keys().map(|id| id.schema.clone()));
        if let Some(x) = &self.opts.extension {
            out.extend(x.views().into_iter().map(|v| v.schema));
        }
        out.insert(INFORMATION_SCHEMA.to_owned());
        out.into_iter().collect()
    }

    fn functions(&self) -> SqlFunctions {
        let mut lists: [Vec<String>; 4] = Default::default();
        for (name, f) in self.base.scalar_functions() {
            let label = f.documentation().map_or("", |d| d.doc_section.label);
            lists[function_category(label)].push(name.to_ascii_uppercase());
        }
        for name in self.base.aggregate_functions().keys() {
            lists[3].push(name.to_ascii_uppercase());
        }
        for l in &mut lists {
            l.sort();
            l.dedup();
        }
        let [numeric, string, datetime, system] = lists;
        SqlFunctions {
            numeric,
            string,
            datetime,
            system,
        }
    }

    fn keywords(&self) -> Vec<String> {
        datafusion::sql::sqlparser::keywords::ALL_KEYWORDS
            .iter()
            .map(|k| (*k).to_owned())
            .collect()
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

impl DeltaEngine {
    /// The extension's views with their schemas, planned over the inputs' current snapshots
    /// (none while an input has no data yet).
    async fn view_infos(&self) -> Vec<TableInfo> {
        let Some(x) = &self.opts.extension else {
            return Vec::new();
        };
        let views = x.views();
        let sql = match views.first() {
            Some(v) => format!("SELECT * FROM {}.{} LIMIT 0", v.schema, v.name),
            None => return Vec::new(),
        };
        let p = match self.prepare(&Statement::new(sql), None).await {
            Ok(p) => p,
            Err(e) => {
                debug!(error = %e, "views not listed");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for ViewName { schema, name } in views {
            let table = p
                .state
                .catalog_list()
                .catalog(&self.opts.catalog)
                .and_then(|c| c.schema(&schema))
                .map(|s| async move { s.table(&name).await.ok().flatten().map(|t| (name, t)) });
            let Some(fut) = table else { continue };
            if let Some((name, t)) = fut.await {
                out.push(TableInfo {
                    catalog: self.opts.catalog.clone(),
                    schema,
                    name,
                    kind: TableKind::View,
                    arrow_schema: plain_schema(&t.schema()),
                    version: None,
                    committed_ms: None,
                    primary_key: Vec::new(),
                });
            }
        }
        out
    }

    /// The counters, shared (for `/metrics`).
    pub fn metrics_handle(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }
}
