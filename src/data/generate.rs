//! Synthetic data with the shape and the published statistics of the public dataset.
//!
//! The model is generative and label-first: fraud happens in *episodes* on a compromised card
//! (a first fraudulent use, then a few more within hours), and every fraudulent transaction
//! draws its channel, location, merchant category, amount and errors from distributions that
//! differ from legitimate ones. The per-class distributions are chosen so that the rate ratios
//! the public EDA reports come out by Bayes' rule (see [`Calibration`]); `stats` measures them
//! and the tests hold them to stated tolerances.
//!
//! Output is deterministic for a given `(scale, seed)`. Transactions are produced day by day in
//! time order with increasing, non-contiguous ids, so scale 1.0 streams in constant memory.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Exp, LogNormal, Normal};

use super::geo::{self, City};
use super::mcc::{self, MccInfo};
use super::model::{
    Card, CardBrand, CardType, Dec2, ERROR_KINDS, FraudLabel, Gender, MccCode, Transaction,
    UseChip, User, YearMonth,
};

/// Sizes of the public dataset (scale 1.0).
pub mod full_size {
    pub const TRANSACTIONS: u64 = 13_305_915;
    pub const USERS: u32 = 2_000;
    pub const CARDS: u32 = 6_146;
    pub const MCC_CODES: usize = 109;
    pub const FIRST_TRANSACTION_ID: u64 = 7_475_327;
    pub const LAST_TRANSACTION_ID: u64 = 23_761_874;
}

/// Floors that keep small scales meaningful.
pub const MIN_USERS: u32 = 100;
pub const MIN_CARDS: u32 = 300;

/// The published signals the model is calibrated to reproduce.
#[derive(Debug, Clone, Copy)]
pub struct Calibration {
    /// Share of transactions that are fraudulent (among labelled ones: 0.1495%).
    pub fraud_rate: f64,
    /// Share of transactions carrying a label.
    pub label_coverage: f64,
    /// Mean number of fraudulent transactions per compromised card.
    pub episode_mean_len: f64,
    /// Legitimate channel mix: in person in the home state, in person elsewhere, online.
    pub legit_channel: [f64; 3],
    /// Fraud channel mix, chosen so that online is ~28x and outside-home-state ~50x as risky.
    pub fraud_channel: [f64; 3],
    /// Among in-person transactions outside the home state, the share abroad.
    pub legit_foreign_share: f64,
    pub fraud_foreign_share: f64,
    /// Probability that a legitimate transaction is a refund (negative amount).
    pub refund_rate: f64,
    /// Probability that a legitimate / fraudulent transaction records an error.
    pub legit_error_rate: f64,
    pub fraud_error_rate: f64,
    /// Median amounts, in dollars.
    pub legit_median: f64,
    pub fraud_median: f64,
}

impl Calibration {
    /// Derivation: with fraud share f small, the rate ratio of a binary feature X is about
    /// `(a/(1-a)) / (b/(1-b))` where a = P(X|fraud), b = P(X|legit).
    /// Online: b = 0.12, ratio 28 gives a = 0.79. Outside home state (online counts as
    /// outside: the merchant has no state), b = 0.205, ratio 50 gives P(in-state|fraud) = 0.07; both are measured about 10% below these first-order figures, so the mix used is (0.062, 0.128, 0.81).
    /// Bad CVV: b ~ 0.00045, ratio 23 gives a ~ 0.0103 (see the error weights).
    /// The medians are the lognormal centres before the category adjustment; fraud favours
    /// expensive categories, so its centre sits below the published $78.14 (measured).
    pub const PUBLISHED: Self = Self {
        fraud_rate: 0.001_495,
        label_coverage: 0.67,
        episode_mean_len: 4.0,
        legit_channel: [0.795, 0.085, 0.12],
        fraud_channel: [0.062, 0.128, 0.81],
        legit_foreign_share: 0.08,
        fraud_foreign_share: 0.30,
        refund_rate: 0.05,
        legit_error_rate: 0.0152,
        fraud_error_rate: 0.10,
        legit_median: 37.4,
        fraud_median: 62.5,
    };
}

/// Relative weights of [`ERROR_KINDS`] among transactions with an error.
const LEGIT_ERROR_WEIGHTS: [f64; 7] = [0.62, 0.15, 0.12, 0.035, 0.03, 0.03, 0.015];
const FRAUD_ERROR_WEIGHTS: [f64; 7] = [0.30, 0.18, 0.04, 0.17, 0.16, 0.105, 0.045];

/// Smallest and largest merchant ids, as in the public data.
const MERCHANT_IDS: std::ops::RangeInclusive<u32> = 9..=100_340;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct GenConfig {
    /// 1.0 is the public dataset's size.
    pub scale: f64,
    pub seed: u64,
}

