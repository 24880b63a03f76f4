//! `port-db`'s PostgreSQL ends: a database read in one repeatable-read
//! transaction through a cursor, and a database written in one
//! transaction with `COPY ... FROM STDIN BINARY`; and `check`'s look at a
//! PostgreSQL catalogue.

use std::collections::BTreeMap;
use std::pin::Pin;

use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row};

use super::{in_copy_order, quoted, Cell, Copied, Sink as AnySink, Table, BATCH, LEFT_BEHIND};
use crate::database_url::PgUrl;
use crate::db::ops::LiveImage;
use crate::db::postgres::schema::{migrate_in, MIGRATIONS};
use crate::db::postgres::{connect_once, describe};

/// The tables of the current schema (`schema_version` too).
const TABLES: &str = "SELECT table_name::text FROM information_schema.tables \
     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1";

/// A table's columns and their types, in order.
const COLUMNS: &str = "SELECT column_name::text, data_type::text FROM information_schema.columns \
     WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position";

/// A driver error as one line, redacted.
fn said<'a>(url: &'a PgUrl, what: &str) -> impl Fn(tokio_postgres::Error) -> String + 'a {
    let what = what.to_owned();
    move |e| format!("database {url}: {what}: {}", url.redact(&describe(&e)))
}

/// Opens a connection and a read-only repeatable-read transaction on it,
/// after checking that the schema is this release's.
async fn open_snapshot(url: &PgUrl) -> Result<Client, String> {
    let client = connect_once(url).await?;
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(said(url, "beginning a read"))?;
    let row = client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
        .await
        .map_err(said(url, "reading the schema version"))?;
    if !row.get::<_, bool>(0) {
        return Err(format!(
            "database {url}: not a plankton catalogue (it has no schema_version table)"
        ));
    }
    let version: i32 = client
        .query_one("SELECT version FROM schema_version", &[])
        .await
        .map_err(said(url, "reading the schema version"))?
        .get(0);
    let known = MIGRATIONS.len();
    if usize::try_from(version).ok() != Some(known) {
        return Err(format!(
            "database {url}: schema version {version} is not this plankton's ({known}): \
             start `plankton serve` of the release that matches it, or of this one to migrate it"
        ));
    }
    Ok(client)
}

/// A PostgreSQL catalogue being read, in one repeatable-read transaction.
pub(crate) struct Source {
    url: PgUrl,
    client: Client,
}

impl Source {
    /// Connects to `url`, whose schema must be this release's.
    pub(crate) async fn open(url: &PgUrl) -> Result<Source, String> {
        let client = open_snapshot(url).await?;
        Ok(Source {
            url: url.clone(),
            client,
        })
    }

    /// The tables to copy, in the order to copy them, with their columns.
    pub(crate) async fn tables(&mut self) -> Result<Vec<Table>, String> {
        let failed = said(&self.url, "reading the tables");
        let names: Vec<String> = self
            .client
            .query(TABLES, &[])
            .await
            .map_err(&failed)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let refers = self
            .client
            .query(
                "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint \
                 WHERE contype = 'f' AND connamespace = current_schema()::regnamespace",
                &[],
            )
            .await
            .map_err(&failed)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect::<Vec<(String, String)>>();
        let mut tables = Vec::new();
        for name in in_copy_order(names, &refers) {
            let columns = self
                .client
                .query(COLUMNS, &[&name])
                .await
                .map_err(&failed)?;
            let columns = columns.iter().map(|r| r.get(0)).collect();
            tables.push(Table { name, columns });
        }
        Ok(tables)
    }

    /// Copies every row of `tables` into `sink`, a batch at a time.
    pub(crate) async fn copy_into(
        &mut self,
        tables: &[Table],
        sink: &mut AnySink,
    ) -> Result<Copied, String> {
        let mut copied = Vec::new();
        for table in tables {
            let n = self.copy_table(table, sink).await?;
            copied.push((table.name.clone(), n));
        }
        Ok(copied)
    }

