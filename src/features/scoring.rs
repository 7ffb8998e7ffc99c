//! The feature engine: per-card and per-client state, features, score.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::ingest::event::{ChangeEvent, Op, Position, Value};
use crate::ingest::schema::TableSchema;

const MINUTE: i64 = 60_000_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// A card or client idle this long starts over (its state has expired).
pub const STATE_TTL: i64 = 90 * DAY;
/// A transaction dated more than this after its commit (event time against commit time) is
/// left out of the features: see [`FeatureEngine::process`].
pub const MAX_AHEAD: i64 = DAY;
/// An alert is raised at this score.
pub const ALERT_SCORE: u32 = 50;

/// Why a transaction scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Reason {
    /// More than 5 transactions on the card within an hour.
    Velocity1h,
    /// The card's 24 h spend is over $500 and over 10x its average transaction.
    Spend24h,
    /// Amount z-score against the card's history above 3.
    AmountOutlier,
    /// First time at this merchant (with at least 5 earlier transactions).
    NewMerchant,
    /// First time in this state or country (with at least 5 earlier transactions).
    NewLocation,
    /// In-person in two different places less than an hour apart.
    ImpossibleTravel,
    /// Two or more Bad PIN in a row on the card.
    BadPinStreak,
    /// Two or more Bad CVV in a row on the card.
    BadCvvStreak,
    /// The card is flagged as on the dark web.
    DarkWeb,
    /// Online, and outside anything the card has seen.
    OnlineNew,
}

impl Reason {
    pub const fn code(self) -> &'static str {
        match self {
            Reason::Velocity1h => "VELOCITY_1H",
            Reason::Spend24h => "SPEND_24H",
            Reason::AmountOutlier => "AMOUNT_OUTLIER",
            Reason::NewMerchant => "NEW_MERCHANT",
            Reason::NewLocation => "NEW_LOCATION",
            Reason::ImpossibleTravel => "IMPOSSIBLE_TRAVEL",
            Reason::BadPinStreak => "BAD_PIN_STREAK",
            Reason::BadCvvStreak => "BAD_CVV_STREAK",
            Reason::DarkWeb => "DARK_WEB",
            Reason::OnlineNew => "ONLINE_NEW",
        }
    }

    const fn weight(self) -> u32 {
        match self {
            Reason::Velocity1h => 25,
            Reason::Spend24h => 20,
            Reason::AmountOutlier => 25,
            Reason::NewMerchant => 10,
            Reason::NewLocation => 20,
            Reason::ImpossibleTravel => 40,
            Reason::BadPinStreak => 30,
            Reason::BadCvvStreak => 40,
            Reason::DarkWeb => 30,
            Reason::OnlineNew => 15,
        }
    }
}

/// The features of one transaction, computed from everything before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Features {
    /// Earlier transactions of the card within the hour / day before this one (this one
    /// included), and their amounts in cents.
    pub card_tx_1h: u32,
    pub card_amount_1h: i64,
    pub card_tx_24h: u32,
    pub card_amount_24h: i64,
    pub client_tx_1h: u32,
    pub client_tx_24h: u32,
    pub client_amount_24h: i64,
    /// Seconds since the card's previous transaction (None: the first).
    pub secs_since_prev: Option<i64>,
    /// (amount - mean) / stddev over the card's earlier amounts (None: under 5 earlier).
    pub amount_z: Option<f64>,
    pub first_merchant: bool,
    pub first_location: bool,
    pub impossible_travel: bool,
    /// Consecutive transactions of the card with Bad PIN / Bad CVV, this one included.
    pub bad_pin_streak: u32,
    pub bad_cvv_streak: u32,
    pub dark_web: bool,
}

/// One scored transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    pub transaction_id: String,
    pub card_id: i64,
    pub client_id: i64,
    /// Transaction wall-clock time, microseconds.
    pub ts: i64,
    pub amount_cents: i64,
    pub position: Position,
    pub features: Features,
    pub score: u32,
    pub reasons: Vec<Reason>,
}

