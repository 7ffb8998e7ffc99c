//! The views of `sql/` and their registration into a DataFusion session.
//!
//! The SQL files are compiled into the binary (`include_str!`), in dependency order. Each
//! starts with `-- view: <schema>.<name>`. Views are planned against the session's current
//! `finlake.bronze` providers, so call [`register_views`] again after the bronze snapshots
//! change (the engine does it per query, with the query's snapshot).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Float64Array, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider, MemorySchemaProvider};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::cast::as_float64_array;
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;

use super::options::FinlakeOptions;
use super::{Error, Result};
use crate::lake::Lake;

/// The catalog name the engine serves.
pub const CATALOG: &str = "finlake";
/// Schemas of the catalog.
pub const SCHEMAS: [&str; 3] = ["bronze", "silver", "gold"];
/// Bronze tables the views read.
pub const BRONZE_TABLES: [&str; 7] = [
    "users",
    "cards",
    "mcc_codes",
    "transactions",
    "fraud_labels",
    "users__changes",
    "cards__changes",
];

/// Bronze table name -> the Delta version a query reads.
pub type BronzeVersions = BTreeMap<String, i64>;

const FILES: [(&str, &str); 9] = [
    (
        "silver/transactions_base.sql",
        include_str!("../../sql/silver/transactions_base.sql"),
    ),
    (
        "silver/users_history.sql",
        include_str!("../../sql/silver/users_history.sql"),
    ),
    (
        "silver/cards_history.sql",
        include_str!("../../sql/silver/cards_history.sql"),
    ),
    (
        "silver/transactions_enriched.sql",
        include_str!("../../sql/silver/transactions_enriched.sql"),
    ),
    (
        "gold/minute_metrics.sql",
        include_str!("../../sql/gold/minute_metrics.sql"),
    ),
    (
        "gold/daily_client_spend.sql",
        include_str!("../../sql/gold/daily_client_spend.sql"),
    ),
    (
        "gold/merchant_risk.sql",
        include_str!("../../sql/gold/merchant_risk.sql"),
    ),
    (
        "gold/mcc_risk.sql",
        include_str!("../../sql/gold/mcc_risk.sql"),
    ),
    (
        "gold/fraud_label_stats.sql",
        include_str!("../../sql/gold/fraud_label_stats.sql"),
    ),
];

/// One view: `finlake.<schema>.<name>` defined by `sql`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewDef {
    pub schema: String,
    pub name: String,
    pub file: String,
    pub sql: String,
}

/// The views in dependency order.
pub fn view_defs() -> Result<Vec<ViewDef>> {
    FILES
        .iter()
        .map(|(file, sql)| {
            let header = sql
                .lines()
                .find_map(|l| l.trim().strip_prefix("-- view:"))
                .ok_or_else(|| Error::Spec(format!("{file}: no `-- view:` header")))?;
            let (schema, name) = header
                .trim()
                .split_once('.')
                .ok_or_else(|| Error::Spec(format!("{file}: view name is not schema.name")))?;
            Ok(ViewDef {
                schema: schema.to_owned(),
                name: name.to_owned(),
                file: (*file).to_owned(),
                sql: (*sql).to_owned(),
            })
        })
        .collect()
}

/// `finlake_home_state(lat, lon)`: the state of the nearest known city (the same rule the
/// generator and the simulator use for a user's home; see README, "Users' home states").
pub(crate) fn home_state_udf() -> ScalarUDF {
    create_udf(
        "finlake_home_state",
        vec![DataType::Float64, DataType::Float64],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let lat: &Float64Array = as_float64_array(&arrays[0])?;
            let lon: &Float64Array = as_float64_array(&arrays[1])?;
            let mut out = StringBuilder::with_capacity(lat.len(), lat.len() * 2);
            for i in 0..lat.len() {
                if lat.is_null(i) || lon.is_null(i) {
                    out.append_null();
                } else {
                    out.append_value(
                        crate::data::geo::nearest_city(lat.value(i), lon.value(i)).state,
                    );
                }
            }
            Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
        }),
    )
}

