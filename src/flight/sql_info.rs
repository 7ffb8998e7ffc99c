//! GetSqlInfo and GetXdbcTypeInfo answers.
//!
//! Clients read these on connect and fail on missing keys: Superset's dialect needs 0, 2, 3
//! and 504 (a KeyError otherwise); the JDBC driver's DatabaseMetaData reads many of the
//! SQL_* keys (a NullPointerException otherwise); ADBC probes transaction support. Values are
//! typed as the Flight SQL protocol documents (bool, int32 bitmask, int64, string, list).

use arrow_flight::error::FlightError;
use arrow_flight::sql::metadata::{
    SqlInfoData, SqlInfoDataBuilder, XdbcTypeInfo, XdbcTypeInfoData, XdbcTypeInfoDataBuilder,
};
use arrow_flight::sql::{
    Nullable, Searchable, SqlInfo, SqlNullOrdering, SqlSupportedCaseSensitivity,
    SqlSupportedTransaction, SupportedSqlGrammar, XdbcDataType, XdbcDatetimeSubcode,
};

use crate::engine::QueryEngine;

/// The server's SqlInfo, from the engine's functions and keywords.
pub fn sql_info(engine: &dyn QueryEngine) -> Result<SqlInfoData, FlightError> {
    let f = engine.functions();
    let mut b = SqlInfoDataBuilder::new();
    b.append(SqlInfo::FlightSqlServerName, "finlake");
    b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    // The Arrow columnar format version (Schema.fbs MetadataVersion V5 is format 1.x).
    b.append(SqlInfo::FlightSqlServerArrowVersion, "1.5");
    b.append(SqlInfo::FlightSqlServerReadOnly, true);
    b.append(SqlInfo::FlightSqlServerSql, true);
    b.append(SqlInfo::FlightSqlServerSubstrait, false);
    b.append(
        SqlInfo::FlightSqlServerTransaction,
        SqlSupportedTransaction::None as i32,
    );
    // Cancellation is by closing the stream; the CancelQuery action is not offered.
    b.append(SqlInfo::FlightSqlServerCancel, false);
    b.append(SqlInfo::FlightSqlServerBulkIngestion, false);
    b.append(SqlInfo::FlightSqlServerIngestTransactionsSupported, false);
    b.append(SqlInfo::FlightSqlServerStatementTimeout, 0i32);
    b.append(SqlInfo::FlightSqlServerTransactionTimeout, 0i32);
    b.append(SqlInfo::SqlDdlCatalog, false);
    b.append(SqlInfo::SqlDdlSchema, false);
    b.append(SqlInfo::SqlDdlTable, false);
    b.append(
        SqlInfo::SqlIdentifierCase,
        SqlSupportedCaseSensitivity::SqlCaseSensitivityLowercase as i32,
    );
    b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
    b.append(
        SqlInfo::SqlQuotedIdentifierCase,
        SqlSupportedCaseSensitivity::SqlCaseSensitivityCaseInsensitive as i32,
    );
    b.append(SqlInfo::SqlAllTablesAreSelectable, true);
    b.append(
        SqlInfo::SqlNullOrdering,
        SqlNullOrdering::SqlNullsSortedHigh as i32,
    );
    b.append(SqlInfo::SqlKeywords, engine.keywords());
    b.append(SqlInfo::SqlNumericFunctions, f.numeric);
    b.append(SqlInfo::SqlStringFunctions, f.string);
    b.append(SqlInfo::SqlSystemFunctions, f.system);
    b.append(SqlInfo::SqlDatetimeFunctions, f.datetime);
    b.append(SqlInfo::SqlSearchStringEscape, "\\");
    b.append(SqlInfo::SqlExtraNameCharacters, "");
    b.append(SqlInfo::SqlSupportsColumnAliasing, true);
    b.append(SqlInfo::SqlNullPlusNullIsNull, true);
    b.append(SqlInfo::SqlSupportsTableCorrelationNames, true);
    b.append(SqlInfo::SqlSupportsDifferentTableCorrelationNames, false);
    b.append(SqlInfo::SqlSupportsExpressionsInOrderBy, true);
    b.append(SqlInfo::SqlSupportsOrderByUnrelated, true);
    // Bitmask: GROUP BY unrelated (0) and beyond select (1).
    b.append(SqlInfo::SqlSupportedGroupBy, 0b11i32);
    b.append(SqlInfo::SqlSupportsLikeEscapeClause, true);
    b.append(SqlInfo::SqlSupportsNonNullableColumns, true);
    b.append(
        SqlInfo::SqlSupportedGrammar,
        SupportedSqlGrammar::SqlCoreGrammar as i32,
    );
    b.append(SqlInfo::SqlAnsi92SupportedLevel, 0b1i32);
    b.append(SqlInfo::SqlSupportsIntegrityEnhancementFacility, false);
    // SqlFullOuterJoins.
    b.append(SqlInfo::SqlOuterJoinsSupportLevel, 2i32);
    b.append(SqlInfo::SqlSchemaTerm, "schema");
    b.append(SqlInfo::SqlProcedureTerm, "procedure");
    b.append(SqlInfo::SqlCatalogTerm, "catalog");
    b.append(SqlInfo::SqlCatalogAtStart, true);
    b.append(SqlInfo::SqlSchemasSupportedActions, 0i32);
    b.append(SqlInfo::SqlCatalogsSupportedActions, 0i32);
    b.append(SqlInfo::SqlSupportedPositionedCommands, 0i32);
    b.append(SqlInfo::SqlSelectForUpdateSupported, false);
    b.append(SqlInfo::SqlStoredProceduresSupported, false);
    // Bitmask: subqueries in comparisons, EXISTS, IN, quantified.
    b.append(SqlInfo::SqlSupportedSubqueries, 0b1111i32);
    b.append(SqlInfo::SqlCorrelatedSubqueriesSupported, true);
    // Bitmask: UNION, UNION ALL.
    b.append(SqlInfo::SqlSupportedUnions, 0b11i32);
    let unlimited = 0i64;
    for key in [
        SqlInfo::SqlMaxBinaryLiteralLength,
        SqlInfo::SqlMaxCharLiteralLength,
        SqlInfo::SqlMaxColumnNameLength,
        SqlInfo::SqlMaxColumnsInGroupBy,
        SqlInfo::SqlMaxColumnsInIndex,
        SqlInfo::SqlMaxColumnsInOrderBy,
        SqlInfo::SqlMaxColumnsInSelect,
        SqlInfo::SqlMaxColumnsInTable,
        SqlInfo::SqlMaxConnections,
        SqlInfo::SqlMaxCursorNameLength,
        SqlInfo::SqlMaxIndexLength,
        SqlInfo::SqlDbSchemaNameLength,
        SqlInfo::SqlMaxProcedureNameLength,
        SqlInfo::SqlMaxCatalogNameLength,
        SqlInfo::SqlMaxRowSize,
        SqlInfo::SqlMaxStatementLength,
        SqlInfo::SqlMaxStatements,
        SqlInfo::SqlMaxTableNameLength,
        SqlInfo::SqlMaxTablesInSelect,
        SqlInfo::SqlMaxUsernameLength,
    ] {
        b.append(key, unlimited);
    }
    b.append(SqlInfo::SqlMaxRowSizeIncludesBlobs, true);
    // No transactions: TRANSACTION_NONE.
    b.append(SqlInfo::SqlDefaultTransactionIsolation, 0i64);
    b.append(SqlInfo::SqlTransactionsSupported, false);
    b.append(SqlInfo::SqlSupportedTransactionsIsolationLevels, 0i32);
    b.append(SqlInfo::SqlDataDefinitionCausesTransactionCommit, false);
    b.append(SqlInfo::SqlDataDefinitionsInTransactionsIgnored, true);
    // Bitmask: forward-only result sets (SQL_RESULT_SET_TYPE_FORWARD_ONLY = 1).
    b.append(SqlInfo::SqlSupportedResultSetTypes, 0b10i32);
    for key in [
        SqlInfo::SqlSupportedConcurrenciesForResultSetUnspecified,
        SqlInfo::SqlSupportedConcurrenciesForResultSetForwardOnly,
        SqlInfo::SqlSupportedConcurrenciesForResultSetScrollSensitive,
        SqlInfo::SqlSupportedConcurrenciesForResultSetScrollInsensitive,
    ] {
        b.append(key, 0i32);
    }
    b.append(SqlInfo::SqlBatchUpdatesSupported, false);
    b.append(SqlInfo::SqlSavepointsSupported, false);
    b.append(SqlInfo::SqlNamedParametersSupported, false);
    b.append(SqlInfo::SqlLocatorsUpdateCopy, false);
    b.append(SqlInfo::SqlStoredFunctionsUsingCallSyntaxSupported, false);
    b.build()
}

