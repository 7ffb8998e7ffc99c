//! Hostile clients: malformed Flight and Flight SQL messages (random tickets, commands,
//! handles and actions; unknown command types; an oversize message; half-closed streams;
//! hundreds of concurrent connections). The server answers each with an error and keeps
//! serving, within bounded memory.

use std::time::{Duration, Instant};

use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::sql::{Any, CommandStatementQuery, ProstMessageExt, TicketStatementQuery};
use arrow_flight::{Action, FlightData, FlightDescriptor, HandshakeRequest, Ticket};
use datafusion::arrow::array::AsArray;
use futures::StreamExt;
use prost::Message;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tonic::Request;
use tonic::transport::Channel;

use crate::common::server::{Server, channel, client, query, serve_env};

/// A request carrying the bearer token.
fn authed<T>(token: &str, body: T) -> Request<T> {
    let mut r = Request::new(body);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    r
}

fn random_bytes(rng: &mut ChaCha8Rng, max: usize) -> Vec<u8> {
    let mut b = vec![0u8; rng.random_range(0..max)];
    rng.fill_bytes(&mut b);
    b
}

/// Reads a DoGet/DoAction-style result to its end; true when it ended in an error.
async fn fails<T>(r: Result<tonic::Response<tonic::codec::Streaming<T>>, tonic::Status>) -> bool {
    match r {
        Err(_) => true,
        Ok(resp) => {
            let mut s = resp.into_inner();
            while let Some(item) = s.next().await {
                if item.is_err() {
                    return true;
                }
            }
            false
        }
    }
}

async fn still_serving(server: &Server) {
    let mut c = client(server.flight).await;
    let b = query(&mut c, "select 1 as one").await;
    assert_eq!(b[0].num_rows(), 1, "the server answers after the abuse");
    assert_eq!(server.get("/health").0, 200);
}

async fn malformed_messages(raw: &mut FlightServiceClient<Channel>, token: &str) {
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    for i in 0..150 {
        // Random bytes as a ticket, and as the statement handle of a well-formed ticket.
        let t = Ticket::new(random_bytes(&mut rng, 512));
        assert!(
            fails(raw.do_get(authed(token, t)).await).await,
            "random ticket {i}"
        );
        let handle = TicketStatementQuery {
            statement_handle: random_bytes(&mut rng, 256).into(),
        };
        let t = Ticket::new(handle.as_any().encode_to_vec());
        assert!(
            fails(raw.do_get(authed(token, t)).await).await,
            "random handle {i}"
        );
        // Random command bytes, an unknown command type, a random SQL command payload.
        let d = FlightDescriptor::new_cmd(random_bytes(&mut rng, 512));
        assert!(
            raw.get_flight_info(authed(token, d)).await.is_err(),
            "random cmd {i}"
        );
        let unknown = Any {
            type_url: "type.googleapis.com/arrow.flight.protocol.sql.CommandNotAThing".into(),
            value: random_bytes(&mut rng, 64).into(),
        };
        let d = FlightDescriptor::new_cmd(unknown.encode_to_vec());
        assert!(
            raw.get_flight_info(authed(token, d)).await.is_err(),
            "unknown cmd {i}"
        );
        let garbage_sql = Any {
            type_url: CommandStatementQuery::type_url().into(),
            value: random_bytes(&mut rng, 128).into(),
        };
        let d = FlightDescriptor::new_cmd(garbage_sql.encode_to_vec());
        let _ = raw.get_flight_info(authed(token, d)).await;
        // Random actions.
        let a = Action::new(
            String::from_utf8_lossy(&random_bytes(&mut rng, 40)).into_owned(),
            random_bytes(&mut rng, 256),
        );
        let _ = fails(raw.do_action(authed(token, a)).await).await;
        let a = Action::new("ClosePreparedStatement", random_bytes(&mut rng, 256));
        let _ = fails(raw.do_action(authed(token, a)).await).await;
    }
}

