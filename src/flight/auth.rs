//! Authentication: Flight's handshake with basic credentials returns a bearer token; every
//! other call must carry `authorization: Bearer <token>` (or `Basic <credentials>`).
//!
//! Tokens are stateless: `fl1.<user>.<expiry>.<HMAC-SHA-256>` under a secret (from
//! `FINLAKE_FLIGHT_TOKEN_SECRET`, else random per process), so servers sharing the secret
//! accept each other's tokens and nothing is stored per session.
//!
//! [`GuardLayer`] wraps the whole gRPC service: it counts calls, checks credentials on every
//! method but Handshake, slows down repeated refusals from one address (`throttle`), and
//! turns a panic in a handler into an `internal` error, so no request can take the server
//! down.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use futures::FutureExt as _;
use hmac::{Hmac, KeyInit, Mac};
use prost::Message as _;
use sha2::Sha256;
use tonic::Status;
use tracing::warn;

use super::throttle::Throttle;
use crate::engine::Metrics;

type HmacSha256 = Hmac<Sha256>;

/// Who may connect.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

/// Checks credentials and issues tokens.
pub struct Authenticator {
    /// `None`: authentication disabled (`--flight-no-auth`).
    credentials: Option<Credentials>,
    secret: Vec<u8>,
    ttl: Duration,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("credentials", &self.credentials)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn mac(secret: &[u8]) -> HmacSha256 {
    <HmacSha256 as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
}

impl Authenticator {
    /// `secret`: the token key; random when `None`.
    pub fn new(credentials: Option<Credentials>, secret: Option<&str>, ttl: Duration) -> Self {
        let secret = match secret {
            Some(s) => s.as_bytes().to_vec(),
            None => rand::random::<[u8; 32]>().to_vec(),
        };
        Self {
            credentials,
            secret,
            ttl,
        }
    }

    pub fn enabled(&self) -> bool {
        self.credentials.is_some()
    }

    fn check_password(&self, user: &str, password: &str) -> Result<(), Status> {
        let Some(c) = &self.credentials else {
            return Ok(());
        };
        // Compare MACs, not strings: constant time whatever the input.
        let expected = {
            let mut m = mac(&self.secret);
            m.update(c.user.as_bytes());
            m.update(&[0]);
            m.update(c.password.as_bytes());
            m.finalize().into_bytes()
        };
        let mut m = mac(&self.secret);
        m.update(user.as_bytes());
        m.update(&[0]);
        m.update(password.as_bytes());
        m.verify_slice(&expected)
            .map_err(|_| Status::unauthenticated("invalid user name or password"))
    }

    /// Checks `Basic <base64(user:password)>`; returns the user.
    pub fn check_basic(&self, encoded: &str) -> Result<String, Status> {
        // Padded or not (Go's Flight client sends unpadded base64).
        let raw = STANDARD_NO_PAD
            .decode(encoded.trim().trim_end_matches('='))
            .map_err(|_| Status::unauthenticated("malformed basic credentials"))?;
        let text = String::from_utf8(raw)
            .map_err(|_| Status::unauthenticated("malformed basic credentials"))?;
        let (user, password) = text
            .split_once(':')
            .ok_or_else(|| Status::unauthenticated("malformed basic credentials"))?;
        self.check_password(user, password)?;
        Ok(user.to_owned())
    }

    fn signature(&self, user_b64: &str, expiry: u64) -> String {
        let mut m = mac(&self.secret);
        m.update(b"fl1\0");
        m.update(user_b64.as_bytes());
        m.update(b"\0");
        m.update(expiry.to_string().as_bytes());
        hex::encode(m.finalize().into_bytes())
    }

    /// A bearer token for `user`, valid for the configured time.
    pub fn issue(&self, user: &str) -> String {
        let user_b64 = URL_SAFE_NO_PAD.encode(user);
        let expiry = now_secs() + self.ttl.as_secs();
        let sig = self.signature(&user_b64, expiry);
        format!("fl1.{user_b64}.{expiry}.{sig}")
    }

