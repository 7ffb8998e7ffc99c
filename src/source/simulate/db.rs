//! The workload's statements: each operation as SQL with its parameters, and the existing
//! rows the dispatcher starts from.

use super::*;

fn text(v: &str) -> Value {
    Value::from(v)
}

pub(super) fn insert_sql<R: TsvRow>() -> String {
    format!(
        "INSERT INTO `{}` ({}) VALUES ({})",
        R::TABLE,
        R::COLUMNS
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", "),
        vec!["?"; R::COLUMNS.len()].join(", ")
    )
}

fn tx_params(t: &Transaction) -> Params {
    Params::Positional(vec![
        t.id.into(),
        text(&t.date.format("%Y-%m-%d %H:%M:%S").to_string()),
        t.client_id.into(),
        t.card_id.into(),
        text(&t.amount.to_string()),
        text(t.use_chip.as_str()),
        t.merchant_id.into(),
        text(&t.merchant_city),
        t.merchant_state.as_deref().map_or(Value::NULL, text),
        t.zip.as_deref().map_or(Value::NULL, text),
        t.mcc.into(),
        t.errors.as_deref().map_or(Value::NULL, text),
    ])
}

fn card_params(c: &Card) -> Params {
    Params::Positional(vec![
        c.id.into(),
        c.client_id.into(),
        text(c.card_brand.as_str()),
        text(c.card_type.as_str()),
        text(&c.card_number),
        text(&c.expires.first_day().to_string()),
        text(&c.cvv),
        c.has_chip.into(),
        c.num_cards_issued.into(),
        text(&c.credit_limit.to_string()),
        text(&c.acct_open_date.first_day().to_string()),
        c.year_pin_last_changed.into(),
        c.card_on_dark_web.into(),
    ])
}

fn user_params(u: &User) -> Params {
    Params::Positional(vec![
        u.id.into(),
        u.current_age.into(),
        u.retirement_age.into(),
        u.birth_year.into(),
        u.birth_month.into(),
        text(u.gender.as_str()),
        text(&u.address),
        text(&u.latitude.to_string()),
        text(&u.longitude.to_string()),
        text(&u.per_capita_income.to_string()),
        text(&u.yearly_income.to_string()),
        text(&u.total_debt.to_string()),
        u.credit_score.into(),
        u.num_credit_cards.into(),
    ])
}

pub(super) async fn execute(pool: &Pool, op: &Op) -> Result<(), mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    match op {
        Op::Insert(_, t) => {
            tx.exec_drop(insert_sql::<Transaction>(), tx_params(t))
                .await?
        }
        Op::Correct { id, amount } => {
            tx.exec_drop(
                "UPDATE transactions SET amount = ? WHERE id = ?",
                (amount.to_string(), id),
            )
            .await?
        }
        Op::Void { id } => {
            tx.exec_drop("DELETE FROM fraud_labels WHERE transaction_id = ?", (id,))
                .await?;
            tx.exec_drop("DELETE FROM transactions WHERE id = ?", (id,))
                .await?;
        }
        Op::CardLimit { id, limit } => {
            tx.exec_drop(
                "UPDATE cards SET credit_limit = ? WHERE id = ?",
                (limit.to_string(), id),
            )
            .await?
        }
        Op::CardPin { id, year } => {
            tx.exec_drop(
                "UPDATE cards SET year_pin_last_changed = ? WHERE id = ?",
                (year, id),
            )
            .await?
        }
        Op::CardDarkWeb { id } => {
            tx.exec_drop(
                "UPDATE cards SET card_on_dark_web = TRUE WHERE id = ?",
                (id,),
            )
            .await?
        }
        Op::UserCredit { id, score, income } => {
            tx.exec_drop(
                "UPDATE users SET credit_score = ?, yearly_income = ? WHERE id = ?",
                (score, income.to_string(), id),
            )
            .await?
        }
        Op::Label(l) => {
            tx.exec_drop(insert_sql::<FraudLabel>(), (l.transaction_id, l.is_fraud))
                .await?
        }
        Op::NewUser(u, c) => {
            tx.exec_drop(insert_sql::<User>(), user_params(u)).await?;
            tx.exec_drop(insert_sql::<Card>(), card_params(c)).await?;
        }
        Op::NewCard(c) => {
            tx.exec_drop(insert_sql::<Card>(), card_params(c)).await?;
            tx.exec_drop(
                "UPDATE users SET num_credit_cards = LEAST(num_credit_cards + 1, 255) WHERE id = ?",
                (c.client_id,),
            )
            .await?;
        }
    }
    tx.commit().await
}

/// Loads users and cards from the source to build the generator's world.
pub(super) async fn load_world(pool: &Pool, seed: u64) -> crate::source::Result<(World, u64)> {
    let mut conn = pool.get_conn().await?;
    let users: Vec<User> = conn
        .query_map(
            "SELECT id, current_age, retirement_age, birth_year, birth_month, gender, address, \
             CAST(latitude AS CHAR), CAST(longitude AS CHAR), CAST(per_capita_income AS CHAR), \
             CAST(yearly_income AS CHAR), CAST(total_debt AS CHAR), credit_score, num_credit_cards \
             FROM users ORDER BY id",
            |row: mysql_async::Row| row_to_user(row),
        )
        .await?
        .into_iter()
        .flatten()
        .collect();
    let cards: Vec<Card> = conn
        .query_map(
            "SELECT id, client_id, has_chip, YEAR(acct_open_date), MONTH(acct_open_date), \
             CAST(credit_limit AS CHAR) FROM cards ORDER BY id",
            |(id, client_id, has_chip, y, m, limit): (u32, u32, bool, u16, u8, String)| Card {
                id,
                client_id,
                card_brand: crate::data::model::CardBrand::Visa,
                card_type: crate::data::model::CardType::Debit,
                card_number: String::new(),
                expires: YearMonth {
                    year: 2024,
                    month: 1,
                },
                cvv: String::new(),
                has_chip,
                num_cards_issued: 1,
                credit_limit: Dec2::parse(&limit).unwrap_or_default(),
                acct_open_date: YearMonth {
                    year: y,
                    month: m.max(1),
                },
                year_pin_last_changed: 2010,
                card_on_dark_web: false,
            },
        )
        .await?;
    if users.is_empty() || cards.is_empty() {
        return Err(crate::source::Error::Server(
            "the source has no users or cards: load data first (finlake datagen --scale 0.01)"
                .into(),
        ));
    }
    let max_tx: Option<u64> = conn.query_first("SELECT MAX(id) FROM transactions").await?;
    Ok((World::from_rows(users, cards, seed), max_tx.unwrap_or(0)))
}

fn row_to_user(row: mysql_async::Row) -> Option<User> {
    fn get<T: mysql_async::prelude::FromValue>(row: &mysql_async::Row, i: usize) -> Option<T> {
        row.get_opt(i)?.ok()
    }
    let dec = |i: usize| Dec2::parse(&get::<String>(&row, i)?);
    Some(User {
        id: get(&row, 0)?,
        current_age: get(&row, 1)?,
        retirement_age: get(&row, 2)?,
        birth_year: get(&row, 3)?,
        birth_month: get(&row, 4)?,
        gender: if get::<String>(&row, 5)? == "Female" {
            Gender::Female
        } else {
            Gender::Male
        },
        address: get(&row, 6)?,
        latitude: dec(7)?,
        longitude: dec(8)?,
        per_capita_income: dec(9)?,
        yearly_income: dec(10)?,
        total_debt: dec(11)?,
        credit_score: get(&row, 12)?,
        num_credit_cards: get(&row, 13)?,
    })
}
