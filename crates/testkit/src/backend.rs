//! The throwaway-database harness: SQLite files in temporary directories and, when
//! `INFUSIO_TEST_PG_URL` names a PostgreSQL server where this user may create schemas and
//! databases, fresh schemas (one per test: far cheaper than a database, whose CREATE and DROP
//! force checkpoints) or fresh databases (for a binary that is given a URL).
//!
//! [`on_both_backends!`](crate::on_both_backends) runs a test body once per backend with the
//! backend in the task-local [`BACKEND`]; [`open_store`] and [`TestDb::open`] read it.

use infusio_store::{Store, new_id};

use crate::{TempDir, say};

/// The variable naming a PostgreSQL server for the tests (`scripts/test.sh` starts a throwaway
/// cluster and sets it).
pub const PG_URL_VAR: &str = "INFUSIO_TEST_PG_URL";

/// The database the current test opens.
#[derive(Clone, Debug)]
pub enum TestBackend {
    Sqlite,
    /// A fresh schema `schema` on the server at `url`.
    Postgres {
        url: String,
        schema: String,
    },
}

tokio::task_local! {
    /// Set by [`on_both_backends!`](crate::on_both_backends); a test outside it runs on SQLite.
    pub static BACKEND: TestBackend;
}

/// The current test's backend (SQLite outside [`on_both_backends!`](crate::on_both_backends)).
pub fn current() -> TestBackend {
    BACKEND
        .try_with(TestBackend::clone)
        .unwrap_or(TestBackend::Sqlite)
}

/// The PostgreSQL server URL, or `None` after saying on stderr that the PostgreSQL variant of
/// `test` is skipped and why.
pub fn pg_url(test: &str) -> Option<String> {
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            say(&format!(
                "SKIPPED {test} on PostgreSQL: {PG_URL_VAR} is not set (scripts/test.sh starts a \
                 throwaway cluster and sets it)"
            ));
            None
        }
    }
}

/// `url` with one more query parameter.
pub fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

/// The URL whose connections use schema `schema` (`search_path`).
pub fn schema_url(url: &str, schema: &str) -> String {
    with_param(url, &format!("options%5Bsearch_path%5D={schema}"))
}

/// A name unique to this run, usable as a schema or database name.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", new_id().replace('-', ""))
}

/// Runs one administrative statement on the server at `url`.
async fn admin(url: &str, statement: &str) {
    let admin = Store::open(url)
        .await
        .expect("connect to the test PostgreSQL server");
    admin
        .execute_admin(statement)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
    admin.close().await;
}

/// Creates schema `schema` on the server at `url`.
pub async fn pg_create_schema(url: &str, schema: &str) {
    admin(url, &format!("CREATE SCHEMA {schema}")).await;
}

