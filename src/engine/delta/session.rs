//! The engine's base session state and the checks every statement passes before planning.

use super::*;

pub(super) fn base_state(opts: &EngineOptions, runtime: Arc<RuntimeEnv>) -> Result<SessionState> {
    let default_schema = opts.layers.first().map_or("bronze", String::as_str);
    let mut config = SessionConfig::new()
        .with_default_catalog_and_schema(&opts.catalog, default_schema)
        .with_create_default_catalog_and_schema(false)
        .with_information_schema(true)
        // Plain strings, which every Flight SQL client reads (view types are also cast at
        // the boundary, see `plain`).
        .set_bool(
            "datafusion.execution.parquet.schema_force_view_types",
            false,
        )
        .set_bool("datafusion.sql_parser.map_string_types_to_utf8view", false)
        // delta-rs' workaround for a hash-join dynamic filter panic on dictionary keys.
        .set_usize("datafusion.optimizer.hash_join_inlist_pushdown_max_size", 0)
        .set_usize(
            "datafusion.optimizer.hash_join_inlist_pushdown_max_distinct_values",
            0,
        );
    for (k, v) in &opts.settings {
        config.options_mut().set(k, v)?;
    }
    let mut builder = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_analyzer_rule(Arc::new(crate::engine::now::NowInFilters));
    for rule in &opts.optimizer_rules {
        builder = builder.with_optimizer_rule(Arc::clone(rule));
    }
    let mut state = builder.build();
    if let Some(x) = &opts.extension {
        x.configure(&mut state)?;
    }
    Ok(state)
}

/// Longest statement text accepted.
pub(super) const MAX_SQL_BYTES: usize = 1 << 20;
/// Most operators and parentheses in one statement: planning recurses once per level of the
/// expression tree, so a statement such as `1 + 1 + ... + 1` with a million terms would
/// exhaust the thread's stack and take the whole process (the loop included) down.
pub(super) const MAX_SQL_OPERATORS: usize = 2_000;

/// Refuses statements too long or too deeply nested to plan safely, before parsing.
pub(super) fn check_complexity(sql: &str) -> Result<()> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(Error::BadRequest(format!(
            "statement too long: {} bytes (the limit is {MAX_SQL_BYTES})",
            sql.len()
        )));
    }
    let mut ops = 0usize;
    let mut quote: Option<char> = None;
    let mut word = String::new();
    for c in sql.chars() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c.to_ascii_uppercase());
            continue;
        }
        if matches!(
            word.as_str(),
            "AND" | "OR" | "NOT" | "CASE" | "WHEN" | "SELECT"
        ) {
            ops += 1;
        }
        word.clear();
        match c {
            '\'' | '"' | '`' => quote = Some(c),
            '(' | '+' | '-' | '*' | '/' | '%' | '<' | '>' | '=' | '|' | '&' | '^' => ops += 1,
            _ => {}
        }
    }
    if ops > MAX_SQL_OPERATORS {
        return Err(Error::BadRequest(format!(
            "statement too complex: {ops} operators, parentheses and clauses (the limit is \
             {MAX_SQL_OPERATORS}); split it or use IN lists and joins instead of long expression chains"
        )));
    }
    Ok(())
}

/// Where a table reference points.
pub(super) enum RefersTo {
    Lake(TableId),
    View,
    InformationSchema,
    Other,
}

/// Rejects anything but queries (and EXPLAIN / SHOW) before planning, with a clear error.
pub(super) fn check_read_only(statement: &DfStatement) -> Result<()> {
    let kind = || {
        statement
            .to_string()
            .split_whitespace()
            .next()
            .unwrap_or("this")
            .to_ascii_uppercase()
    };
    match statement {
        DfStatement::Statement(s) => match s.as_ref() {
            SqlStatement::Query(_)
            | SqlStatement::Explain { .. }
            | SqlStatement::ExplainTable { .. }
            | SqlStatement::ShowTables { .. }
            | SqlStatement::ShowColumns { .. }
            | SqlStatement::ShowFunctions { .. }
            | SqlStatement::ShowVariable { .. } => Ok(()),
            SqlStatement::Set(_) => Err(Error::BadRequest(format!(
                "SET is not kept between statements (every query runs in its own session): \
                 send the setting with the statement instead, as the gRPC header \
                 `finlake-<name>: <value>` (a JDBC or ADBC connection property) for \
                 `{SETTING_PREFIX}<name>`"
            ))),
            _ => Err(Error::ReadOnly(kind())),
        },
        DfStatement::Explain(_) => Ok(()),
        DfStatement::CreateExternalTable(_) | DfStatement::CopyTo(_) => {
            Err(Error::ReadOnly(kind()))
        }
        DfStatement::Reset(_) => Err(Error::BadRequest(
            "RESET is not supported: every query runs in its own session".into(),
        )),
    }
}

/// `url` as a directory URL (its path ending in `/`), so that joining a relative path appends
/// to it: `s3://bucket/lake` + `bronze/t/` is `s3://bucket/lake/bronze/t/`, not
/// `s3://bucket/bronze/t/`.
pub(crate) fn directory_url(url: &Url) -> Url {
    let mut dir = url.clone();
    if !dir.path().ends_with('/') {
        dir.set_path(&format!("{}/", dir.path()));
    }
    dir
}