impl GenConfig {
    pub fn transactions(&self) -> u64 {
        (full_size::TRANSACTIONS as f64 * self.scale).round() as u64
    }

    pub fn users(&self) -> u32 {
        ((f64::from(full_size::USERS) * self.scale).round() as u32).max(MIN_USERS)
    }

    pub fn cards(&self) -> u32 {
        ((f64::from(full_size::CARDS) * self.scale).round() as u32).max(MIN_CARDS)
    }
}

/// What the generator knows about a user beyond the table: where they live and shop.
#[derive(Debug, Clone)]
pub struct Profile {
    pub home: &'static City,
    /// Regular merchants: (merchant id, mcc, city).
    regulars: Vec<(u32, u16, &'static City)>,
}

/// Channel/location class of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    HomeState,
    Elsewhere,
    Online,
}

/// The reference tables and the people, generated up front (small), plus everything needed to
/// draw transactions. Also used by the live workload to make new rows.
#[derive(Debug)]
pub struct World {
    pub users: Vec<User>,
    pub cards: Vec<Card>,
    pub mcc_codes: Vec<MccCode>,
    pub profiles: Vec<Profile>,
    pub calibration: Calibration,
    card_pick: WeightedIndex<f64>,
    merchants_by_mcc: Vec<Vec<u32>>,
    in_person_mcc: WeightedIndex<f64>,
    online_mcc: WeightedIndex<f64>,
    fraud_online_mcc: WeightedIndex<f64>,
    fraud_in_person_mcc: WeightedIndex<f64>,
    state_pick: WeightedIndex<f64>,
    legit_errors: WeightedIndex<f64>,
    fraud_errors: WeightedIndex<f64>,
}

fn weighted(weights: impl IntoIterator<Item = f64>) -> WeightedIndex<f64> {
    WeightedIndex::new(weights).unwrap_or_else(|_| {
        // All tables are compile-time constants with positive sums (tested in their modules).
        WeightedIndex::new([1.0]).unwrap_or_else(|_| unreachable!())
    })
}

fn lognormal(rng: &mut impl Rng, median: f64, sigma: f64) -> f64 {
    LogNormal::new(median.ln(), sigma).map_or(median, |d| d.sample(rng))
}

fn normal_clamped(rng: &mut impl Rng, mean: f64, sd: f64, lo: f64, hi: f64) -> f64 {
    Normal::new(mean, sd)
        .map_or(mean, |d| d.sample(rng))
        .clamp(lo, hi)
}

/// Whole dollars.
fn dollars(v: f64) -> Dec2 {
    Dec2::from_units(v.round() as i64)
}

/// Appends a Luhn check digit.
fn with_luhn(digits: &str) -> String {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    format!("{digits}{}", (10 - sum % 10) % 10)
}

/// True when the digits pass the Luhn check.
pub fn luhn_valid(number: &str) -> bool {
    number.len() > 1
        && number.bytes().all(|b| b.is_ascii_digit())
        && with_luhn(&number[..number.len() - 1]) == number
}

impl World {
    /// Merchants and sampling tables, with no people yet.
    fn empty(rng: &mut ChaCha8Rng) -> Self {
        let calibration = Calibration::PUBLISHED;
        let state_pick = weighted(geo::STATES.iter().map(|s| s.population_m));
        let in_person_mcc = weighted(mcc::MCC_CODES.iter().map(|m| m.in_person_weight));
        let online_mcc = weighted(mcc::MCC_CODES.iter().map(|m| m.online_weight));
        let fraud_online_mcc = weighted(mcc::MCC_CODES.iter().map(|m| {
            if m.online_weight > 0.0 {
                m.fraud_weight
            } else {
                0.0
            }
        }));
        let fraud_in_person_mcc = weighted(mcc::MCC_CODES.iter().map(|m| {
            if m.in_person_weight > 0.0 {
                m.fraud_weight
            } else {
                0.0
            }
        }));

        // Every merchant id belongs to one category, chosen by overall popularity.
        let any_mcc = weighted(
            mcc::MCC_CODES
                .iter()
                .map(|m| m.in_person_weight + m.online_weight + 0.2 * m.fraud_weight + 0.001),
        );
        let mut merchants_by_mcc = vec![Vec::new(); mcc::MCC_CODES.len()];
        for id in MERCHANT_IDS {
            // About three quarters of the id space is in use.
            if rng.random_bool(0.74) {
                merchants_by_mcc[any_mcc.sample(rng)].push(id);
            }
        }
        for (i, list) in merchants_by_mcc.iter_mut().enumerate() {
            if list.is_empty() {
                list.push(*MERCHANT_IDS.start() + i as u32);
            }
        }

        Self {
            users: Vec::new(),
            cards: Vec::new(),
            mcc_codes: mcc::MCC_CODES
                .iter()
                .map(|m| MccCode {
                    mcc: m.code,
                    description: m.description.to_string(),
                })
                .collect(),
            profiles: Vec::new(),
            calibration,
            card_pick: weighted([1.0]),
            merchants_by_mcc,
            in_person_mcc,
            online_mcc,
            fraud_online_mcc,
            fraud_in_person_mcc,
            state_pick,
            legit_errors: weighted(LEGIT_ERROR_WEIGHTS),
            fraud_errors: weighted(FRAUD_ERROR_WEIGHTS),
        }
    }