/// Registers the UDFs the views use.
pub fn register_udfs(ctx: &SessionContext) {
    ctx.register_udf(home_state_udf());
}

/// The `finlake` catalog with its bronze/silver/gold schemas (created when missing).
pub fn ensure_catalog(ctx: &SessionContext) -> Arc<dyn CatalogProvider> {
    let catalog = ctx.catalog(CATALOG).unwrap_or_else(|| {
        let c: Arc<dyn CatalogProvider> = Arc::new(MemoryCatalogProvider::new());
        ctx.register_catalog(CATALOG, Arc::clone(&c));
        c
    });
    for s in SCHEMAS {
        if catalog.schema(s).is_none() {
            // MemoryCatalogProvider never refuses a schema.
            let _ = catalog.register_schema(s, Arc::new(MemorySchemaProvider::new()));
        }
    }
    catalog
}

fn schema_of(ctx: &SessionContext, name: &str) -> Result<Arc<dyn SchemaProvider>> {
    ensure_catalog(ctx)
        .schema(name)
        .ok_or_else(|| Error::Spec(format!("schema {CATALOG}.{name} missing")))
}

/// Opens `bronze/<name>` of the lake (None when it has no commit yet).
pub(crate) async fn open_bronze(lake: &Lake, name: &str) -> Result<Option<DeltaTable>> {
    let url = lake.table_url(name)?;
    let table =
        DeltaTable::try_from_url_with_storage_options(url, lake.storage_options().clone()).await?;
    Ok(table.version().is_some().then_some(table))
}

/// Registers the latest snapshot of every bronze table the views read as
/// `finlake.bronze.<table>` (what the engine does with its own snapshots) and returns their
/// versions, for [`register_views`].
pub async fn register_lake(ctx: &SessionContext, lake: &Lake) -> Result<BronzeVersions> {
    let bronze = schema_of(ctx, "bronze")?;
    let mut versions = BronzeVersions::new();
    for name in BRONZE_TABLES {
        let Some(table) = open_bronze(lake, name).await? else {
            return Err(Error::Spec(format!(
                "bronze table {name} does not exist yet: run `finlake ingest` first"
            )));
        };
        table.update_datafusion_session(&ctx.state())?;
        let provider: Arc<dyn TableProvider> = table.table_provider().await?;
        bronze.deregister_table(name)?;
        bronze.register_table(name.to_owned(), provider)?;
        versions.insert(name.to_owned(), table.version().map_or(-1, |v| v as i64));
    }
    Ok(versions)
}

/// Plans every view of `sql/` against the session's `finlake.bronze` tables and registers
/// it as `finlake.silver.*` / `finlake.gold.*`. `versions` are the bronze versions the
/// session reads: the reflection rule uses a reflection only when it is at exactly those.
pub async fn register_views(ctx: &SessionContext, versions: &BronzeVersions) -> Result<()> {
    register_udfs(ctx);
    {
        let state_ref = ctx.state_ref();
        let mut state = state_ref.write();
        let options = state.config_mut().options_mut();
        let snapshot = versions
            .iter()
            .map(|(t, v)| format!("{t}={v}"))
            .collect::<Vec<_>>()
            .join(";");
        match options.extensions.get_mut::<FinlakeOptions>() {
            Some(o) => o.snapshot = snapshot,
            None => options.extensions.insert(FinlakeOptions {
                snapshot,
                ..Default::default()
            }),
        }
    }
    for view in view_defs()? {
        let schema = schema_of(ctx, &view.schema)?;
        let plan = ctx
            .sql(&view.sql)
            .await
            .map_err(|e| Error::Spec(format!("{}: {e}", view.file)))?
            .into_unoptimized_plan();
        schema.deregister_table(&view.name)?;
        schema.register_table(
            view.name.clone(),
            Arc::new(ViewTable::new(plan, Some(view.sql.clone()))),
        )?;
    }
    Ok(())
}
