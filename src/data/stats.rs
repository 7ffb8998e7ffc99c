//! The dataset's published signals, measured on any stream of transactions and labels.
//!
//! Definitions (the public EDA's): rates are computed over *labelled* transactions only
//! (an unlabelled transaction is unknown, not legitimate). A ratio compares the fraud rate of
//! the transactions with a feature to the rate of those without it. A merchant is "outside the
//! home state" when its state differs from the client's home state; online merchants have no
//! state and so count as outside.

use super::model::{Transaction, UseChip};

/// Counts of labelled transactions and frauds among them.
#[derive(Debug, Default, Clone, Copy)]
struct Rate {
    n: u64,
    fraud: u64,
}

impl Rate {
    fn add(&mut self, fraud: bool) {
        self.n += 1;
        self.fraud += u64::from(fraud);
    }

    fn rate(self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.fraud as f64 / self.n as f64
        }
    }
}

/// Accumulates the signals.
#[derive(Debug, Default)]
pub struct SignalCounter {
    transactions: u64,
    labelled: Rate,
    online: [Rate; 2],
    outside_home: [Rate; 2],
    bad_cvv: [Rate; 2],
    refunds: u64,
    with_errors: u64,
    legit_amounts: Vec<i64>,
    fraud_amounts: Vec<i64>,
}

/// The measured signals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signals {
    pub transactions: u64,
    pub labelled: u64,
    pub frauds: u64,
    pub label_coverage: f64,
    pub fraud_rate: f64,
    pub online_ratio: f64,
    pub outside_home_ratio: f64,
    pub bad_cvv_ratio: f64,
    pub refund_share: f64,
    pub error_share: f64,
    pub legit_median: f64,
    pub fraud_median: f64,
}

fn ratio(with_without: [Rate; 2]) -> f64 {
    let without = with_without[0].rate();
    if without == 0.0 {
        f64::INFINITY
    } else {
        with_without[1].rate() / without
    }
}

