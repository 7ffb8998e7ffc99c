//! The Flight SQL service over a [`QueryEngine`].
//!
//! Statements are planned in GetFlightInfo (the FlightInfo carries the result schema and one
//! endpoint whose ticket holds the SQL, parameters and the planned table versions) and
//! streamed by DoGet in batches of bounded size. Prepared statements are stateless handles
//! (see [`super::handle`]): DoPut binds parameters by returning a new handle. Updates, DDL,
//! ingestion, transactions and Substrait are refused.

use std::pin::Pin;
use std::sync::Arc;

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::metadata::{SqlInfoData, XdbcTypeInfoData};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionBeginSavepointRequest, ActionBeginSavepointResult, ActionBeginTransactionRequest,
    ActionBeginTransactionResult, ActionCancelQueryRequest, ActionCancelQueryResult,
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, ActionCreatePreparedSubstraitPlanRequest,
    ActionEndSavepointRequest, ActionEndTransactionRequest, Any, CommandGetCatalogs,
    CommandGetCrossReference, CommandGetDbSchemas, CommandGetExportedKeys, CommandGetImportedKeys,
    CommandGetPrimaryKeys, CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables,
    CommandGetXdbcTypeInfo, CommandPreparedStatementQuery, CommandPreparedStatementUpdate,
    CommandStatementIngest, CommandStatementQuery, CommandStatementSubstraitPlan,
    CommandStatementUpdate, DoPutPreparedStatementResult, ProstMessageExt, SqlInfo,
    TicketStatementQuery,
};
use arrow_flight::{
    Action, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse,
    IpcMessage, SchemaAsIpc, Ticket,
};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status, Streaming};
use tracing::debug;

use super::auth::Authenticator;
use super::handle::{BadHandle, QueryHandle};
use super::metadata;
use crate::engine::{self, QueryEngine, Statement};

mod commands;

type DoGetStream = <FinlakeFlightSql as FlightService>::DoGetStream;

/// Maps an engine error to a gRPC status with the right code.
pub fn status(e: engine::Error) -> Status {
    use engine::Error as E;
    let msg = e.to_string();
    match &e {
        E::Timeout(_) => Status::deadline_exceeded(msg),
        E::Busy { .. } | E::MemoryLimit { .. } => Status::resource_exhausted(msg),
        E::ShuttingDown => Status::unavailable(msg),
        E::DataFusion(d) if matches!(d.find_root(), DataFusionError::ResourcesExhausted(_)) => {
            Status::resource_exhausted(msg)
        }
        _ if e.is_client_error() && msg.contains("not found") => Status::not_found(msg),
        _ if e.is_client_error() => Status::invalid_argument(msg),
        _ => Status::internal(msg),
    }
}

fn bad_handle(e: BadHandle) -> Status {
    Status::invalid_argument(e.to_string())
}

fn arrow_status(e: datafusion::arrow::error::ArrowError) -> Status {
    Status::internal(e.to_string())
}

fn flight_status(e: FlightError) -> Status {
    Status::from(e)
}

fn ipc_schema(schema: &Schema) -> Result<bytes::Bytes, Status> {
    let IpcMessage(bytes) = SchemaAsIpc::new(schema, &IpcWriteOptions::default())
        .try_into()
        .map_err(arrow_status)?;
    Ok(bytes)
}

/// The Flight SQL service.
pub struct FinlakeFlightSql {
    engine: Arc<dyn QueryEngine>,
    auth: Arc<Authenticator>,
    sql_info: SqlInfoData,
    xdbc: XdbcTypeInfoData,
    /// Largest FlightData message body DoGet sends (batches are split below it).
    max_message_bytes: usize,
}

impl std::fmt::Debug for FinlakeFlightSql {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FinlakeFlightSql")
            .field("engine", &self.engine)
            .field("max_message_bytes", &self.max_message_bytes)
            .finish_non_exhaustive()
    }
}

impl FinlakeFlightSql {
    pub fn new(
        engine: Arc<dyn QueryEngine>,
        auth: Arc<Authenticator>,
        max_message_bytes: usize,
    ) -> Result<Self, FlightError> {
        Ok(Self {
            sql_info: super::sql_info::sql_info(engine.as_ref())?,
            xdbc: super::sql_info::xdbc_types()?,
            engine,
            auth,
            max_message_bytes,
        })
    }

