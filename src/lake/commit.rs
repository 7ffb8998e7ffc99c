//! Delta plumbing shared by the bronze and history tables: creating tables, committing the
//! source position (application transaction + commit metadata), reading it back, reading rows.

use std::collections::HashMap;
use std::sync::Arc;

use deltalake::DeltaTable;
use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::compute::cast;
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{StructType, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use futures::TryStreamExt as _;

use super::{Error, Lake, Result, session, types};
use crate::ingest::event::Position;

/// Commit metadata keys.
pub const META_POSITION: &str = "finlake.position";
pub const META_APP_ID: &str = "finlake.app_id";
/// How many recent commits [`applied_position`] searches for the position metadata.
const HISTORY_SCAN: usize = 1000;

/// Opens the Delta table `bronze/<name>`, creating it with `arrow` when missing.
pub(crate) async fn open_or_create(
    lake: &Lake,
    name: &str,
    arrow: &SchemaRef,
    partition_by: &[&str],
) -> Result<DeltaTable> {
    let url = lake.table_url(name)?;
    let table =
        DeltaTable::try_from_url_with_storage_options(url, lake.storage_options().clone()).await?;
    if table.version().is_some() {
        return Ok(table);
    }
    let kernel: StructType = arrow.as_ref().try_into_kernel()?;
    let created = table
        .create()
        .with_table_name(name)
        .with_columns(kernel.fields().cloned())
        .with_partition_columns(partition_by.iter().copied())
        .with_save_mode(SaveMode::ErrorIfExists)
        .await;
    match created {
        Ok(t) => Ok(t),
        Err(e) => {
            // Another process may have created it meanwhile.
            let url = lake.table_url(name)?;
            let table =
                DeltaTable::try_from_url_with_storage_options(url, lake.storage_options().clone())
                    .await?;
            if table.version().is_some() {
                Ok(table)
            } else {
                Err(e.into())
            }
        }
    }
}

/// Reads every row of the current snapshot, cast to `schema` (the scan may return Utf8View
/// strings or partition columns in another place).
pub(crate) async fn read_table(table: &DeltaTable, schema: &SchemaRef) -> Result<Vec<RecordBatch>> {
    let ctx = session()?;
    table.update_datafusion_session(&ctx.state())?;
    let provider = table.table_provider().await?;
    let batches = ctx.read_table(provider)?.collect().await?;
    batches
        .iter()
        .map(|b| {
            let columns = schema
                .fields()
                .iter()
                .map(|f| {
                    let c = b.column_by_name(f.name()).ok_or_else(|| {
                        Error::Schema(format!("column {} missing from the scan", f.name()))
                    })?;
                    Ok(if c.data_type() == f.data_type() {
                        Arc::clone(c)
                    } else {
                        cast(c, f.data_type())?
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
        })
        .collect()
}

pub(crate) fn commit_properties(
    app_id: &str,
    up_to: &Position,
    version: i64,
) -> Result<CommitProperties> {
    Ok(CommitProperties::default()
        .with_metadata([
            (META_POSITION.to_owned(), serde_json::to_value(up_to)?),
            (
                META_APP_ID.to_owned(),
                serde_json::Value::String(app_id.to_owned()),
            ),
        ])
        .with_application_transaction(Transaction::new(app_id, version)))
}

/// Adds `extra` application transactions to a commit.
pub(crate) fn with_extra(props: CommitProperties, extra: &[Transaction]) -> CommitProperties {
    extra
        .iter()
        .fold(props, |p, t| p.with_application_transaction(t.clone()))
}

/// A commit of the changes up to `up_to` that the table does not have yet: the position the
/// table has applied (changes at or below it are dropped) and the commit's properties.
pub(crate) struct Begun {
    pub(crate) applied: Option<Position>,
    pub(crate) props: CommitProperties,
}

/// The prologue every exactly-once commit shares (bronze MERGE, history append): the table
/// brought up to date, its applied position read, and `None` when it already has `up_to` (a
/// replay: nothing to write); else the commit properties recording `up_to` for `app_id`,
/// with `extra` application transactions.
pub(crate) async fn begin(
    table: &mut DeltaTable,
    cache: &mut HashMap<String, Position>,
    up_to: &Position,
    app_id: &str,
    extra: &[Transaction],
) -> Result<Option<Begun>> {
    let version = types::encode_version(up_to)?;
    table.update_incremental(None).await?;
    let applied = applied_position(table, cache, app_id).await?;
    if applied.as_ref().is_some_and(|a| a >= up_to) {
        return Ok(None);
    }
    let props = with_extra(commit_properties(app_id, up_to, version)?, extra);
    Ok(Some(Begun { applied, props }))
}

/// The version of the application transaction `app_id` in the table's current snapshot.
pub(crate) async fn txn_version(table: &DeltaTable, app_id: &str) -> Result<Option<i64>> {
    Ok(table
        .snapshot()?
        .transaction_version(table.log_store().as_ref(), app_id)
        .await?)
}

/// A commit holding only the application transaction and the position metadata.
pub(crate) async fn commit_position_only(
    table: &mut DeltaTable,
    props: CommitProperties,
) -> Result<()> {
    let operation = DeltaOperation::Write {
        mode: SaveMode::Append,
        partition_by: None,
        predicate: None,
    };
    CommitBuilder::from(props)
        .with_actions(vec![])
        .build(Some(table.snapshot()?), table.log_store(), operation)
        .await?;
    table.update_incremental(None).await?;
    Ok(())
}

/// The position committed for `app_id`: the txn version says whether and how far; the newest
/// commit metadata of that app id with the same version gives the exact position.
pub(crate) async fn applied_position(
    table: &DeltaTable,
    cache: &mut HashMap<String, Position>,
    app_id: &str,
) -> Result<Option<Position>> {
    let Some(version) = table
        .snapshot()?
        .transaction_version(table.log_store().as_ref(), app_id)
        .await?
    else {
        return Ok(None);
    };
    if let Some(p) = cache.get(app_id)
        && types::encode_version(p)? == version
    {
        return Ok(Some(p.clone()));
    }
    let infos: Vec<_> = table.history(Some(HISTORY_SCAN)).try_collect().await?;
    for info in infos {
        let (Some(id), Some(pos)) = (info.info.get(META_APP_ID), info.info.get(META_POSITION))
        else {
            continue;
        };
        if id.as_str() != Some(app_id) {
            continue;
        }
        let p: Position = serde_json::from_value(pos.clone())?;
        if types::encode_version(&p)? == version {
            cache.insert(app_id.to_owned(), p.clone());
            return Ok(Some(p));
        }
    }
    Err(Error::Position(format!(
        "app {app_id}: txn version {version} is recorded but no {META_POSITION} commit metadata in the last {HISTORY_SCAN} commits"
    )))
}
