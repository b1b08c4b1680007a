//! The fake playing the payer's bank and the merchant's dashboard on a paid Checkout Session:
//! refunds (whole or partial) and disputes, with the Charge and Dispute objects in Stripe's
//! shapes, ready to be wrapped by [`FakeStripe::event`] (`charge.refunded`,
//! `charge.dispute.created`, `charge.dispute.closed`) and delivered signed.

use super::*;

impl FakeStripe {
    /// Refunds `amount` (the rest of the charge when `None`) of the payment a completed
    /// Checkout Session took; returns the charge as it now is, the object of
    /// `charge.refunded`: `amount_refunded` grows, and `refunded` is true only once all of it
    /// was refunded.
    pub fn refund(&self, session_id: &str, amount: Option<i64>) -> Value {
        let now = self.shared.now();
        let mut account = self.shared.account();
        let index = charge_index(&mut account, session_id, now);
        let charge = &mut account.charges[index];
        let total = charge["amount"].as_i64().unwrap_or_default();
        let before = charge["amount_refunded"].as_i64().unwrap_or_default();
        let refunded = (before + amount.unwrap_or(total - before)).min(total);
        charge["amount_refunded"] = json!(refunded);
        charge["refunded"] = json!(refunded == total);
        charge.clone()
    }

    /// Opens a dispute (a chargeback) on the payment a completed Checkout Session took;
    /// returns the Dispute, the object of `charge.dispute.created`.
    pub fn dispute(&self, session_id: &str) -> Value {
        let now = self.shared.now();
        let mut account = self.shared.account();
        let index = charge_index(&mut account, session_id, now);
        let charge = &mut account.charges[index];
        charge["disputed"] = json!(true);
        let dispute = json!({
            "id": format!("du_1{}", random_base62(23)),
            "object": "dispute",
            "amount": charge["amount"],
            "balance_transactions": [],
            "charge": charge["id"],
            "created": now,
            "currency": charge["currency"],
            "evidence_details": {
                "due_by": now + 7 * 86_400,
                "has_evidence": false,
                "past_due": false,
                "submission_count": 0,
            },
            "is_charge_refundable": false,
            "livemode": false,
            "metadata": {},
            "payment_intent": charge["payment_intent"],
            "reason": "fraudulent",
            "status": "needs_response",
        });
        account.disputes.push(dispute.clone());
        dispute
    }

    /// Closes a dispute as the bank decides (`won` or `lost`); returns it, the object of
    /// `charge.dispute.closed`.
    pub fn close_dispute(&self, dispute_id: &str, status: &str) -> Value {
        assert!(
            matches!(status, "won" | "lost"),
            "a closed dispute is won or lost"
        );
        let mut account = self.shared.account();
        let dispute = account
            .disputes
            .iter_mut()
            .find(|dispute| dispute["id"] == dispute_id)
            .unwrap_or_else(|| panic!("the fake Stripe has no dispute {dispute_id}"));
        dispute["status"] = json!(status);
        dispute.clone()
    }
}

/// `POST /v1/refunds`: refunds `amount` (the rest by default) of a one-time payment, named by
/// its `payment_intent`; the charge records it, and a charge refunded in full already is
/// refused, as Stripe does.
pub(super) fn create_refund(account: &mut Account, form: &Form<'_>, now: i64) -> Reply {
    if let Some(refusal) =
        form.reject_unknown(&["payment_intent", "amount", "reason", "metadata", "expand"])
    {
        return refusal;
    }
    let Some(payment_intent) = form.get("payment_intent").map(str::to_owned) else {
        return missing("payment_intent");
    };
    let amount = match form.integer("amount") {
        Ok(amount) => amount,
        Err(refusal) => return refusal,
    };
    let reason = form.get("reason").map(str::to_owned);
    if reason
        .as_deref()
        .is_some_and(|r| !matches!(r, "duplicate" | "fraudulent" | "requested_by_customer"))
    {
        return bad_param(
            "reason",
            "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
        );
    }
    let session = account
        .sessions
        .iter()
        .find(|s| s.object["payment_intent"] == payment_intent.as_str())
        .map(|s| (s.object["id"].clone(), s.object["payment_status"].clone()));
    let Some((Value::String(session_id), status)) = session else {
        return no_such(
            StatusCode::NOT_FOUND,
            "payment_intent",
            &payment_intent,
            "payment_intent",
        );
    };
    if status != "paid" {
        return bad_param(
            "payment_intent",
            "This PaymentIntent does not have a successful charge to refund.",
        );
    }
    let index = charge_index(account, &session_id, now);
    let charge = &mut account.charges[index];
    let total = charge["amount"].as_i64().unwrap_or_default();
    let before = charge["amount_refunded"].as_i64().unwrap_or_default();
    if before >= total {
        return invalid_request(
            StatusCode::BAD_REQUEST,
            Some("charge_already_refunded"),
            None,
            &format!(
                "Charge {} has already been refunded.",
                charge["id"].as_str().unwrap_or_default()
            ),
        );
    }
    let amount = amount.unwrap_or(total - before);
    if amount < 1 || before + amount > total {
        return bad_param(
            "amount",
            "Refund amount is greater than the unrefunded amount on the charge.",
        );
    }
    charge["amount_refunded"] = json!(before + amount);
    charge["refunded"] = json!(before + amount == total);
    let refund = json!({
        "id": format!("re_3{}", random_base62(23)),
        "object": "refund",
        "amount": amount,
        "charge": charge["id"],
        "created": now,
        "currency": charge["currency"],
        "metadata": form.map("metadata"),
        "payment_intent": payment_intent,
        "reason": reason,
        "status": "succeeded",
    });
    account.refunds.push(refund.clone());
    Reply::ok(&refund)
}

/// The charge of a completed session's payment, made on first use.
fn charge_index(account: &mut Account, session_id: &str, now: i64) -> usize {
    let session = &account
        .session(session_id)
        .unwrap_or_else(|| panic!("the fake Stripe has no Checkout Session {session_id}"))
        .object;
    assert_eq!(
        session["payment_status"], "paid",
        "only a paid session has a charge"
    );
    // A subscription's first payment is its first invoice's; the fake keeps no invoice
    // objects, so the charge names the session's payment intent or none.
    let payment_intent = session["payment_intent"].clone();
    if let Some(index) = account
        .charges
        .iter()
        .position(|charge| charge["metadata"]["checkout_session"] == session_id)
    {
        return index;
    }
    let charge = json!({
        "id": format!("ch_3{}", random_base62(23)),
        "object": "charge",
        "amount": session["amount_total"],
        "amount_captured": session["amount_total"],
        "amount_refunded": 0,
        "captured": true,
        "created": now,
        "currency": session["currency"],
        "customer": session["customer"],
        "disputed": false,
        "livemode": false,
        "metadata": {"checkout_session": session_id},
        "paid": true,
        "payment_intent": payment_intent,
        "refunded": false,
        "status": "succeeded",
    });
    account.charges.push(charge);
    account.charges.len() - 1
}