impl Scored {
    pub fn is_alert(&self) -> bool {
        self.score >= ALERT_SCORE
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct CardState {
    /// (ts, cents) of recent transactions (last 24 h of event time).
    recent: VecDeque<(i64, i64)>,
    /// Count, sum and sum of squares of amounts in cents: exact, so stored state is too.
    n: u64,
    sum: i128,
    sumsq: i128,
    last_ts: Option<i64>,
    /// Last in-person location and when.
    last_place: Option<(String, i64)>,
    merchants: BTreeSet<i64>,
    places: BTreeSet<String>,
    bad_pin: u32,
    bad_cvv: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct ClientState {
    recent: VecDeque<(i64, i64)>,
    last_ts: Option<i64>,
}

/// The engine and its state (serialisable; equal states give equal futures).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FeatureEngine {
    cards: BTreeMap<i64, CardState>,
    clients: BTreeMap<i64, ClientState>,
    dark_web: BTreeMap<i64, bool>,
    /// The latest transaction time seen (event time): expiry is decided against it, the same
    /// way at lookup and in [`FeatureEngine::expire`], so batching cannot change outputs.
    watermark: i64,
    /// The position of the last event consumed.
    pub position: Option<Position>,
    /// Transactions left out because their event time was too far ahead of their commit.
    #[serde(default)]
    future_dated: u64,
}

fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Int(x) => Some(*x),
        Value::UInt(x) => i64::try_from(*x).ok(),
        Value::Decimal { unscaled, scale } => {
            i64::try_from(unscaled / 10i128.pow(u32::from(*scale))).ok()
        }
        _ => None,
    }
}

fn cents(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Decimal { unscaled, scale } => {
            let s = i32::from(*scale);
            let c = if s >= 2 {
                unscaled / 10i128.pow((s - 2) as u32)
            } else {
                unscaled * 10i128.pow((2 - s) as u32)
            };
            i64::try_from(c).ok()
        }
        Value::Int(x) => Some(x * 100),
        _ => None,
    }
}

fn text(v: Option<&Value>) -> Option<&str> {
    match v? {
        Value::Text(s) => Some(s),
        _ => None,
    }
}

/// The columns the engine reads, by name (so schema evolution does not move them).
#[derive(Debug, Clone)]
pub struct Columns {
    /// Transaction column indexes by name.
    tx: BTreeMap<&'static str, usize>,
    card_id: usize,
    card_dark_web: usize,
}

impl Columns {
    pub fn new(transactions: &TableSchema, cards: &TableSchema) -> Option<Self> {
        let mut tx = BTreeMap::new();
        for c in [
            "id",
            "date",
            "client_id",
            "card_id",
            "amount",
            "use_chip",
            "merchant_id",
            "merchant_state",
            "errors",
        ] {
            tx.insert(c, transactions.column_index(c)?);
        }
        Some(Self {
            tx,
            card_id: cards.column_index("id")?,
            card_dark_web: cards.column_index("card_on_dark_web")?,
        })
    }
}

fn prune(recent: &mut VecDeque<(i64, i64)>, now: i64) {
    while recent.front().is_some_and(|(t, _)| *t <= now - DAY) {
        recent.pop_front();
    }
}

fn window(recent: &VecDeque<(i64, i64)>, now: i64, span: i64) -> (u32, i64) {
    recent
        .iter()
        .filter(|(t, _)| *t > now - span && *t <= now)
        .fold((0, 0), |(n, a), (_, c)| (n + 1, a + c))
}

