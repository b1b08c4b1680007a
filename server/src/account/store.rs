//! Queries for operators, sessions, API tokens, memberships, invitations and the audit log.
//! Membership, invitation and audit queries are scoped by the tenant id they are given.

use super::{ApiTokenInfo, AuditEntry, InvitationInfo, MemberInfo, Operator, OperatorId, Role};
use crate::entity::{
    api_token, audit_log, invitation, membership, operator, operator_session, setup_claim,
};
use crate::oauth::github::UpstreamIdentity;
use crate::tenant::TenantId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, SqlErr,
};
use uuid::Uuid;

fn operator_from_row(row: operator::Model) -> Operator {
    Operator {
        id: OperatorId(row.id),
        email: row.email,
        name: row.name,
        github_login: row.github_login,
    }
}

fn role_of(raw: &str) -> Role {
    Role::parse(raw).unwrap_or(Role::Viewer)
}

/// Whether the first operator was created.
pub(super) async fn setup_claimed(db: &impl ConnectionTrait) -> Result<bool, DbErr> {
    Ok(setup_claim::Entity::find().count(db).await? > 0)
}

/// Creates the first operator, owner of every existing tenant, in one transaction with the
/// setup claim; `None` when setup was already done (by another request, or earlier).
pub(super) async fn claim_setup(
    db: &DatabaseConnection,
    email: &str,
    name: &str,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<Operator>, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let operator = insert_password_operator(&txn, email, name, password_hash, now).await?;
    let claim = setup_claim::ActiveModel {
        id: Set(1),
        operator_id: Set(operator.id.0),
        created_at: Set(now),
    };
    match claim.insert(&txn).await {
        Ok(_) => {}
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            txn.rollback().await?;
            return Ok(None);
        }
        Err(e) => return Err(e),
    }
    let tenants: Vec<Uuid> = crate::entity::tenant::Entity::find()
        .select_only()
        .column(crate::entity::tenant::Column::Id)
        // A deleted tenant gets no new owner.
        .filter(crate::entity::tenant::Column::DeletedAt.is_null())
        .into_tuple()
        .all(&txn)
        .await?;
    for tenant in tenants {
        upsert_membership(&txn, TenantId(tenant), operator.id, Role::Owner, now).await?;
    }
    txn.commit().await?;
    Ok(Some(operator))
}

/// Inserts an operator who signs in with e-mail and password.
pub(super) async fn insert_password_operator(
    db: &impl ConnectionTrait,
    email: &str,
    name: &str,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<Operator, DbErr> {
    let row = operator::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(Some(email.to_owned())),
        name: Set(name.to_owned()),
        github_id: Set(None),
        github_login: Set(None),
        password_hash: Set(Some(password_hash.to_owned())),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(operator_from_row(row.insert(db).await?))
}

/// The operator with this e-mail, and their password hash.
pub(super) async fn find_operator_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<(Operator, Option<String>)>, DbErr> {
    Ok(operator::Entity::find()
        .filter(operator::Column::Email.eq(email))
        .one(db)
        .await?
        .map(|row| {
            let hash = row.password_hash.clone();
            (operator_from_row(row), hash)
        }))
}

/// Finds the operator with this GitHub id (refreshing login and name) or creates one.
pub(super) async fn upsert_github_operator(
    db: &impl ConnectionTrait,
    identity: &UpstreamIdentity,
    now: DateTime<Utc>,
) -> Result<Operator, DbErr> {
    if let Some(row) = operator::Entity::find()
        .filter(operator::Column::GithubId.eq(&identity.subject))
        .one(db)
        .await?
    {
        let mut active: operator::ActiveModel = row.into();
        active.github_login = Set(Some(identity.login.clone()));
        active.updated_at = Set(now);
        return Ok(operator_from_row(active.update(db).await?));
    }
    // An e-mail already taken by a password account is not claimed by a GitHub sign-in.
    let email = match &identity.email {
        Some(email) => {
            let email = email.to_ascii_lowercase();
            let taken = operator::Entity::find()
                .filter(operator::Column::Email.eq(&email))
                .count(db)
                .await?
                > 0;
            (!taken).then_some(email)
        }
        None => None,
    };
    let row = operator::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(email),
        name: Set(identity
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| identity.login.clone())),
        github_id: Set(Some(identity.subject.clone())),
        github_login: Set(Some(identity.login.clone())),
        password_hash: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(operator_from_row(row.insert(db).await?))
}

