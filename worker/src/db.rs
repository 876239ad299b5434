//! Opening the one database that holds both Hive's data and its job queue, and
//! bringing its schema up to date.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};

/// Opens the pool for `settings.database_url`. A SQLite file is created if
/// it is missing, in WAL mode with `synchronous=NORMAL` and foreign keys on
/// for every connection; PostgreSQL's pool holds at most
/// `HIVE_DATABASE_CONNECTIONS` (`Limits::database_connections`).
pub async fn connect(settings: &crate::settings::Settings) -> anyhow::Result<DatabaseConnection> {
    let database_url = settings.database_url.as_str();
    let mut options = ConnectOptions::new(database_url.to_string());
    options
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(10));
    if database_url.starts_with("sqlite:") {
        // SQLite allows one writer at a time; a small pool and a generous busy
        // timeout turn write contention into short waits instead of errors.
        options
            .max_connections(16)
            .map_sqlx_sqlite_opts(sqlite_options);
    } else {
        options.max_connections(settings.limits.database_connections);
    }
    Ok(Database::connect(options).await?)
}

fn sqlite_options(options: SqliteConnectOptions) -> SqliteConnectOptions {
    options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(30))
}

/// Applies Hive's migrations and the job queue's own tables.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await?;
    setup_queue_storage(db).await
}

/// apalis keeps its tables beside ours. Its SQLite set-up turns `synchronous`
/// off on the connection it runs on, which could lose committed data in a
/// machine crash, so it runs on a throw-away connection, never on the pool.
pub async fn setup_queue_storage(db: &DatabaseConnection) -> anyhow::Result<()> {
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let options = db
                .get_sqlite_connection_pool()
                .connect_options()
                .as_ref()
                .clone();
            let pool = sea_orm::sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await?;
            apalis_sqlite::SqliteStorage::setup(&pool).await?;
            pool.close().await;
        }
        DbBackend::Postgres => {
            apalis_postgres::PostgresStorage::setup(db.get_postgres_connection_pool()).await?;
        }
        other => anyhow::bail!("unsupported database backend {other:?}"),
    }
    Ok(())
}

/// Whether every migration this build knows has been applied: `/readyz` says
/// not ready while a newer build waits for `hive-api migrate`.
pub async fn migrations_applied(db: &DatabaseConnection) -> anyhow::Result<bool> {
    let pending = Migrator::get_pending_migrations(db).await?;
    Ok(pending.is_empty())
}

/// A cheap round trip that fails when the database is gone.
pub async fn ping(db: &DatabaseConnection) -> anyhow::Result<()> {
    db.execute_unprepared("SELECT 1").await?;
    Ok(())
}

/// Starts a transaction that will write. On SQLite it takes the write lock at
/// `BEGIN` (`BEGIN IMMEDIATE`): a transaction that reads first and writes later
/// would otherwise fail with "database is locked" whenever another connection
/// (the worker, say) wrote in between, and no busy timeout can save it. On
/// PostgreSQL it is an ordinary transaction.
pub async fn begin_write(
    db: &DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};

    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}
