//! The one apply semantics, as a pure reduction: what a batch of change events does to a
//! table keyed by primary key. Every source and every writer uses it.
//!
//! Rules: per primary key the change with the highest source position wins; a delete
//! deletes; an update that changes the key deletes the old key and writes the new one; an
//! event at or below the position a row already holds changes nothing (so replays and late
//! events are harmless). The result does not depend on how the stream is cut into batches.

use std::collections::HashMap;

use super::event::{ChangeEvent, Key, Op, Position, Row};

/// The net effect of a batch on one key.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Upsert { row: Row, position: Position },
    Delete { position: Position },
}

impl Effect {
    pub fn position(&self) -> &Position {
        match self {
            Effect::Upsert { position, .. } | Effect::Delete { position } => position,
        }
    }
}

/// Net effects per key of one table.
pub type Effects = HashMap<Key, Effect>;

fn key_of(row: &Row, key_columns: &[usize]) -> Key {
    key_columns
        .iter()
        .map(|&i| row.get(i).map(|v| v.key_text()).unwrap_or_default())
        .collect()
}

fn offer(effects: &mut Effects, key: Key, effect: Effect) {
    match effects.get(&key) {
        Some(existing) if existing.position() >= effect.position() => {}
        _ => {
            effects.insert(key, effect);
        }
    }
}

/// Folds events (in any order) into per-key effects. `key_columns` are the indexes of the
/// primary-key columns in the row images.
pub fn reduce<'a>(
    events: impl IntoIterator<Item = &'a ChangeEvent>,
    key_columns: &[usize],
) -> Effects {
    let mut effects = Effects::new();
    for e in events {
        let position = e.position.clone();
        match (e.op, &e.before, &e.after) {
            (Op::Delete, Some(before), _) => {
                offer(
                    &mut effects,
                    key_of(before, key_columns),
                    Effect::Delete { position },
                );
            }
            (Op::Update, Some(before), Some(after)) => {
                let (old, new) = (key_of(before, key_columns), key_of(after, key_columns));
                if old != new {
                    offer(
                        &mut effects,
                        old,
                        Effect::Delete {
                            position: position.clone(),
                        },
                    );
                }
                offer(
                    &mut effects,
                    new,
                    Effect::Upsert {
                        row: after.clone(),
                        position,
                    },
                );
            }
            (_, _, Some(after)) => {
                offer(
                    &mut effects,
                    key_of(after, key_columns),
                    Effect::Upsert {
                        row: after.clone(),
                        position,
                    },
                );
            }
            // A delete without a before image or an insert without an after image carries
            // nothing to apply; sources reject such events before they get here.
            _ => {}
        }
    }
    effects
}