    /// A world around people that already exist (the live workload on a loaded database):
    /// each user's home is the city nearest to their coordinates. `users` and `cards` must be
    /// sorted by id; ids index the vectors when they are dense, as in the public data.
    pub fn from_rows(users: Vec<User>, cards: Vec<Card>, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut world = Self::empty(&mut rng);
        world.profiles = users
            .iter()
            .map(|u| {
                let home = geo::nearest_city(
                    u.latitude.hundredths() as f64 / 100.0,
                    u.longitude.hundredths() as f64 / 100.0,
                );
                world.profile_for(&mut rng, home)
            })
            .collect();
        world.card_pick = weighted(cards.iter().map(|_| 1.0));
        world.users = users;
        world.cards = cards;
        world
    }

    /// Users, cards and merchants for a configuration.
    pub fn new(cfg: &GenConfig, rng: &mut ChaCha8Rng) -> Self {
        let mut world = Self::empty(rng);
        let n_users = cfg.users();
        let n_cards = cfg.cards().max(n_users);
        for id in 0..n_users {
            let (user, profile) = world.new_user(rng, id);
            world.users.push(user);
            world.profiles.push(profile);
        }
        // One card each, the rest spread over users (at most nine per user).
        let mut owners: Vec<u32> = (0..n_users).collect();
        let mut per_user = vec![1u8; n_users as usize];
        while owners.len() < n_cards as usize {
            let u = rng.random_range(0..n_users);
            if per_user[u as usize] < 9 {
                per_user[u as usize] += 1;
                owners.push(u);
            }
        }
        // Card ids are not grouped by owner in the public data.
        let mut ids: Vec<u32> = (0..n_cards).collect();
        for i in (1..ids.len()).rev() {
            ids.swap(i, rng.random_range(0..=i));
        }
        let mut cards: Vec<Card> = owners
            .iter()
            .zip(&ids)
            .map(|(&owner, &id)| Self::new_card(rng, id, owner, 2010))
            .collect();
        cards.sort_by_key(|c| c.id);
        for (user, n) in world.users.iter_mut().zip(&per_user) {
            user.num_credit_cards = *n;
        }
        let activity: Vec<f64> = cards.iter().map(|_| lognormal(rng, 1.0, 0.8)).collect();
        world.card_pick = weighted(activity);
        world.cards = cards;
        world
    }

    /// A new person living somewhere in the US.
    pub fn new_user(&self, rng: &mut impl Rng, id: u32) -> (User, Profile) {
        let state = &geo::STATES[self.state_pick.sample(rng)];
        let cities: Vec<&'static City> = geo::cities_in(state.code).collect();
        let home = cities[rng.random_range(0..cities.len())];
        let age = normal_clamped(rng, 47.0, 17.0, 18.0, 101.0).round() as u8;
        let lat = home.lat + rng.random_range(-0.08..0.08);
        let lon = home.lon + rng.random_range(-0.08..0.08);
        let per_capita = lognormal(rng, 22_500.0, 0.45).min(170_000.0);
        let yearly = per_capita * rng.random_range(1.5..2.3);
        let debt = if rng.random_bool(0.12) {
            0.0
        } else {
            lognormal(rng, 52_000.0, 0.9)
        };
        let street = geo::STREET_NAMES[rng.random_range(0..geo::STREET_NAMES.len())];
        let suffix = geo::STREET_SUFFIXES[rng.random_range(0..geo::STREET_SUFFIXES.len())];
        let user = User {
            id,
            current_age: age,
            retirement_age: normal_clamped(rng, 66.0, 3.5, 50.0, 79.0).round() as u8,
            birth_year: 2019 - u16::from(age),
            birth_month: rng.random_range(1..=12),
            gender: if rng.random_bool(0.508) {
                Gender::Female
            } else {
                Gender::Male
            },
            address: format!("{} {street} {suffix}", rng.random_range(1..10_000)),
            latitude: Dec2((lat * 100.0).round() as i64),
            longitude: Dec2((lon * 100.0).round() as i64),
            per_capita_income: dollars(per_capita),
            yearly_income: dollars(yearly),
            total_debt: dollars(debt),
            credit_score: normal_clamped(rng, 712.0, 66.0, 480.0, 850.0).round() as u16,
            num_credit_cards: 1,
        };
        (user, self.profile_for(rng, home))
    }