/// Stores a new session.
pub(super) async fn insert_session(
    db: &impl ConnectionTrait,
    operator: OperatorId,
    token_hash: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    operator_session::ActiveModel {
        id: Set(Uuid::new_v4()),
        token_hash: Set(token_hash.to_owned()),
        operator_id: Set(operator.0),
        expires_at: Set(expires_at),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The operator of a live session.
pub(super) async fn find_session_operator(
    db: &impl ConnectionTrait,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<Operator>, DbErr> {
    let Some(session) = operator_session::Entity::find()
        .filter(operator_session::Column::TokenHash.eq(token_hash))
        .filter(operator_session::Column::ExpiresAt.gt(now))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(operator::Entity::find_by_id(session.operator_id)
        .one(db)
        .await?
        .map(operator_from_row))
}

/// Ends a session.
pub(super) async fn delete_session(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<(), DbErr> {
    operator_session::Entity::delete_many()
        .filter(operator_session::Column::TokenHash.eq(token_hash))
        .exec(db)
        .await?;
    Ok(())
}

/// Stores a personal API token.
pub(super) async fn insert_api_token(
    db: &impl ConnectionTrait,
    operator: OperatorId,
    info: &ApiTokenInfo,
    token_hash: &str,
) -> Result<(), DbErr> {
    api_token::ActiveModel {
        id: Set(info.id),
        operator_id: Set(operator.0),
        name: Set(info.name.clone()),
        prefix: Set(info.prefix.clone()),
        token_hash: Set(token_hash.to_owned()),
        created_at: Set(info.created_at),
        last_used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The operator behind an API token and the token's name; notes the use.
pub(super) async fn use_api_token(
    db: &impl ConnectionTrait,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(Operator, String)>, DbErr> {
    let Some(token) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(token_hash))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    // Recorded at most once a minute, so scripts do not write on every request.
    if token
        .last_used_at
        .is_none_or(|t| now - t > chrono::Duration::minutes(1))
    {
        api_token::Entity::update_many()
            .col_expr(api_token::Column::LastUsedAt, Expr::value(now))
            .filter(api_token::Column::Id.eq(token.id))
            .exec(db)
            .await?;
    }
    Ok(operator::Entity::find_by_id(token.operator_id)
        .one(db)
        .await?
        .map(|row| (operator_from_row(row), token.name)))
}

/// An operator's API tokens, newest first.
pub(super) async fn list_api_tokens(
    db: &impl ConnectionTrait,
    operator: OperatorId,
) -> Result<Vec<ApiTokenInfo>, DbErr> {
    Ok(api_token::Entity::find()
        .filter(api_token::Column::OperatorId.eq(operator.0))
        .order_by_desc(api_token::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|row| ApiTokenInfo {
            id: row.id,
            name: row.name,
            prefix: row.prefix,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        })
        .collect())
}

/// Deletes one of an operator's tokens; whether it existed.
pub(super) async fn delete_api_token(
    db: &impl ConnectionTrait,
    operator: OperatorId,
    id: Uuid,
) -> Result<bool, DbErr> {
    let result = api_token::Entity::delete_many()
        .filter(api_token::Column::Id.eq(id))
        .filter(api_token::Column::OperatorId.eq(operator.0))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// An operator's role in a tenant.
pub(super) async fn find_role(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    operator: OperatorId,
) -> Result<Option<Role>, DbErr> {
    Ok(membership::Entity::find()
        .filter(membership::Column::TenantId.eq(tenant.0))
        .filter(membership::Column::OperatorId.eq(operator.0))
        .one(db)
        .await?
        .map(|m| role_of(&m.role)))
}

/// The tenants an operator belongs to.
pub(super) async fn list_memberships(
    db: &impl ConnectionTrait,
    operator: OperatorId,
) -> Result<Vec<(TenantId, Role)>, DbErr> {
    Ok(membership::Entity::find()
        .filter(membership::Column::OperatorId.eq(operator.0))
        .order_by_asc(membership::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|m| (TenantId(m.tenant_id), role_of(&m.role)))
        .collect())
}

/// Adds a member, or sets their role if they are one.
pub(super) async fn upsert_membership(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    operator: OperatorId,
    role: Role,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let existing = membership::Entity::find()
        .filter(membership::Column::TenantId.eq(tenant.0))
        .filter(membership::Column::OperatorId.eq(operator.0))
        .one(db)
        .await?;
    match existing {
        Some(row) => {
            let mut active: membership::ActiveModel = row.into();
            active.role = Set(role.as_str().to_owned());
            active.update(db).await?;
        }
        None => {
            membership::ActiveModel {
                id: Set(Uuid::new_v4()),
                tenant_id: Set(tenant.0),
                operator_id: Set(operator.0),
                role: Set(role.as_str().to_owned()),
                created_at: Set(now),
            }
            .insert(db)
            .await?;
        }
    }
    Ok(())
}

/// A tenant's members, owners first.
pub(super) async fn list_members(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> Result<Vec<MemberInfo>, DbErr> {
    let rows = membership::Entity::find()
        .filter(membership::Column::TenantId.eq(tenant.0))
        .order_by_asc(membership::Column::CreatedAt)
        .all(db)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|m| m.operator_id).collect();
    let operators = operator::Entity::find()
        .filter(operator::Column::Id.is_in(ids))
        .all(db)
        .await?;
    let mut members: Vec<MemberInfo> = rows
        .into_iter()
        .filter_map(|m| {
            let op = operators.iter().find(|o| o.id == m.operator_id)?.clone();
            Some(MemberInfo {
                operator: operator_from_row(op),
                role: role_of(&m.role),
            })
        })
        .collect();
    members.sort_by_key(|m| std::cmp::Reverse(m.role));
    Ok(members)
}

async fn owners(db: &impl ConnectionTrait, tenant: TenantId) -> Result<u64, DbErr> {
    membership::Entity::find()
        .filter(membership::Column::TenantId.eq(tenant.0))
        .filter(membership::Column::Role.eq(Role::Owner.as_str()))
        .count(db)
        .await
}

/// Changes a member's role in one transaction; `Err(reason)` when it would leave no owner,
/// `Ok(Err(..))`… flattened: the outer error is the database, the inner the refusal.
pub(super) async fn change_role(
    db: &DatabaseConnection,
    tenant: TenantId,
    operator: OperatorId,
    role: Role,
    now: DateTime<Utc>,
) -> Result<Result<MemberInfo, String>, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let Some(current) = find_role(&txn, tenant, operator).await? else {
        return Ok(Err("not found".into()));
    };
    if current == Role::Owner && role != Role::Owner && owners(&txn, tenant).await? <= 1 {
        return Ok(Err("a tenant needs at least one owner".into()));
    }
    upsert_membership(&txn, tenant, operator, role, now).await?;
    let member = list_members(&txn, tenant)
        .await?
        .into_iter()
        .find(|m| m.operator.id == operator);
    txn.commit().await?;
    Ok(member.ok_or_else(|| "not found".to_owned()))
}

/// Removes a member in one transaction, unless they are the last owner.
pub(super) async fn remove_member(
    db: &DatabaseConnection,
    tenant: TenantId,
    operator: OperatorId,
) -> Result<Result<(), String>, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let Some(current) = find_role(&txn, tenant, operator).await? else {
        return Ok(Err("not found".into()));
    };
    if current == Role::Owner && owners(&txn, tenant).await? <= 1 {
        return Ok(Err("a tenant needs at least one owner".into()));
    }
    membership::Entity::delete_many()
        .filter(membership::Column::TenantId.eq(tenant.0))
        .filter(membership::Column::OperatorId.eq(operator.0))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(Ok(()))
}

/// Stores an invitation.
pub(super) async fn insert_invitation(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    by: OperatorId,
    info: &InvitationInfo,
    token_hash: &str,
) -> Result<(), DbErr> {
    invitation::ActiveModel {
        id: Set(info.id),
        tenant_id: Set(tenant.0),
        email: Set(info.email.clone()),
        role: Set(info.role.as_str().to_owned()),
        token_hash: Set(token_hash.to_owned()),
        invited_by: Set(by.0),
        expires_at: Set(info.expires_at),
        accepted_at: Set(None),
        created_at: Set(info.created_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A tenant's invitations that are neither used nor expired.
pub(super) async fn list_open_invitations(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Result<Vec<InvitationInfo>, DbErr> {
    Ok(invitation::Entity::find()
        .filter(invitation::Column::TenantId.eq(tenant.0))
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::ExpiresAt.gt(now))
        .order_by_desc(invitation::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|row| InvitationInfo {
            id: row.id,
            email: row.email,
            role: role_of(&row.role),
            created_at: row.created_at,
            expires_at: row.expires_at,
        })
        .collect())
}

/// Deletes an invitation of this tenant; whether it existed.
pub(super) async fn delete_invitation(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: Uuid,
) -> Result<bool, DbErr> {
    let result = invitation::Entity::delete_many()
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::TenantId.eq(tenant.0))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// The tenant, address and role of an open invitation.
pub(super) async fn find_open_invitation(
    db: &impl ConnectionTrait,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(TenantId, String, Role)>, DbErr> {
    Ok(invitation::Entity::find()
        .filter(invitation::Column::TokenHash.eq(token_hash))
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::ExpiresAt.gt(now))
        .one(db)
        .await?
        .map(|row| (TenantId(row.tenant_id), row.email, role_of(&row.role))))
}

/// Marks an invitation used and adds the member, in one transaction. The conditional update
/// makes a second, concurrent acceptance of the same link change nothing.
pub(super) async fn accept_invitation(
    db: &DatabaseConnection,
    token_hash: &str,
    tenant: TenantId,
    operator: OperatorId,
    role: Role,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let used = invitation::Entity::update_many()
        .col_expr(invitation::Column::AcceptedAt, Expr::value(now))
        .filter(invitation::Column::TokenHash.eq(token_hash))
        .filter(invitation::Column::TenantId.eq(tenant.0))
        .filter(invitation::Column::AcceptedAt.is_null())
        .exec(&txn)
        .await?;
    if used.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    // Joining never lowers a role someone already has.
    let current = find_role(&txn, tenant, operator).await?;
    if current.is_none_or(|r| r < role) {
        upsert_membership(&txn, tenant, operator, role, now).await?;
    }
    txn.commit().await?;
    Ok(true)
}

/// Appends to the audit log.
#[expect(clippy::too_many_arguments, reason = "one column each")]
pub(super) async fn insert_audit(
    db: &impl ConnectionTrait,
    tenant: Option<TenantId>,
    operator: OperatorId,
    actor: &str,
    action: &str,
    target: &str,
    detail: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    audit_log::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant.map(|t| t.0)),
        operator_id: Set(Some(operator.0)),
        actor: Set(actor.chars().take(300).collect()),
        action: Set(action.to_owned()),
        target: Set(target.chars().take(300).collect()),
        detail: Set(detail.to_string()),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A tenant's audit log, newest first.
pub(super) async fn list_audit(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    limit: u64,
) -> Result<Vec<AuditEntry>, DbErr> {
    Ok(audit_log::Entity::find()
        .filter(audit_log::Column::TenantId.eq(tenant.0))
        .order_by_desc(audit_log::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|row| AuditEntry {
            id: row.id,
            at: row.created_at,
            actor: row.actor,
            action: row.action,
            target: row.target,
            detail: serde_json::from_str(&row.detail).unwrap_or(serde_json::Value::Null),
        })
        .collect())
}
