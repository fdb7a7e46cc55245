//! The schema's migrations, embedded in the binary, applied in order at start. Several replicas
//! may start at once: the first takes a session advisory lock and applies what is missing, the
//! others wait for it, then find nothing to do. Each migration runs in its own transaction with
//! its row in `scim_migrations`, so a start cut short leaves either all of a migration or none.
//!
//! Rules for a new migration, so that replicas of the previous release keep running during a
//! rolling upgrade: add (tables, nullable columns, indexes), never rename or drop in the same
//! release that stops using something; a migration's file never changes once released (its
//! checksum is kept, and a start refuses a database whose applied migration differs).

use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use scim_core::store::StoreError;

use crate::{db, lock_id};

/// One migration: its number, its name and its SQL.
#[derive(Debug)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    fn checksum(&self) -> String {
        Sha256::digest(self.sql.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Every migration this binary holds, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "sessions",
        sql: include_str!("../migrations/0002_sessions.sql"),
    },
    Migration {
        version: 3,
        name: "webhooks",
        sql: include_str!("../migrations/0003_webhooks.sql"),
    },
    Migration {
        version: 4,
        name: "deliveries",
        sql: include_str!("../migrations/0004_deliveries.sql"),
    },
];

const LEDGER: &str = "CREATE TABLE IF NOT EXISTS scim_migrations (
    version   integer PRIMARY KEY,
    name      text NOT NULL,
    checksum  text NOT NULL,
    applied   timestamptz NOT NULL DEFAULT now()
)";

/// The applied migrations: version and checksum.
async fn applied(client: &Client) -> Result<Vec<(i32, String)>, StoreError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('scim_migrations') IS NOT NULL", &[])
        .await
        .map_err(db)?
        .get(0);
    if !exists {
        return Ok(Vec::new());
    }
    Ok(client
        .query(
            "SELECT version, checksum FROM scim_migrations ORDER BY version",
            &[],
        )
        .await
        .map_err(db)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// What `applied` says against what this binary holds: the missing migrations, or why the
/// database cannot be used.
fn compare(applied: &[(i32, String)]) -> Result<Vec<&'static Migration>, StoreError> {
    for (version, checksum) in applied {
        if let Some(m) = MIGRATIONS.iter().find(|m| m.version == *version) {
            if &m.checksum() != checksum {
                return Err(StoreError::Refused(format!(
                    "the database's migration {version} ({}) differs from this binary's: \
                     a released migration never changes",
                    m.name
                )));
            }
        }
    }
    Ok(MIGRATIONS
        .iter()
        .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
        .collect())
}

/// The migrations that would run (nothing is changed).
pub(crate) async fn pending(client: &Client) -> Result<Vec<&'static Migration>, StoreError> {
    compare(&applied(client).await?)
}

/// Applies the missing migrations under the migration lock; returns those it applied.
pub(crate) async fn migrate(client: &mut Client) -> Result<Vec<&'static Migration>, StoreError> {
    let lock = lock_id("migrations", "");
    client
        .execute("SELECT pg_advisory_lock($1)", &[&lock])
        .await
        .map_err(db)?;
    let result = apply(client).await;
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&lock])
        .await
        .map_err(db);
    let done = result?;
    unlock?;
    if let Some(newest) = applied(client).await?.iter().map(|(v, _)| *v).max() {
        let known = MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0);
        if newest > known {
            tracing::warn!(
                newest,
                known,
                "the database has migrations newer than this binary (a newer release ran them): \
                 running on, as migrations only add"
            );
        }
    }
    Ok(done)
}

async fn apply(client: &mut Client) -> Result<Vec<&'static Migration>, StoreError> {
    client.batch_execute(LEDGER).await.map_err(db)?;
    let missing = compare(&applied(client).await?)?;
    for m in &missing {
        let tx = client.transaction().await.map_err(db)?;
        tx.batch_execute(m.sql).await.map_err(|e| {
            StoreError::Refused(format!("migration {} ({}) failed: {e}", m.version, m.name))
        })?;
        tx.execute(
            "INSERT INTO scim_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[&m.version, &m.name, &m.checksum()],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
    }
    Ok(missing)
}
