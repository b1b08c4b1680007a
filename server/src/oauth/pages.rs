//! The authorization server's HTML pages: consent, the local demo sign-in, and errors.

use super::{ConsentPrompt, Upstream};
use crate::html::{escape, layout};

/// The consent page: who asks, where the browser goes afterwards, and what is granted.
pub fn consent(prompt: &ConsentPrompt, action: &str) -> String {
    let loopback = if prompt.redirect_is_loopback {
        r#"<p class="warn">This application runs on your own computer (it returns to a local address). Approve only if you just started it yourself.</p>"#
    } else {
        ""
    };
    let next = match prompt.upstream {
        Upstream::GitHub => "After you approve, you will sign in with GitHub.",
        Upstream::Local => "After you approve, you will type a name on a demo sign-in page.",
    };
    let body = format!(
        r#"<h1>Allow {client} to use {tenant}?</h1>
<p><strong>{client}</strong> wants to call the tools of <strong>{tenant}</strong> on your behalf.</p>
<p>When you are done, your browser returns to <span class="host">{host}</span>.</p>
{loopback}
<p><small>It will be able to: list and call this service's tools as you (scope <code>mcp</code>). {next}</small></p>
<form method="post" action="{action}">
<input type="hidden" name="request" value="{request}">
<input type="hidden" name="csrf" value="{csrf}">
<div class="actions"><button class="primary" type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button></div>
</form>"#,
        client = escape(&prompt.client_name),
        tenant = escape(&prompt.tenant_name),
        host = escape(&prompt.redirect_host),
        action = escape(action),
        request = escape(&prompt.request_id),
        csrf = escape(prompt.csrf.expose()),
    );
    layout("Approve access", &body)
}

/// The local demo sign-in: clearly not a real identity check.
pub fn local_sign_in(action: &str, request_id: &str) -> String {
    let body = format!(
        r#"<h1>Demo sign-in</h1>
<p class="demo"><strong>Test mode.</strong> No GitHub app is configured, so this Tollgate offers a local sign-in for demonstrations: anyone can type any name. It is never offered when GitHub is configured or in production mode.</p>
<form method="post" action="{action}">
<input type="hidden" name="request" value="{request}">
<label for="name">Your name</label>
<input id="name" type="text" name="name" maxlength="60" required autofocus>
<div class="actions"><button class="primary" type="submit">Sign in</button></div>
</form>"#,
        action = escape(action),
        request = escape(request_id),
    );
    layout("Demo sign-in", &body)
}

/// An error shown in the browser (never redirected to an untrusted URI).
pub fn error(message: &str) -> String {
    layout(
        "Sign-in problem",
        &format!("<h1>Sign-in problem</h1><p>{}</p>", escape(message)),
    )
}