    /// Where a person living in `home` shops regularly.
    pub fn profile_for(&self, rng: &mut impl Rng, home: &'static City) -> Profile {
        let cities: Vec<&'static City> = geo::cities_in(home.state).collect();
        let n_regulars = rng.random_range(15..60);
        let regulars = (0..n_regulars)
            .map(|_| {
                let m = self.in_person_mcc.sample(rng);
                let city = if rng.random_bool(0.8) {
                    home
                } else {
                    cities[rng.random_range(0..cities.len())]
                };
                (self.merchant_of(rng, m), mcc::MCC_CODES[m].code, city)
            })
            .collect();
        Profile { home, regulars }
    }

    /// A new card for `client_id`; accounts open mostly before `typical_year`.
    pub fn new_card(rng: &mut impl Rng, id: u32, client_id: u32, typical_year: i32) -> Card {
        let brand = match rng.random_range(0.0..1.0) {
            x if x < 0.52 => CardBrand::Mastercard,
            x if x < 0.90 => CardBrand::Visa,
            x if x < 0.965 => CardBrand::Amex,
            _ => CardBrand::Discover,
        };
        let card_type = match rng.random_range(0.0..1.0) {
            x if x < 0.59 => CardType::Debit,
            x if x < 0.92 => CardType::Credit,
            _ => CardType::DebitPrepaid,
        };
        let (prefix, len) = match brand {
            CardBrand::Visa => ("4".to_string(), 16),
            CardBrand::Mastercard => (format!("5{}", rng.random_range(1..=5)), 16),
            CardBrand::Amex => (
                if rng.random_bool(0.5) { "34" } else { "37" }.to_string(),
                15,
            ),
            CardBrand::Discover => ("6011".to_string(), 16),
        };
        let mut digits = prefix;
        while digits.len() < len - 1 {
            digits.push(char::from(b'0' + rng.random_range(0..10u8)));
        }
        let open_year = normal_clamped(rng, f64::from(typical_year) - 4.0, 4.5, 1991.0, 2020.0);
        let open_year = (open_year.round() as u16).min(typical_year.max(1991) as u16 + 1);
        let open = YearMonth {
            year: open_year,
            month: rng.random_range(1..=12),
        };
        let limit = match card_type {
            CardType::Credit => lognormal(rng, 12_500.0, 0.55),
            CardType::Debit => lognormal(rng, 14_000.0, 0.6),
            CardType::DebitPrepaid => lognormal(rng, 55.0, 0.4),
        };
        Card {
            id,
            client_id,
            card_brand: brand,
            card_type,
            card_number: with_luhn(&digits),
            expires: YearMonth {
                year: rng.random_range(2020..=2024).max(open_year + 1),
                month: rng.random_range(1..=12),
            },
            cvv: format!("{:03}", rng.random_range(0..1000)),
            has_chip: rng.random_bool(0.89),
            num_cards_issued: match rng.random_range(0.0..1.0) {
                x if x < 0.5 => 1,
                x if x < 0.95 => 2,
                _ => 3,
            },
            credit_limit: dollars(limit),
            acct_open_date: open,
            year_pin_last_changed: rng.random_range(open_year.max(2002)..=open_year.max(2020)),
            card_on_dark_web: false,
        }
    }

    /// The profile of a client (ids index profiles; an unknown id falls back to the first).
    pub fn profile_of(&self, client_id: u32) -> &Profile {
        self.profiles
            .get(client_id as usize)
            .unwrap_or(&self.profiles[0])
    }

    fn merchant_of(&self, rng: &mut impl Rng, mcc_index: usize) -> u32 {
        let list = &self.merchants_by_mcc[mcc_index];
        list[rng.random_range(0..list.len())]
    }

    /// A card that is open at `when`, drawn by card activity.
    pub fn pick_card(&self, rng: &mut impl Rng, when: NaiveDate) -> &Card {
        let ym = YearMonth {
            year: when.year() as u16,
            month: when.month() as u8,
        };
        let mut card = &self.cards[self.card_pick.sample(rng)];
        for _ in 0..32 {
            if card.acct_open_date <= ym {
                break;
            }
            card = &self.cards[self.card_pick.sample(rng)];
        }
        card
    }