    async fn copy_table(&mut self, table: &Table, sink: &mut AnySink) -> Result<u64, String> {
        let failed = said(&self.url, &format!("reading {}", table.name));
        let declare = format!(
            "DECLARE port_rows NO SCROLL CURSOR FOR SELECT {} FROM {}",
            table.column_list(),
            quoted(&table.name)
        );
        self.client.batch_execute(&declare).await.map_err(&failed)?;
        sink.begin(table).await?;
        let fetch = format!("FETCH {BATCH} FROM port_rows");
        let mut n = 0u64;
        loop {
            let rows = self.client.query(&fetch, &[]).await.map_err(&failed)?;
            if rows.is_empty() {
                break;
            }
            let batch = rows
                .iter()
                .map(cells)
                .collect::<Result<Vec<_>, String>>()
                .map_err(|e| format!("reading {}: {e}", table.name))?;
            sink.write(&batch).await?;
            n += batch.len() as u64;
        }
        self.client
            .batch_execute("CLOSE port_rows")
            .await
            .map_err(&failed)?;
        sink.end().await?;
        Ok(n)
    }
}

/// A row's values as `Cell`s, by their PostgreSQL types.
fn cells(row: &Row) -> Result<Vec<Cell>, String> {
    let wrong = |e: tokio_postgres::Error| e.to_string();
    (0..row.len())
        .map(|i| {
            let ty = row.columns()[i].type_();
            let cell = match *ty {
                Type::INT8 => row
                    .try_get::<_, Option<i64>>(i)
                    .map_err(wrong)?
                    .map(Cell::Int),
                Type::INT4 => row
                    .try_get::<_, Option<i32>>(i)
                    .map_err(wrong)?
                    .map(|n| Cell::Int(n.into())),
                Type::INT2 => row
                    .try_get::<_, Option<i16>>(i)
                    .map_err(wrong)?
                    .map(|n| Cell::Int(n.into())),
                Type::BOOL => row
                    .try_get::<_, Option<bool>>(i)
                    .map_err(wrong)?
                    .map(Cell::Bool),
                Type::FLOAT8 => row
                    .try_get::<_, Option<f64>>(i)
                    .map_err(wrong)?
                    .map(Cell::Real),
                Type::TEXT | Type::VARCHAR => row
                    .try_get::<_, Option<String>>(i)
                    .map_err(wrong)?
                    .map(Cell::Text),
                Type::BYTEA => row
                    .try_get::<_, Option<Vec<u8>>>(i)
                    .map_err(wrong)?
                    .map(Cell::Blob),
                _ => {
                    return Err(format!(
                        "column {} has type {ty}, which port-db does not copy",
                        row.columns()[i].name()
                    ))
                }
            };
            Ok(cell.unwrap_or(Cell::Null))
        })
        .collect()
}

/// A PostgreSQL database being written, in one transaction.
pub(crate) struct Sink {
    url: PgUrl,
    client: Client,
    copy: Option<Pin<Box<BinaryCopyInWriter>>>,
    types: Vec<Type>,
    table: String,
}

impl Sink {
    /// Connects to `url`, begins the transaction, migrates the schema in it
    /// (under the migration lock) and checks that `tables` have no rows.
    pub(crate) async fn open(url: &PgUrl, tables: &[Table]) -> Result<Sink, String> {
        let client = connect_once(url).await?;
        client
            .batch_execute("BEGIN")
            .await
            .map_err(said(url, "beginning"))?;
        let sink = Sink {
            url: url.clone(),
            client,
            copy: None,
            types: Vec::new(),
            table: String::new(),
        };
        if let Err(e) = migrate_in(&sink.client).await {
            return Err(format!(
                "the target {url} cannot hold plankton's catalogue: {}",
                url.redact(&e.to_string())
            ));
        }
        sink.refuse_unless_empty(tables).await?;
        Ok(sink)
    }