    /// Checks a bearer token; returns its user.
    pub fn verify_token(&self, token: &str) -> Result<String, Status> {
        let bad = || Status::unauthenticated("invalid or expired token: handshake again");
        let mut parts = token.trim().split('.');
        let (Some("fl1"), Some(user_b64), Some(expiry), Some(sig), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        let expiry: u64 = expiry.parse().map_err(|_| bad())?;
        let mut m = mac(&self.secret);
        m.update(b"fl1\0");
        m.update(user_b64.as_bytes());
        m.update(b"\0");
        m.update(expiry.to_string().as_bytes());
        let sig = hex::decode(sig).map_err(|_| bad())?;
        m.verify_slice(&sig).map_err(|_| bad())?;
        if expiry < now_secs() {
            return Err(bad());
        }
        let user = URL_SAFE_NO_PAD.decode(user_b64).map_err(|_| bad())?;
        String::from_utf8(user).map_err(|_| bad())
    }

    /// Checks the `authorization` header of a call (not Handshake).
    pub fn check_header(&self, header: Option<&str>) -> Result<(), Status> {
        if !self.enabled() {
            return Ok(());
        }
        let h = header.ok_or_else(|| {
            Status::unauthenticated(
                "no credentials: handshake with basic credentials, then send the bearer token",
            )
        })?;
        if let Some(token) = strip_scheme(h, "Bearer") {
            return self.verify_token(token).map(drop);
        }
        if let Some(basic) = strip_scheme(h, "Basic") {
            return self.check_basic(basic).map(drop);
        }
        Err(Status::unauthenticated("unsupported authorization scheme"))
    }

    /// Handshake: credentials from the `authorization: Basic` header, or from a Flight
    /// `BasicAuth` message in the request payload. Returns a new bearer token.
    pub fn handshake(&self, header: Option<&str>, payload: &[u8]) -> Result<String, Status> {
        if let Some(basic) = header.and_then(|h| strip_scheme(h, "Basic")) {
            let user = self.check_basic(basic)?;
            return Ok(self.issue(&user));
        }
        if let Some(token) = header.and_then(|h| strip_scheme(h, "Bearer"))
            && self.verify_token(token).is_ok()
        {
            let user = self.verify_token(token)?;
            return Ok(self.issue(&user));
        }
        if !payload.is_empty()
            && let Ok(auth) = arrow_flight::BasicAuth::decode(payload)
            && !auth.username.is_empty()
        {
            self.check_password(&auth.username, &auth.password)?;
            return Ok(self.issue(&auth.username));
        }
        if !self.enabled() {
            return Ok(self.issue("anonymous"));
        }
        Err(Status::unauthenticated(
            "handshake needs basic credentials (authorization: Basic ...)",
        ))
    }
}

fn strip_scheme<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let head = header.get(..scheme.len())?;
    let rest = &header[scheme.len()..];
    (head.eq_ignore_ascii_case(scheme) && rest.starts_with(' ')).then(|| rest.trim_start())
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct GuardLayer {
    auth: Arc<Authenticator>,
    metrics: Arc<Metrics>,
    throttle: Arc<Throttle>,
}

impl GuardLayer {
    pub fn new(auth: Arc<Authenticator>, metrics: Arc<Metrics>) -> Self {
        Self {
            auth,
            metrics,
            throttle: Arc::new(Throttle::default()),
        }
    }
}

/// Waits out a refusal's backoff (counted in `/metrics`).
async fn hold_back(wait: Duration, metrics: &Metrics) {
    if !wait.is_zero() {
        Metrics::inc(&metrics.auth_delayed);
        tokio::time::sleep(wait).await;
    }
}

impl<S> tower::Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard {
            inner,
            auth: Arc::clone(&self.auth),
            metrics: Arc::clone(&self.metrics),
            throttle: Arc::clone(&self.throttle),
        }
    }
}

