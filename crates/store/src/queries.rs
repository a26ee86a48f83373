//! Named statements for the tables that are not entities (sessions, sign-in failures,
//! idempotency keys, the interface's inbound message log) and the few reads over entity tables
//! that the generic [`Tx::find_by`] cannot express (a status set, a time overlap, a name
//! prefix). Every SQL string of the workspace lives in this crate; callers above it name what
//! they want and get typed rows back.

use crate::value::{Kind, OrderStatus, Val};
use crate::{StoreError, Tx};

fn text(s: impl Into<String>) -> Val {
    Val::Text(Some(s.into()))
}

fn int(i: i64) -> Val {
    Val::Int(Some(i))
}

/// The text of column `i` of a row (`""` for NULL); decoding is by declared kind, so a
/// mismatch is a corrupt row.
fn col_text(row: &[Val], i: usize, column: &'static str) -> Result<String, StoreError> {
    match row.get(i) {
        Some(Val::Text(Some(s))) => Ok(s.clone()),
        _ => Err(StoreError::Corrupt {
            column,
            message: "expected text".into(),
        }),
    }
}

fn col_int(row: &[Val], i: usize, column: &'static str) -> Result<i64, StoreError> {
    match row.get(i) {
        Some(Val::Int(Some(n))) => Ok(*n),
        _ => Err(StoreError::Corrupt {
            column,
            message: "expected an integer".into(),
        }),
    }
}

/// Consecutive failed sign-ins of one user name (table `app_sign_in_failures`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInFailures {
    pub failures: i64,
    /// 0 when the name is not locked.
    pub locked_until_us: i64,
}

/// One signed-in session or API token (table `app_sessions`); only the SHA-256 of the token is
/// stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub token_hash: String,
    pub user_id: String,
    /// `cookie` or `bearer` (the schema's CHECK).
    pub kind: String,
    pub csrf_token: String,
    pub created_at_us: i64,
    pub last_seen_at_us: i64,
    pub expires_at_us: i64,
}

/// One idempotency key of a create (table `app_idempotency`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRow {
    pub entity_id: String,
    pub request_hash: String,
}

/// The four columns of an active order that the duplicate-therapy check compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveOrderSummary {
    pub id: String,
    pub drug_id: String,
    /// Decimal text as stored.
    pub dose: String,
    pub dose_unit: String,
    pub route: String,
}

/// One row of the interface's inbound message log (table `interface_inbound`, schema
/// migration 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundRecord {
    /// MSH-3 as sent (components joined by `^`), or `""` when the bytes were not a message.
    pub sender: String,
    /// MSH-10, or `sha256:<hash>` when the bytes were not a message.
    pub control_id: String,
    /// SHA-256 of the message text, hex.
    pub message_hash: String,
    /// e.g. `ORU^R01`.
    pub message_type: String,
    pub received_at_us: i64,
    /// AA | AE | AR
    pub ack_code: String,
    /// The acknowledgement sent, as text.
    pub ack_text: String,
    /// What was done, or why not, for people reading the log.
    pub outcome: String,
    pub message_text: String,
}

const INBOUND_KINDS: &[Kind] = &[
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Int,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Text,
];

fn inbound_from_row(r: &[Val]) -> Result<InboundRecord, StoreError> {
    Ok(InboundRecord {
        sender: col_text(r, 0, "sender")?,
        control_id: col_text(r, 1, "control_id")?,
        message_hash: col_text(r, 2, "message_hash")?,
        message_type: col_text(r, 3, "message_type")?,
        received_at_us: col_int(r, 4, "received_at_us")?,
        ack_code: col_text(r, 5, "ack_code")?,
        ack_text: col_text(r, 6, "ack_text")?,
        outcome: col_text(r, 7, "outcome")?,
        message_text: col_text(r, 8, "message_text")?,
    })
}

/// The order states in which an order still counts as active therapy.
pub const ACTIVE_ORDER_STATUSES: &[OrderStatus] = &[
    OrderStatus::Signed,
    OrderStatus::Verified,
    OrderStatus::Prepared,
    OrderStatus::Scheduled,
    OrderStatus::InProgress,
];

impl Tx {
    // ---- sign-in failures -------------------------------------------------------------

