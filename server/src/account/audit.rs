//! The audit log: entries written with the change they record, and read back for the dashboard.

use super::{AccountError, AccountService, AuditEntry, AuditNote, Principal, store};
use crate::tenant::TenantId;
use chrono::{DateTime, Utc};

impl AccountService {
    /// Writes an audit log entry.
    pub async fn audit(
        &self,
        tenant: Option<TenantId>,
        actor: &Principal,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<(), AccountError> {
        store::insert_audit(
            &self.db,
            tenant,
            actor.operator.id,
            &actor.actor(),
            action,
            target,
            &detail,
            self.clock.now(),
        )
        .await?;
        Ok(())
    }

    /// A tenant's audit log, newest first.
    pub async fn audit_log(
        &self,
        tenant: TenantId,
        limit: u64,
    ) -> Result<Vec<AuditEntry>, AccountError> {
        Ok(store::list_audit(&self.db, tenant, limit).await?)
    }
}

/// Writes `note` about `target` on `db`, which is the caller's transaction.
pub async fn write_audit(
    db: &impl sea_orm::ConnectionTrait,
    tenant: Option<TenantId>,
    note: &AuditNote,
    target: &str,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    store::insert_audit(
        db,
        tenant,
        note.operator,
        &note.actor,
        note.action,
        target,
        &note.detail,
        now,
    )
    .await
}