    fn errors(&self, rng: &mut impl Rng, fraud: bool) -> Option<String> {
        let c = &self.calibration;
        let rate = if fraud {
            c.fraud_error_rate
        } else {
            c.legit_error_rate
        };
        if !rng.random_bool(rate) {
            return None;
        }
        let dist = if fraud {
            &self.fraud_errors
        } else {
            &self.legit_errors
        };
        let first = ERROR_KINDS[dist.sample(rng)];
        if rng.random_bool(0.03) {
            let second = ERROR_KINDS[dist.sample(rng)];
            if second != first {
                return Some(format!("{first},{second}"));
            }
        }
        Some(first.to_string())
    }

    /// One transaction on `card` at `date`, legitimate or fraudulent.
    pub fn transaction(
        &self,
        rng: &mut impl Rng,
        id: u64,
        date: NaiveDateTime,
        card: &Card,
        fraud: bool,
    ) -> Transaction {
        let c = &self.calibration;
        let profile = self.profile_of(card.client_id);
        let mix = if fraud {
            c.fraud_channel
        } else {
            c.legit_channel
        };
        let x: f64 = rng.random_range(0.0..1.0);
        let place = if x < mix[0] {
            Where::HomeState
        } else if x < mix[0] + mix[1] {
            Where::Elsewhere
        } else {
            Where::Online
        };

        let (mcc_index, merchant_id, city, state, zip) = match place {
            Where::Online => {
                let m = if fraud {
                    &self.fraud_online_mcc
                } else {
                    &self.online_mcc
                }
                .sample(rng);
                (
                    m,
                    self.merchant_of(rng, m),
                    "ONLINE".to_string(),
                    None,
                    None,
                )
            }
            Where::HomeState if !fraud && rng.random_bool(0.9) => {
                let (merchant, code, city) =
                    profile.regulars[rng.random_range(0..profile.regulars.len())];
                let m = mcc::MCC_CODES
                    .iter()
                    .position(|i| i.code == code)
                    .unwrap_or(0);
                (
                    m,
                    merchant,
                    city.name.to_string(),
                    Some(city.state.to_string()),
                    Some(city.zip),
                )
            }
            Where::HomeState => {
                let m = if fraud {
                    &self.fraud_in_person_mcc
                } else {
                    &self.in_person_mcc
                }
                .sample(rng);
                let cities: Vec<&City> = geo::cities_in(profile.home.state).collect();
                let city = cities[rng.random_range(0..cities.len())];
                let merchant = self.merchant_of(rng, m);
                (
                    m,
                    merchant,
                    city.name.to_string(),
                    Some(city.state.to_string()),
                    Some(city.zip),
                )
            }
            Where::Elsewhere => {
                let m = if fraud {
                    &self.fraud_in_person_mcc
                } else {
                    &self.in_person_mcc
                }
                .sample(rng);
                let merchant = self.merchant_of(rng, m);
                let foreign = if fraud {
                    c.fraud_foreign_share
                } else {
                    c.legit_foreign_share
                };
                if rng.random_bool(foreign) {
                    let p = &geo::FOREIGN[rng.random_range(0..geo::FOREIGN.len())];
                    (
                        m,
                        merchant,
                        p.city.to_string(),
                        Some(p.country.to_string()),
                        None,
                    )
                } else {
                    let city = loop {
                        let s = &geo::STATES[self.state_pick.sample(rng)];
                        if s.code != profile.home.state {
                            let cities: Vec<&City> = geo::cities_in(s.code).collect();
                            break cities[rng.random_range(0..cities.len())];
                        }
                    };
                    (
                        m,
                        merchant,
                        city.name.to_string(),
                        Some(city.state.to_string()),
                        Some(city.zip),
                    )
                }
            }
        };
        let info: &MccInfo = &mcc::MCC_CODES[mcc_index];

        // Amounts: a global median pulled halfway toward the category's typical ticket.
        let (median, sigma) = if fraud {
            (c.fraud_median, 1.0)
        } else {
            (c.legit_median, 0.95)
        };
        let median = (median.ln() + 0.5 * (info.median_amount.ln() - 35f64.ln())).exp();
        let mut cents = (lognormal(rng, median, sigma) * 100.0)
            .round()
            .clamp(1.0, 5e8) as i64;
        if rng.random_bool(0.0005) {
            cents = 0;
        } else if !fraud && rng.random_bool(c.refund_rate) {
            cents = -cents;
        }

        let use_chip = match place {
            Where::Online => UseChip::Online,
            _ if fraud && rng.random_bool(0.8) => UseChip::Swipe,
            _ => {
                // EMV liability shift: chip use starts in late 2015 and ramps up.
                let years = (date.date() - NaiveDate::from_ymd_opt(2015, 10, 1).unwrap_or_default())
                    .num_days() as f64
                    / 365.0;
                let p_chip = if years < 0.0 {
                    0.0
                } else {
                    (0.35 + 0.2 * years).min(0.9)
                };
                if card.has_chip && rng.random_bool(p_chip) {
                    UseChip::Chip
                } else {
                    UseChip::Swipe
                }
            }
        };

        Transaction {
            id,
            date,
            client_id: card.client_id,
            card_id: card.id,
            amount: Dec2(cents),
            use_chip,
            merchant_id,
            merchant_city: city,
            merchant_state: state,
            zip: zip.map(geo::zip_text),
            mcc: info.code,
            errors: self.errors(rng, fraud),
        }
    }
}

