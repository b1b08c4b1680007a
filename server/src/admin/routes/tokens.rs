//! An operator's personal API tokens.

use super::{Auth, Body, Result, parse_id};
use crate::app::AppState;
use api_types::wire;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// `GET /api/v1/tokens`
pub async fn list_tokens(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<wire::ApiToken>>> {
    let tokens = state.accounts.list_api_tokens(auth.operator_id()).await?;
    Ok(Json(
        tokens
            .iter()
            .map(|t| crate::admin::token_view(t, None))
            .collect(),
    ))
}

/// `POST /api/v1/tokens`
pub async fn create_token(
    State(state): State<AppState>,
    auth: Auth,
    Body(body): Body<wire::NewApiToken>,
) -> Result<(StatusCode, Json<wire::ApiToken>)> {
    let (info, secret) = state
        .accounts
        .create_api_token(auth.operator_id(), &body.name)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(crate::admin::token_view(
            &info,
            Some(secret.expose().to_owned()),
        )),
    ))
}

/// `DELETE /api/v1/tokens/{id}`
pub async fn delete_token(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    state
        .accounts
        .delete_api_token(auth.operator_id(), parse_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
