//! The clients users bring, for real, against `finlake serve`: arrow-rs' `flight_sql_client`,
//! Python ADBC (`adbc-driver-flightsql`), the Arrow Flight SQL JDBC driver in a Java program
//! doing what DBeaver does on connect, and Superset's SQLAlchemy dialect (`flightsql-dbapi`).
//! `scripts/clients.sh` installs them (pinned, cached); a missing one fails its test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tokio::sync::OnceCell;

use crate::common::{PASSWORD, Server, USER, serve_env};
use crate::common::{counts, finlake, fresh_db, ok};

fn clients_dir() -> PathBuf {
    std::env::var_os("FINLAKE_CLIENTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/finlake")
        })
}

fn require(path: &Path, what: &str) -> PathBuf {
    assert!(
        path.exists(),
        "{what} not found at {}: run `bash scripts/clients.sh` (make test does)",
        path.display()
    );
    path.to_path_buf()
}

fn run(cmd: &mut Command) -> String {
    let out: Output = cmd.output().expect("run client");
    let text = format!(
        "status: {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "client failed: {cmd:?}\n{text}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A lake ingested once from a generated source (shared by the client tests), and the
/// source's row counts.
struct Fixture {
    url: String,
    lake: PathBuf,
    counts: Vec<(String, u64)>,
}

async fn fixture() -> &'static Fixture {
    static F: OnceCell<Fixture> = OnceCell::const_new();
    F.get_or_init(|| async {
        let url = fresh_db("t_flight_clients").await;
        let lake = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("flight-clients-lake");
        let _ = std::fs::remove_dir_all(&lake);
        let lake_uri = lake.to_str().expect("utf8").to_owned();
        let env = serve_env(&url, &lake_uri);
        ok(finlake(
            &["datagen", "--scale", "0.001", "--seed", "21"],
            &env,
        ));
        ok(finlake(
            &["ingest", "--until-caught-up", "--server-id", "7301"],
            &env,
        ));
        let counts = counts(&url).await;
        Fixture { url, lake, counts }
    })
    .await
}

impl Fixture {
    fn serve(&self) -> Server {
        let lake = self.lake.to_str().expect("utf8");
        Server::start(&["--no-ingest"], &serve_env(&self.url, lake))
    }

    fn count(&self, table: &str) -> u64 {
        self.counts
            .iter()
            .find(|(t, _)| t == table)
            .map(|(_, n)| *n)
            .expect("table")
    }
}

/// The number in a one-cell pretty-printed table (`| 42 |`).
fn cell(out: &str) -> u64 {
    out.lines()
        .filter_map(|l| l.trim().strip_prefix('|')?.strip_suffix('|'))
        .filter_map(|c| c.trim().parse().ok())
        .next()
        .unwrap_or_else(|| panic!("no number in:\n{out}"))
}

#[tokio::test]
async fn arrow_rs_flight_sql_client() {
    let f = fixture().await;
    let bin = require(
        &clients_dir().join("tools/bin/flight_sql_client"),
        "flight_sql_client",
    );
    let server = f.serve();
    let port = server.flight.port().to_string();
    let cli = |args: &[&str]| {
        run(Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", &port])
            .args(["--username", USER, "--password", PASSWORD])
            .args(args))
    };
    assert!(cli(&["catalogs"]).contains("finlake"));
    let schemas = cli(&["db-schemas", "finlake"]);
    assert!(schemas.contains("bronze"), "{schemas}");
    let tables = cli(&["tables", "finlake", "--db-schema-filter", "bronze"]);
    for t in [
        "users",
        "cards",
        "transactions",
        "fraud_labels",
        "mcc_codes",
        "transactions__changes",
    ] {
        assert!(tables.contains(&format!(" {t} ")), "{t} missing:\n{tables}");
    }
    let n = cell(&cli(&[
        "statement-query",
        "select count(*) as n from bronze.transactions",
    ]));
    assert_eq!(n, f.count("transactions"));
    let n = cell(&cli(&[
        "prepared-statement-query",
        "select count(*) as n from bronze.users where id >= $1",
        "-p",
        "$1=0",
    ]));
    assert_eq!(n, f.count("users"));
    // A string parameter: one card brand at a time adds up to every card.
    let mut total = 0;
    for brand in ["Amex", "Discover", "Mastercard", "Visa"] {
        total += cell(&cli(&[
            "prepared-statement-query",
            "select count(*) as n from bronze.cards where card_brand = $1",
            "-p",
            &format!("$1={brand}"),
        ]));
    }
    assert_eq!(total, f.count("cards"));
    assert!(cli(&["table-types"]).contains("TABLE"));
}

fn python() -> PathBuf {
    require(
        &clients_dir().join("venv-clients/bin/python"),
        "the Python clients' virtualenv",
    )
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

fn json(out: &str) -> serde_json::Value {
    let last = out.lines().last().unwrap_or("");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[tokio::test]
async fn python_adbc_dbapi_and_get_objects() {
    let f = fixture().await;
    let py = python();
    let server = f.serve();
    let out = run(Command::new(py).arg(script("adbc_client.py")).args([
        &server.flight.to_string(),
        USER,
        PASSWORD,
    ]));
    let v = json(&out);
    assert_eq!(v["users"].as_u64(), Some(f.count("users")), "{v}");
    assert_eq!(
        v["transactions"].as_u64(),
        Some(f.count("transactions")),
        "{v}"
    );
    assert_eq!(v["param_count"].as_u64(), Some(f.count("users")), "{v}");
    assert_eq!(v["catalogs"], serde_json::json!(["finlake"]), "{v}");
    let tables: Vec<&str> = v["bronze_tables"]
        .as_array()
        .expect("tables")
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    for t in [
        "users",
        "cards",
        "transactions",
        "fraud_labels",
        "mcc_codes",
    ] {
        assert!(tables.contains(&t), "{t}: {v}");
    }
    assert!(
        v["users_columns"].as_array().is_some_and(|c| c.len() >= 14),
        "{v}"
    );
    assert_eq!(v["amount_type"].as_str(), Some("decimal128(12, 2)"), "{v}");
    assert_eq!(v["city_type"].as_str(), Some("string"), "{v}");
}

#[tokio::test]
async fn superset_sqlalchemy_dialect() {
    let f = fixture().await;
    let py = python();
    let server = f.serve();
    let out = run(Command::new(py).arg(script("superset_client.py")).args([
        &server.flight.to_string(),
        USER,
        PASSWORD,
    ]));
    let v = json(&out);
    let schemas: Vec<&str> = v["schemas"]
        .as_array()
        .expect("schemas")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(schemas.contains(&"bronze"), "{v}");
    let tables: Vec<&str> = v["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(
        tables.contains(&"transactions") && tables.contains(&"users"),
        "{v}"
    );
    let columns: Vec<&str> = v["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    for c in ["id", "date", "amount", "merchant_city", "_pos"] {
        assert!(columns.contains(&c), "{c}: {v}");
    }
    assert_eq!(v["count"].as_u64(), Some(f.count("transactions")), "{v}");
    assert_eq!(v["pk"], serde_json::json!(["id"]), "{v}");
}

#[tokio::test]
async fn jdbc_driver_like_dbeaver() {
    let f = fixture().await;
    let jars = clients_dir().join("jars");
    let jar = std::fs::read_dir(&jars)
        .ok()
        .and_then(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("flight-sql-jdbc-driver-") && n.ends_with(".jar"))
                })
        })
        .unwrap_or_else(|| {
            panic!(
                "the Flight SQL JDBC driver is not in {}: run `bash scripts/clients.sh` (make test does)",
                jars.display()
            )
        });
    let classes = tempfile::tempdir().expect("tempdir");
    run(Command::new("javac")
        .args(["-d", classes.path().to_str().expect("utf8")])
        .arg("-cp")
        .arg(&jar)
        .arg(script("FlightJdbcClient.java")));
    let server = f.serve();
    let cp = format!("{}:{}", jar.display(), classes.path().display());
    let out = run(Command::new("java")
        .arg("--add-opens=java.base/java.nio=ALL-UNNAMED")
        .args(["-cp", &cp, "FlightJdbcClient", "127.0.0.1"])
        .arg(server.flight.port().to_string())
        .args([USER, PASSWORD]));
    let get = |k: &str| -> String {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} missing:\n{out}"))
            .to_owned()
    };
    assert_eq!(get("readonly"), "true", "{out}");
    assert_eq!(get("quote"), "\"", "{out}");
    assert_eq!(get("transactions"), "false", "{out}");
    assert_eq!(get("keywords_present"), "true", "{out}");
    assert_eq!(get("catalogs"), "finlake", "{out}");
    assert!(get("schemas").split(',').any(|s| s == "bronze"), "{out}");
    let tables = get("tables");
    for t in [
        "bronze.users:TABLE",
        "bronze.transactions:TABLE",
        "bronze.cards:TABLE",
    ] {
        assert!(tables.split(',').any(|x| x == t), "{t}: {out}");
    }
    assert!(
        get("columns.transactions").contains("amount:DECIMAL"),
        "{out}"
    );
    assert!(get("columns.users").starts_with("id:"), "{out}");
    assert_eq!(get("pk.users"), "id", "{out}");
    assert_eq!(get("pk.transactions"), "id", "{out}");
    assert_eq!(get("imported_keys.cards"), "0", "{out}");
    assert_eq!(get("users_count"), f.count("users").to_string(), "{out}");
    assert_eq!(get("prepared_columns"), "3", "{out}");
    let visa = get("visa_cards");
    assert_eq!(visa.split(',').count(), 3, "{out}");
    assert!(visa.split(',').all(|r| r.contains("/Visa/")), "{out}");
    assert_eq!(get("update"), "refused read-only", "{out}");
}
