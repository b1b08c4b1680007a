//! A tenant's members and their roles, and invitations: sent, listed, revoked and accepted.

use super::{
    AccountError, AccountService, INVITATION_LIFETIME, InvitationInfo, MemberInfo, Operator,
    OperatorId, Role, check_email, check_name, check_password, store,
};
use crate::crypto::{self, SecretString};
use crate::tenant::TenantId;
use uuid::Uuid;

impl AccountService {
    /// The operator's role in a tenant, if they are a member.
    pub async fn role_in(
        &self,
        tenant: TenantId,
        operator: OperatorId,
    ) -> Result<Option<Role>, AccountError> {
        Ok(store::find_role(&self.db, tenant, operator).await?)
    }

    /// The tenants an operator belongs to, with their role.
    pub async fn memberships(
        &self,
        operator: OperatorId,
    ) -> Result<Vec<(TenantId, Role)>, AccountError> {
        Ok(store::list_memberships(&self.db, operator).await?)
    }

    /// Makes an operator a member (the creator of a tenant becomes its owner).
    pub async fn add_member(
        &self,
        tenant: TenantId,
        operator: OperatorId,
        role: Role,
    ) -> Result<(), AccountError> {
        store::upsert_membership(&self.db, tenant, operator, role, self.clock.now()).await?;
        Ok(())
    }

    /// A tenant's members.
    pub async fn list_members(&self, tenant: TenantId) -> Result<Vec<MemberInfo>, AccountError> {
        Ok(store::list_members(&self.db, tenant).await?)
    }

    /// Changes a member's role; the last owner stays an owner.
    pub async fn change_role(
        &self,
        tenant: TenantId,
        operator: OperatorId,
        role: Role,
    ) -> Result<MemberInfo, AccountError> {
        store::change_role(&self.db, tenant, operator, role, self.clock.now())
            .await?
            .map_err(AccountError::Conflict)
    }

    /// Removes a member; the last owner cannot be removed.
    pub async fn remove_member(
        &self,
        tenant: TenantId,
        operator: OperatorId,
    ) -> Result<(), AccountError> {
        store::remove_member(&self.db, tenant, operator)
            .await?
            .map_err(AccountError::Conflict)
    }

    /// Invites an e-mail address; the token (for the link) is returned only here.
    pub async fn invite(
        &self,
        tenant: TenantId,
        by: OperatorId,
        email: &str,
        role: Role,
    ) -> Result<(InvitationInfo, SecretString), AccountError> {
        let email = check_email(email)?;
        let token = crypto::random_token(crypto::prefix::INVITATION)?;
        let now = self.clock.now();
        let info = InvitationInfo {
            id: Uuid::new_v4(),
            email,
            role,
            created_at: now,
            expires_at: now + INVITATION_LIFETIME,
        };
        store::insert_invitation(
            &self.db,
            tenant,
            by,
            &info,
            &crypto::hash_token(token.expose()),
        )
        .await?;
        Ok((info, token))
    }

    /// A tenant's open invitations.
    pub async fn list_invitations(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<InvitationInfo>, AccountError> {
        Ok(store::list_open_invitations(&self.db, tenant, self.clock.now()).await?)
    }

    /// Withdraws an invitation.
    pub async fn revoke_invitation(&self, tenant: TenantId, id: Uuid) -> Result<(), AccountError> {
        if store::delete_invitation(&self.db, tenant, id).await? {
            Ok(())
        } else {
            Err(AccountError::NotFound)
        }
    }

    /// Accepts an invitation. A signed-in operator joins; otherwise an e-mail account is made
    /// for the invited address with `name` and `password`. Returns the operator, the tenant, and
    /// a new session token when an account was made.
    pub async fn accept_invitation(
        &self,
        token: &str,
        signed_in: Option<&Operator>,
        name: Option<&str>,
        password: Option<&str>,
    ) -> Result<(Operator, TenantId, Option<SecretString>), AccountError> {
        let now = self.clock.now();
        let hash = crypto::hash_token(token);
        let (tenant, email, role) = store::find_open_invitation(&self.db, &hash, now)
            .await?
            .ok_or_else(|| {
                AccountError::Conflict("this invitation is not valid any more".into())
            })?;
        let (operator, session) = match signed_in {
            // The invitation is for one e-mail address: a link forwarded to, or intercepted
            // by, someone else signed in under another address does not make them a member.
            Some(operator)
                if !operator
                    .email
                    .as_deref()
                    .is_some_and(|own| own.eq_ignore_ascii_case(&email)) =>
            {
                return Err(AccountError::Conflict(
                    "this invitation is for another e-mail address: sign in with the address it was sent to".into(),
                ));
            }
            Some(operator) => (operator.clone(), None),
            None => {
                let name = check_name(name.unwrap_or_default())?;
                let password = password.unwrap_or_default();
                check_password(password)?;
                if store::find_operator_by_email(&self.db, &email)
                    .await?
                    .is_some()
                {
                    return Err(AccountError::Conflict(
                        "an account with this e-mail exists: sign in, then open the link again"
                            .into(),
                    ));
                }
                let operator = store::insert_password_operator(
                    &self.db,
                    &email,
                    &name,
                    &self.hash_password(password)?,
                    now,
                )
                .await?;
                let session = self.open_session(operator.id).await?;
                (operator, Some(session))
            }
        };
        if !store::accept_invitation(&self.db, &hash, tenant, operator.id, role, now).await? {
            return Err(AccountError::Conflict(
                "this invitation is not valid any more".into(),
            ));
        }
        Ok((operator, tenant, session))
    }
}
