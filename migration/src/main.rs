//! The migration command line (`up`, `down`, `status`, `fresh`, …); reads `DATABASE_URL`.

#[tokio::main]
async fn main() {
    sea_orm_migration::cli::run_cli(migration::Migrator).await;
}