#[allow(clippy::too_many_arguments)]
fn ty(
    name: &str,
    data_type: XdbcDataType,
    column_size: Option<i32>,
    prefix: Option<&str>,
    case_sensitive: bool,
    unsigned: Option<bool>,
    scale: Option<(i32, i32)>,
    radix: Option<i32>,
    subcode: Option<XdbcDatetimeSubcode>,
) -> XdbcTypeInfo {
    let sql_data_type = if subcode.is_some() {
        XdbcDataType::XdbcDatetime
    } else {
        data_type
    };
    XdbcTypeInfo {
        type_name: name.into(),
        data_type,
        column_size,
        literal_prefix: prefix.map(Into::into),
        literal_suffix: prefix.map(Into::into),
        create_params: None,
        nullable: Nullable::NullabilityNullable,
        case_sensitive,
        searchable: Searchable::Full,
        unsigned_attribute: unsigned,
        fixed_prec_scale: scale.is_some_and(|(min, max)| min == max)
            && data_type != XdbcDataType::XdbcDecimal,
        auto_increment: Some(false),
        local_type_name: Some(name.into()),
        minimum_scale: scale.map(|s| s.0),
        maximum_scale: scale.map(|s| s.1),
        sql_data_type,
        datetime_subcode: subcode,
        num_prec_radix: radix,
        interval_precision: None,
    }
}

