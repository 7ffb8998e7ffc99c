//! Just enough SQL reading to tell which tables a DDL statement from the binlog touches.

/// A lexical token; words keep their spelling, `quoted` for backquoted identifiers.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word { text: String, quoted: bool },
    Punct(char),
    Literal,
}

fn tokenize(sql: &str) -> Vec<Tok> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('*') {
            // Comments, including `/*!50100 ... */` (nothing we need lives there).
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if c == '#' || (c == '-' && next == Some('-')) {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '\'' || c == '"' || c == '`' {
            let mut text = String::new();
            i += 1;
            while i < chars.len() {
                if chars[i] == '\\' && c != '`' {
                    i += 2;
                    continue;
                }
                if chars[i] == c {
                    if chars.get(i + 1) == Some(&c) {
                        text.push(c);
                        i += 2;
                        continue;
                    }
                    break;
                }
                text.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push(if c == '`' {
                Tok::Word { text, quoted: true }
            } else {
                Tok::Literal
            });
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push(Tok::Word {
                text: chars[start..i].iter().collect(),
                quoted: false,
            });
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

/// What a schema statement touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DdlTarget {
    /// A table, with its database when qualified.
    Table(Option<String>, String),
    Database(String),
}

struct Cursor {
    toks: Vec<Tok>,
    at: usize,
}

impl Cursor {
    fn keyword(&mut self, kw: &str) -> bool {
        match self.toks.get(self.at) {
            Some(Tok::Word {
                text,
                quoted: false,
            }) if text.eq_ignore_ascii_case(kw) => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    fn keywords(&mut self, kws: &[&str]) -> bool {
        let save = self.at;
        if kws.iter().all(|k| self.keyword(k)) {
            return true;
        }
        self.at = save;
        false
    }

    fn punct(&mut self, p: char) -> bool {
        if self.toks.get(self.at) == Some(&Tok::Punct(p)) {
            self.at += 1;
            return true;
        }
        false
    }

    fn word(&mut self) -> Option<String> {
        match self.toks.get(self.at) {
            Some(Tok::Word { text, .. }) => {
                self.at += 1;
                Some(text.clone())
            }
            _ => None,
        }
    }

    /// `name` or `db.name`.
    fn table(&mut self) -> Option<DdlTarget> {
        let first = self.word()?;
        if self.punct('.') {
            return Some(DdlTarget::Table(Some(first), self.word()?));
        }
        Some(DdlTarget::Table(None, first))
    }

    /// Skips to just after the next top-level keyword `kw`.
    fn skip_past(&mut self, kw: &str) -> bool {
        while self.at < self.toks.len() {
            if self.keyword(kw) {
                return true;
            }
            self.at += 1;
        }
        false
    }
}

/// `None` when the statement does not change any schema (DML, BEGIN, SAVEPOINT, XA, SET, ...);
/// otherwise what it touches (possibly nothing we can name, e.g. `CREATE VIEW`).
pub(crate) fn targets(sql: &str) -> Option<Vec<DdlTarget>> {
    let mut c = Cursor {
        toks: tokenize(sql),
        at: 0,
    };
    let mut out = Vec::new();
    if c.keyword("ALTER") {
        while c.keyword("ONLINE") || c.keyword("IGNORE") {}
        if c.keyword("TABLE") {
            c.keywords(&["IF", "EXISTS"]);
            out.extend(c.table());
        } else if c.keyword("DATABASE") || c.keyword("SCHEMA") {
            // Changes defaults only; existing columns keep their types.
        }
    } else if c.keyword("CREATE") {
        c.keywords(&["OR", "REPLACE"]);
        while c.keyword("TEMPORARY") {}
        if c.keyword("TABLE") {
            c.keywords(&["IF", "NOT", "EXISTS"]);
            out.extend(c.table());
        } else {
            while c.keyword("UNIQUE") || c.keyword("FULLTEXT") || c.keyword("SPATIAL") {}
            if c.keyword("INDEX") && c.skip_past("ON") {
                out.extend(c.table());
            }
        }
    } else if c.keyword("DROP") {
        if c.keyword("TEMPORARY") {
            return Some(out);
        }
        if c.keyword("TABLE") || c.keyword("TABLES") {
            c.keywords(&["IF", "EXISTS"]);
            loop {
                out.extend(c.table());
                if !c.punct(',') {
                    break;
                }
            }
        } else if c.keyword("DATABASE") || c.keyword("SCHEMA") {
            c.keywords(&["IF", "EXISTS"]);
            out.extend(c.word().map(DdlTarget::Database));
        } else if c.keyword("INDEX") && c.skip_past("ON") {
            out.extend(c.table());
        }
    } else if c.keyword("RENAME") {
        if c.keyword("TABLE") || c.keyword("TABLES") {
            loop {
                out.extend(c.table());
                if !c.keyword("TO") {
                    break;
                }
                out.extend(c.table());
                if !c.punct(',') {
                    break;
                }
            }
        }
    } else if c.keyword("TRUNCATE") {
        c.keyword("TABLE");
        out.extend(c.table());
    } else {
        return None;
    }
    Some(out)
}

/// The first captured table the statement touches. `default_db` is the event's current
/// database, `db` the captured database.
pub(crate) fn touched_table(
    sql: &str,
    default_db: &str,
    db: &str,
    captured: impl Fn(&str) -> bool,
) -> Option<String> {
    for t in targets(sql)? {
        match t {
            DdlTarget::Table(schema, name) => {
                if schema.as_deref().unwrap_or(default_db) == db && captured(&name) {
                    return Some(name);
                }
            }
            DdlTarget::Database(name) if name == db => return Some(format!("{db}.*")),
            DdlTarget::Database(_) => {}
        }
    }
    None
}

/// What a schema statement on a captured table does to its columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ColumnChange {
    /// Columns are only added (names in statement order); indexes may change too.
    Add(Vec<String>),
    /// No column changes (indexes, constraints, table options).
    None,
    /// Anything else: drop, rename, modify, primary key, truncate, drop table, ...
    Other,
}

fn is_word(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Word { text, quoted: false } if text.eq_ignore_ascii_case(kw))
}

/// Reads an `ALTER TABLE` (or `CREATE/DROP INDEX`) statement's column effect.
pub(crate) fn column_change(sql: &str) -> ColumnChange {
    let toks = tokenize(sql);
    let mut c = Cursor {
        toks: toks.clone(),
        at: 0,
    };
    if c.keyword("CREATE") {
        while c.keyword("UNIQUE") || c.keyword("FULLTEXT") || c.keyword("SPATIAL") {}
        return if c.keyword("INDEX") {
            ColumnChange::None
        } else {
            ColumnChange::Other
        };
    }
    c.at = 0;
    if c.keyword("DROP") {
        return if c.keyword("INDEX") {
            ColumnChange::None
        } else {
            ColumnChange::Other
        };
    }
    c.at = 0;
    if !c.keyword("ALTER") {
        return ColumnChange::Other;
    }
    while c.keyword("ONLINE") || c.keyword("IGNORE") {}
    if !c.keyword("TABLE") {
        return ColumnChange::Other;
    }
    c.keywords(&["IF", "EXISTS"]);
    if c.table().is_none() {
        return ColumnChange::Other;
    }
    // Top-level clauses, split on commas outside parentheses.
    let mut clauses: Vec<&[Tok]> = Vec::new();
    let (mut depth, mut from) = (0usize, c.at);
    for (i, t) in toks.iter().enumerate().skip(c.at) {
        match t {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => depth = depth.saturating_sub(1),
            Tok::Punct(',') if depth == 0 => {
                clauses.push(&toks[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    clauses.push(&toks[from..]);
    const INDEXES: [&str; 7] = [
        "INDEX",
        "KEY",
        "UNIQUE",
        "FULLTEXT",
        "SPATIAL",
        "CONSTRAINT",
        "FOREIGN",
    ];
    let mut added = Vec::new();
    for clause in clauses {
        let Some(first) = clause.first() else {
            continue;
        };
        let rest = &clause[1..];
        if is_word(first, "ADD") {
            let mut r = rest;
            if r.first()
                .is_some_and(|t| INDEXES.iter().any(|k| is_word(t, k)))
            {
                continue;
            }
            if r.first().is_some_and(|t| is_word(t, "COLUMN")) {
                r = &r[1..];
            }
            if r.len() >= 3
                && is_word(&r[0], "IF")
                && is_word(&r[1], "NOT")
                && is_word(&r[2], "EXISTS")
            {
                r = &r[3..];
            }
            match r.first() {
                // ADD COLUMN (a INT, b INT): the first word of each element.
                Some(Tok::Punct('(')) => {
                    let mut depth = 0usize;
                    let mut expect_name = true;
                    for t in &r[1..] {
                        match t {
                            Tok::Punct('(') => depth += 1,
                            Tok::Punct(')') if depth == 0 => break,
                            Tok::Punct(')') => depth -= 1,
                            Tok::Punct(',') if depth == 0 => expect_name = true,
                            Tok::Word { text, .. } if expect_name => {
                                added.push(text.clone());
                                expect_name = false;
                            }
                            _ => {}
                        }
                    }
                }
                Some(Tok::Word { text, quoted })
                    if *quoted || !is_word(r.first().unwrap_or(first), "PRIMARY") =>
                {
                    added.push(text.clone());
                }
                _ => return ColumnChange::Other,
            }
        } else if is_word(first, "DROP") {
            let ok = rest.first().is_some_and(|t| {
                ["INDEX", "KEY", "FOREIGN", "CONSTRAINT", "CHECK"]
                    .iter()
                    .any(|k| is_word(t, k))
            });
            if !ok {
                return ColumnChange::Other;
            }
        } else if ["ALGORITHM", "LOCK", "COMMENT", "ENGINE", "FORCE"]
            .iter()
            .any(|k| is_word(first, k))
            || (is_word(first, "ALTER") && rest.first().is_some_and(|t| is_word(t, "INDEX")))
        {
            continue;
        } else {
            return ColumnChange::Other;
        }
    }
    if added.is_empty() {
        ColumnChange::None
    } else {
        ColumnChange::Add(added)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_column_changes() {
        use ColumnChange::*;
        assert_eq!(
            column_change("ALTER TABLE t ADD COLUMN x INT"),
            Add(vec!["x".into()])
        );
        assert_eq!(
            column_change(
                "alter table `t` add `seg` varchar(10) NOT NULL DEFAULT 'a,b', add index i (seg), algorithm=instant"
            ),
            Add(vec!["seg".into()])
        );
        assert_eq!(
            column_change("ALTER TABLE t ADD COLUMN IF NOT EXISTS (a INT, b DECIMAL(10,2))"),
            Add(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            column_change(
                "ALTER TABLE t ADD COLUMN w VARCHAR(8) NOT NULL DEFAULT 'it''s', ADD INDEX iv (v)"
            ),
            Add(vec!["w".into()])
        );
        assert_eq!(column_change("ALTER TABLE t ADD INDEX i (x)"), None);
        assert_eq!(column_change("CREATE INDEX i ON t (x)"), None);
        assert_eq!(column_change("DROP INDEX i ON t"), None);
        assert_eq!(column_change("ALTER TABLE t DROP COLUMN x"), Other);
        assert_eq!(column_change("ALTER TABLE t DROP x"), Other);
        assert_eq!(column_change("ALTER TABLE t RENAME COLUMN a TO b"), Other);
        assert_eq!(column_change("ALTER TABLE t MODIFY a BIGINT"), Other);
        assert_eq!(column_change("ALTER TABLE t CHANGE a b INT"), Other);
        assert_eq!(column_change("ALTER TABLE t ADD PRIMARY KEY (a)"), Other);
        assert_eq!(column_change("ALTER TABLE t DROP PRIMARY KEY"), Other);
        assert_eq!(column_change("TRUNCATE t"), Other);
        assert_eq!(column_change("DROP TABLE t"), Other);
    }

    fn t(db: Option<&str>, name: &str) -> DdlTarget {
        DdlTarget::Table(db.map(str::to_string), name.to_string())
    }

    #[test]
    fn finds_the_tables_of_schema_statements() {
        assert_eq!(targets("BEGIN"), None);
        assert_eq!(targets("INSERT INTO t VALUES (1)"), None);
        assert_eq!(
            targets("ALTER TABLE `t` ADD COLUMN x INT"),
            Some(vec![t(None, "t")])
        );
        assert_eq!(
            targets("alter online table db.t add x int"),
            Some(vec![t(Some("db"), "t")])
        );
        assert_eq!(
            targets("DROP TABLE IF EXISTS `a`,`db`.`b` /* generated by server */"),
            Some(vec![t(None, "a"), t(Some("db"), "b")])
        );
        assert_eq!(targets("DROP TEMPORARY TABLE IF EXISTS t"), Some(vec![]));
        assert_eq!(
            targets("RENAME TABLE a TO b, c TO d.e"),
            Some(vec![
                t(None, "a"),
                t(None, "b"),
                t(None, "c"),
                t(Some("d"), "e")
            ])
        );
        assert_eq!(targets("TRUNCATE t"), Some(vec![t(None, "t")]));
        assert_eq!(
            targets("CREATE UNIQUE INDEX i ON t (x)"),
            Some(vec![t(None, "t")])
        );
        assert_eq!(
            targets("DROP INDEX i ON `we``ird`"),
            Some(vec![t(None, "we`ird")])
        );
        assert_eq!(
            targets("CREATE OR REPLACE TABLE t (x INT)"),
            Some(vec![t(None, "t")])
        );
        assert_eq!(
            targets("CREATE TABLE IF NOT EXISTS t2 LIKE t"),
            Some(vec![t(None, "t2")])
        );
        assert_eq!(
            targets("DROP DATABASE IF EXISTS `d`"),
            Some(vec![DdlTarget::Database("d".into())])
        );
        assert_eq!(targets("CREATE VIEW v AS SELECT * FROM t"), Some(vec![]));
    }

    #[test]
    fn only_captured_tables_of_the_captured_database_count() {
        let captured = |n: &str| n == "t";
        assert_eq!(
            touched_table("ALTER TABLE t ADD x INT", "db", "db", captured),
            Some("t".into())
        );
        assert_eq!(
            touched_table("ALTER TABLE t ADD x INT", "other", "db", captured),
            None
        );
        assert_eq!(
            touched_table("ALTER TABLE db.t ADD x INT", "other", "db", captured),
            Some("t".into())
        );
        assert_eq!(
            touched_table("ALTER TABLE u ADD t INT", "db", "db", captured),
            None
        );
        assert_eq!(
            touched_table("DROP DATABASE db", "x", "db", captured),
            Some("db.*".into())
        );
        assert_eq!(
            touched_table(
                "# Dummy event replacing event type 160",
                "db",
                "db",
                captured
            ),
            None
        );
    }
}