    /// Refuses a target where one of `tables`, or a session table, has rows.
    async fn refuse_unless_empty(&self, tables: &[Table]) -> Result<(), String> {
        let present: Vec<String> = self
            .client
            .query(TABLES, &[])
            .await
            .map_err(said(&self.url, "reading the tables"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let ours = tables.iter().map(|t| t.name.as_str());
        let sessions = LEFT_BEHIND
            .iter()
            .copied()
            .filter(|t| *t != "schema_version");
        for name in ours.chain(sessions) {
            if !present.iter().any(|p| p == name) {
                continue;
            }
            let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", quoted(name));
            let row = self
                .client
                .query_one(&sql, &[])
                .await
                .map_err(said(&self.url, &format!("reading {name}")))?;
            if row.get::<_, bool>(0) {
                return Err(format!(
                    "the target {} is not empty: its table {name} has rows",
                    self.url
                ));
            }
        }
        Ok(())
    }

    /// Starts `COPY` into `table`, by the target's column types.
    pub(crate) async fn begin(&mut self, table: &Table) -> Result<(), String> {
        let failed = said(&self.url, &format!("writing {}", table.name));
        let known: BTreeMap<String, String> = self
            .client
            .query(COLUMNS, &[&table.name])
            .await
            .map_err(&failed)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mut types = Vec::new();
        for column in &table.columns {
            let Some(ty) = known.get(column) else {
                return Err(format!(
                    "the target {} has no column {}.{column}",
                    self.url, table.name
                ));
            };
            types.push(pg_type(ty).ok_or_else(|| {
                format!(
                    "{}.{column} has type {ty}, which port-db does not copy",
                    table.name
                )
            })?);
        }
        let sql = format!(
            "COPY {} ({}) FROM STDIN BINARY",
            quoted(&table.name),
            table.column_list()
        );
        let sink = self.client.copy_in(&sql).await.map_err(&failed)?;
        self.copy = Some(Box::pin(BinaryCopyInWriter::new(sink, &types)));
        self.types = types;
        self.table.clone_from(&table.name);
        Ok(())
    }

    /// Writes a batch of rows into the `COPY` begun.
    pub(crate) async fn write(&mut self, rows: &[Vec<Cell>]) -> Result<(), String> {
        let Some(copy) = self.copy.as_mut() else {
            return Err("no table begun".into());
        };
        for row in rows {
            let values = row
                .iter()
                .zip(&self.types)
                .map(|(c, ty)| param(c, ty))
                .collect::<Result<Vec<_>, String>>()
                .map_err(|e| format!("writing {}: {e}", self.table))?;
            let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| &**v as _).collect();
            copy.as_mut()
                .write(&refs)
                .await
                .map_err(said(&self.url, &format!("writing {}", self.table)))?;
        }
        Ok(())
    }

    /// Ends the `COPY` begun.
    pub(crate) async fn end(&mut self) -> Result<(), String> {
        if let Some(mut copy) = self.copy.take() {
            copy.as_mut()
                .finish()
                .await
                .map_err(said(&self.url, &format!("writing {}", self.table)))?;
        }
        Ok(())
    }

    /// Moves every sequence past the keys copied, then commits.
    pub(crate) async fn commit(self) -> Result<(), String> {
        let failed = said(&self.url, "setting the sequences");
        let serial = self
            .client
            .query(
                "SELECT table_name::text, column_name::text, \
                 pg_get_serial_sequence(quote_ident(table_name), column_name) \
                 FROM information_schema.columns WHERE table_schema = current_schema() \
                 AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')",
                &[],
            )
            .await
            .map_err(&failed)?;
        for row in &serial {
            let (table, column): (String, String) = (row.get(0), row.get(1));
            let Some(sequence) = row.get::<_, Option<String>>(2) else {
                continue;
            };
            let sql = format!(
                "SELECT setval($1::text::regclass, coalesce(max({}), 0) + 1, false) FROM {}",
                quoted(&column),
                quoted(&table)
            );
            self.client
                .query_one(&sql, &[&sequence])
                .await
                .map_err(&failed)?;
        }
        self.client
            .batch_execute("COMMIT")
            .await
            .map_err(said(&self.url, "committing"))
    }

    /// Gives up: the transaction rolled back, the target as it was.
    pub(crate) async fn abandon(self) {
        drop(self.copy);
        let _ = self.client.batch_execute("ROLLBACK").await;
    }
}

/// The driver's type for an `information_schema` data type.
fn pg_type(data_type: &str) -> Option<Type> {
    Some(match data_type {
        "bigint" => Type::INT8,
        "integer" => Type::INT4,
        "smallint" => Type::INT2,
        "boolean" => Type::BOOL,
        "double precision" => Type::FLOAT8,
        "text" => Type::TEXT,
        "character varying" => Type::VARCHAR,
        "bytea" => Type::BYTEA,
        _ => return None,
    })
}

/// A parameter for `COPY`.
type Param = Box<dyn ToSql + Sync + Send>;

/// `cell` as a value of the column's type `ty`: SQLite's 0 and 1 become
/// a flag; anything that does not fit is refused, naming it.
fn param(cell: &Cell, ty: &Type) -> Result<Param, String> {
    let wrong = || format!("{cell:?} does not fit a column of type {ty}");
    Ok(match (ty.clone(), cell) {
        (Type::INT8, Cell::Null) => Box::new(None::<i64>),
        (Type::INT8, Cell::Int(n)) => Box::new(*n),
        (Type::INT4, Cell::Null) => Box::new(None::<i32>),
        (Type::INT4, Cell::Int(n)) => Box::new(i32::try_from(*n).map_err(|_| wrong())?),
        (Type::INT2, Cell::Null) => Box::new(None::<i16>),
        (Type::INT2, Cell::Int(n)) => Box::new(i16::try_from(*n).map_err(|_| wrong())?),
        (Type::BOOL, Cell::Null) => Box::new(None::<bool>),
        (Type::BOOL, Cell::Bool(b)) => Box::new(*b),
        (Type::BOOL, Cell::Int(n @ (0 | 1))) => Box::new(*n == 1),
        (Type::FLOAT8, Cell::Null) => Box::new(None::<f64>),
        (Type::FLOAT8, Cell::Real(x)) => Box::new(*x),
        (Type::TEXT | Type::VARCHAR, Cell::Null) => Box::new(None::<String>),
        (Type::TEXT | Type::VARCHAR, Cell::Text(t)) => Box::new(t.clone()),
        (Type::BYTEA, Cell::Null) => Box::new(None::<Vec<u8>>),
        (Type::BYTEA, Cell::Blob(b)) => Box::new(b.clone()),
        _ => return Err(wrong()),
    })
}

/// A read-only look at a PostgreSQL catalogue, for `plankton check`.
pub(crate) struct PgSnapshot {
    url: PgUrl,
    client: Client,
}

impl PgSnapshot {
    /// Connects to `url`, whose schema must be this release's.
    pub(crate) async fn open(url: &PgUrl) -> Result<PgSnapshot, String> {
        let client = open_snapshot(url).await?;
        Ok(PgSnapshot {
            url: url.clone(),
            client,
        })
    }

