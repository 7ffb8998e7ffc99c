//! The source database: its schema, a private local server, bulk loading and the live OLTP
//! workload. Everything here speaks the MySQL protocol and works with MySQL 8.0 and
//! MariaDB 10.11.

pub mod fill;
pub mod load;
pub mod server;
pub mod simulate;
pub mod sql;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};

/// Errors talking to the source database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "invalid source URL {url:?}: {message} (expected mysql://user:password@host:port/database)"
    )]
    BadUrl { url: String, message: String },
    #[error("source database: {0}")]
    Mysql(#[from] mysql_async::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Server(String),
    #[error(transparent)]
    Load(#[from] load::LoadError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

/// Parses a `mysql://user:password@host:port/database` URL.
pub fn opts_from_url(url: &str) -> Result<Opts> {
    let opts = Opts::from_url(url).map_err(|e| Error::BadUrl {
        url: redact_url(url),
        message: e.to_string(),
    })?;
    if opts.db_name().is_none() {
        return Err(Error::BadUrl {
            url: redact_url(url),
            message: "no database name".into(),
        });
    }
    Ok(opts)
}

/// Options for bulk work: large packets, LOCAL INFILE allowed.
pub fn bulk_opts(url: &str) -> Result<Opts> {
    Ok(OptsBuilder::from_opts(opts_from_url(url)?)
        .max_allowed_packet(Some(256 * 1024 * 1024))
        .into())
}

/// A single connection to the source.
pub async fn connect(url: &str) -> Result<Conn> {
    Ok(Conn::new(opts_from_url(url)?).await?)
}

/// The URL with its password replaced, for logs and errors.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<unparseable URL>".into(),
    }
}

/// Server flavour and version, e.g. `10.11.19-MariaDB-0+deb12u1`.
pub async fn server_version(conn: &mut Conn) -> Result<String> {
    Ok(conn
        .query_first::<String, _>("SELECT VERSION()")
        .await?
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_redact() {
        let opts = opts_from_url("mysql://u:secret@127.0.0.1:3307/finance").expect("valid");
        assert_eq!(opts.tcp_port(), 3307);
        assert_eq!(opts.db_name(), Some("finance"));
        assert_eq!(
            redact_url("mysql://u:secret@127.0.0.1:3307/finance"),
            "mysql://u:***@127.0.0.1:3307/finance"
        );
        let err = opts_from_url("mysql://u:secret@127.0.0.1:3307").expect_err("no db");
        assert!(err.to_string().contains("no database"), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(opts_from_url("postgres://x").is_err());
    }
}