    /// The failure count and lockout of a user name, if any failure is recorded.
    pub async fn sign_in_failures(
        &mut self,
        username: &str,
    ) -> Result<Option<SignInFailures>, StoreError> {
        let rows = self
            .fetch(
                "SELECT failures, locked_until_us FROM app_sign_in_failures WHERE username = $1",
                &[text(username)],
                &[Kind::Int, Kind::Int],
            )
            .await?;
        rows.first()
            .map(|r| {
                Ok(SignInFailures {
                    failures: col_int(r, 0, "failures")?,
                    locked_until_us: col_int(r, 1, "locked_until_us")?,
                })
            })
            .transpose()
    }

    /// Sets the failure count and lockout of a user name (inserting or replacing).
    pub async fn put_sign_in_failures(
        &mut self,
        username: &str,
        f: SignInFailures,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO app_sign_in_failures (username, failures, locked_until_us) VALUES ($1, $2, $3)
             ON CONFLICT (username) DO UPDATE SET failures = $2, locked_until_us = $3",
            &[text(username), int(f.failures), int(f.locked_until_us)],
        )
        .await?;
        Ok(())
    }

    /// Counts one sign-in attempt against `key` before its password is checked, in one
    /// atomic statement, and returns the count and lockout after it. A lockout that ended
    /// before `now_us` starts the count again at 1. Counting before the check is what makes
    /// the lockout hold under concurrent guesses: each attempt reserves its place in the
    /// count, so the attempts beyond the threshold are refused without being checked, even
    /// while the earlier ones are still hashing. `key` is whatever the caller keys lockouts
    /// by (the app stores a hash, never the typed text).
    pub async fn count_sign_in_attempt(
        &mut self,
        key: &str,
        now_us: i64,
    ) -> Result<SignInFailures, StoreError> {
        let rows = self
            .fetch(
                "INSERT INTO app_sign_in_failures (username, failures, locked_until_us) VALUES ($1, 1, 0)
                 ON CONFLICT (username) DO UPDATE SET
                   failures = CASE WHEN app_sign_in_failures.locked_until_us <> 0
                                    AND app_sign_in_failures.locked_until_us <= $2
                               THEN 1 ELSE app_sign_in_failures.failures + 1 END,
                   locked_until_us = CASE WHEN app_sign_in_failures.locked_until_us <= $2
                               THEN 0 ELSE app_sign_in_failures.locked_until_us END
                 RETURNING failures, locked_until_us",
                &[text(key), int(now_us)],
                &[Kind::Int, Kind::Int],
            )
            .await?;
        let r = rows.first().ok_or_else(|| StoreError::Corrupt {
            column: "app_sign_in_failures.failures",
            message: "the attempt count returned no row".into(),
        })?;
        Ok(SignInFailures {
            failures: col_int(r, 0, "failures")?,
            locked_until_us: col_int(r, 1, "locked_until_us")?,
        })
    }

    /// Locks `key` until `locked_until_us` (keeping its count); a later lockout wins.
    pub async fn lock_sign_in(
        &mut self,
        key: &str,
        locked_until_us: i64,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE app_sign_in_failures SET locked_until_us = $2
             WHERE username = $1 AND locked_until_us < $2",
            &[text(key), int(locked_until_us)],
        )
        .await?;
        Ok(())
    }

    /// Forgets the failures of a user name (after a successful sign-in).
    pub async fn clear_sign_in_failures(&mut self, username: &str) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM app_sign_in_failures WHERE username = $1",
            &[text(username)],
        )
        .await?;
        Ok(())
    }

    // ---- sessions ---------------------------------------------------------------------

    /// Stores a new session.
    pub async fn insert_session(&mut self, s: &SessionRow) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO app_sessions (token_hash, user_id, kind, csrf_token, created_at_us, last_seen_at_us, expires_at_us) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                text(&s.token_hash),
                text(&s.user_id),
                text(&s.kind),
                text(&s.csrf_token),
                int(s.created_at_us),
                int(s.last_seen_at_us),
                int(s.expires_at_us),
            ],
        )
        .await?;
        Ok(())
    }

    /// The session of a token hash.
    pub async fn session(&mut self, token_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        let rows = self
            .fetch(
                "SELECT user_id, kind, csrf_token, created_at_us, last_seen_at_us, expires_at_us FROM app_sessions WHERE token_hash = $1",
                &[text(token_hash)],
                &[Kind::Text, Kind::Text, Kind::Text, Kind::Int, Kind::Int, Kind::Int],
            )
            .await?;
        rows.first()
            .map(|r| {
                Ok(SessionRow {
                    token_hash: token_hash.to_string(),
                    user_id: col_text(r, 0, "user_id")?,
                    kind: col_text(r, 1, "kind")?,
                    csrf_token: col_text(r, 2, "csrf_token")?,
                    created_at_us: col_int(r, 3, "created_at_us")?,
                    last_seen_at_us: col_int(r, 4, "last_seen_at_us")?,
                    expires_at_us: col_int(r, 5, "expires_at_us")?,
                })
            })
            .transpose()
    }

    /// Ends one session.
    pub async fn delete_session(&mut self, token_hash: &str) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM app_sessions WHERE token_hash = $1",
            &[text(token_hash)],
        )
        .await?;
        Ok(())
    }

    /// Ends every session of one user (deactivation, password change or reset, an
    /// administrator's revocation). Returns how many ended.
    pub async fn delete_sessions_of_user(&mut self, user_id: &str) -> Result<u64, StoreError> {
        Ok(self
            .execute(
                "DELETE FROM app_sessions WHERE user_id = $1",
                &[text(user_id)],
            )
            .await?)
    }

    /// Ends every session that expired before `now_us`.
    pub async fn delete_expired_sessions(&mut self, now_us: i64) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM app_sessions WHERE expires_at_us < $1",
            &[int(now_us)],
        )
        .await?;
        Ok(())
    }

    /// Sets a session's last request time (its idle clock).
    pub async fn set_session_last_seen(
        &mut self,
        token_hash: &str,
        last_seen_at_us: i64,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE app_sessions SET last_seen_at_us = $1 WHERE token_hash = $2",
            &[int(last_seen_at_us), text(token_hash)],
        )
        .await?;
        Ok(())
    }

    // ---- idempotency keys -------------------------------------------------------------

    /// The entity and request hash recorded under an idempotency key.
    pub async fn idempotency(&mut self, key: &str) -> Result<Option<IdempotencyRow>, StoreError> {
        let rows = self
            .fetch(
                "SELECT entity_id, request_hash FROM app_idempotency WHERE idem_key = $1",
                &[text(key)],
                &[Kind::Text, Kind::Text],
            )
            .await?;
        rows.first()
            .map(|r| {
                Ok(IdempotencyRow {
                    entity_id: col_text(r, 0, "entity_id")?,
                    request_hash: col_text(r, 1, "request_hash")?,
                })
            })
            .transpose()
    }

    /// Records an idempotency key; `false` when the key was already taken (nothing written).
    pub async fn insert_idempotency(
        &mut self,
        key: &str,
        row: &IdempotencyRow,
        created_at_us: i64,
    ) -> Result<bool, StoreError> {
        let n = self
            .execute(
                "INSERT INTO app_idempotency (idem_key, request_hash, entity_id, created_at_us) VALUES ($1, $2, $3, $4) ON CONFLICT (idem_key) DO NOTHING",
                &[
                    text(key),
                    text(&row.request_hash),
                    text(&row.entity_id),
                    int(created_at_us),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    // ---- reads over entity tables -----------------------------------------------------

    /// The patient's orders in an active state ([`ACTIVE_ORDER_STATUSES`]), oldest first,
    /// reading only the columns the duplicate-therapy check needs (an order row carries its
    /// whole derivation).
    pub async fn active_order_summaries(
        &mut self,
        patient_id: &str,
    ) -> Result<Vec<ActiveOrderSummary>, StoreError> {
        let placeholders: Vec<String> = (0..ACTIVE_ORDER_STATUSES.len())
            .map(|i| format!("${}", i + 2))
            .collect();
        let statement = format!(
            "SELECT id, drug_id, dose, dose_unit, route FROM orders WHERE patient_id = $1 AND status IN ({}) ORDER BY id",
            placeholders.join(", ")
        );
        let mut args = vec![text(patient_id)];
        args.extend(ACTIVE_ORDER_STATUSES.iter().map(|s| text(s.as_str())));
        let rows = self.fetch(&statement, &args, &[Kind::Text; 5]).await?;
        rows.iter()
            .map(|r| {
                Ok(ActiveOrderSummary {
                    id: col_text(r, 0, "id")?,
                    drug_id: col_text(r, 1, "drug_id")?,
                    dose: col_text(r, 2, "dose")?,
                    dose_unit: col_text(r, 3, "dose_unit")?,
                    route: col_text(r, 4, "route")?,
                })
            })
            .collect()
    }

    /// Ids of patients whose MRN equals `q` or whose family or given name starts with it
    /// (case-insensitive; `%` and `_` in `q` are ignored); every patient when `q` is empty.
    /// At most `limit`, by family then given name.
    pub async fn search_patient_ids(
        &mut self,
        q: &str,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let q = q.trim();
        let pattern = format!("{}%", q.to_lowercase().replace(['%', '_'], ""));
        let rows = self
            .fetch(
                "SELECT id FROM patients WHERE mrn = $1 OR lower(family_name) LIKE $2 OR lower(given_name) LIKE $2
                 ORDER BY family_name, given_name LIMIT $3",
                &[text(q), text(pattern), int(limit)],
                &[Kind::Text],
            )
            .await?;
        rows.iter().map(|r| col_text(r, 0, "id")).collect()
    }

    /// Ids of the booked or arrived appointments in `chair` that overlap
    /// `[start_at_us, end_at_us)`.
    pub async fn chair_bookings_overlapping(
        &mut self,
        chair: &str,
        start_at_us: i64,
        end_at_us: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = self
            .fetch(
                "SELECT id FROM appointments WHERE chair = $1 AND status IN ('booked', 'arrived') AND start_at_us < $2 AND end_at_us > $3",
                &[text(chair), int(end_at_us), int(start_at_us)],
                &[Kind::Text],
            )
            .await?;
        rows.iter().map(|r| col_text(r, 0, "id")).collect()
    }

    /// The audit events of one entity, oldest first.
    pub async fn audit_events_of(
        &mut self,
        entity_id: &str,
    ) -> Result<Vec<crate::AuditEvent>, StoreError> {
        crate::audit::events_of(self, entity_id).await
    }

    // ---- the interface's inbound message log ------------------------------------------

    /// The log row of a message already received from `sender` with `control_id`.
    pub async fn inbound(
        &mut self,
        sender: &str,
        control_id: &str,
    ) -> Result<Option<InboundRecord>, StoreError> {
        let rows = self
            .fetch(
                "SELECT sender, control_id, message_hash, message_type, received_at_us, ack_code, ack_text, outcome, message_text
                 FROM interface_inbound WHERE sender = $1 AND control_id = $2",
                &[text(sender), text(control_id)],
                INBOUND_KINDS,
            )
            .await?;
        rows.first().map(|r| inbound_from_row(r)).transpose()
    }

    /// Logs a received message; `false` when (sender, control id) was already logged (the
    /// first answer stands, nothing is written).
    pub async fn insert_inbound(&mut self, r: &InboundRecord) -> Result<bool, StoreError> {
        let n = self
            .execute(
                "INSERT INTO interface_inbound (sender, control_id, message_hash, message_type, received_at_us,
                     ack_code, ack_text, outcome, message_text)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (sender, control_id) DO NOTHING",
                &[
                    text(&r.sender),
                    text(&r.control_id),
                    text(&r.message_hash),
                    text(&r.message_type),
                    int(r.received_at_us),
                    text(&r.ack_code),
                    text(&r.ack_text),
                    text(&r.outcome),
                    text(&r.message_text),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// Every logged inbound message, oldest first.
    pub async fn inbound_log(&mut self) -> Result<Vec<InboundRecord>, StoreError> {
        let rows = self
            .fetch(
                "SELECT sender, control_id, message_hash, message_type, received_at_us, ack_code, ack_text, outcome, message_text
                 FROM interface_inbound ORDER BY received_at_us, sender, control_id",
                &[],
                INBOUND_KINDS,
            )
            .await?;
        rows.iter().map(|r| inbound_from_row(r)).collect()
    }
}