/// The SQL types queries return, as XDBC type info.
pub fn xdbc_types() -> Result<XdbcTypeInfoData, FlightError> {
    use XdbcDataType as X;
    let mut b = XdbcTypeInfoDataBuilder::new();
    let q = Some("'");
    let int = |name, t, size| {
        ty(
            name,
            t,
            Some(size),
            None,
            false,
            Some(false),
            Some((0, 0)),
            Some(10),
            None,
        )
    };
    b.append(ty(
        "BOOLEAN",
        X::XdbcBit,
        Some(1),
        None,
        false,
        None,
        None,
        None,
        None,
    ));
    b.append(int("TINYINT", X::XdbcTinyint, 3));
    b.append(int("SMALLINT", X::XdbcSmallint, 5));
    b.append(int("INTEGER", X::XdbcInteger, 10));
    b.append(int("BIGINT", X::XdbcBigint, 19));
    b.append(ty(
        "REAL",
        X::XdbcReal,
        Some(24),
        None,
        false,
        Some(false),
        None,
        Some(2),
        None,
    ));
    b.append(ty(
        "DOUBLE",
        X::XdbcDouble,
        Some(53),
        None,
        false,
        Some(false),
        None,
        Some(2),
        None,
    ));
    b.append(ty(
        "DECIMAL",
        X::XdbcDecimal,
        Some(38),
        None,
        false,
        Some(false),
        Some((0, 38)),
        Some(10),
        None,
    ));
    b.append(ty(
        "VARCHAR",
        X::XdbcVarchar,
        Some(i32::MAX),
        q,
        true,
        None,
        None,
        None,
        None,
    ));
    b.append(ty(
        "VARBINARY",
        X::XdbcVarbinary,
        Some(i32::MAX),
        None,
        false,
        None,
        None,
        None,
        None,
    ));
    b.append(ty(
        "DATE",
        X::XdbcDate,
        Some(10),
        q,
        false,
        None,
        None,
        None,
        Some(XdbcDatetimeSubcode::XdbcSubcodeYear),
    ));
    b.append(ty(
        "TIME",
        X::XdbcTime,
        Some(15),
        q,
        false,
        None,
        None,
        None,
        Some(XdbcDatetimeSubcode::XdbcSubcodeTime),
    ));
    b.append(ty(
        "TIMESTAMP",
        X::XdbcTimestamp,
        Some(26),
        q,
        false,
        None,
        Some((0, 9)),
        None,
        Some(XdbcDatetimeSubcode::XdbcSubcodeTimestamp),
    ));
    b.build()
}
