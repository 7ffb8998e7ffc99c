//! The engine against real Delta tables in a temporary lake.

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{Array, AsArray, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use deltalake::DeltaTable;
use deltalake::protocol::SaveMode;
use futures::TryStreamExt;

use super::keys::KeyCatalog;
use super::*;
use crate::lake::Lake;

fn users_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]))
}

fn users(ids: std::ops::Range<i64>) -> RecordBatch {
    let names: Vec<String> = ids.clone().map(|i| format!("user {i}")).collect();
    RecordBatch::try_new(
        users_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(ids)),
            Arc::new(StringArray::from(names)),
        ],
    )
    .expect("batch")
}

async fn table_at(lake: &Lake, layer: &str, name: &str) -> DeltaTable {
    let url = lake.root().join(&format!("{layer}/{name}/")).expect("url");
    if let Ok(p) = url.to_file_path() {
        std::fs::create_dir_all(p).expect("dir");
    }
    let table = DeltaTable::try_from_url_with_storage_options(url, Default::default())
        .await
        .expect("table");
    if table.version().is_some() {
        return table;
    }
    use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
    let kernel: deltalake::kernel::StructType =
        users_schema().as_ref().try_into_kernel().expect("kernel");
    table
        .create()
        .with_columns(kernel.fields().cloned())
        .await
        .expect("create")
}

async fn append(lake: &Lake, layer: &str, name: &str, batch: RecordBatch) -> u64 {
    let t = table_at(lake, layer, name)
        .await
        .write(vec![batch])
        .with_save_mode(SaveMode::Append)
        .await
        .expect("write");
    t.version().expect("version")
}

async fn engine(opts: EngineOptions) -> (tempfile::TempDir, Lake, Arc<DeltaEngine>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = Lake::open(dir.path().to_str().expect("utf8"), Default::default()).expect("lake");
    append(&lake, "bronze", "users", users(0..10)).await;
    append(&lake, "gold", "daily", users(0..3)).await;
    // A directory without a log is not a table.
    std::fs::create_dir_all(dir.path().join("bronze/empty")).expect("dir");
    let e = DeltaEngine::open(&lake, opts).await.expect("engine");
    (dir, lake, e)
}

async fn rows(e: &DeltaEngine, sql: &str) -> Vec<RecordBatch> {
    e.execute(&Statement::new(sql), None)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
        .stream
        .try_collect()
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
}

