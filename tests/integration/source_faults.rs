//! Dropped connections: the loop reads the source through a TCP proxy that the test cuts; it
//! reconnects with backoff, resumes from its last applied commit, and the lake ends equal.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::common::{finlake, fresh_db, ok, text};

/// A loopback TCP proxy to `upstream` whose connections `cut` drops, all at once.
struct Proxy {
    port: u16,
    cut: watch::Sender<u64>,
    accepted: Arc<std::sync::atomic::AtomicU64>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (cut, rx) = watch::channel(0u64);
        let accepted = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let upstream = upstream.clone();
                let mut rx = rx.clone();
                rx.mark_unchanged();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut client, &mut server) => {}
                        _ = rx.changed() => {}
                    }
                });
            }
        });
        Self {
            port,
            cut,
            accepted,
        }
    }

    /// Drops every connection open now.
    fn cut(&self) {
        self.cut.send_modify(|g| *g += 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_source_connections_are_retried_and_nothing_is_lost() {
    let url = fresh_db("t_faults_proxy").await;
    let lake = tempfile::tempdir().expect("tempdir");
    let lake_uri = lake.path().to_str().expect("utf8");
    let key = "faults-mask-key-0123456789";
    let direct = [
        ("FINLAKE_SOURCE_URL", url.as_str()),
        ("FINLAKE_LAKE_URI", lake_uri),
        ("FINLAKE_MASK_KEY", key),
        ("FINLAKE_SERVER_ID", "7160"),
    ];
    ok(finlake(
        &["datagen", "--scale", "0.001", "--seed", "8"],
        &direct,
    ));
    ok(finlake(&["ingest", "--until-caught-up"], &direct));

    // mysql://user:pass@127.0.0.1:PORT/db -> the same through the proxy.
    let after_at = &url[url.rfind('@').expect("@") + 1..];
    let host_port = &after_at[..after_at.find('/').expect("/")];
    let proxy = Proxy::start(host_port.to_string()).await;
    // mysql_async switches a loopback TCP connection to the server's unix socket unless told
    // not to: the proxy must stay in the path.
    let proxied = format!(
        "{}?prefer_socket=false",
        url.replace(host_port, &format!("127.0.0.1:{}", proxy.port))
    );

    let mut cmd = crate::common::finlake_command();
    let log = tempfile::NamedTempFile::new().expect("log");
    let mut ingest = cmd
        .args(["ingest", "--max-wait", "50ms"])
        .envs(direct.iter().copied())
        .env("FINLAKE_SOURCE_URL", &proxied)
        .env("FINLAKE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log.reopen().expect("log handle"))
        .spawn()
        .expect("spawn ingest");

    for round in 0..3 {
        let seed = format!("{round}");
        let sim = crate::common::finlake_on_thread(
            &[
                "simulate",
                "--rate",
                "150",
                "--duration",
                "2s",
                "--label-delay",
                "1s",
                "--seed",
                &seed,
            ],
            &direct,
        );
        tokio::time::sleep(Duration::from_millis(900)).await;
        proxy.cut();
        sim.join().expect("workload");
    }

    // The loop catches up by itself, through the proxy, without a restart.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let out = finlake(&["verify"], &direct);
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the lake did not catch up after dropped connections:\n{}\n--- ingest log\n{}",
            text(&out),
            std::fs::read_to_string(log.path()).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        ingest.try_wait().expect("poll").is_none(),
        "the loop kept running"
    );
    let pid = ingest.id().to_string();
    ok(Command::new("kill")
        .args(["-TERM", &pid])
        .output()
        .expect("kill"));
    let status = ingest.wait().expect("reap");
    assert!(status.success(), "clean stop on SIGTERM: {status}");
    let logged = std::fs::read_to_string(log.path()).expect("log");
    assert!(
        proxy.accepted.load(std::sync::atomic::Ordering::Relaxed) > 1,
        "the loop connected again after the cuts"
    );
    assert!(
        logged.contains("reconnecting"),
        "connection losses were seen and retried:\n{logged}"
    );
}