/// A generated transaction with its hidden truth and its (possibly missing) label.
#[derive(Debug, Clone)]
pub struct Generated {
    pub transaction: Transaction,
    pub is_fraud: bool,
    pub label: Option<FraudLabel>,
}

/// A scheduled fraudulent use of a compromised card.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct PendingFraud {
    at: NaiveDateTime,
    card: u32,
}

/// First and last day of the public data.
pub fn date_range() -> (NaiveDate, NaiveDate) {
    (
        NaiveDate::from_ymd_opt(2010, 1, 1).unwrap_or_default(),
        NaiveDate::from_ymd_opt(2019, 10, 31).unwrap_or_default(),
    )
}

/// Streams transactions in time order.
#[derive(Debug)]
pub struct TransactionStream<'w> {
    world: &'w World,
    rng: ChaCha8Rng,
    total: u64,
    produced: u64,
    next_id: u64,
    id_gap: rand_distr::Geometric,
    days: Vec<(NaiveDate, u64)>,
    day_index: usize,
    minute_pick: WeightedIndex<f64>,
    pending: BinaryHeap<Reverse<PendingFraud>>,
    episode_gap: Exp<f64>,
    episode_start: f64,
    buffer: std::vec::IntoIter<Generated>,
}

impl<'w> TransactionStream<'w> {
    /// All transactions of `world` for `total` rows, seeded independently of the world.
    pub fn new(world: &'w World, total: u64, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7472_616e_7361_6374);
        let (first, last) = date_range();
        let n_days = (last - first).num_days() as usize + 1;
        // Day weights: slow growth over the decade, busier Fridays and Saturdays, noise.
        let weights: Vec<f64> = (0..n_days)
            .map(|i| {
                let d = first + Duration::days(i as i64);
                let growth = 1.0 + 0.035 * (i as f64 / 365.0);
                let weekday = match d.weekday().num_days_from_monday() {
                    4 | 5 => 1.12,
                    6 => 0.9,
                    _ => 1.0,
                };
                growth * weekday * rng.random_range(0.9..1.1)
            })
            .collect();
        let sum: f64 = weights.iter().sum();
        let mut cumulative = 0.0;
        let mut assigned = 0u64;
        let days = weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                cumulative += w;
                let upto = ((cumulative / sum) * total as f64).round() as u64;
                let upto = if i + 1 == n_days {
                    total
                } else {
                    upto.min(total)
                };
                let n = upto - assigned;
                assigned = upto;
                (first + Duration::days(i as i64), n)
            })
            .collect();
        // Minute of day: quiet nights, busy daytime.
        let minute_pick = weighted((0..1440).map(|m| match m / 60 {
            0..=4 => 0.15,
            5 => 0.35,
            6..=8 => 0.8,
            9..=18 => 1.4,
            19..=21 => 1.0,
            _ => 0.5,
        }));
        let span = (full_size::LAST_TRANSACTION_ID - full_size::FIRST_TRANSACTION_ID) as f64;
        let mean_gap = (span / total.max(1) as f64).max(1.0);
        let c = &world.calibration;
        Self {
            world,
            rng,
            total,
            produced: 0,
            next_id: full_size::FIRST_TRANSACTION_ID,
            id_gap: rand_distr::Geometric::new(1.0 / mean_gap).unwrap_or_else(|_| {
                rand_distr::Geometric::new(1.0).unwrap_or_else(|_| unreachable!())
            }),
            days,
            day_index: 0,
            minute_pick,
            pending: BinaryHeap::new(),
            // Gaps between uses of a compromised card: about two hours on average.
            episode_gap: Exp::new(0.5).unwrap_or_else(|_| unreachable!()),
            episode_start: c.fraud_rate / c.episode_mean_len,
            buffer: Vec::new().into_iter(),
        }
    }

    /// Rows still to come.
    pub fn remaining(&self) -> u64 {
        self.total - self.produced
    }

    fn fill_day(&mut self) -> bool {
        let Some(&(day, n)) = self.days.get(self.day_index) else {
            return false;
        };
        self.day_index += 1;
        let world = self.world;
        let rng = &mut self.rng;
        let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
        let mut minutes: Vec<u32> = (0..n)
            .map(|_| self.minute_pick.sample(rng) as u32)
            .collect();
        minutes.sort_unstable();
        if self.day_index == 1 {
            // The public data starts at 00:01.
            for m in minutes.iter_mut() {
                *m = (*m).max(1);
            }
            if let Some(first) = minutes.first_mut() {
                *first = 1;
            }
        }
        // Scheduled fraud takes the first free slot at or after its time.
        let mut fraud_card: Vec<Option<u32>> = vec![None; n as usize];
        let day_end = midnight + Duration::days(1);
        while let Some(Reverse(p)) = self.pending.peek() {
            if p.at >= day_end {
                break;
            }
            let Some(Reverse(p)) = self.pending.pop() else {
                break;
            };
            let minute = if p.at < midnight {
                0
            } else {
                (p.at - midnight).num_minutes() as u32
            };
            let start = minutes.partition_point(|&m| m < minute);
            if let Some(slot) = (start..n as usize).find(|&i| fraud_card[i].is_none()) {
                fraud_card[slot] = Some(p.card);
            } else {
                // Day is full: move to the next day.
                self.pending.push(Reverse(PendingFraud {
                    at: day_end,
                    card: p.card,
                }));
            }
        }

        let mut out = Vec::with_capacity(n as usize);
        for (i, &minute) in minutes.iter().enumerate() {
            let date = midnight + Duration::minutes(i64::from(minute));
            let id = self.next_id;
            self.next_id += 1 + self.id_gap.sample(rng);
            let (card, is_fraud) = match fraud_card[i] {
                Some(card_id) => (&world.cards[card_id as usize], true),
                None if rng.random_bool(self.episode_start) => {
                    // A card is compromised: this use and a few more follow.
                    let card = world.pick_card(rng, day);
                    let extra =
                        rand_distr::Geometric::new(1.0 / world.calibration.episode_mean_len)
                            .map_or(0, |g| g.sample(rng));
                    let mut at = date;
                    for _ in 0..extra {
                        let hours: f64 = self.episode_gap.sample(rng);
                        at += Duration::minutes((hours * 60.0).round() as i64 + 1);
                        self.pending
                            .push(Reverse(PendingFraud { at, card: card.id }));
                    }
                    (card, true)
                }
                None => (world.pick_card(rng, day), false),
            };
            let transaction = world.transaction(rng, id, date, card, is_fraud);
            let label = rng
                .random_bool(world.calibration.label_coverage)
                .then_some(FraudLabel {
                    transaction_id: id,
                    is_fraud,
                });
            out.push(Generated {
                transaction,
                is_fraud,
                label,
            });
        }
        self.buffer = out.into_iter();
        true
    }
}

