//! Random effects in random micro-batches equal the pure reduction.

use std::collections::HashMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::{accounts, lake, pos, row, rows_of};
use crate::ingest::event::{ChangeEvent, Op, Value};
use crate::ingest::reduce;
use crate::lake::Layout;

// ---- random micro-batches ---------------------------------------------------------------

/// Random change streams over a few keys, consistent with a real table's history.
fn stream() -> impl Strategy<Value = Vec<ChangeEvent>> {
    prop::collection::vec((0i64..6, 0i64..6, 0i64..1000, 0u8..3), 1..40).prop_map(|steps| {
        let mut table: HashMap<i64, i64> = HashMap::new();
        let mut out = Vec::new();
        let ev = |op, before: Option<(i64, i64)>, after: Option<(i64, i64)>, offset: usize| {
            ChangeEvent {
                table: Arc::from("accounts"),
                op,
                before: before.map(|(k, v)| row(k, "p", v.into())),
                after: after.map(|(k, v)| row(k, "p", v.into())),
                position: pos(offset as u64 + 1),
                commit_ms: 1_700_000_000_000 + offset as i64,
                txid: None,
            }
        };
        for (i, (k, k2, v, kind)) in steps.into_iter().enumerate() {
            match (table.get(&k).copied(), kind) {
                (None, _) => {
                    table.insert(k, v);
                    out.push(ev(Op::Create, None, Some((k, v)), i));
                }
                (Some(old), 0) => {
                    table.remove(&k);
                    out.push(ev(Op::Delete, Some((k, old)), None, i));
                }
                (Some(old), 1) if !table.contains_key(&k2) => {
                    table.remove(&k);
                    table.insert(k2, v);
                    out.push(ev(Op::Update, Some((k, old)), Some((k2, v)), i));
                }
                (Some(old), _) => {
                    table.insert(k, v);
                    out.push(ev(Op::Update, Some((k, old)), Some((k, v)), i));
                }
            }
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn random_micro_batches_equal_the_reduction(events in stream(), cuts in prop::collection::vec(1usize..12, 1..6), replay in any::<bool>(), partitioned in any::<bool>()) {
        let mut state = HashMap::new();
        reduce::apply(&mut state, reduce::reduce(&events, &[0]));
        let expected: Vec<(i64, i128)> = {
            let mut v: Vec<(i64, i128)> = state
                .values()
                .filter_map(|(r, _)| r.as_ref())
                .map(|r| match (&r[0], &r[2]) {
                    (Value::Int(k), Value::Decimal { unscaled, .. }) => (*k, *unscaled),
                    other => panic!("{other:?}"),
                })
                .collect();
            v.sort();
            v
        };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let got = rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let lake = lake(&dir);
            // Partitions of 2 keys: key moves cross partitions.
            let layout = Layout { partition_rows: partitioned.then_some(2) };
            let mut t = lake.open_table_with(&accounts(), layout).await.unwrap();
            let mut rest: &[ChangeEvent] = &events;
            let mut i = 0;
            while !rest.is_empty() {
                let n = cuts[i % cuts.len()].min(rest.len());
                let (batch, tail) = rest.split_at(n);
                let up_to = batch.last().unwrap().position.clone();
                t.apply_events(batch, &up_to, "src").await.unwrap();
                if replay {
                    prop_assert!(t.apply_events(batch, &up_to, "src").await.unwrap().replayed);
                }
                rest = tail;
                i += 1;
            }
            let got: Vec<(i64, i128)> = rows_of(&t.read_all().await.unwrap()).into_iter().map(|r| (r.0, r.2)).collect();
            Ok(got)
        })?;
        prop_assert_eq!(got, expected);
    }
}