async fn oversize_and_half_closed(
    raw: &mut FlightServiceClient<Channel>,
    ch: Channel,
    token: &str,
) {
    // A 16 MiB command: refused by the transport's message limit.
    let d = FlightDescriptor::new_cmd(vec![b'x'; 16 << 20]);
    assert!(
        raw.get_flight_info(authed(token, d)).await.is_err(),
        "oversize"
    );
    // A huge SQL text inside a valid command.
    let sql = format!("select {}", "1 + ".repeat(200_000));
    let cmd = CommandStatementQuery {
        query: sql,
        transaction_id: None,
    };
    let d = FlightDescriptor::new_cmd(cmd.as_any().encode_to_vec());
    let e = raw
        .get_flight_info(authed(token, d))
        .await
        .expect_err("too deep");
    assert!(e.message().contains("too complex"), "{e}");
    // A long chain under the limit still plans and runs (the stack holds it).
    let mut c2 = arrow_flight::sql::client::FlightSqlServiceClient::new(ch.clone());
    c2.set_token(token.to_owned());
    let sql = format!("select {}1 as n", "1 + ".repeat(1_900));
    let b = crate::common::server::query(&mut c2, &sql).await;
    let n = b[0]
        .column(0)
        .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
        .value(0);
    assert_eq!(n, 1_901);
    // Streams that end at once, or after one random message.
    let empty = futures::stream::empty::<HandshakeRequest>();
    let _ = fails(raw.handshake(Request::new(empty)).await).await;
    let one = futures::stream::iter([FlightData {
        data_header: vec![1, 2, 3].into(),
        data_body: vec![9; 1000].into(),
        ..Default::default()
    }]);
    assert!(
        fails(raw.do_put(authed(token, one)).await).await,
        "do_put is refused"
    );
    let one = futures::stream::iter([FlightData::default()]);
    assert!(
        fails(raw.do_exchange(authed(token, one)).await).await,
        "do_exchange"
    );
    // A DoGet abandoned after its first message.
    let mut c = arrow_flight::sql::client::FlightSqlServiceClient::new(ch);
    c.set_token(token.to_owned());
    let info = c
        .execute("select * from generate_series(1, 5000000)".into(), None)
        .await
        .expect("plan");
    let t = info.endpoint[0].ticket.clone().expect("ticket");
    let mut s = c.do_get(t).await.expect("do_get");
    let _ = s.next().await;
    drop(s);
}

async fn many_connections(addr: std::net::SocketAddr) {
    // 400 connections at once, each with one unauthenticated call and one bad password.
    let calls = (0..400).map(|i| async move {
        let ch = channel(addr).await;
        let mut raw = FlightServiceClient::new(ch.clone());
        let d = FlightDescriptor::new_cmd(vec![0u8; 8]);
        let refused = raw.get_flight_info(Request::new(d)).await;
        assert!(refused.is_err(), "connection {i}: no credentials");
        let mut c = arrow_flight::sql::client::FlightSqlServiceClient::new(ch);
        assert!(
            c.handshake("analyst", "wrong").await.is_err(),
            "bad password {i}"
        );
    });
    futures::stream::iter(calls)
        .buffer_unordered(400)
        .collect::<Vec<()>>()
        .await;
}

#[tokio::test]
async fn malformed_requests_get_errors_and_the_server_keeps_serving() {
    let lake = tempfile::tempdir().expect("tempdir");
    let lake_uri = lake.path().to_str().expect("utf8");
    let env = serve_env("mysql://unused@127.0.0.1:1/none", lake_uri);
    let server = Server::start(&["--no-ingest"], &env);
    let c = client(server.flight).await;
    let token = c.token().expect("token").clone();
    let ch = channel(server.flight).await;
    let mut raw = FlightServiceClient::new(ch.clone());
    let started = Instant::now();

    malformed_messages(&mut raw, &token).await;
    still_serving(&server).await;
    oversize_and_half_closed(&mut raw, ch, &token).await;
    still_serving(&server).await;
    many_connections(server.flight).await;
    still_serving(&server).await;

    let (_, metrics) = server.get("/metrics");
    let refused: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("finlake_flight_unauthenticated_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("unauthenticated counter");
    assert!(refused >= 400.0, "refused calls counted: {refused}");
    let delayed: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("finlake_flight_auth_delayed_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("delayed counter");
    assert!(
        delayed >= 100.0,
        "repeated bad credentials are slowed down: {delayed}"
    );
    let rss = server.rss_bytes();
    assert!(
        rss < 1 << 30,
        "server RSS {} MiB after the abuse",
        rss >> 20
    );
    assert!(started.elapsed() < Duration::from_secs(600));
    let (status, rest) = server.stop();
    assert!(status.success(), "exit {status}: {rest}");
}
