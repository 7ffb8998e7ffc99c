//! A private MariaDB (or MySQL) server run from the system's binaries, with its data under the
//! state directory (`.finlake/mysql` by default), the binary log configured for change-data
//! capture (ROW, FULL image, FULL metadata), the schema applied, on a free loopback port.
//!
//! `start` is idempotent: a running server is left alone, a stopped one is started on the port it
//! had before. `stop` asks the server to shut down over its socket and waits for the process.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use serde::{Deserialize, Serialize};
use tracing::{debug, info, instrument};

use super::{Error, Result, io_err, sql};

/// Settings of the private server (the flags of `finlake db start` are
/// `cli::commands::db::DbArgs`).
#[derive(Debug, Clone)]
pub struct DbSettings {
    /// TCP port on 127.0.0.1; 0 picks a free one the first time and keeps it.
    pub port: u16,
    /// Name of the source database.
    pub database: String,
    /// Application account (full rights on the private server).
    pub user: String,
    /// Its password. The default only suits a private server bound to loopback.
    pub password: String,
    /// Least-privilege change-data-capture account.
    pub cdc_user: String,
    pub cdc_password: String,
    /// InnoDB buffer pool size (bulk loads of scale 1.0 want a few GB).
    pub buffer_pool: String,
    /// InnoDB redo log size (bulk loads of scale 1.0 want 2G).
    pub redo_log: String,
    /// Directory holding the server binary (`mariadbd` or `mysqld`); searched on PATH and in
    /// /usr/sbin when unset.
    pub bin_dir: Option<PathBuf>,
}

/// What `start` persists so later commands find the server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServerState {
    pub port: u16,
    pub database: String,
    pub user: String,
    pub password: String,
    pub cdc_user: String,
    pub cdc_password: String,
}

impl ServerState {
    /// Application URL.
    pub fn url(&self) -> String {
        format!(
            "mysql://{}:{}@127.0.0.1:{}/{}",
            self.user, self.password, self.port, self.database
        )
    }

    /// CDC account URL.
    pub fn cdc_url(&self) -> String {
        format!(
            "mysql://{}:{}@127.0.0.1:{}/{}",
            self.cdc_user, self.cdc_password, self.port, self.database
        )
    }
}

/// Running or not, and what answers.
#[derive(Debug, Clone)]
pub struct Status {
    pub running: bool,
    pub pid: Option<u32>,
    pub state: Option<ServerState>,
    pub version: Option<String>,
}

/// The private server of one state directory.
#[derive(Debug, Clone)]
pub struct LocalServer {
    dir: PathBuf,
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(io_err(format!("resolving {}", path.display())))
}

fn search_dirs(bin_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = bin_dir.map(Path::to_path_buf).into_iter().collect();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.extend(["/usr/sbin", "/usr/local/sbin", "/usr/local/mysql/bin"].map(PathBuf::from));
    dirs
}

fn find_in(names: &[&str], dirs: &[PathBuf]) -> Option<PathBuf> {
    names
        .iter()
        .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

fn find_binary(names: &[&str], bin_dir: Option<&Path>) -> Option<PathBuf> {
    find_in(names, &search_dirs(bin_dir))
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// True when `pid` is a live (not zombie) database server process. Checking the command
/// name guards against a stale pid file whose number now belongs to something else.
fn process_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
        return false;
    };
    let name = &stat[open + 1..close];
    let state = stat[close + 1..].trim_start();
    !state.starts_with('Z') && (name.starts_with("mariadbd") || name.starts_with("mysqld"))
}

fn free_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(io_err("finding a free port"))?;
    Ok(listener
        .local_addr()
        .map_err(io_err("finding a free port"))?
        .port())
}

const INSTALL_HINT: &str = "no MariaDB or MySQL server binary found (looked for mariadbd and \
    mysqld on PATH, /usr/sbin and --db-bin-dir). Install one: `sudo apt-get install \
    mariadb-server` on Debian/Ubuntu (or run `make deps`), then retry.";

