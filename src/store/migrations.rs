//! The schema's migrations, embedded in the binary from `migrations/`.
//!
//! sqlx's `migrate!` macro would do this, but its proc-macro crate builds
//! sqlx-core and sqlx-postgres a second time for the build host: about 40 s of
//! a fresh clone's CPU (docs/development.md, "Build profiles"). The list is
//! checked against the folder by a test; each migration's version, description
//! and checksum are made as sqlx makes them from the file, so a database
//! migrated by either is the same to the other.

use std::borrow::Cow;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

macro_rules! migration {
    ($file:literal) => {
        ($file, include_str!(concat!("../../migrations/", $file)))
    };
}

/// Every file of `migrations/`, by name, oldest first. A new migration is a
/// new file and a line here.
const FILES: &[(&str, &str)] = &[
    migration!("20261123000000_initial_schema.sql"),
    migration!("20261123120000_idempotency_keys_whole_rows.sql"),
    migration!("20261124000000_idempotency_keys_point_at_the_ledger.sql"),
    migration!("20261124010000_reservations_by_time.sql"),
    migration!("20261125000000_queue_settings.sql"),
    migration!("20261125090000_amounts_bounded.sql"),
    migration!("20261126000000_payments_name_their_method.sql"),
    migration!("20261206000000_queue_settings_protect.sql"),
    migration!("20261206120000_queue_settings_join_limits.sql"),
    migration!("20261206130000_queue_invitations.sql"),
    migration!("20261206140000_queue_settings_challenge.sql"),
    migration!("20261206150000_events_outbox.sql"),
    migration!("20261206160000_webhooks.sql"),
    migration!("20261206170000_events_origin.sql"),
    migration!("20261206180000_events_by_queue.sql"),
];

/// The migrator over [`FILES`].
pub(crate) async fn migrator() -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Embedded).await
}

#[derive(Debug)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> futures_util::future::BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async { FILES.iter().map(|(file, sql)| migration(file, sql)).collect() })
    }
}

/// A migration from its file's name (`<version>_<description>.sql`) and text,
/// as sqlx's own resolver makes it.
fn migration(file: &str, sql: &'static str) -> Result<Migration, BoxDynError> {
    let (version, rest) = file
        .split_once('_')
        .ok_or_else(|| format!("migration `{file}` is not named <version>_<description>.sql"))?;
    let description = rest
        .strip_suffix(".sql")
        .ok_or_else(|| format!("migration `{file}` does not end in .sql"))?
        .replace('_', " ");
    Ok(Migration::new(
        version.parse()?,
        Cow::Owned(description),
        MigrationType::Simple,
        Cow::Borrowed(sql),
        sql.starts_with("-- no-transaction"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_folder_is_embedded_in_order() {
        let mut files: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
            .expect("migrations/ is readable")
            .map(|entry| {
                entry
                    .expect("an entry of migrations/")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        files.sort();
        let embedded: Vec<&str> = FILES.iter().map(|(file, _)| *file).collect();
        assert_eq!(
            embedded, files,
            "migrations/ and the list in src/store/migrations.rs differ"
        );
    }

    #[tokio::test]
    async fn each_migration_is_made_as_sqlx_makes_it_from_the_folder() {
        let folder = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"));
        let from_folder = Migrator::new(folder).await.expect("sqlx reads the folder");
        let embedded = migrator().await.expect("the embedded list resolves");
        let shape = |m: &Migration| (m.version, m.description.to_string(), m.checksum.to_vec(), m.no_tx);
        let from_folder: Vec<_> = from_folder.iter().map(shape).collect();
        let embedded: Vec<_> = embedded.iter().map(shape).collect();
        assert_eq!(from_folder.len(), FILES.len());
        assert_eq!(embedded, from_folder);
    }
}