impl FeatureEngine {
    /// Consumes events (source order, already past `self.position` or not: older ones are
    /// skipped, so replays are no-ops) and scores every new transaction.
    pub fn process(&mut self, cols: &Columns, events: &[ChangeEvent]) -> Vec<Scored> {
        let mut out = Vec::new();
        for e in events {
            if self.position.as_ref().is_some_and(|p| &e.position <= p) {
                continue;
            }
            self.position = Some(e.position.clone());
            match (&*e.table, e.op) {
                ("cards", Op::Read | Op::Create | Op::Update) => {
                    if let Some(row) = &e.after
                        && let Some(id) = int(row.get(cols.card_id))
                    {
                        let flag = int(row.get(cols.card_dark_web)).unwrap_or(0) != 0;
                        self.dark_web.insert(id, flag);
                    }
                }
                ("cards", Op::Delete) => {
                    if let Some(id) = e.before.as_ref().and_then(|r| int(r.get(cols.card_id))) {
                        self.dark_web.remove(&id);
                    }
                }
                // New transactions are scored; snapshot rows build history without scoring
                // alerts (they are the past), corrections and deletes do not re-score.
                ("transactions", Op::Create | Op::Read) => {
                    if let Some(s) = e.after.as_ref().and_then(|r| self.score(cols, r, e)) {
                        out.push(s);
                    }
                }
                _ => {}
            }
        }
        out
    }

