//! Account administration after creation: deactivation, password reset and change, role
//! changes and session revocation.
//!
//! - Each change is one transaction that writes the user row (or role rows) and its audit
//!   event; the sessions the change must end are deleted in the same transaction, so a
//!   deactivated user, or one whose password was changed or reset, holds no session once the
//!   change has committed.
//! - `actor = None` is the operator at the server's command line (`infusio users …`): the
//!   record names `system` as the actor. Otherwise the actor must be an administrator.
//! - New passwords meet the same policy as at creation ([`check_password_policy`]) and role
//!   sets the same separation-of-duties rule ([`check_role_combination`]).
//! - A password change by the user needs the current password; a wrong one counts towards the
//!   account's lockout like a failed sign-in.

use infusio_store::records::{User, UserRole};
use infusio_store::{Change, Role, Stored, Tx};
use serde::Serialize;

use crate::auth::{UserView, check_password_policy, check_role_combination};
use crate::db::text;
use crate::{Action, Actor, App, AppError};

/// The outcome of a change that ends sessions.
#[derive(Debug, Clone, Serialize)]
pub struct AccountChange {
    pub user: UserView,
    /// How many sessions and API tokens the change ended.
    pub sessions_ended: u64,
}

fn change_by(actor: Option<&Actor>, action: &str) -> Result<Change, AppError> {
    Ok(match actor {
        Some(a) => Change::by(&a.user_id, a.permit(Action::ManageUsers)?.as_str()),
        None => Change::by("system", "system"),
    }
    .action(action))
}

/// Finds a user by id or, failing that, by user name.
async fn find_user(tx: &mut Tx, key: &str) -> Result<Stored<User>, AppError> {
    if let Some(u) = tx.get::<User>(key).await? {
        return Ok(u);
    }
    tx.find_by::<User>("username", text(key))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::NotFound {
            entity: "users",
            id: key.to_string(),
        })
}

async fn view_of(tx: &mut Tx, user: Stored<User>) -> Result<UserView, AppError> {
    let roles = tx
        .find_by::<UserRole>("user_id", text(user.id.as_str()))
        .await?;
    Ok(UserView {
        id: user.id,
        username: user.data.username,
        display_name: user.data.display_name,
        roles: roles.into_iter().map(|r| r.data.role).collect(),
        active: user.data.active,
    })
}

impl App {
    /// Deactivates a user (by id or user name): they can no longer sign in and every session
    /// and API token they hold ends at once. Deactivating an inactive user changes nothing.
    /// An administrator cannot deactivate their own account (another administrator must).
    pub async fn deactivate_user(
        &self,
        actor: Option<&Actor>,
        user: &str,
    ) -> Result<AccountChange, AppError> {
        let change = change_by(actor, "user.deactivate")?;
        let mut tx = self.store().begin().await?;
        let mut row = find_user(&mut tx, user).await?;
        if actor.is_some_and(|a| a.user_id == row.id) {
            return Err(AppError::invalid(
                "user",
                user,
                "another user: an administrator's own account is deactivated by another administrator",
            ));
        }
        if row.data.active {
            let mut data = row.data.clone();
            data.active = false;
            row = tx.update(&change, &row.id, row.version, data).await?;
        }
        let sessions_ended = tx.delete_sessions_of_user(&row.id).await?;
        let user = view_of(&mut tx, row).await?;
        tx.commit().await?;
        Ok(AccountChange {
            user,
            sessions_ended,
        })
    }

    /// Sets a new password for a user (by id or user name) and ends their sessions. The
    /// password meets the policy; it is never recorded, only its argon2id hash.
    pub async fn reset_password(
        &self,
        actor: Option<&Actor>,
        user: &str,
        password: &str,
    ) -> Result<AccountChange, AppError> {
        let change = change_by(actor, "user.reset_password")?;
        let mut tx = self.store().begin_snapshot().await?;
        let row = find_user(&mut tx, user).await?;
        tx.rollback().await?;
        check_password_policy(&row.data.username, password)?;
        self.store_password(change, &row.id, password).await
    }

    /// A signed-in user changes their own password: the current one is checked first (a wrong
    /// one counts towards the lockout), then the new one must meet the policy and differ from
    /// the current one. Every session of the user ends, this one included.
    pub async fn change_password(
        &self,
        actor: &Actor,
        current_password: &str,
        new_password: &str,
    ) -> Result<AccountChange, AppError> {
        match self
            .check_credentials(&actor.username, current_password, None)
            .await
        {
            Ok(_) => {}
            Err(AppError::BadCredentials) => {
                return Err(AppError::invalid(
                    "current_password",
                    "(hidden)",
                    "your current password",
                ));
            }
            Err(e) => return Err(e),
        }
        check_password_policy(&actor.username, new_password)?;
        if new_password == current_password {
            return Err(AppError::invalid(
                "new_password",
                "(hidden)",
                "a password different from the current one",
            ));
        }
        let change = Change::by(&actor.user_id, "user").action("user.change_password");
        self.store_password(change, &actor.user_id, new_password)
            .await
    }