/// Applies effects to a table state (key -> (row, position)), skipping any effect that is not
/// newer than what the row holds. Deleted keys keep their position as a tombstone so a late,
/// older event cannot bring them back.
pub fn apply(state: &mut HashMap<Key, (Option<Row>, Position)>, effects: Effects) {
    for (key, effect) in effects {
        if state
            .get(&key)
            .is_some_and(|(_, held)| held >= effect.position())
        {
            continue;
        }
        let entry = match effect {
            Effect::Upsert { row, position } => (Some(row), position),
            Effect::Delete { position } => (None, position),
        };
        state.insert(key, entry);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::ingest::event::Value;

    fn ev(op: Op, before: Option<(i64, i64)>, after: Option<(i64, i64)>, pos: u64) -> ChangeEvent {
        let row = |(k, v): (i64, i64)| vec![Value::Int(k), Value::Int(v)];
        ChangeEvent {
            table: Arc::from("t"),
            op,
            before: before.map(row),
            after: after.map(row),
            position: Position::new("mysql-bin.000001", pos, 0),
            commit_ms: 0,
            txid: None,
        }
    }

    fn rows(state: &HashMap<Key, (Option<Row>, Position)>) -> Vec<Row> {
        let mut v: Vec<Row> = state.values().filter_map(|(r, _)| r.clone()).collect();
        v.sort_by_key(|r| format!("{r:?}"));
        v
    }

    #[test]
    fn hand_worked_rules() {
        let events = [
            ev(Op::Create, None, Some((1, 10)), 1),
            ev(Op::Update, Some((1, 10)), Some((1, 11)), 2),
            ev(Op::Create, None, Some((2, 20)), 3),
            ev(Op::Update, Some((2, 20)), Some((3, 20)), 4), // key change moves the row
            ev(Op::Create, None, Some((4, 40)), 5),
            ev(Op::Delete, Some((4, 40)), None, 6),
        ];
        let mut state = HashMap::new();
        apply(&mut state, reduce(&events, &[0]));
        assert_eq!(
            rows(&state),
            vec![
                vec![Value::Int(1), Value::Int(11)],
                vec![Value::Int(3), Value::Int(20)]
            ]
        );
        // Replaying everything changes nothing; an old event is ignored.
        let before = state.clone();
        apply(&mut state, reduce(&events, &[0]));
        apply(
            &mut state,
            reduce(&[ev(Op::Create, None, Some((4, 99)), 5)], &[0]),
        );
        assert_eq!(state, before);
    }

    /// Random streams over a few keys, consistent with a real table's history.
    fn stream() -> impl Strategy<Value = Vec<ChangeEvent>> {
        prop::collection::vec((0i64..5, 0i64..5, 0i64..100, 0u8..3), 1..60).prop_map(|steps| {
            let mut table: HashMap<i64, i64> = HashMap::new();
            let mut out = Vec::new();
            for (i, (k, k2, v, kind)) in steps.into_iter().enumerate() {
                let pos = i as u64 + 1;
                match (table.get(&k).copied(), kind) {
                    (None, _) => {
                        table.insert(k, v);
                        out.push(ev(Op::Create, None, Some((k, v)), pos));
                    }
                    (Some(old), 0) => {
                        table.remove(&k);
                        out.push(ev(Op::Delete, Some((k, old)), None, pos));
                    }
                    (Some(old), 1) if !table.contains_key(&k2) => {
                        table.remove(&k);
                        table.insert(k2, v);
                        out.push(ev(Op::Update, Some((k, old)), Some((k2, v)), pos));
                    }
                    (Some(old), _) => {
                        table.insert(k, v);
                        out.push(ev(Op::Update, Some((k, old)), Some((k, v)), pos));
                    }
                }
            }
            out
        })
    }

    proptest! {
        #[test]
        fn batches_and_replays_do_not_change_the_result(events in stream(), cuts in prop::collection::vec(1usize..10, 1..10)) {
            let mut whole = HashMap::new();
            apply(&mut whole, reduce(&events, &[0]));
            // The same stream cut into arbitrary micro-batches, with each batch replayed.
            let mut chunked = HashMap::new();
            let mut rest: &[ChangeEvent] = &events;
            let mut i = 0;
            while !rest.is_empty() {
                let n = cuts[i % cuts.len()].min(rest.len());
                let (batch, tail) = rest.split_at(n);
                apply(&mut chunked, reduce(batch, &[0]));
                apply(&mut chunked, reduce(batch, &[0]));
                rest = tail;
                i += 1;
            }
            prop_assert_eq!(rows(&whole), rows(&chunked));
            // And the result is the table the stream describes.
            let mut truth: HashMap<i64, i64> = HashMap::new();
            for e in &events {
                if let Some(Value::Int(k)) = e.before.as_ref().map(|b| &b[0]) {
                    truth.remove(k);
                }
                if let Some((Value::Int(k), Value::Int(v))) = e.after.as_ref().map(|a| (&a[0], &a[1])) {
                    truth.insert(*k, *v);
                }
            }
            let mut expected: Vec<Row> = truth.into_iter().map(|(k, v)| vec![Value::Int(k), Value::Int(v)]).collect();
            expected.sort_by_key(|r| format!("{r:?}"));
            prop_assert_eq!(rows(&whole), expected);
        }
    }
}
