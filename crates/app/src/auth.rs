//! Users, password hashes, sign-in with lockout, and server-side sessions.
//!
//! - Passwords are hashed with argon2id (a PHC string in `users.password_hash`); hashing and
//!   checking run on the blocking thread pool so a sign-in never stalls the async workers.
//! - A session is a random 256-bit token handed to the client once; the record keeps only its
//!   SHA-256, so a copy of the database cannot be replayed as sessions. Cookie sessions end
//!   after `session_idle_timeout_s` without use; every session ends `session_max_age_s` after
//!   sign-in. Each session also has a CSRF token that cookie-authenticated changes must echo.
//! - After `lockout_threshold` consecutive failures a user name is locked for
//!   `lockout_duration_s`, whether or not it exists (so locking does not reveal which names do).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use infusio_store::records::{User, UserRole};
use infusio_store::{AuditDraft, Change, Role, SessionRow, SignInFailures};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::text;
use crate::{Action, Actor, App, AppError};

/// How the client will present the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A browser: the token travels in an HttpOnly cookie; changes need the CSRF token.
    Cookie,
    /// An API client: the token travels as `Authorization: Bearer`.
    Bearer,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::Cookie => "cookie",
            SessionKind::Bearer => "bearer",
        }
    }
}

/// A new session: the secret token (shown once), its CSRF token and when it ends.
#[derive(Debug, Clone, Serialize)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub expires_at_us: i64,
    pub user: UserView,
}

/// A valid session, as found for a request.
#[derive(Debug, Clone)]
pub struct Session {
    pub actor: Actor,
    pub kind: SessionKind,
    pub csrf_token: String,
}

/// A user as shown to clients (never the hash).
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub active: bool,
}