    async fn store_password(
        &self,
        change: Change,
        user_id: &str,
        password: &str,
    ) -> Result<AccountChange, AppError> {
        let hash = self.hash_password(password).await?;
        let mut tx = self.store().begin().await?;
        let row = tx.get_for_update::<User>(user_id).await?;
        let mut data = row.data.clone();
        data.password_hash = Some(hash);
        let row = tx.update(&change, &row.id, row.version, data).await?;
        let sessions_ended = tx.delete_sessions_of_user(&row.id).await?;
        let user = view_of(&mut tx, row).await?;
        tx.commit().await?;
        Ok(AccountChange {
            user,
            sessions_ended,
        })
    }

    /// Replaces a user's roles (by id or user name). The set is checked for separation of
    /// duties; each role removed or added is its own audited row change. The user's sessions
    /// end, so the new roles apply from their next sign-in. An administrator cannot remove
    /// their own administrator role.
    pub async fn set_roles(
        &self,
        actor: Option<&Actor>,
        user: &str,
        roles: &[Role],
    ) -> Result<AccountChange, AppError> {
        let change = change_by(actor, "user.set_roles")?;
        if roles.is_empty() {
            return Err(AppError::invalid("roles", "[]", "at least one role"));
        }
        check_role_combination(roles)?;
        let mut tx = self.store().begin().await?;
        let row = find_user(&mut tx, user).await?;
        if actor.is_some_and(|a| a.user_id == row.id) && !roles.contains(&Role::Admin) {
            return Err(AppError::invalid(
                "roles",
                "(without admin)",
                "roles that keep your own administrator role (another administrator removes it)",
            ));
        }
        let held = tx
            .find_by::<UserRole>("user_id", text(row.id.as_str()))
            .await?;
        for r in &held {
            if !roles.contains(&r.data.role) {
                tx.delete::<UserRole>(&change, &r.id, r.version).await?;
            }
        }
        for role in roles {
            if !held.iter().any(|r| r.data.role == *role) {
                let data = UserRole {
                    user_id: row.id.clone(),
                    role: *role,
                };
                tx.insert(&change, data).await?;
            }
        }
        let sessions_ended = tx.delete_sessions_of_user(&row.id).await?;
        let user = view_of(&mut tx, row).await?;
        tx.commit().await?;
        Ok(AccountChange {
            user,
            sessions_ended,
        })
    }

    /// Ends every session and API token of a user (by id or user name), recorded in the
    /// audit chain. The user may sign in again.
    pub async fn revoke_sessions(
        &self,
        actor: Option<&Actor>,
        user: &str,
    ) -> Result<AccountChange, AppError> {
        let change = change_by(actor, "user.revoke_sessions")?;
        let mut tx = self.store().begin().await?;
        let row = find_user(&mut tx, user).await?;
        let sessions_ended = tx.delete_sessions_of_user(&row.id).await?;
        tx.append_audit(infusio_store::AuditDraft {
            actor: change.actor.clone(),
            actor_role: change.actor_role.clone(),
            action: "user.revoke_sessions".into(),
            entity_type: "users".into(),
            entity_id: row.id.clone(),
            before: None,
            after: Some(serde_json::json!({ "sessions_ended": sessions_ended })),
            reason: None,
            derivation: None,
        });
        let user = view_of(&mut tx, row).await?;
        tx.commit().await?;
        Ok(AccountChange {
            user,
            sessions_ended,
        })
    }
}

/// A user's own password change: `{"current_password", "new_password"}`.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// An administrator's password reset: `{"password"}`.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordReset {
    pub password: String,
}

impl std::fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Passwords never reach a log.
        f.debug_struct("PasswordChange").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PasswordReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordReset").finish_non_exhaustive()
    }
}

/// The string field `key` of a password body; a value of another type is refused without
/// being echoed.
fn password_field(
    f: &mut infusio_core::input::Fields<'_>,
    input: &serde_json::Value,
    key: &str,
) -> Result<String, AppError> {
    match input.get(key) {
        None | Some(serde_json::Value::String(_)) => Ok(f.opt_string(key)?.unwrap_or_default()),
        Some(_) => Err(AppError::invalid(key, "(hidden)", "a string")),
    }
}

impl TryFrom<&serde_json::Value> for PasswordChange {
    type Error = AppError;

    fn try_from(input: &serde_json::Value) -> Result<Self, AppError> {
        let mut f = infusio_core::input::Fields::new(input, "")?;
        let current_password = password_field(&mut f, input, "current_password")?;
        let new_password = password_field(&mut f, input, "new_password")?;
        f.finish()?;
        Ok(PasswordChange {
            current_password,
            new_password,
        })
    }
}

impl TryFrom<&serde_json::Value> for PasswordReset {
    type Error = AppError;

    fn try_from(input: &serde_json::Value) -> Result<Self, AppError> {
        let mut f = infusio_core::input::Fields::new(input, "")?;
        let password = password_field(&mut f, input, "password")?;
        f.finish()?;
        Ok(PasswordReset { password })
    }
}

/// A new role set: `{"roles": ["nurse", …]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSet {
    pub roles: Vec<Role>,
}

impl TryFrom<&serde_json::Value> for RoleSet {
    type Error = AppError;

    fn try_from(input: &serde_json::Value) -> Result<Self, AppError> {
        let mut f = infusio_core::input::Fields::new(input, "")?;
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
        Ok(RoleSet { roles })
    }
}
