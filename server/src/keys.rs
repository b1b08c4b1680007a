//! The master key across a cluster: the check every replica makes at start (is my key the one
//! this database's secrets are sealed under?), and `tollgate keys rotate`, which re-seals every
//! stored secret under a new key while the previous key still opens the old values.

mod store;

use crate::crypto::{CryptoError, MasterKey};
use crate::tenant::{TenantError, TenantService, TenantSettings};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

/// Why the key cannot be used with this database.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The configured key is not the one the secrets are sealed under.
    #[error(
        "TOLLGATE_MASTER_KEY does not open the secrets already sealed in this database (the \
         database expects key {expected}, this key is {found}). Give every replica the same \
         key this database was sealed with. To change keys: set TOLLGATE_MASTER_KEY to the new \
         key and TOLLGATE_MASTER_KEY_PREVIOUS to the old one, run `tollgate keys rotate`, then \
         drop TOLLGATE_MASTER_KEY_PREVIOUS."
    )]
    Mismatch {
        /// The fingerprint in the database.
        expected: String,
        /// The configured key's fingerprint.
        found: String,
    },
    /// A stored secret did not open with the configured keys.
    #[error(
        "tenant {tenant}: a sealed secret does not open with TOLLGATE_MASTER_KEY or TOLLGATE_MASTER_KEY_PREVIOUS"
    )]
    Unopenable {
        /// The tenant's slug.
        tenant: String,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// Tenants could not be read or written.
    #[error("{0}")]
    Tenant(#[from] TenantError),
    /// Sealing failed.
    #[error("{0}")]
    Crypto(#[from] CryptoError),
}

/// Checks the configured key against the fingerprint in the database, recording it on a fresh
/// database. During a rotation (the previous key configured and still recorded) it passes: the
/// keyring opens both generations.
pub async fn check_master_key(
    db: &DatabaseConnection,
    key: &MasterKey,
    now: DateTime<Utc>,
) -> Result<(), KeyError> {
    store::insert_fingerprint_if_absent(db, key.id(), now).await?;
    let expected = store::find_fingerprint(db).await?.unwrap_or_default();
    if expected == key.id() {
        return Ok(());
    }
    if key.previous_id() == Some(expected.as_str()) {
        tracing::warn!(
            key.current = key.id(),
            key.previous = %expected,
            "master key rotation in progress: run `tollgate keys rotate`"
        );
        return Ok(());
    }
    Err(KeyError::Mismatch {
        expected,
        found: key.id().to_owned(),
    })
}

/// What a rotation did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Tenants whose settings held sealed secrets.
    pub tenants: usize,
    /// Secrets re-sealed under the new key.
    pub resealed: usize,
}

/// Re-seals every stored secret (each tenant's Stripe key, webhook secrets and GitHub app
/// secret) under the current key, then records the current key's fingerprint. Safe to run
/// again after an interruption: values already under the current key are left alone, and until
/// the end the previous key still opens the rest. Short-lived sealed values (sign-ins in flight,
/// under 10 minutes) are not rewritten: keep the previous key configured that long.
pub async fn rotate(
    db: &DatabaseConnection,
    tenants: &TenantService,
    key: &MasterKey,
    now: DateTime<Utc>,
) -> Result<Rotation, KeyError> {
    let mut report = Rotation::default();
    for id in tenants.list_tenant_ids().await? {
        let tenant = tenants.get_tenant_by_id(id).await?;
        let unopenable = || KeyError::Unopenable {
            tenant: tenant.slug.to_string(),
        };
        let mut settings: TenantSettings = tenant.settings.clone();
        let mut resealed = 0;
        let mut reseal = |sealed: &mut String, context: &str| -> Result<(), KeyError> {
            if key.is_current(sealed) {
                return Ok(());
            }
            let plain = key.open(sealed, context).map_err(|_| unopenable())?;
            *sealed = key.seal(plain.expose(), context)?;
            resealed += 1;
            Ok(())
        };
        if let Some(stripe) = settings.stripe.as_mut() {
            reseal(
                &mut stripe.secret_key_sealed,
                &crate::billing::stripe_key_context(id),
            )?;
            for secret in &mut stripe.webhook_secrets_sealed {
                reseal(secret, &crate::billing::webhook_secret_context(id))?;
            }
        }
        if let Some(github) = settings.github_app.as_mut() {
            reseal(
                &mut github.client_secret_sealed,
                &crate::oauth::github_secret_context(id),
            )?;
        }
        if settings.stripe.is_some() || settings.github_app.is_some() {
            report.tenants += 1;
        }
        if resealed > 0 {
            tenants.update_settings(id, &settings).await?;
            report.resealed += resealed;
        }
    }
    store::set_fingerprint(db, key.id(), now).await?;
    Ok(report)
}