    /// A FlightInfo with one endpoint whose ticket is `ticket` (an encoded Any).
    fn info(
        schema: &Schema,
        ticket: bytes::Bytes,
        descriptor: FlightDescriptor,
    ) -> Result<Response<FlightInfo>, Status> {
        let info = FlightInfo::new()
            .try_with_schema(schema)
            .map_err(arrow_status)?
            .with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(ticket)))
            .with_descriptor(descriptor)
            .with_total_records(-1)
            .with_total_bytes(-1)
            .with_ordered(true);
        Ok(Response::new(info))
    }

    async fn statement_info(
        &self,
        handle: QueryHandle,
        descriptor: FlightDescriptor,
    ) -> Result<Response<FlightInfo>, Status> {
        let planned = self.engine.plan(&handle.statement).await.map_err(status)?;
        if handle.statement.params.is_none() && !planned.parameters.fields().is_empty() {
            return Err(Status::invalid_argument(format!(
                "the statement has {} parameter(s): bind them before executing it",
                planned.parameters.fields().len()
            )));
        }
        let ticket = QueryHandle::new(handle.statement, Some(planned.versions))
            .encode()
            .map_err(bad_handle)?;
        let ticket = TicketStatementQuery {
            statement_handle: ticket,
        }
        .as_any()
        .encode_to_vec();
        Self::info(&planned.schema, ticket.into(), descriptor)
    }

    async fn run(&self, handle: QueryHandle) -> Result<Response<DoGetStream>, Status> {
        let result = self
            .engine
            .execute(&handle.statement, handle.versions.as_ref())
            .await
            .map_err(status)?;
        debug!(cached = result.cached, versions = ?result.versions, "streaming");
        let batches = result
            .stream
            .map_err(|e| FlightError::Tonic(Box::new(status(e))));
        Ok(self.encode(result.schema, batches))
    }

    fn encode(
        &self,
        schema: SchemaRef,
        batches: impl Stream<Item = Result<RecordBatch, FlightError>> + Send + 'static,
    ) -> Response<DoGetStream> {
        let stream = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .with_max_flight_data_size(self.max_message_bytes)
            .build(batches)
            .map_err(Status::from);
        Response::new(Box::pin(stream))
    }

    fn one(&self, batch: RecordBatch) -> Response<DoGetStream> {
        let schema = batch.schema();
        self.encode(schema, futures::stream::iter([Ok(batch)]))
    }

    fn read_only(what: &str) -> Status {
        Status::invalid_argument(engine::Error::ReadOnly(what.to_owned()).to_string())
    }
}

/// Statement settings sent as gRPC headers: `finlake-<name>: <value>` sets `finlake.<name>`
/// (the server keeps no sessions; `SET` is refused with a pointer here). Checked by the
/// engine when it plans the statement.
fn settings(
    metadata: &tonic::metadata::MetadataMap,
) -> Result<std::collections::BTreeMap<String, String>, Status> {
    let mut out = std::collections::BTreeMap::new();
    for kv in metadata.iter() {
        let tonic::metadata::KeyAndValueRef::Ascii(k, v) = kv else {
            continue;
        };
        let Some(name) = k.as_str().strip_prefix("finlake-") else {
            continue;
        };
        let v = v.to_str().map_err(|_| {
            Status::invalid_argument(format!("header {}: not a text value", k.as_str()))
        })?;
        out.insert(
            format!("{}{}", engine::SETTING_PREFIX, name.replace('-', "_")),
            v.trim().to_owned(),
        );
    }
    Ok(out)
}

/// The metadata commands' FlightInfo: the command itself is the ticket.
fn metadata_info(
    schema: &Schema,
    cmd: impl ProstMessageExt,
    descriptor: FlightDescriptor,
) -> Result<Response<FlightInfo>, Status> {
    FinlakeFlightSql::info(schema, cmd.as_any().encode_to_vec().into(), descriptor)
}

type HandshakeStream = Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>;