fn random_hex(n_bytes: usize) -> Result<String, AppError> {
    let mut buf = vec![0u8; n_bytes];
    getrandom::fill(&mut buf).map_err(|e| AppError::Internal(format!("random source: {e}")))?;
    Ok(hex(&buf))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// SHA-256 of a token, hex: what the record keeps.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A new user: `{"username", ["display_name"], "password", "roles": [...]}`. The display
/// name defaults to the username; the password rules are checked when the user is created.
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub roles: Vec<Role>,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password never reaches a log.
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("display_name", &self.display_name)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl TryFrom<&serde_json::Value> for NewUser {
    type Error = AppError;

    fn try_from(input: &serde_json::Value) -> Result<Self, AppError> {
        let mut f = infusio_core::input::Fields::new(input, "")?;
        let username = f.opt_string("username")?.unwrap_or_default();
        let display_name = f
            .opt_string("display_name")?
            .unwrap_or_else(|| username.clone());
        let password = f.opt_string("password")?.unwrap_or_default();
        let mut roles = Vec::new();
        for (path, r) in f.opt_array("roles")?.unwrap_or_default() {
            let text = r.as_str().unwrap_or_default();
            roles.push(Role::parse(text).map_err(|_| {
                AppError::invalid(
                    path,
                    text,
                    "one of prescriber, pharmacist, pharmacy_technician, nurse, scheduler, admin",
                )
            })?);
        }
        f.finish()?;
        Ok(NewUser {
            username,
            display_name,
            password,
            roles,
        })
    }
}

impl App {
    /// Hashes a password with argon2id at the configured cost (on the blocking pool).
    pub async fn hash_password(&self, password: &str) -> Result<String, AppError> {
        if password.chars().count() < 8 {
            return Err(AppError::invalid(
                "password",
                "(hidden)",
                "at least 8 characters",
            ));
        }
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt)
            .map_err(|e| AppError::Internal(format!("random source: {e}")))?;
        let params = Params::new(
            self.config().argon2_memory_kib,
            self.config().argon2_iterations,
            1,
            None,
        )
        .map_err(|e| AppError::Internal(format!("argon2 parameters: {e}")))?;
        let password = password.to_string();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::encode_b64(&salt)
                .map_err(|e| AppError::Internal(format!("salt: {e}")))?;
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| AppError::Internal(format!("argon2: {e}")))
        })
        .await
        .map_err(|e| AppError::Internal(format!("hashing task: {e}")))?
    }

    async fn password_matches(
        &self,
        hash: Option<String>,
        password: &str,
    ) -> Result<bool, AppError> {
        let password = password.to_string();
        tokio::task::spawn_blocking(move || {
            // An unknown user still pays for one hash check, so timing does not reveal names.
            let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_string());
            match PasswordHash::new(&hash) {
                Ok(parsed) => Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok(),
                Err(_) => false,
            }
        })
        .await
        .map_err(|e| AppError::Internal(format!("password check task: {e}")))
    }

    /// Creates a user with roles. `actor = None` is the system (first start, demo seeding).
    pub async fn create_user(
        &self,
        actor: Option<&Actor>,
        username: &str,
        display_name: &str,
        password: &str,
        roles: &[Role],
    ) -> Result<UserView, AppError> {
        let change = match actor {
            Some(a) => Change::by(&a.user_id, a.permit(Action::ManageUsers)?.as_str()),
            None => Change::by("system", "system"),
        }
        .action("user.create");
        let valid_name = !username.is_empty()
            && username.len() <= 64
            && username.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'_'
            });
        if !valid_name {
            return Err(AppError::invalid(
                "username",
                username,
                "1 to 64 characters: lowercase letters, digits, '.', '-', '_'",
            ));
        }
        if roles.is_empty() {
            return Err(AppError::invalid("roles", "[]", "at least one role"));
        }
        let hash = self.hash_password(password).await?;
        let mut tx = self.store().begin().await?;
        let user = tx
            .insert(
                &change,
                User {
                    username: username.to_string(),
                    display_name: display_name.to_string(),
                    password_hash: Some(hash),
                    active: true,
                },
            )
            .await?;
        for role in roles {
            tx.insert(
                &change,
                UserRole {
                    user_id: user.id.clone(),
                    role: *role,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(UserView {
            id: user.id,
            username: user.data.username,
            display_name: user.data.display_name,
            roles: roles.to_vec(),
            active: true,
        })
    }

    /// Creates a user (administrators only).
    pub async fn add_user(&self, actor: &Actor, input: &NewUser) -> Result<UserView, AppError> {
        actor.permit(Action::ManageUsers)?;
        self.create_user(
            Some(actor),
            &input.username,
            &input.display_name,
            &input.password,
            &input.roles,
        )
        .await
    }

    /// Every user with their roles (administrators only).
    pub async fn list_users(&self, actor: &Actor) -> Result<Vec<UserView>, AppError> {
        actor.permit(Action::ManageUsers)?;
        let mut tx = self.store().begin_snapshot().await?;
        let users = tx.list::<User>().await?;
        let roles = tx.list::<UserRole>().await?;
        tx.rollback().await?;
        Ok(users
            .into_iter()
            .map(|u| UserView {
                roles: roles
                    .iter()
                    .filter(|r| r.data.user_id == u.id)
                    .map(|r| r.data.role)
                    .collect(),
                id: u.id,
                username: u.data.username,
                display_name: u.data.display_name,
                active: u.data.active,
            })
            .collect())
    }

    /// Checks a user name and password and opens a session. Failures count towards the
    /// lockout; a locked name is refused even with the right password.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        kind: SessionKind,
    ) -> Result<NewSession, AppError> {
        let now = self.now_us();
        let mut tx = self.store().begin_snapshot().await?;
        let locked = tx.sign_in_failures(username).await?;
        let users = tx.find_by::<User>("username", text(username)).await?;
        tx.rollback().await?;
        if let Some(f) = locked {
            let until = f.locked_until_us;
            if until > now {
                return Err(AppError::Locked {
                    retry_after_s: (until - now) / 1_000_000 + 1,
                });
            }
        }
        let user = users.into_iter().next().filter(|u| u.data.active);
        let ok = self
            .password_matches(
                user.as_ref().and_then(|u| u.data.password_hash.clone()),
                password,
            )
            .await?;
        let Some(user) = user.filter(|_| ok) else {
            self.record_failure(username, now).await?;
            return Err(AppError::BadCredentials);
        };

        let token = random_hex(32)?;
        let csrf_token = random_hex(16)?;
        let expires_at_us = now + self.config().session_max_age_s * 1_000_000;
        let mut tx = self.store().begin().await?;
        tx.clear_sign_in_failures(username).await?;
        tx.delete_expired_sessions(now).await?;
        tx.insert_session(&SessionRow {
            token_hash: token_hash(&token),
            user_id: user.id.clone(),
            kind: kind.as_str().to_string(),
            csrf_token: csrf_token.clone(),
            created_at_us: now,
            last_seen_at_us: now,
            expires_at_us,
        })
        .await?;
        tx.append_audit(AuditDraft {
            actor: user.id.clone(),
            actor_role: "user".into(),
            action: "auth.sign_in".into(),
            entity_type: "users".into(),
            entity_id: user.id.clone(),
            before: None,
            after: Some(serde_json::json!({"session": kind.as_str()})),
            reason: None,
            derivation: None,
        });
        tx.commit().await?;
        let actor = self.load_actor(&user.id).await?;
        Ok(NewSession {
            token,
            csrf_token,
            expires_at_us,
            user: UserView {
                id: actor.user_id,
                username: actor.username,
                display_name: actor.display_name,
                roles: actor.roles,
                active: true,
            },
        })
    }

    async fn record_failure(&self, username: &str, now: i64) -> Result<(), AppError> {
        let cfg = self.config();
        let mut tx = self.store().begin().await?;
        let failures = tx
            .sign_in_failures(username)
            .await?
            .map_or(0, |f| f.failures)
            + 1;
        let locked_until = if failures >= cfg.lockout_threshold {
            now + cfg.lockout_duration_s * 1_000_000
        } else {
            0
        };
        tx.put_sign_in_failures(
            username,
            SignInFailures {
                failures,
                locked_until_us: locked_until,
            },
        )
        .await?;
        tx.append_audit(AuditDraft {
            actor: format!("anonymous:{username}"),
            actor_role: "none".into(),
            action: if locked_until > 0 {
                "auth.locked".into()
            } else {
                "auth.sign_in_failed".into()
            },
            entity_type: "sign_in".into(),
            entity_id: username.to_string(),
            before: None,
            after: Some(serde_json::json!({"consecutive_failures": failures})),
            reason: None,
            derivation: None,
        });
        tx.commit().await?;
        Ok(())
    }

    async fn load_actor(&self, user_id: &str) -> Result<Actor, AppError> {
        let mut tx = self.store().begin_snapshot().await?;
        let user = tx.get::<User>(user_id).await?;
        let roles = tx.find_by::<UserRole>("user_id", text(user_id)).await?;
        tx.rollback().await?;
        let user = user
            .filter(|u| u.data.active)
            .ok_or(AppError::Unauthenticated)?;
        Ok(Actor {
            user_id: user.id,
            username: user.data.username,
            display_name: user.data.display_name,
            roles: roles.into_iter().map(|r| r.data.role).collect(),
        })
    }

    /// Finds the session of a token, ending it if it has expired or been idle too long. A
    /// cookie session's idle clock is reset at most every 30 s (one small write).
    pub async fn session(&self, token: &str) -> Result<Session, AppError> {
        let now = self.now_us();
        let hash = token_hash(token);
        let mut tx = self.store().begin_snapshot().await?;
        let row = tx.session(&hash).await?;
        tx.rollback().await?;
        let row = row.ok_or(AppError::Unauthenticated)?;
        let (user_id, csrf, last_seen, expires) = (
            row.user_id.as_str(),
            row.csrf_token.as_str(),
            row.last_seen_at_us,
            row.expires_at_us,
        );
        let kind = if row.kind == "cookie" {
            SessionKind::Cookie
        } else {
            SessionKind::Bearer
        };
        let idle_limit = last_seen + self.config().session_idle_timeout_s * 1_000_000;
        let idle_expired = kind == SessionKind::Cookie && now > idle_limit;
        if now > expires || idle_expired {
            let mut tx = self.store().begin().await?;
            tx.delete_session(&hash).await?;
            tx.commit().await?;
            return Err(AppError::Unauthenticated);
        }
        if kind == SessionKind::Cookie && now - last_seen > 30_000_000 {
            let mut tx = self.store().begin().await?;
            tx.set_session_last_seen(&hash, now).await?;
            tx.commit().await?;
        }
        let actor = self.load_actor(user_id).await?;
        Ok(Session {
            actor,
            kind,
            csrf_token: csrf.to_string(),
        })
    }

    /// Ends a session.
    pub async fn sign_out(&self, token: &str) -> Result<(), AppError> {
        let mut tx = self.store().begin().await?;
        tx.delete_session(&token_hash(token)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Test and demo helper: moves a session's idle clock back by `seconds`.
    pub async fn age_session(&self, token: &str, seconds: i64) -> Result<(), AppError> {
        let hash = token_hash(token);
        let mut tx = self.store().begin().await?;
        if let Some(row) = tx.session(&hash).await? {
            tx.set_session_last_seen(&hash, row.last_seen_at_us - seconds * 1_000_000)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A valid argon2id hash of a random string, checked against when the user name is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Zk2D0lqkAqyNl5dBBE4ZKU8hMZQx2vYc8g0XbrfhfF4";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_parses_so_unknown_names_cost_a_full_check() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn tokens_are_stored_hashed() {
        let h = token_hash("abc");
        assert_eq!(
            h,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