/// Drops a test schema (best effort: the cluster of scripts/test.sh is thrown away anyway).
pub async fn pg_drop_schema(url: &str, schema: &str) {
    if let Ok(admin) = Store::open(url).await {
        let _ = admin
            .execute_admin(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await;
        admin.close().await;
    }
}

/// A fresh schema on the test server; drop it with [`PgSchema::drop`].
#[derive(Clone, Debug)]
pub struct PgSchema {
    pub url: String,
    pub name: String,
}

impl PgSchema {
    /// Creates a fresh schema on the server at `url`.
    pub async fn create(url: &str) -> PgSchema {
        let name = unique_name("t");
        pg_create_schema(url, &name).await;
        PgSchema {
            url: url.to_string(),
            name,
        }
    }

    /// Opens a store on the schema (not migrated).
    pub async fn open(&self) -> Store {
        let store = Store::open(&schema_url(&self.url, &self.name))
            .await
            .expect("open the test schema");
        assert_eq!(store.backend(), infusio_store::Backend::Postgres);
        store
    }

    pub async fn drop(self) {
        pg_drop_schema(&self.url, &self.name).await;
    }
}

/// A fresh, unmigrated store on a new schema of the test server, or `None` (said on stderr)
/// when no server is configured.
pub async fn pg_fresh_store(test: &str) -> Option<(Store, PgSchema)> {
    let url = pg_url(test)?;
    let schema = PgSchema::create(&url).await;
    Some((schema.open().await, schema))
}

/// Opens the current test's store, not migrated: a SQLite file in `dir`, or the schema of the
/// PostgreSQL variant.
pub async fn open_store_in(dir: &std::path::Path) -> Store {
    match current() {
        TestBackend::Sqlite => Store::open_sqlite(&dir.join("test.sqlite3"))
            .await
            .expect("open sqlite"),
        TestBackend::Postgres { url, schema } => PgSchema { url, name: schema }.open().await,
    }
}

/// Opens the current test's store in a fresh temporary directory that outlives the test (the
/// store may still be writing when the test ends).
pub async fn open_store() -> Store {
    open_store_in(&TempDir::new("test").keep()).await
}

/// A second, empty store on the current test's backend (a restore target): on PostgreSQL a
/// new schema, returned so that the caller can drop it.
pub async fn open_another_store() -> (Store, Option<PgSchema>) {
    match current() {
        TestBackend::Sqlite => (open_store().await, None),
        TestBackend::Postgres { url, .. } => {
            let schema = PgSchema::create(&url).await;
            (schema.open().await, Some(schema))
        }
    }
}

/// A migrated store of the current test's backend and the directory beside it.
pub struct TestDb {
    pub store: Store,
    pub dir: TempDir,
}

impl TestDb {
    /// Opens and migrates the current test's store.
    pub async fn open() -> TestDb {
        let dir = TempDir::new("store");
        let store = open_store_in(dir.path()).await;
        store.migrate().await.expect("migrate the test store");
        TestDb { store, dir }
    }

    /// Closes the store (the PostgreSQL schema is dropped by the macro, the SQLite file goes
    /// with the directory).
    pub async fn finish(self) {
        self.store.close().await;
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A fresh database on the test server, for a binary that takes a URL (the CLI, crash tests).
/// Blocking; dropped with [`PgDatabase::drop`].
#[derive(Clone, Debug)]
pub struct PgDatabase {
    /// The server URL from `INFUSIO_TEST_PG_URL`.
    pub server: String,
    pub name: String,
    /// The new database's URL (the server's, with the database name replaced).
    pub url: String,
}

impl PgDatabase {
    /// Creates a fresh database, or returns `None` after saying that `test` is skipped.
    pub fn create(test: &str, prefix: &str) -> Option<PgDatabase> {
        let server = pg_url(test)?;
        let name = unique_name(prefix);
        runtime().block_on(admin(&server, &format!("CREATE DATABASE {name}")));
        let (base, query) = server.split_once('?').unwrap_or((&server, ""));
        let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
        let url = if query.is_empty() {
            format!("{base}/{name}")
        } else {
            format!("{base}/{name}?{query}")
        };
        Some(PgDatabase { server, name, url })
    }

    /// Drops the database, closing any connection left to it (best effort).
    pub fn drop(self) {
        runtime().block_on(async {
            if let Ok(admin) = Store::open(&self.server).await {
                let _ = admin
                    .execute_admin(&format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        self.name
                    ))
                    .await;
                admin.close().await;
            }
        });
    }
}

/// Runs a test on SQLite and, when `INFUSIO_TEST_PG_URL` is set, on a fresh PostgreSQL schema.
///
/// - `on_both_backends!(test_a, test_b);` makes `test_a::sqlite`, `test_a::postgres`, … from
///   `async fn test_a()`, which opens its record with [`open_store`] (or a harness built on it).
/// - `on_both_backends!(name => body);` makes `name::sqlite` and `name::postgres` from
///   `async fn body(db: &TestDb)`, given a migrated store.
///
/// The calling crate needs `tokio` with the `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident => $body:ident) => {
        mod $name {
            async fn with_db() {
                let db = $crate::TestDb::open().await;
                super::$body(&db).await;
                db.finish().await;
            }
            $crate::on_both_backends!(@variants with_db);
        }
    };
    (@variants $run:path) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn sqlite() {
            $crate::BACKEND
                .scope($crate::TestBackend::Sqlite, $run())
                .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn postgres() {
            let Some(url) = $crate::pg_url(concat!(module_path!(), "::postgres")) else {
                return;
            };
            let schema = $crate::backend::PgSchema::create(&url).await;
            $crate::BACKEND
                .scope(
                    $crate::TestBackend::Postgres {
                        url: url.clone(),
                        schema: schema.name.clone(),
                    },
                    $run(),
                )
                .await;
            schema.drop().await;
        }
    };
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                $crate::on_both_backends!(@variants super::$name);
            }
        )*
    };
}
