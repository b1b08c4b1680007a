//! Queries of the authorization server. Every function takes the tenant first and filters by it.

use super::{EndUser, EndUserId, UpstreamIdentity};
use crate::entity::{end_user, oauth_client, oauth_code, oauth_grant, oauth_pending, oauth_token};
use crate::tenant::TenantId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, SqlErr,
};
use std::collections::HashMap;
use uuid::Uuid;

/// A registered client.
#[derive(Clone, Debug)]
pub struct ClientRecord {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub auth_method: String,
    pub secret_hash: Option<String>,
    pub kind: String,
    pub fingerprint: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Revoked by the operator: never used again.
    pub revoked: bool,
}

/// The tenant's client of this id (revoked or not).
fn client_of(tenant: TenantId, client_id: &str) -> Condition {
    Condition::all()
        .add(oauth_client::Column::TenantId.eq(tenant.0))
        .add(oauth_client::Column::ClientId.eq(client_id))
}

fn client_from_row(row: oauth_client::Model) -> (ClientRecord, Option<DateTime<Utc>>) {
    (
        ClientRecord {
            client_id: row.client_id,
            client_name: row.client_name,
            redirect_uris: serde_json::from_str(&row.redirect_uris).unwrap_or_default(),
            auth_method: row.auth_method,
            secret_hash: row.secret_hash,
            kind: row.kind,
            fingerprint: row.fingerprint,
            created_at: row.created_at,
            revoked: row.revoked_at.is_some(),
        },
        row.last_used_at,
    )
}

/// The client, and when it last completed a sign-in.
pub async fn find_client(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    client_id: &str,
) -> Result<Option<(ClientRecord, Option<DateTime<Utc>>)>, DbErr> {
    Ok(oauth_client::Entity::find()
        .filter(client_of(tenant, client_id))
        .one(db)
        .await?
        .map(client_from_row))
}

pub async fn find_client_by_fingerprint(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    fingerprint: &str,
) -> Result<Option<ClientRecord>, DbErr> {
    Ok(oauth_client::Entity::find()
        .filter(oauth_client::Column::TenantId.eq(tenant.0))
        .filter(oauth_client::Column::Fingerprint.eq(fingerprint))
        // A revoked client is not handed out again: the same metadata registers anew.
        .filter(oauth_client::Column::RevokedAt.is_null())
        .one(db)
        .await?
        .map(|row| client_from_row(row).0))
}

