//! Stateless, self-describing statement handles and tickets.
//!
//! A prepared statement handle and a DoGet ticket carry everything needed to run the
//! statement: the SQL, the bound parameters (Arrow IPC) and, in tickets, the table versions
//! GetFlightInfo planned against. Any server process over the same lake can serve them; no
//! server state is kept between calls, so nothing leaks when a client never closes a handle.
//! Layout: the magic `FLQ1`, then JSON `{"sql", "params"?: base64 IPC, "versions"?,
//! "settings"?}`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::engine::{Statement, Versions, decode_batch, encode_batch};

const MAGIC: &[u8; 4] = b"FLQ1";
/// Handles larger than this are refused (a statement is never this large).
const MAX_HANDLE: usize = 16 << 20;

#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    sql: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    params: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    versions: Option<Versions>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    settings: BTreeMap<String, String>,
}

/// A decoded handle.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryHandle {
    pub statement: Statement,
    /// The snapshot to read; `None`: the latest.
    pub versions: Option<Versions>,
}

/// A handle that is not one of ours.
#[derive(Debug, thiserror::Error)]
#[error("invalid statement handle or ticket: {0}")]
pub struct BadHandle(String);

impl QueryHandle {
    pub fn new(statement: Statement, versions: Option<Versions>) -> Self {
        Self {
            statement,
            versions,
        }
    }

    pub fn encode(&self) -> Result<Bytes, BadHandle> {
        let params = match &self.statement.params {
            Some(b) => {
                Some(STANDARD.encode(encode_batch(b).map_err(|e| BadHandle(e.to_string()))?))
            }
            None => None,
        };
        let wire = Wire {
            sql: self.statement.sql.clone(),
            params,
            versions: self.versions.clone(),
            settings: self.statement.settings.clone(),
        };
        let mut out = MAGIC.to_vec();
        serde_json::to_writer(&mut out, &wire).map_err(|e| BadHandle(e.to_string()))?;
        Ok(out.into())
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, BadHandle> {
        if bytes.len() > MAX_HANDLE {
            return Err(BadHandle(format!("{} bytes", bytes.len())));
        }
        let body = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| BadHandle("unknown format".into()))?;
        let wire: Wire = serde_json::from_slice(body).map_err(|e| BadHandle(e.to_string()))?;
        let params = match wire.params {
            Some(b64) => {
                let raw = STANDARD
                    .decode(b64)
                    .map_err(|e| BadHandle(format!("parameters: {e}")))?;
                Some(decode_batch(&raw).map_err(|e| BadHandle(format!("parameters: {e}")))?)
            }
            None => None,
        };
        Ok(Self {
            statement: Statement {
                sql: wire.sql,
                params,
                settings: wire.settings,
            },
            versions: wire.versions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use std::sync::Arc;

    #[test]
    fn handles_round_trip_and_garbage_is_refused() {
        let params = RecordBatch::try_from_iter([("$1", Arc::new(Int64Array::from(vec![7])) as _)])
            .expect("batch");
        let h = QueryHandle::new(
            Statement {
                sql: "select * from users where id = $1".into(),
                params: Some(params),
                settings: BTreeMap::from([("finlake.reflections".to_owned(), "off".to_owned())]),
            },
            Some(Versions::from([("bronze.users".to_owned(), 3)])),
        );
        let bytes = h.encode().expect("encode");
        assert_eq!(QueryHandle::decode(&bytes).expect("decode"), h);
        let plain = QueryHandle::new(Statement::new("select 1"), None);
        assert_eq!(
            QueryHandle::decode(&plain.encode().expect("encode")).expect("decode"),
            plain
        );
        for garbage in [&b""[..], b"garbage", b"FLQ1{not json", b"FLQ1{\"sql\":1}"] {
            assert!(QueryHandle::decode(garbage).is_err(), "{garbage:?}");
        }
        assert!(QueryHandle::decode(b"FLQ1{\"sql\":\"x\",\"params\":\"!!\"}").is_err());
    }
}
