//! The PostgreSQL side of `nexds migrate-to-postgres` (`store::migrate`): every
//! table written with binary COPY in one transaction, sequences moved past the
//! ids SQLite gave, counts verified before the commit.

use std::error::Error;
use std::pin::Pin;

use bytes::BytesMut;
use tokio::sync::mpsc::Receiver;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::store::migrate::{Census, Chunk, MigrateError, Value, verify};
use crate::store::postgres::PgStore;

impl ToSql for Value {
    /// As the column's type wants it: SQLite's loose typing may hand a number to
    /// a text column or text to a blob column.
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match (self, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(v), &Type::TEXT) => v.to_string().to_sql(ty, out),
            (Value::Int(v), _) => v.to_sql(ty, out),
            (Value::Text(t), &Type::BYTEA) => t.as_bytes().to_sql(ty, out),
            (Value::Text(t), &Type::INT8) => t.trim().parse::<i64>()?.to_sql(ty, out),
            (Value::Text(t), _) => t.to_sql(ty, out),
            (Value::Blob(b), &Type::TEXT) => String::from_utf8_lossy(b).to_sql(ty, out),
            (Value::Blob(b), _) => b.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::INT8 | Type::TEXT | Type::BYTEA)
    }

    to_sql_checked!();
}

fn target(e: impl std::fmt::Display) -> MigrateError {
    MigrateError::Target(e.to_string())
}

impl PgStore {
    /// Writes every chunk `rows` brings, then moves the sequences and verifies
    /// the counts against `census`; all in one transaction, committed only if
    /// everything matches. Refuses a database that holds tokens or objects.
    pub fn import(&self, mut rows: Receiver<Chunk>, census: &Census) -> Result<(), MigrateError> {
        let pool = self.pool().clone();
        self.block_on(async move {
            let mut client = pool.get().await.map_err(target)?;
            let tx = client.transaction().await.map_err(target)?;
            let held: i64 = tx
                .query_one(
                    "SELECT (SELECT count(*) FROM tokens) + (SELECT count(*) FROM objects)",
                    &[],
                )
                .await
                .map_err(target)?
                .get(0);
            if held > 0 {
                return Err(MigrateError::NotEmpty(format!("{held} tokens and objects")));
            }
            let mut copied: Vec<(&'static str, u64)> = Vec::new();
            let mut open: Option<(&'static str, Pin<Box<BinaryCopyInWriter>>)> = None;
            while let Some(chunk) = rows.recv().await {
                if open.as_ref().is_none_or(|(table, _)| *table != chunk.table) {
                    if let Some((table, mut writer)) = open.take() {
                        copied.push((table, writer.as_mut().finish().await.map_err(target)?));
                    }
                    let types = column_types(&tx, chunk.table, &chunk.columns).await?;
                    let sql = format!(
                        "COPY {} ({}) FROM STDIN BINARY",
                        chunk.table,
                        chunk.columns.join(", ")
                    );
                    let sink = tx.copy_in(&sql).await.map_err(target)?;
                    open = Some((chunk.table, Box::pin(BinaryCopyInWriter::new(sink, &types))));
                }
                if let Some((_, writer)) = open.as_mut() {
                    for row in &chunk.rows {
                        let values: Vec<&(dyn ToSql + Sync)> =
                            row.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                        writer.as_mut().write(&values).await.map_err(target)?;
                    }
                }
            }
            if let Some((table, mut writer)) = open.take() {
                copied.push((table, writer.as_mut().finish().await.map_err(target)?));
            }
            verify(census, &copied)?;
            let mut counted = Vec::new();
            for (table, _) in &census.rows {
                let n: i64 = tx
                    .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                    .await
                    .map_err(target)?
                    .get(0);
                counted.push((*table, n as u64));
            }
            verify(census, &counted)?;
            for (table, last) in &census.sequences {
                if *last <= 0 {
                    continue;
                }
                let column = if *table == "objects" { "data_id" } else { "id" };
                tx.execute(
                    "SELECT setval(pg_get_serial_sequence($1, $2), $3, true)",
                    &[table, &column, last],
                )
                .await
                .map_err(target)?;
            }
            tx.commit().await.map_err(target)
        })
    }
}

/// The types of `columns` of `table`, in that order.
async fn column_types(
    tx: &deadpool_postgres::Transaction<'_>,
    table: &str,
    columns: &[String],
) -> Result<Vec<Type>, MigrateError> {
    let rows = tx
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1",
            &[&table],
        )
        .await
        .map_err(target)?;
    columns
        .iter()
        .map(|column| {
            let found = rows.iter().find(|r| r.get::<_, &str>(0) == column);
            match found.map(|r| r.get::<_, &str>(1)) {
                Some("bigint") => Ok(Type::INT8),
                Some("text") => Ok(Type::TEXT),
                Some("bytea") => Ok(Type::BYTEA),
                Some(other) => Err(target(format!("{table}.{column} has type {other}"))),
                None => Err(target(format!(
                    "{table}.{column} is in SQLite but not in PostgreSQL"
                ))),
            }
        })
        .collect()
}