impl LocalServer {
    /// The server whose files live in `<state_dir>/mysql`.
    pub fn new(state_dir: &Path) -> Result<Self> {
        Ok(Self {
            dir: absolute(state_dir)?.join("mysql"),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("mysqld.pid")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.join("mysqld.log")
    }

    /// Unix socket path; kept short (the limit is 107 bytes).
    fn socket(&self) -> PathBuf {
        let p = self.dir.join("mysqld.sock");
        if p.as_os_str().len() < 100 {
            return p;
        }
        let hash = self
            .dir
            .to_string_lossy()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        std::env::temp_dir().join(format!("finlake-{hash:016x}.sock"))
    }

    /// The saved connection settings, if the server was ever started.
    pub fn state(&self) -> Result<Option<ServerState>> {
        match std::fs::read_to_string(self.state_file()) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                Error::Server(format!("{} is corrupt: {e}", self.state_file().display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(format!("reading {}", self.state_file().display()))(
                e,
            )),
        }
    }

    fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.pid_file())
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn root_opts(&self) -> OptsBuilder {
        OptsBuilder::default()
            .socket(Some(self.socket().to_string_lossy().into_owned()))
            .user(Some("root"))
            .prefer_socket(true)
    }

    async fn root_conn(&self) -> Result<Conn> {
        Ok(Conn::new(self.root_opts()).await?)
    }

    /// Running or not.
    pub async fn status(&self) -> Result<Status> {
        let state = self.state()?;
        let pid = self.pid().filter(|&p| process_alive(p));
        let mut version = None;
        if pid.is_some()
            && let Ok(mut conn) = self.root_conn().await
        {
            version = super::server_version(&mut conn).await.ok();
            let _ = conn.disconnect().await;
        }
        Ok(Status {
            running: pid.is_some() && version.is_some(),
            pid,
            state,
            version,
        })
    }

    fn write_config(&self, port: u16, buffer_pool: &str, redo_log: &str) -> Result<PathBuf> {
        let cnf = self.dir.join("my.cnf");
        let d = |p: PathBuf| p.to_string_lossy().into_owned();
        let text = format!(
            "# Written by `finlake db start`; regenerated at every start.\n\
             [mysqld]\n\
             datadir={data}\n\
             socket={socket}\n\
             pid-file={pid}\n\
             log-error={log}\n\
             port={port}\n\
             bind-address=127.0.0.1\n\
             skip-name-resolve\n\
             # Change-data capture: row events with full images and column names.\n\
             server-id=1\n\
             log-bin={binlog}\n\
             binlog_format=ROW\n\
             binlog_row_image=FULL\n\
             binlog_row_metadata=FULL\n\
             log_bin_compress=OFF\n\
             expire_logs_days=7\n\
             max_binlog_size=256M\n\
             # A development server: durable on crash of the server, not of the machine\n\
             # (no fsync per commit, no doublewrite buffer), tuned for bulk loads.\n\
             innodb_flush_log_at_trx_commit=2\n\
             sync_binlog=0\n\
             innodb_doublewrite=0\n\
             innodb_flush_neighbors=0\n\
             innodb_io_capacity=2000\n\
             innodb_buffer_pool_size={buffer_pool}\n\
             innodb_log_file_size={redo_log}\n\
             binlog_cache_size=4M\n\
             innodb_autoinc_lock_mode=2\n\
             max_allowed_packet=256M\n\
             local_infile=1\n\
             max_connections=300\n\
             character-set-server=utf8mb4\n\
             collation-server=utf8mb4_unicode_ci\n",
            data = d(self.data_dir()),
            socket = d(self.socket()),
            pid = d(self.pid_file()),
            log = d(self.log_file()),
            binlog = d(self.dir.join("binlog").join("mysql-bin")),
        );
        std::fs::create_dir_all(self.dir.join("binlog"))
            .map_err(io_err(format!("creating {}", self.dir.display())))?;
        std::fs::write(&cnf, text).map_err(io_err(format!("writing {}", cnf.display())))?;
        Ok(cnf)
    }

    fn initialize(
        &self,
        server: &Path,
        cnf: &Path,
        mariadb: bool,
        bin_dir: Option<&Path>,
    ) -> Result<()> {
        info!(dir = %self.data_dir().display(), "initializing a new data directory");
        let mut cmd = if mariadb {
            let install = find_binary(&["mariadb-install-db", "mysql_install_db"], bin_dir)
                .ok_or_else(|| {
                    Error::Server(format!("mariadb-install-db not found. {INSTALL_HINT}"))
                })?;
            let mut c = Command::new(install);
            c.arg(format!("--defaults-file={}", cnf.display()))
                .arg("--auth-root-authentication-method=normal")
                .arg("--skip-test-db");
            c
        } else {
            let mut c = Command::new(server);
            c.arg(format!("--defaults-file={}", cnf.display()))
                .arg("--initialize-insecure");
            c
        };
        if running_as_root() {
            cmd.arg("--user=root");
        }
        let out = cmd
            .output()
            .map_err(io_err("running the database initializer"))?;
        if !out.status.success() {
            return Err(Error::Server(format!(
                "initializing {} failed ({}):\n{}{}",
                self.data_dir().display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }

    /// Starts the server if needed, then makes sure the database, the accounts and the schema
    /// exist. Returns the connection settings.
    #[instrument(skip_all, fields(dir = %self.dir.display()))]
    pub async fn start(&self, settings: &DbSettings) -> Result<ServerState> {
        let bin_dir = settings.bin_dir.as_deref();
        let server = find_binary(&["mariadbd", "mysqld"], bin_dir)
            .ok_or_else(|| Error::Server(INSTALL_HINT.into()))?;
        let version = Command::new(&server)
            .arg("--version")
            .output()
            .map_err(io_err(format!("running {}", server.display())))?;
        let mariadb = String::from_utf8_lossy(&version.stdout).contains("MariaDB");

        let previous = self.state()?;
        let port = match (&previous, settings.port) {
            (_, p) if p != 0 => p,
            (Some(s), _) => s.port,
            (None, _) => free_port()?,
        };
        let state = ServerState {
            port,
            database: settings.database.clone(),
            user: settings.user.clone(),
            password: settings.password.clone(),
            cdc_user: settings.cdc_user.clone(),
            cdc_password: settings.cdc_password.clone(),
        };

        let status = self.status().await?;
        if status.running {
            if previous.as_ref().is_some_and(|p| p.port != port) {
                return Err(Error::Server(format!(
                    "the server is already running on port {}; stop it before changing the port",
                    previous.map_or(0, |p| p.port)
                )));
            }
            debug!(port, "already running");
        } else {
            if let Some(pid) = status.pid {
                return Err(Error::Server(format!(
                    "process {pid} from {} is alive but does not answer on {}; stop it first",
                    self.pid_file().display(),
                    self.socket().display()
                )));
            }
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                return Err(Error::Server(format!(
                    "port {port} on 127.0.0.1 is taken by another program; set FINLAKE_DB_PORT"
                )));
            }
            let cnf = self.write_config(port, &settings.buffer_pool, &settings.redo_log)?;
            if !self.data_dir().join("mysql").is_dir() {
                self.initialize(&server, &cnf, mariadb, bin_dir)?;
            }
            self.spawn(&server, &cnf).await?;
        }

        let mut root = self.root_conn().await?;
        let db = settings.database.replace('`', "``");
        root.query_drop(format!("CREATE DATABASE IF NOT EXISTS `{db}`"))
            .await?;
        let q = |s: &str| s.replace('\\', "\\\\").replace('\'', "''");
        for host in ["127.0.0.1", "localhost", "::1"] {
            let account = format!("'{}'@'{host}'", q(&settings.user));
            root.query_drop(format!(
                "CREATE USER IF NOT EXISTS {account} IDENTIFIED BY '{}'",
                q(&settings.password)
            ))
            .await?;
            root.query_drop(format!(
                "ALTER USER {account} IDENTIFIED BY '{}'",
                q(&settings.password)
            ))
            .await?;
            root.query_drop(format!(
                "GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION"
            ))
            .await?;
        }
        root.query_drop(format!("USE `{db}`")).await?;
        sql::apply_schema(&mut root).await?;
        sql::apply_cdc_user(
            &mut root,
            &settings.cdc_user,
            &settings.cdc_password,
            &settings.database,
        )
        .await?;
        root.disconnect().await?;

        let json = serde_json::to_string_pretty(&state)
            .map_err(|e| Error::Server(format!("serializing state: {e}")))?;
        std::fs::write(self.state_file(), json)
            .map_err(io_err(format!("writing {}", self.state_file().display())))?;
        Ok(state)
    }

    async fn spawn(&self, server: &Path, cnf: &Path) -> Result<()> {
        use std::os::unix::process::CommandExt;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("stdout.log"))
            .map_err(io_err("opening the server log"))?;
        let mut cmd = Command::new(server);
        cmd.arg(format!("--defaults-file={}", cnf.display()));
        if running_as_root() {
            cmd.arg("--user=root");
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io_err("opening the server log"))?)
            .stderr(log)
            // Its own process group: the server outlives this command and its terminal.
            .process_group(0)
            .spawn()
            .map_err(io_err(format!("starting {}", server.display())))?;
        info!(server = %server.display(), pid = child.id(), "database server starting");

        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(exit) = child.try_wait().map_err(io_err("watching the server"))? {
                let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                return Err(Error::Server(format!(
                    "the database server exited ({exit}) during start; its log {} ends with:\n{}",
                    self.log_file().display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )));
            }
            match self.root_conn().await {
                Ok(conn) => {
                    let _ = conn.disconnect().await;
                    // Reap the child in the background so it never lingers as a zombie while
                    // this process lives; the server itself keeps running.
                    std::thread::spawn(move || child.wait());
                    return Ok(());
                }
                Err(e) if Instant::now() > deadline => {
                    return Err(Error::Server(format!(
                        "the database server did not accept connections within 120 s: {e}; see {}",
                        self.log_file().display()
                    )));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Stops the server; `Ok(false)` when it was not running.
    #[instrument(skip_all, fields(dir = %self.dir.display()))]
    pub async fn stop(&self) -> Result<bool> {
        let Some(pid) = self.pid().filter(|&p| process_alive(p)) else {
            return Ok(false);
        };
        match self.root_conn().await {
            Ok(mut conn) => {
                // The server may drop the connection before answering.
                let _ = conn.query_drop("SHUTDOWN").await;
            }
            Err(e) => {
                debug!(error = %e, pid, "no socket connection; sending SIGTERM");
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while process_alive(pid) {
            if Instant::now() > deadline {
                return Err(Error::Server(format!(
                    "server process {pid} did not stop within 120 s"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        info!(pid, "database server stopped");
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_are_found_in_order_or_reported_with_advice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dirs = vec![dir.path().to_path_buf()];
        assert_eq!(find_in(&["mariadbd", "mysqld"], &dirs), None);
        assert!(INSTALL_HINT.contains("apt-get install mariadb-server"));
        std::fs::write(dir.path().join("mysqld"), "").expect("write");
        assert_eq!(
            find_in(&["mariadbd", "mysqld"], &dirs),
            Some(dir.path().join("mysqld"))
        );
        std::fs::write(dir.path().join("mariadbd"), "").expect("write");
        assert_eq!(
            find_in(&["mariadbd", "mysqld"], &dirs),
            Some(dir.path().join("mariadbd"))
        );
        assert_eq!(search_dirs(Some(dir.path()))[0], dir.path());
    }

    #[test]
    fn only_live_database_servers_count_as_alive() {
        // This test process is alive but is not a database server.
        assert!(!process_alive(std::process::id()));
        assert!(!process_alive(u32::MAX));
    }

    #[test]
    fn long_state_dirs_get_a_short_socket() {
        let long = "/tmp/".to_string() + &"x".repeat(120);
        let server = LocalServer::new(Path::new(&long)).expect("server");
        assert!(server.socket().as_os_str().len() < 100);
        let short = LocalServer::new(Path::new("/tmp/s")).expect("server");
        assert_eq!(short.socket(), Path::new("/tmp/s/mysql/mysqld.sock"));
    }
}