pub async fn insert_client(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    client: &ClientRecord,
) -> Result<(), DbErr> {
    oauth_client::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant.0),
        client_id: Set(client.client_id.clone()),
        client_name: Set(client.client_name.clone()),
        redirect_uris: Set(
            serde_json::to_string(&client.redirect_uris).unwrap_or_else(|_| "[]".into())
        ),
        auth_method: Set(client.auth_method.clone()),
        secret_hash: Set(client.secret_hash.clone()),
        kind: Set(client.kind.clone()),
        fingerprint: Set(client.fingerprint.clone()),
        created_at: Set(client.created_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Stores a (re)fetched client metadata document as the client of that id. A revoked client
/// of that id stays as it is (the insert then fails as a duplicate, and is ignored).
pub async fn replace_client(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    client: &ClientRecord,
) -> Result<(), DbErr> {
    oauth_client::Entity::delete_many()
        .filter(client_of(tenant, &client.client_id))
        .filter(oauth_client::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    match insert_client(db, tenant, client).await {
        // Another request stored the same document at the same moment.
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Ok(()),
        other => other,
    }
}

/// Forgets dynamically registered clients that never completed a sign-in.
pub async fn delete_unused_clients(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    registered_before: DateTime<Utc>,
) -> Result<(), DbErr> {
    oauth_client::Entity::delete_many()
        .filter(oauth_client::Column::TenantId.eq(tenant.0))
        .filter(oauth_client::Column::Kind.eq("dynamic"))
        .filter(oauth_client::Column::LastUsedAt.is_null())
        .filter(oauth_client::Column::CreatedAt.lt(registered_before))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn touch_client(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    mark_client_used(db, tenant, client_id, now, false).await?;
    Ok(())
}

/// Marks the client used now, if it is not revoked; false when it is (or is unknown). Run in
/// the transaction that issues tokens, before the grant is written: the row lock it takes
/// orders it against [`revoke_client`], so a grant is either seen and revoked by a concurrent
/// revocation or refused here.
pub async fn claim_live_client(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    Ok(mark_client_used(db, tenant, client_id, now, true).await? == 1)
}

/// Stamps the client's last use (only if it is not revoked, with `live_only`); the rows changed.
async fn mark_client_used(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    client_id: &str,
    now: DateTime<Utc>,
    live_only: bool,
) -> Result<u64, DbErr> {
    let mut which = client_of(tenant, client_id);
    if live_only {
        which = which.add(oauth_client::Column::RevokedAt.is_null());
    }
    let result = oauth_client::Entity::update_many()
        .col_expr(oauth_client::Column::LastUsedAt, Expr::value(now))
        .filter(which)
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// The tenant's clients that are not revoked, oldest first, each with when it last completed a
/// sign-in.
pub async fn list_clients(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> Result<Vec<(ClientRecord, Option<DateTime<Utc>>)>, DbErr> {
    Ok(oauth_client::Entity::find()
        .filter(oauth_client::Column::TenantId.eq(tenant.0))
        .filter(oauth_client::Column::RevokedAt.is_null())
        .order_by_asc(oauth_client::Column::CreatedAt)
        .order_by_asc(oauth_client::Column::ClientId)
        .all(db)
        .await?
        .into_iter()
        .map(client_from_row)
        .collect())
}

/// Per client id: how many users hold a grant that is not revoked.
pub async fn count_users_with_live_grants(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> Result<HashMap<String, u64>, DbErr> {
    let rows: Vec<(String, i64)> = oauth_grant::Entity::find()
        .select_only()
        .column(oauth_grant::Column::ClientId)
        .column_as(
            Expr::col(oauth_grant::Column::EndUserId).count_distinct(),
            "users",
        )
        .filter(oauth_grant::Column::TenantId.eq(tenant.0))
        .filter(oauth_grant::Column::RevokedAt.is_null())
        .group_by(oauth_grant::Column::ClientId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(client, users)| (client, u64::try_from(users).unwrap_or_default()))
        .collect())
}

/// Revokes a client that is not revoked yet, with every grant and token issued to it; false
/// when the tenant has no such live client (nothing changed). Run it in a transaction.
pub async fn revoke_client(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let revoked = oauth_client::Entity::update_many()
        .col_expr(oauth_client::Column::RevokedAt, Expr::value(now))
        .filter(client_of(tenant, client_id))
        .filter(oauth_client::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if revoked.rows_affected != 1 {
        return Ok(false);
    }
    revoke_grants(db, tenant, oauth_grant::Column::ClientId.eq(client_id), now).await?;
    let grants_of_client = Query::select()
        .column(oauth_grant::Column::Id)
        .from(oauth_grant::Entity)
        .and_where(oauth_grant::Column::TenantId.eq(tenant.0))
        .and_where(oauth_grant::Column::ClientId.eq(client_id))
        .to_owned();
    revoke_tokens(
        db,
        tenant,
        Condition::all()
            .add(oauth_token::Column::RevokedAt.is_null())
            .add(oauth_token::Column::GrantId.in_subquery(grants_of_client)),
        now,
    )
    .await?;
    Ok(true)
}

/// Stamps `revoked_at` on the tenant's grants that match `which` and are not revoked yet.
async fn revoke_grants(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    which: impl sea_orm::sea_query::IntoCondition,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    oauth_grant::Entity::update_many()
        .col_expr(oauth_grant::Column::RevokedAt, Expr::value(now))
        .filter(oauth_grant::Column::TenantId.eq(tenant.0))
        .filter(which)
        .filter(oauth_grant::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Stamps `revoked_at` on the tenant's tokens that match `which`.
async fn revoke_tokens(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    which: impl sea_orm::sea_query::IntoCondition,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    oauth_token::Entity::update_many()
        .col_expr(oauth_token::Column::RevokedAt, Expr::value(now))
        .filter(oauth_token::Column::TenantId.eq(tenant.0))
        .filter(which)
        .exec(db)
        .await?;
    Ok(())
}

/// The tenant's grant of this id, if any (and with `live_only`, if not revoked).
async fn find_grant(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: Uuid,
    live_only: bool,
) -> Result<Option<oauth_grant::Model>, DbErr> {
    let mut find =
        oauth_grant::Entity::find_by_id(id).filter(oauth_grant::Column::TenantId.eq(tenant.0));
    if live_only {
        find = find.filter(oauth_grant::Column::RevokedAt.is_null());
    }
    find.one(db).await
}

/// The tenant's token with this hash, if any (and with `kind`, if of that kind).
async fn find_token(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    hash: &str,
    kind: Option<&str>,
) -> Result<Option<oauth_token::Model>, DbErr> {
    let mut find = oauth_token::Entity::find_by_id(hash.to_owned())
        .filter(oauth_token::Column::TenantId.eq(tenant.0));
    if let Some(kind) = kind {
        find = find.filter(oauth_token::Column::Kind.eq(kind));
    }
    find.one(db).await
}

/// A new pending authorization.
pub struct PendingRecord {
    pub id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: String,
    pub resource: String,
    pub scope: String,
    pub csrf_hash: String,
    /// SHA-256 of the browser-binding cookie set with the consent page.
    pub binding_hash: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

pub type PendingRow = oauth_pending::Model;

/// The tenant's pending request of this id, while in `status`.
fn pending_in(tenant: TenantId, id: &str, status: &str) -> Condition {
    Condition::all()
        .add(oauth_pending::Column::TenantId.eq(tenant.0))
        .add(oauth_pending::Column::Id.eq(id))
        .add(oauth_pending::Column::Status.eq(status))
}

pub async fn insert_pending(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    pending: &PendingRecord,
) -> Result<(), DbErr> {
    oauth_pending::ActiveModel {
        id: Set(pending.id.clone()),
        tenant_id: Set(tenant.0),
        client_id: Set(pending.client_id.clone()),
        redirect_uri: Set(pending.redirect_uri.clone()),
        state: Set(pending.state.clone()),
        code_challenge: Set(pending.code_challenge.clone()),
        resource: Set(pending.resource.clone()),
        scope: Set(pending.scope.clone()),
        csrf_hash: Set(pending.csrf_hash.clone()),
        binding_hash: Set(Some(pending.binding_hash.clone())),
        upstream_state_hash: Set(None),
        upstream_verifier: Set(None),
        status: Set("pending".into()),
        expires_at: Set(pending.expires_at),
        created_at: Set(pending.created_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn find_pending(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: &str,
) -> Result<Option<PendingRow>, DbErr> {
    oauth_pending::Entity::find_by_id(id.to_owned())
        .filter(oauth_pending::Column::TenantId.eq(tenant.0))
        .one(db)
        .await
}

pub async fn find_pending_by_upstream_state(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    state_hash: &str,
) -> Result<Option<PendingRow>, DbErr> {
    oauth_pending::Entity::find()
        .filter(oauth_pending::Column::TenantId.eq(tenant.0))
        .filter(oauth_pending::Column::UpstreamStateHash.eq(state_hash))
        .one(db)
        .await
}

/// Moves a pending request from `from` to `to`; false when it was not in `from` (someone else
/// moved it first).
pub async fn transition_pending(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: &str,
    from: &str,
    to: &str,
) -> Result<bool, DbErr> {
    let result = oauth_pending::Entity::update_many()
        .col_expr(oauth_pending::Column::Status, Expr::value(to))
        .filter(pending_in(tenant, id, from))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Records the approval and the upstream hop, once.
pub async fn approve_pending(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: &str,
    binding_hash: &str,
    upstream_state_hash: Option<&str>,
    upstream_verifier: Option<&str>,
) -> Result<bool, DbErr> {
    let result = oauth_pending::Entity::update_many()
        .col_expr(oauth_pending::Column::Status, Expr::value("approved"))
        .col_expr(
            oauth_pending::Column::BindingHash,
            Expr::value(binding_hash),
        )
        .col_expr(
            oauth_pending::Column::UpstreamStateHash,
            Expr::value(upstream_state_hash.map(str::to_owned)),
        )
        .col_expr(
            oauth_pending::Column::UpstreamVerifier,
            Expr::value(upstream_verifier.map(str::to_owned)),
        )
        .filter(pending_in(tenant, id, "pending"))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

fn user_from_row(row: end_user::Model) -> EndUser {
    EndUser {
        id: EndUserId(row.id),
        tenant_id: TenantId(row.tenant_id),
        provider: row.provider,
        subject: row.subject,
        login: row.login,
        display_name: row.display_name,
        email: row.email,
    }
}

/// Finds the user by (tenant, provider, subject) and refreshes their login, name and email, or
/// creates them.
pub async fn upsert_end_user(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    provider: &str,
    identity: &UpstreamIdentity,
    now: DateTime<Utc>,
) -> Result<EndUser, DbErr> {
    let find = || {
        end_user::Entity::find()
            .filter(end_user::Column::TenantId.eq(tenant.0))
            .filter(end_user::Column::Provider.eq(provider))
            .filter(end_user::Column::Subject.eq(identity.subject.as_str()))
    };
    if let Some(existing) = find().one(db).await? {
        let mut active: end_user::ActiveModel = existing.into();
        active.login = Set(identity.login.clone());
        active.display_name = Set(identity.name.clone());
        active.email = Set(identity.email.clone());
        active.updated_at = Set(now);
        return Ok(user_from_row(active.update(db).await?));
    }
    let inserted = end_user::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant.0),
        provider: Set(provider.to_owned()),
        subject: Set(identity.subject.clone()),
        login: Set(identity.login.clone()),
        display_name: Set(identity.name.clone()),
        email: Set(identity.email.clone()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await;
    match inserted {
        Ok(row) => Ok(user_from_row(row)),
        // The same person signed in twice at once: the other insert won.
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            find().one(db).await?.map(user_from_row).ok_or(e)
        }
        Err(e) => Err(e),
    }
}

/// The end users of a tenant, oldest first.
pub async fn list_end_users(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> Result<Vec<EndUser>, DbErr> {
    Ok(end_user::Entity::find()
        .filter(end_user::Column::TenantId.eq(tenant.0))
        .order_by_asc(end_user::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(user_from_row)
        .collect())
}

/// The end user with this id in this tenant.
pub async fn find_end_user(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<EndUser>, DbErr> {
    Ok(end_user::Entity::find_by_id(id)
        .filter(end_user::Column::TenantId.eq(tenant.0))
        .one(db)
        .await?
        .map(user_from_row))
}

/// The tenant's code with this hash.
fn code_of(tenant: TenantId, code_hash: &str) -> Condition {
    Condition::all()
        .add(oauth_code::Column::TenantId.eq(tenant.0))
        .add(oauth_code::Column::CodeHash.eq(code_hash))
}

/// A new authorization code.
pub struct CodeRecord {
    pub code_hash: String,
    pub client_id: String,
    pub end_user_id: Uuid,
    pub redirect_uri: String,
    pub resource: String,
    pub scope: String,
    pub code_challenge: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_code(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    code: &CodeRecord,
) -> Result<(), DbErr> {
    oauth_code::ActiveModel {
        code_hash: Set(code.code_hash.clone()),
        tenant_id: Set(tenant.0),
        client_id: Set(code.client_id.clone()),
        end_user_id: Set(code.end_user_id),
        redirect_uri: Set(code.redirect_uri.clone()),
        resource: Set(code.resource.clone()),
        scope: Set(code.scope.clone()),
        code_challenge: Set(code.code_challenge.clone()),
        expires_at: Set(code.expires_at),
        used_at: Set(None),
        grant_id: Set(None),
        created_at: Set(code.created_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Marks the code used, atomically: of concurrent callers exactly one gets the code back.
pub async fn consume_code(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    code_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<oauth_code::Model>, DbErr> {
    let result = oauth_code::Entity::update_many()
        .col_expr(oauth_code::Column::UsedAt, Expr::value(now))
        .filter(code_of(tenant, code_hash))
        .filter(oauth_code::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    if result.rows_affected != 1 {
        return Ok(None);
    }
    oauth_code::Entity::find_by_id(code_hash.to_owned())
        .filter(oauth_code::Column::TenantId.eq(tenant.0))
        .one(db)
        .await
}

/// The grant a used code was exchanged for.
pub async fn find_used_code_grant(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    code_hash: &str,
) -> Result<Option<Uuid>, DbErr> {
    Ok(oauth_code::Entity::find_by_id(code_hash.to_owned())
        .filter(oauth_code::Column::TenantId.eq(tenant.0))
        .filter(oauth_code::Column::UsedAt.is_not_null())
        .one(db)
        .await?
        .and_then(|c| c.grant_id))
}

pub async fn set_code_grant(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    code_hash: &str,
    grant: Uuid,
) -> Result<(), DbErr> {
    oauth_code::Entity::update_many()
        .col_expr(oauth_code::Column::GrantId, Expr::value(grant))
        .filter(code_of(tenant, code_hash))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn insert_grant(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    client_id: &str,
    end_user: Uuid,
    resource: &str,
    scope: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, DbErr> {
    let id = Uuid::new_v4();
    oauth_grant::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant.0),
        client_id: Set(client_id.to_owned()),
        end_user_id: Set(end_user),
        resource: Set(resource.to_owned()),
        scope: Set(scope.to_owned()),
        created_at: Set(now),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(id)
}

/// Revokes a grant and every token of its family.
pub async fn revoke_grant(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    grant: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    revoke_grants(db, tenant, oauth_grant::Column::Id.eq(grant), now).await?;
    revoke_tokens(
        db,
        tenant,
        Condition::all()
            .add(oauth_token::Column::GrantId.eq(grant))
            .add(oauth_token::Column::RevokedAt.is_null()),
        now,
    )
    .await
}

pub async fn insert_token(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    grant: Uuid,
    kind: &str,
    hash: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    oauth_token::ActiveModel {
        token_hash: Set(hash.to_owned()),
        tenant_id: Set(tenant.0),
        grant_id: Set(grant),
        kind: Set(kind.to_owned()),
        expires_at: Set(expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// What presenting a refresh token did.
pub enum Rotation {
    /// It was live; it is now used, and this is its grant.
    Rotated(oauth_grant::Model),
    /// It had been used before, but within the grace window (a client's parallel refreshes):
    /// this is its live grant.
    ReusedInGrace(oauth_grant::Model),
    /// It had been used before: reuse. This is its grant id.
    Reused(Uuid),
    /// Unknown, expired or revoked.
    Invalid,
}

/// Marks a live refresh token used. A token used before, at or after `grace_since`, counts as
/// a parallel refresh rather than a replay.
pub async fn rotate_refresh(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    hash: &str,
    now: DateTime<Utc>,
    grace_since: DateTime<Utc>,
) -> Result<Rotation, DbErr> {
    let result = oauth_token::Entity::update_many()
        .col_expr(oauth_token::Column::UsedAt, Expr::value(now))
        .filter(oauth_token::Column::TenantId.eq(tenant.0))
        .filter(oauth_token::Column::TokenHash.eq(hash))
        .filter(oauth_token::Column::Kind.eq("refresh"))
        .filter(oauth_token::Column::UsedAt.is_null())
        .filter(oauth_token::Column::RevokedAt.is_null())
        .filter(oauth_token::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    let Some(token) = find_token(db, tenant, hash, Some("refresh")).await? else {
        return Ok(Rotation::Invalid);
    };
    if result.rows_affected != 1 {
        let Some(used_at) = token.used_at else {
            return Ok(Rotation::Invalid);
        };
        if used_at >= grace_since && token.revoked_at.is_none() && token.expires_at > now {
            let grant = find_grant(db, tenant, token.grant_id, true).await?;
            return Ok(grant.map_or(Rotation::Invalid, Rotation::ReusedInGrace));
        }
        return Ok(Rotation::Reused(token.grant_id));
    }
    let grant = find_grant(db, tenant, token.grant_id, true).await?;
    Ok(grant.map_or(Rotation::Invalid, Rotation::Rotated))
}

/// Revokes a token presented by its own client (RFC 7009); false when nothing was its to revoke.
pub async fn revoke_token(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    client_id: &str,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let Some(token) = find_token(db, tenant, hash, None).await? else {
        return Ok(false);
    };
    let Some(grant) = find_grant(db, tenant, token.grant_id, false).await? else {
        return Ok(false);
    };
    if grant.client_id != client_id {
        return Ok(false);
    }
    if token.kind == "refresh" {
        revoke_grant(db, tenant, grant.id, now).await?;
    } else {
        revoke_tokens(db, tenant, oauth_token::Column::TokenHash.eq(hash), now).await?;
    }
    Ok(true)
}

/// An access token with its grant and user.
pub async fn find_access(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    hash: &str,
) -> Result<Option<(oauth_token::Model, oauth_grant::Model, EndUser)>, DbErr> {
    let Some(token) = find_token(db, tenant, hash, Some("access")).await? else {
        return Ok(None);
    };
    let Some(grant) = find_grant(db, tenant, token.grant_id, false).await? else {
        return Ok(None);
    };
    let Some(user) = find_end_user(db, tenant, grant.end_user_id).await? else {
        return Ok(None);
    };
    Ok(Some((token, grant, user)))
}