fn median_dollars(v: &mut [i64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable(mid);
    *m as f64 / 100.0
}

impl SignalCounter {
    /// Adds one transaction; `label` is its fraud label if known, `home_state` the client's.
    pub fn observe(&mut self, t: &Transaction, label: Option<bool>, home_state: &str) {
        self.transactions += 1;
        self.refunds += u64::from(t.amount.hundredths() < 0);
        self.with_errors += u64::from(t.errors.is_some());
        let Some(fraud) = label else { return };
        self.labelled.add(fraud);
        let online = t.use_chip == UseChip::Online;
        let outside = t.merchant_state.as_deref() != Some(home_state);
        let bad_cvv = t
            .errors
            .as_deref()
            .is_some_and(|e| e.split(',').any(|k| k == "Bad CVV"));
        self.online[usize::from(online)].add(fraud);
        self.outside_home[usize::from(outside)].add(fraud);
        self.bad_cvv[usize::from(bad_cvv)].add(fraud);
        if fraud {
            self.fraud_amounts.push(t.amount.hundredths());
        } else {
            self.legit_amounts.push(t.amount.hundredths());
        }
    }

    pub fn finish(mut self) -> Signals {
        let n = self.transactions.max(1) as f64;
        Signals {
            transactions: self.transactions,
            labelled: self.labelled.n,
            frauds: self.labelled.fraud,
            label_coverage: self.labelled.n as f64 / n,
            fraud_rate: self.labelled.rate(),
            online_ratio: ratio(self.online),
            outside_home_ratio: ratio(self.outside_home),
            bad_cvv_ratio: ratio(self.bad_cvv),
            refund_share: self.refunds as f64 / n,
            error_share: self.with_errors as f64 / n,
            legit_median: median_dollars(&mut self.legit_amounts),
            fraud_median: median_dollars(&mut self.fraud_amounts),
        }
    }
}

impl std::fmt::Display for Signals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "transactions           {}", self.transactions)?;
        writeln!(
            f,
            "labelled               {} ({:.1}%)",
            self.labelled,
            100.0 * self.label_coverage
        )?;
        writeln!(
            f,
            "fraud rate             {:.4}% ({} frauds)",
            100.0 * self.fraud_rate,
            self.frauds
        )?;
        writeln!(f, "online risk ratio      {:.1}x", self.online_ratio)?;
        writeln!(f, "outside-home-state     {:.1}x", self.outside_home_ratio)?;
        writeln!(f, "Bad CVV risk ratio     {:.1}x", self.bad_cvv_ratio)?;
        writeln!(
            f,
            "refunds                {:.2}%",
            100.0 * self.refund_share
        )?;
        writeln!(f, "with errors            {:.2}%", 100.0 * self.error_share)?;
        write!(
            f,
            "median amount          legitimate ${:.2}, fraud ${:.2} ({:.2}x)",
            self.legit_median,
            self.fraud_median,
            self.fraud_median / self.legit_median.max(0.01)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::generate::{GenConfig, Generator};
    use crate::data::model::Dec2;

    fn tx(state: Option<&str>, online: bool, errors: Option<&str>, cents: i64) -> Transaction {
        Transaction {
            id: 1,
            date: chrono::NaiveDate::from_ymd_opt(2015, 1, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .expect("date"),
            client_id: 0,
            card_id: 0,
            amount: Dec2(cents),
            use_chip: if online {
                UseChip::Online
            } else {
                UseChip::Swipe
            },
            merchant_id: 10,
            merchant_city: "X".into(),
            merchant_state: state.map(str::to_string),
            zip: None,
            mcc: 5411,
            errors: errors.map(str::to_string),
        }
    }

    #[test]
    fn hand_computed_signals() {
        let mut c = SignalCounter::default();
        // 4 in-state legit, 1 in-state fraud, 2 online frauds, 2 online legit, 1 unlabelled.
        for _ in 0..4 {
            c.observe(&tx(Some("CA"), false, None, 1000), Some(false), "CA");
        }
        c.observe(
            &tx(Some("CA"), false, Some("Bad CVV"), 3000),
            Some(true),
            "CA",
        );
        c.observe(
            &tx(None, true, Some("Bad PIN,Bad CVV"), 5000),
            Some(true),
            "CA",
        );
        c.observe(&tx(None, true, None, 7000), Some(true), "CA");
        c.observe(&tx(None, true, None, -2000), Some(false), "CA");
        c.observe(&tx(None, true, None, 2000), Some(false), "CA");
        c.observe(&tx(Some("NV"), false, Some("Bad PIN"), 9900), None, "CA");
        let s = c.finish();
        assert_eq!((s.transactions, s.labelled, s.frauds), (10, 9, 3));
        assert!((s.fraud_rate - 3.0 / 9.0).abs() < 1e-12);
        // online: 2/4 vs offline 1/5.
        assert!((s.online_ratio - (0.5 / 0.2)).abs() < 1e-12);
        // outside home (online here): same split as online.
        assert!((s.outside_home_ratio - 2.5).abs() < 1e-12);
        // Bad CVV: 2/2 vs 1/7.
        assert!((s.bad_cvv_ratio - 7.0).abs() < 1e-12);
        assert!((s.refund_share - 0.1).abs() < 1e-12);
        assert!((s.error_share - 0.3).abs() < 1e-12);
        assert_eq!(s.fraud_median, 50.0);
        assert_eq!(s.legit_median, 10.0);
    }

    /// The generated data reproduces every published signal within the stated tolerance.
    /// Scale 0.1 gives about 1.3M transactions and 2,000 labelled frauds, enough for the
    /// ratios to be estimated within roughly +-15%.
    #[test]
    fn generated_data_reproduces_the_published_signals() {
        let g = Generator::new(GenConfig {
            scale: 0.1,
            seed: 42,
        });
        let homes: Vec<&str> = g.world.profiles.iter().map(|p| p.home.state).collect();
        let mut c = SignalCounter::default();
        for x in g.transactions() {
            let home = homes[x.transaction.client_id as usize];
            c.observe(&x.transaction, x.label.map(|l| l.is_fraud), home);
        }
        let s = c.finish();
        crate::say!("{s}");
        let within = |name: &str, value: f64, target: f64, tolerance: f64| {
            assert!(
                (value - target).abs() <= tolerance * target,
                "{name}: {value:.5} is not within {:.0}% of {target}",
                tolerance * 100.0
            );
        };
        within("label coverage", s.label_coverage, 0.67, 0.02);
        within("fraud rate", s.fraud_rate, 0.001_495, 0.15);
        within("online ratio", s.online_ratio, 28.0, 0.30);
        within("outside-home ratio", s.outside_home_ratio, 52.7, 0.35);
        within("Bad CVV ratio", s.bad_cvv_ratio, 23.0, 0.40);
        within("refund share", s.refund_share, 0.05, 0.10);
        within("error share", s.error_share, 0.015, 0.15);
        within("legitimate median", s.legit_median, 34.77, 0.10);
        within("fraud median", s.fraud_median, 78.14, 0.15);
        within("median ratio", s.fraud_median / s.legit_median, 2.25, 0.20);
    }
}