    fn score(&mut self, cols: &Columns, row: &[Value], e: &ChangeEvent) -> Option<Scored> {
        let get = |c: &str| cols.tx.get(c).and_then(|&i| row.get(i));
        let ts = match get("date")? {
            Value::DateTime(t) => *t,
            _ => return None,
        };
        let card_id = int(get("card_id"))?;
        let client_id = int(get("client_id"))?;
        let amount = cents(get("amount"))?;
        let merchant = int(get("merchant_id")).unwrap_or(-1);
        let online = text(get("use_chip")) == Some("Online Transaction");
        let place = text(get("merchant_state")).map(str::to_owned);
        let errors: Vec<&str> = text(get("errors"))
            .map(|s| s.split(',').collect())
            .unwrap_or_default();
        let transaction_id = get("id").map(Value::key_text)?;

        // The watermark is the latest event time: one transaction dated years ahead (a typo,
        // a broken clock) would move it there and expire every card's state. A transaction
        // dated more than MAX_AHEAD after its commit is left out (not scored, no state; the
        // bronze table keeps it as the source has it). An unknown commit time (0) bounds
        // nothing.
        let commit_us = e.commit_ms.saturating_mul(1000);
        if e.commit_ms > 0 && ts > commit_us.saturating_add(MAX_AHEAD) {
            self.future_dated += 1;
            tracing::warn!(
                transaction = %transaction_id,
                card_id,
                event_time_us = ts,
                commit_ms = e.commit_ms,
                "transaction dated more than a day after its commit: left out of the fraud features"
            );
            return None;
        }
        self.watermark = self.watermark.max(ts);
        let w = self.watermark;
        let card = self.cards.entry(card_id).or_default();
        if card.last_ts.is_some_and(|t| w - t > STATE_TTL) {
            *card = CardState::default(); // expired
        }
        let client = self.clients.entry(client_id).or_default();
        if client.last_ts.is_some_and(|t| w - t > STATE_TTL) {
            *client = ClientState::default();
        }
        prune(&mut card.recent, ts);
        prune(&mut client.recent, ts);
        let mut f = Features::default();
        let (n1, a1) = window(&card.recent, ts, HOUR);
        let (n24, a24) = window(&card.recent, ts, DAY);
        f.card_tx_1h = n1 + 1;
        f.card_amount_1h = a1 + amount;
        f.card_tx_24h = n24 + 1;
        f.card_amount_24h = a24 + amount;
        let (c1, _) = window(&client.recent, ts, HOUR);
        let (c24, ca24) = window(&client.recent, ts, DAY);
        f.client_tx_1h = c1 + 1;
        f.client_tx_24h = c24 + 1;
        f.client_amount_24h = ca24 + amount;
        f.secs_since_prev = card.last_ts.map(|t| (ts - t) / 1_000_000);
        let n = card.n as f64;
        let mean = if card.n > 0 { card.sum as f64 / n } else { 0.0 };
        if card.n >= 5 {
            let var = (card.n as i128 * card.sumsq - card.sum * card.sum) as f64 / (n * (n - 1.0));
            let sd = var.max(0.0).sqrt();
            f.amount_z = Some(if sd > 0.0 {
                (amount as f64 - mean) / sd
            } else {
                0.0
            });
        }
        f.first_merchant = !card.merchants.contains(&merchant);
        f.first_location = place.as_ref().is_some_and(|p| !card.places.contains(p));
        if !online && let (Some(p), Some((last, at))) = (&place, &card.last_place) {
            f.impossible_travel = p != last && ts - at < HOUR && ts >= *at;
        }
        let has = |k: &str| errors.contains(&k);
        f.bad_pin_streak = if has("Bad PIN") { card.bad_pin + 1 } else { 0 };
        f.bad_cvv_streak = if has("Bad CVV") { card.bad_cvv + 1 } else { 0 };
        f.dark_web = self.dark_web.get(&card_id).copied().unwrap_or(false);

        let seasoned = card.n >= 5;
        let mut reasons = Vec::new();
        if f.card_tx_1h > 5 {
            reasons.push(Reason::Velocity1h);
        }
        if seasoned && f.card_amount_24h > 50_000 && f.card_amount_24h as f64 > 10.0 * mean.abs() {
            reasons.push(Reason::Spend24h);
        }
        if f.amount_z.is_some_and(|z| z > 3.0) {
            reasons.push(Reason::AmountOutlier);
        }
        if seasoned && f.first_merchant {
            reasons.push(Reason::NewMerchant);
        }
        if seasoned && f.first_location {
            reasons.push(Reason::NewLocation);
        }
        if f.impossible_travel {
            reasons.push(Reason::ImpossibleTravel);
        }
        if f.bad_pin_streak >= 2 {
            reasons.push(Reason::BadPinStreak);
        }
        if f.bad_cvv_streak >= 1 && online {
            reasons.push(Reason::BadCvvStreak);
        }
        if f.dark_web {
            reasons.push(Reason::DarkWeb);
        }
        if online && seasoned && f.first_merchant {
            reasons.push(Reason::OnlineNew);
        }
        let score = reasons.iter().map(|r| r.weight()).sum::<u32>().min(100);

        // Update the state with this transaction.
        card.recent.push_back((ts, amount));
        card.n += 1;
        card.sum += i128::from(amount);
        card.sumsq += i128::from(amount) * i128::from(amount);
        card.last_ts = Some(card.last_ts.map_or(ts, |t| t.max(ts)));
        if !online && let Some(p) = &place {
            card.last_place = Some((p.clone(), ts));
        }
        card.merchants.insert(merchant);
        if let Some(p) = place {
            card.places.insert(p);
        }
        card.bad_pin = f.bad_pin_streak;
        card.bad_cvv = f.bad_cvv_streak;
        client.recent.push_back((ts, amount));
        client.last_ts = Some(client.last_ts.map_or(ts, |t| t.max(ts)));
        let scored = Scored {
            transaction_id,
            card_id,
            client_id,
            ts,
            amount_cents: amount,
            position: e.position.clone(),
            features: f,
            score,
            reasons,
        };
        (e.op == Op::Create).then_some(scored)
    }

    /// Drops state that has expired by the watermark; unobservable in the output (a later
    /// lookup would reset it anyway).
    pub fn expire(&mut self) {
        let w = self.watermark;
        self.cards
            .retain(|_, c| c.last_ts.is_none_or(|t| w - t <= STATE_TTL));
        self.clients
            .retain(|_, c| c.last_ts.is_none_or(|t| w - t <= STATE_TTL));
    }

    /// Transactions left out so far because they were dated more than [`MAX_AHEAD`] after
    /// their commit.
    pub fn future_dated(&self) -> u64 {
        self.future_dated
    }

    pub fn cards_tracked(&self) -> usize {
        self.cards.len()
    }
}