async fn count(e: &DeltaEngine, sql: &str) -> i64 {
    let b = rows(e, sql).await;
    b[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[tokio::test]
async fn tables_are_discovered_and_queried_by_layer() {
    let (_dir, _lake, e) = engine(EngineOptions {
        keys: KeyCatalog::new([("users".to_owned(), vec!["id".to_owned()])]),
        ..EngineOptions::default()
    })
    .await;
    assert_eq!(count(&e, "select count(*) from users").await, 10);
    assert_eq!(count(&e, "select count(*) from bronze.users").await, 10);
    assert_eq!(
        count(&e, "select count(*) from finlake.gold.daily").await,
        3
    );
    assert_eq!(
        e.schemas(),
        ["bronze", "gold", "information_schema"].map(String::from)
    );
    let tables = e.tables().await.expect("tables");
    let users = tables.iter().find(|t| t.name == "users").expect("users");
    assert_eq!(users.primary_key, ["id"]);
    assert_eq!(users.kind, TableKind::Table);
    assert!(tables.iter().all(|t| t.name != "empty"));
    assert!(
        tables
            .iter()
            .any(|t| t.schema == "information_schema" && t.name == "columns")
    );
    let gold = tables.iter().find(|t| t.name == "daily").expect("daily");
    assert!(gold.primary_key.is_empty());
    // Unknown tables are the client's error.
    let err = e
        .execute(&Statement::new("select * from nope"), None)
        .await
        .expect_err("unknown table");
    assert!(err.is_client_error(), "{err}");
}

#[tokio::test]
async fn a_commit_is_visible_to_the_next_query_and_pinned_reads_keep_their_snapshot() {
    let (_dir, lake, e) = engine(EngineOptions::default()).await;
    let planned = e
        .plan(&Statement::new("select count(*) from users"))
        .await
        .expect("plan");
    let v0 = planned.versions["bronze.users"];
    let v1 = append(&lake, "bronze", "users", users(10..15)).await;
    assert!(v1 > v0);
    // The next query sees the commit.
    assert_eq!(count(&e, "select count(*) from users").await, 15);
    // A ticket pinned to the planned versions reads exactly that snapshot.
    let pinned: Vec<RecordBatch> = e
        .execute(
            &Statement::new("select count(*) from users"),
            Some(&planned.versions),
        )
        .await
        .expect("pinned")
        .stream
        .try_collect()
        .await
        .expect("rows");
    assert_eq!(pinned[0].column(0).as_primitive::<Int64Type>().value(0), 10);
    // A new table appears without a restart.
    append(&lake, "silver", "enriched", users(0..2)).await;
    assert_eq!(count(&e, "select count(*) from silver.enriched").await, 2);
}

/// Polls `sql` until it counts `want`, for at most 10 s.
async fn eventually(e: &DeltaEngine, sql: &str, want: i64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while count(e, sql).await != want {
        assert!(
            std::time::Instant::now() < deadline,
            "{sql} never counted {want}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn following_in_the_background_queries_never_list_a_log_and_announced_commits_show_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = Lake::open(dir.path().to_str().expect("utf8"), Default::default()).expect("lake");
    append(&lake, "bronze", "users", users(0..10)).await;
    let opts = EngineOptions {
        follow: Follow::Background(Some(lake.commits())),
        refresh_interval: Duration::from_secs(3600),
        ..EngineOptions::default()
    };
    let e = DeltaEngine::open(&lake, opts).await.expect("engine");
    let refresher = e.spawn_refresher();
    assert_eq!(count(&e, "select count(*) from users").await, 10);
    // A commit nobody announced: queries keep the snapshot they have (no listing per query).
    append(&lake, "bronze", "users", users(10..15)).await;
    for _ in 0..3 {
        assert_eq!(count(&e, "select count(*) from users").await, 10);
    }
    // Announced: the background task brings the table up to date.
    lake.announce_commit();
    eventually(&e, "select count(*) from users", 15).await;
    refresher.abort();
}

#[tokio::test]
async fn following_in_the_background_finds_other_writers_commits_on_the_interval() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = Lake::open(dir.path().to_str().expect("utf8"), Default::default()).expect("lake");
    append(&lake, "bronze", "users", users(0..10)).await;
    let opts = EngineOptions {
        follow: Follow::Background(None),
        refresh_interval: Duration::from_millis(50),
        ..EngineOptions::default()
    };
    let e = DeltaEngine::open(&lake, opts).await.expect("engine");
    let refresher = e.spawn_refresher();
    append(&lake, "bronze", "users", users(10..12)).await;
    eventually(&e, "select count(*) from users", 12).await;
    refresher.abort();
}

#[tokio::test]
async fn the_server_is_read_only() {
    let (_dir, _lake, e) = engine(EngineOptions::default()).await;
    for sql in [
        "update users set name = 'x'",
        "delete from users",
        "insert into users values (1, 'x')",
        "create table t (x int)",
        "drop table users",
        "copy users to '/tmp/x.parquet'",
        "create view v as select 1",
    ] {
        let err = e.execute(&Statement::new(sql), None).await.expect_err(sql);
        assert!(matches!(err, Error::ReadOnly(_)), "{sql}: {err}");
        assert!(err.to_string().contains("read-only"), "{err}");
    }
    // No sessions: SET is refused with where settings go instead; settings sent with a
    // statement are limited to finlake.* and checked.
    let err = e
        .execute(
            &Statement::new("set datafusion.execution.batch_size = 1"),
            None,
        )
        .await
        .expect_err("set");
    assert!(matches!(err, Error::BadRequest(_)), "{err}");
    assert!(err.to_string().contains("finlake-<name>"), "{err}");
    for (k, v) in [
        ("datafusion.execution.batch_size", "1"),
        ("finlake.reflections", "off"),
    ] {
        let err = e
            .execute(&Statement::new("select 1").with_setting(k, v), None)
            .await
            .expect_err(k);
        assert!(err.is_client_error(), "{k}: {err}");
        assert!(err.to_string().contains(k), "{k}: {err}");
    }
    // Queries, EXPLAIN and SHOW work.
    assert!(!rows(&e, "explain select * from users").await.is_empty());
    assert!(!rows(&e, "show tables").await.is_empty());
    assert!(matches!(
        e.execute(&Statement::new("selec 1"), None).await,
        Err(Error::BadRequest(_))
    ));
}

#[tokio::test]
async fn parameters_bind_by_position_and_question_marks_work() {
    let (_dir, _lake, e) = engine(EngineOptions::default()).await;
    for sql in [
        "select count(*) from users where id >= $1 and name <> $2",
        "select count(*) from users where id >= ? and name <> ?",
    ] {
        let planned = e.plan(&Statement::new(sql)).await.expect("plan");
        assert_eq!(planned.parameters.fields().len(), 2);
        assert_eq!(planned.parameters.field(0).data_type(), &DataType::Int64);
        assert_eq!(planned.parameters.field(1).data_type(), &DataType::Utf8);
        let params = RecordBatch::try_from_iter([
            ("$1", Arc::new(StringArray::from(vec!["7"])) as _),
            ("$2", Arc::new(StringArray::from(vec!["user 8"])) as _),
        ])
        .expect("params");
        let stmt = Statement {
            sql: sql.into(),
            params: Some(params),
            ..Statement::default()
        };
        let b: Vec<RecordBatch> = e
            .execute(&stmt, None)
            .await
            .expect("run")
            .stream
            .try_collect()
            .await
            .expect("rows");
        assert_eq!(b[0].column(0).as_primitive::<Int64Type>().value(0), 2);
    }
}

#[tokio::test]
async fn strings_are_plain_utf8() {
    let (_dir, _lake, e) = engine(EngineOptions::default()).await;
    for sql in [
        "select name, upper(name) as u from users",
        "select arrow_cast('x', 'Utf8View') as v",
    ] {
        let planned = e.plan(&Statement::new(sql)).await.expect("plan");
        let result = e.execute(&Statement::new(sql), None).await.expect("run");
        assert_eq!(result.schema, planned.schema);
        for f in result.schema.fields() {
            assert_eq!(f.data_type(), &DataType::Utf8, "{sql}: {f}");
        }
        let b: Vec<RecordBatch> = result.stream.try_collect().await.expect("rows");
        for batch in b {
            assert_eq!(batch.schema(), planned.schema);
            assert!(!batch.column(0).is_empty());
        }
    }
}

#[tokio::test]
async fn results_are_cached_per_table_version() {
    let (_dir, lake, e) = engine(EngineOptions::default()).await;
    let sql = "select id from users order by id";
    let first = e.execute(&Statement::new(sql), None).await.expect("run");
    assert!(!first.cached);
    let _: Vec<RecordBatch> = first.stream.try_collect().await.expect("rows");
    let mut hit = false;
    for _ in 0..50 {
        let r = e.execute(&Statement::new(sql), None).await.expect("run");
        hit = r.cached;
        let b: Vec<RecordBatch> = r.stream.try_collect().await.expect("rows");
        assert_eq!(b.iter().map(RecordBatch::num_rows).sum::<usize>(), 10);
        if hit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(hit, "second run served from the cache");
    // A commit changes the key: fresh rows, never the cached ones.
    append(&lake, "bronze", "users", users(10..11)).await;
    let r = e.execute(&Statement::new(sql), None).await.expect("run");
    assert!(!r.cached);
    let b: Vec<RecordBatch> = r.stream.try_collect().await.expect("rows");
    assert_eq!(b.iter().map(RecordBatch::num_rows).sum::<usize>(), 11);
    // Volatile queries are never cached.
    for _ in 0..2 {
        let r = e
            .execute(&Statement::new("select random() from users"), None)
            .await
            .expect("run");
        assert!(!r.cached);
        let _: Vec<RecordBatch> = r.stream.try_collect().await.expect("rows");
    }
}

#[tokio::test]
async fn statements_time_out() {
    let (_dir, _lake, e) = engine(EngineOptions {
        statement_timeout: Some(Duration::from_millis(300)),
        ..EngineOptions::default()
    })
    .await;
    let started = std::time::Instant::now();
    let out = async {
        let r = e
            .execute(
                &Statement::new("select count(*) from generate_series(1, 100000000000)"),
                None,
            )
            .await?;
        r.stream.try_collect::<Vec<_>>().await
    }
    .await;
    assert!(matches!(out, Err(Error::Timeout(_))), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        e.metrics()
            .query_errors
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
}

#[test]
fn a_lake_under_an_object_store_prefix_keeps_its_prefix() {
    let url = |s: &str| url::Url::parse(s).expect("url");
    for root in ["s3://bucket/lake", "s3://bucket/lake/"] {
        let dir = delta::directory_url(&url(root));
        assert_eq!(
            dir.join("bronze/users/").expect("join").as_str(),
            "s3://bucket/lake/bronze/users/"
        );
    }
    assert_eq!(
        delta::directory_url(&url("file:///tmp/lake"))
            .join("silver/x/")
            .expect("join")
            .as_str(),
        "file:///tmp/lake/silver/x/"
    );
}

#[tokio::test]
async fn now_in_a_filter_is_evaluated_once_per_query() {
    let (_d, lake, e) = engine(EngineOptions::default()).await;
    append(&lake, "bronze", "users", users(0..10)).await;
    e.discover(Duration::ZERO).await.expect("discover");
    let n = count(
        &e,
        "select count(*) from bronze.users where to_timestamp_seconds(id) < now() - interval '1 day'",
    )
    .await;
    assert_eq!(n, count(&e, "select count(*) from bronze.users").await);
    let future = count(
        &e,
        "select count(*) from bronze.users where to_timestamp_seconds(id) > now() \
         and id in (select id from bronze.users where to_timestamp_seconds(id) < now())",
    )
    .await;
    assert_eq!(future, 0);
}

#[tokio::test]
async fn statements_too_deep_to_plan_are_refused_before_parsing() {
    let (_d, _lake, e) = engine(EngineOptions::default()).await;
    let deep = format!("select {}1", "1 + ".repeat(5_000));
    let err = e
        .plan(&Statement::new(deep))
        .await
        .expect_err("too complex");
    assert!(
        err.is_client_error() && err.to_string().contains("too complex"),
        "{err}"
    );
    // Operators inside string literals do not count.
    let quoted = format!("select '{}' as s", "+(".repeat(5_000));
    assert_eq!(rows(&e, &quoted).await[0].num_rows(), 1);
    let long = format!("select '{}'", "x".repeat(2 << 20));
    let err = e.plan(&Statement::new(long)).await.expect_err("too long");
    assert!(err.to_string().contains("too long"), "{err}");
}