    /// `PostgreSQL <version>`.
    pub(crate) async fn server(&self) -> String {
        match self.client.query_one("SHOW server_version", &[]).await {
            Ok(row) => format!("PostgreSQL {}", row.get::<_, String>(0)),
            Err(_) => "PostgreSQL".into(),
        }
    }

    /// Each table or column of this release's schema that the database
    /// lacks, as a line.
    pub(crate) async fn missing(&self) -> Result<Vec<String>, String> {
        let expected = crate::db::ops::schema_tables()?;
        let mut missing = Vec::new();
        for (table, columns) in expected {
            let present: Vec<String> = self
                .client
                .query(COLUMNS, &[&table])
                .await
                .map_err(said(&self.url, "reading the schema"))?
                .iter()
                .map(|r| r.get(0))
                .collect();
            if present.is_empty() {
                missing.push(format!("table {table} is missing"));
                continue;
            }
            for c in columns.iter().filter(|c| !present.contains(c)) {
                missing.push(format!("column {table}.{c} is missing"));
            }
        }
        Ok(missing)
    }

    /// How many images' properties JSON disagrees with their property rows.
    pub(crate) async fn properties_out_of_step(&self) -> Result<i64, String> {
        let row = self
            .client
            .query_one(
                "SELECT count(*) FROM images i WHERE i.properties_json::jsonb IS DISTINCT FROM \
                 (SELECT coalesce(jsonb_object_agg(p.key, p.value), '{}'::jsonb) \
                  FROM image_properties p WHERE p.image_seq = i.seq) \
                 OR EXISTS (SELECT 1 FROM image_properties p WHERE p.image_seq = i.seq \
                  AND (p.created_at IS DISTINCT FROM i.created_at OR p.image_id IS DISTINCT FROM i.id))",
                &[],
            )
            .await
            .map_err(said(&self.url, "comparing properties"))?;
        Ok(row.get(0))
    }

    /// Every live image with data, oldest first.
    pub(crate) async fn live_images(&self) -> Result<Vec<LiveImage>, String> {
        let rows = self
            .client
            .query(
                "SELECT id, name, location, size, checksum, data_format, data_finding FROM images \
                 WHERE deleted_at IS NULL AND location IS NOT NULL ORDER BY created_at, id",
                &[],
            )
            .await
            .map_err(said(&self.url, "reading images"))?;
        Ok(rows
            .iter()
            .map(|r| LiveImage {
                id: r.get(0),
                name: r.get(1),
                location: r.get(2),
                size: u64::try_from(r.get::<_, i64>(3)).unwrap_or(0),
                checksum: r.get(4),
                data_format: r.get(5),
                data_finding: r.get(6),
            })
            .collect())
    }
}