impl Iterator for TransactionStream<'_> {
    type Item = Generated;

    fn next(&mut self) -> Option<Generated> {
        loop {
            if let Some(g) = self.buffer.next() {
                self.produced += 1;
                return Some(g);
            }
            if !self.fill_day() {
                return None;
            }
        }
    }
}

/// The generator: a world plus its transaction stream.
#[derive(Debug)]
pub struct Generator {
    pub config: GenConfig,
    pub world: World,
}

impl Generator {
    pub fn new(config: GenConfig) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let world = World::new(&config, &mut rng);
        Self { config, world }
    }

    /// Every transaction, in time order.
    pub fn transactions(&self) -> TransactionStream<'_> {
        TransactionStream::new(&self.world, self.config.transactions(), self.config.seed)
    }
}

/// A fresh RNG for callers that generate rows outside the stream (the live workload).
pub fn rng_from(seed: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let _ = r.next_u64();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Generator {
        Generator::new(GenConfig {
            scale: 0.002,
            seed: 7,
        })
    }

    #[test]
    fn sizes_follow_scale_with_floors() {
        let full = GenConfig {
            scale: 1.0,
            seed: 1,
        };
        assert_eq!(full.transactions(), 13_305_915);
        assert_eq!(full.users(), 2_000);
        assert_eq!(full.cards(), 6_146);
        let tiny = GenConfig {
            scale: 0.001,
            seed: 1,
        };
        assert_eq!(tiny.users(), MIN_USERS);
        assert_eq!(tiny.cards(), MIN_CARDS);
        assert_eq!(tiny.transactions(), 13_306);
        let half = GenConfig {
            scale: 0.5,
            seed: 1,
        };
        assert_eq!((half.users(), half.cards()), (1_000, 3_073));
    }

    #[test]
    fn deterministic_for_a_seed() {
        let a: Vec<_> = small()
            .transactions()
            .take(500)
            .map(|g| g.transaction)
            .collect();
        let b: Vec<_> = small()
            .transactions()
            .take(500)
            .map(|g| g.transaction)
            .collect();
        assert_eq!(a, b);
        assert_eq!(small().world.cards, small().world.cards);
        let other = Generator::new(GenConfig {
            scale: 0.002,
            seed: 8,
        });
        let c: Vec<_> = other
            .transactions()
            .take(500)
            .map(|g| g.transaction)
            .collect();
        assert_ne!(a, c);
    }

    #[test]
    fn exact_count_ordered_ids_and_dates_in_range() {
        let g = small();
        let (first, last) = date_range();
        let mut n = 0u64;
        let mut prev: Option<(u64, NaiveDateTime)> = None;
        for x in g.transactions() {
            let t = &x.transaction;
            assert!(
                t.date.date() >= first && t.date.date() <= last,
                "{}",
                t.date
            );
            assert_eq!(t.date.and_utc().timestamp() % 60, 0, "minute resolution");
            if let Some((id, date)) = prev {
                assert!(t.id > id, "ids increase");
                assert!(t.date >= date, "time order");
            } else {
                assert_eq!(t.id, full_size::FIRST_TRANSACTION_ID);
                assert_eq!(t.date.to_string(), "2010-01-01 00:01:00");
            }
            prev = Some((t.id, t.date));
            n += 1;
        }
        assert_eq!(n, g.config.transactions());
        let (last_id, _) = prev.expect("rows");
        assert!(
            last_id <= full_size::LAST_TRANSACTION_ID + 1_000_000,
            "{last_id}"
        );
    }

    #[test]
    fn rows_respect_the_dataset_formats() {
        let g = small();
        let users = g.world.users.len() as u32;
        for c in &g.world.cards {
            assert!(c.client_id < users);
            assert!(luhn_valid(&c.card_number), "{}", c.card_number);
            let len = if c.card_brand == CardBrand::Amex {
                15
            } else {
                16
            };
            assert_eq!(c.card_number.len(), len);
            assert_eq!(c.cvv.len(), 3);
            assert!((2002..=2020).contains(&c.year_pin_last_changed));
            assert!(c.expires > c.acct_open_date);
            assert!(!c.card_on_dark_web);
        }
        for u in &g.world.users {
            assert!((18..=101).contains(&u.current_age));
            assert!((50..=79).contains(&u.retirement_age));
            assert!((480..=850).contains(&u.credit_score));
            assert!((1..=9).contains(&u.num_credit_cards));
            assert!(u.per_capita_income.is_whole() && u.yearly_income.is_whole());
        }
        let per_user: usize = g
            .world
            .users
            .iter()
            .map(|u| usize::from(u.num_credit_cards))
            .sum();
        assert_eq!(per_user, g.world.cards.len());
        assert_eq!(g.world.mcc_codes.len(), full_size::MCC_CODES);
        let codes: std::collections::HashSet<u16> =
            g.world.mcc_codes.iter().map(|m| m.mcc).collect();
        for x in g.transactions().take(5_000) {
            let t = x.transaction;
            assert!(codes.contains(&t.mcc));
            assert!(MERCHANT_IDS.contains(&t.merchant_id));
            let card = &g.world.cards[t.card_id as usize];
            assert_eq!(
                card.client_id, t.client_id,
                "the card belongs to the client"
            );
            match t.use_chip {
                UseChip::Online => {
                    assert_eq!(t.merchant_city, "ONLINE");
                    assert!(t.merchant_state.is_none() && t.zip.is_none());
                }
                _ => {
                    let state = t.merchant_state.as_deref().expect("in-person state");
                    match geo::state(state) {
                        Some(_) => assert_eq!(t.zip.as_ref().map(String::len), Some(5)),
                        None => assert!(t.zip.is_none(), "foreign merchants have no zip"),
                    }
                }
            }
            if t.use_chip == UseChip::Chip {
                assert!(t.date.year() >= 2015 && card.has_chip);
            }
            if let Some(e) = &t.errors {
                assert!(e.split(',').all(|k| ERROR_KINDS.contains(&k)), "{e}");
            }
        }
    }

    #[test]
    fn luhn_check_digits() {
        assert!(luhn_valid("4539578763621486"));
        assert!(!luhn_valid("4539578763621487"));
        assert_eq!(with_luhn("7992739871"), "79927398713");
    }
}