/// The service [`GuardLayer`] makes.
#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
    auth: Arc<Authenticator>,
    metrics: Arc<Metrics>,
    throttle: Arc<Throttle>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for Guard<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        Metrics::inc(&self.metrics.rpcs);
        let path = req.uri().path().to_owned();
        let peer = req
            .extensions()
            .get::<tonic::transport::server::TcpConnectInfo>()
            .and_then(|i| i.remote_addr())
            .map(|a| a.ip());
        let handshake = path.ends_with("/Handshake");
        if !handshake {
            let header = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            if let Err(status) = self.auth.check_header(header) {
                Metrics::inc(&self.metrics.unauthenticated);
                let wait = self.throttle.failed(peer);
                let metrics = Arc::clone(&self.metrics);
                return Box::pin(async move {
                    hold_back(wait, &metrics).await;
                    Ok(status.into_http())
                });
            }
        }
        let fut = self.inner.call(req);
        let throttle = Arc::clone(&self.throttle);
        let metrics = Arc::clone(&self.metrics);
        Box::pin(async move {
            match AssertUnwindSafe(fut).catch_unwind().await {
                Ok(Ok(resp)) if handshake => {
                    // A refused handshake answers with grpc-status 16 (UNAUTHENTICATED).
                    if resp.headers().get("grpc-status").is_some_and(|v| v == "16") {
                        Metrics::inc(&metrics.unauthenticated);
                        hold_back(throttle.failed(peer), &metrics).await;
                    } else {
                        throttle.succeeded(peer);
                    }
                    Ok(resp)
                }
                Ok(r) => r,
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    warn!(path, panic = what, "handler panicked");
                    Ok(Status::internal(format!("internal error in {path}")).into_http())
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Authenticator {
        Authenticator::new(
            Some(Credentials {
                user: "ana".into(),
                password: "s3cret".into(),
            }),
            Some("test-secret"),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn basic_then_bearer() {
        use base64::engine::general_purpose::STANDARD;
        let a = auth();
        // Unpadded base64 (Go clients) works too.
        let unpadded = STANDARD_NO_PAD.encode("ana:s3cret");
        a.check_header(Some(&format!("Basic {unpadded}")))
            .expect("unpadded");
        let basic = STANDARD.encode("ana:s3cret");
        let token = a
            .handshake(Some(&format!("Basic {basic}")), b"")
            .expect("handshake");
        assert_eq!(a.verify_token(&token).expect("valid"), "ana");
        a.check_header(Some(&format!("Bearer {token}")))
            .expect("bearer");
        a.check_header(Some(&format!("basic {basic}")))
            .expect("basic");
        // Another server with the same secret accepts it; another secret does not.
        let b = Authenticator::new(None, Some("test-secret"), Duration::from_secs(60));
        assert!(b.verify_token(&token).is_ok());
        let c = Authenticator::new(None, Some("other"), Duration::from_secs(60));
        assert!(c.verify_token(&token).is_err());
    }

    #[test]
    fn refusals() {
        use base64::engine::general_purpose::STANDARD;
        let a = auth();
        let wrong = STANDARD.encode("ana:nope");
        assert!(a.handshake(Some(&format!("Basic {wrong}")), b"").is_err());
        assert!(a.handshake(None, b"").is_err());
        assert!(a.check_header(None).is_err());
        assert!(a.check_header(Some("Bearer None")).is_err());
        assert!(
            a.check_header(Some("Bearer fl1.YW5h.99999999999.00"))
                .is_err()
        );
        assert!(a.check_header(Some("Digest x")).is_err());
        assert!(a.check_header(Some("Basic !!!")).is_err());
        // Tampered user.
        let token = a.issue("ana");
        let forged = token.replacen("YW5h", "Ym9i", 1);
        assert!(a.verify_token(&forged).is_err());
        // Expired.
        let short = Authenticator::new(None, Some("k"), Duration::ZERO);
        let t = short.issue("x");
        std::thread::sleep(Duration::from_millis(1100));
        assert!(short.verify_token(&t).is_err());
    }

    #[test]
    fn payload_credentials_and_disabled_auth() {
        let a = auth();
        let payload = arrow_flight::BasicAuth {
            username: "ana".into(),
            password: "s3cret".into(),
        }
        .encode_to_vec();
        assert!(a.handshake(None, &payload).is_ok());
        let open = Authenticator::new(None, None, Duration::from_secs(60));
        assert!(open.check_header(None).is_ok());
        assert!(open.check_header(Some("Bearer None")).is_ok());
        assert!(open.handshake(None, b"").is_ok());
    }
}
