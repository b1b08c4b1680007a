//! Queries of the master-key fingerprint row.

use crate::entity::master_key;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};

/// The fingerprint recorded in the database, if any.
pub async fn find_fingerprint(db: &impl ConnectionTrait) -> Result<Option<String>, DbErr> {
    Ok(master_key::Entity::find_by_id(1)
        .one(db)
        .await?
        .map(|row| row.fingerprint))
}

/// Records `fingerprint` unless one is recorded already (replicas starting together agree on
/// the first).
pub async fn insert_fingerprint_if_absent(
    db: &impl ConnectionTrait,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    write_fingerprint(db, fingerprint, now, false).await
}

/// Records `fingerprint`, replacing the one before (after a rotation).
pub async fn set_fingerprint(
    db: &impl ConnectionTrait,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    write_fingerprint(db, fingerprint, now, true).await
}

/// Writes the one fingerprint row; an existing row is replaced with `replace`, else kept.
async fn write_fingerprint(
    db: &impl ConnectionTrait,
    fingerprint: &str,
    now: DateTime<Utc>,
    replace: bool,
) -> Result<(), DbErr> {
    let mut on_conflict = OnConflict::column(master_key::Column::Id);
    if replace {
        on_conflict.update_columns([
            master_key::Column::Fingerprint,
            master_key::Column::UpdatedAt,
        ]);
    } else {
        on_conflict.do_nothing();
    }
    master_key::Entity::insert(master_key::ActiveModel {
        id: Set(1),
        fingerprint: Set(fingerprint.to_owned()),
        updated_at: Set(now),
    })
    .on_conflict(on_conflict)
    .exec_without_returning(db)
    .await?;
    Ok(())
}
