//! Users, password hashes, sign-in with lockout, and server-side sessions.
//!
//! - Passwords are hashed with argon2id (a PHC string in `users.password_hash`); hashing and
//!   checking run on the blocking thread pool so a sign-in never stalls the async workers.
//! - A session is a random 256-bit token handed to the client once; the record keeps only its
//!   SHA-256, so a copy of the database cannot be replayed as sessions. Cookie sessions end
//!   after `session_idle_timeout_s` without use; every session ends `session_max_age_s` after
//!   sign-in. Each session also has a CSRF token that cookie-authenticated changes must echo.
//! - After `lockout_threshold` consecutive failures a user name is locked for
//!   `lockout_duration_s`, whether or not it exists (so locking does not reveal which names do);
//!   after `lockout_source_threshold` failures from one source address, that source is locked
//!   too. Each attempt is counted *before* its password is checked, in one atomic statement,
//!   so concurrent guesses cannot all slip under the threshold.
//! - Password hashing is bounded ([`HashGate`]): at most `password_hash_concurrency` argon2id
//!   computations at once and `password_hash_queue` waiting; beyond that a sign-in is refused
//!   at once with [`AppError::Busy`], so a flood of sign-ins cannot exhaust memory.
//! - A failed sign-in never records the typed user name: the audit event names the user's id
//!   when the name exists and `unknown-user` otherwise; the lockout row of an unknown name is
//!   keyed by a short hash of it.

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use infusio_store::records::{User, UserRole};
use infusio_store::{AuditDraft, Change, Role, SessionRow, SignInFailures, Stored};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

/// Bounds password hashing: at most `slots` argon2id computations at once, at most
/// `queue_max` callers waiting for one. Each computation holds `argon2_memory_kib` of memory,
/// so the gate is what bounds the memory an unauthenticated flood of sign-ins can take.
pub(crate) struct HashGate {
    /// The dedicated hashing threads' job queue (one thread per slot). Dedicated threads,
    /// not the shared blocking pool: the allocator keeps a freed argon2 block in the arena
    /// of the thread that used it, so hashing on whichever pool thread is free made resident
    /// memory grow with the number of pool threads that ever hashed (measured: 440 MB after
    /// 300 sign-ins, against about 2 × 19 MiB with two fixed threads).
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
    slots: Arc<Semaphore>,
    n_slots: usize,
    queue_max: usize,
    waiting: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
    peak_running: Arc<AtomicUsize>,
}

/// One hashing job for the dedicated threads.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// A hashing slot: held while one argon2id computation runs (released when dropped, also
/// when the request that took it is cancelled, because the blocking task owns it).
pub(crate) struct HashSlot {
    _permit: OwnedSemaphorePermit,
    running: Arc<AtomicUsize>,
}

impl Drop for HashSlot {
    fn drop(&mut self) {
        self.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Decrements the waiting count when a waiter leaves the queue (served or cancelled).
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The hashing gate's counters (for tests and monitoring).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HashGateStats {
    /// Hashing slots (the configured concurrency, at least 1).
    pub slots: usize,
    /// Computations running now.
    pub running: usize,
    /// Callers waiting for a slot now.
    pub waiting: usize,
    /// The most computations that ever ran at once.
    pub peak_running: usize,
}

impl HashGate {
    pub(crate) fn new(concurrency: usize, queue_max: usize) -> HashGate {
        let n_slots = concurrency.max(1);
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = Arc::new(std::sync::Mutex::new(receiver));
        for i in 0..n_slots {
            let receiver = Arc::clone(&receiver);
            // A thread that cannot start leaves fewer workers; the jobs still run (see
            // `run_hashing`), so this is not fatal.
            let _ = std::thread::Builder::new()
                .name(format!("infusio-hash-{i}"))
                .spawn(move || {
                    loop {
                        let job = match receiver.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            // The gate (and the app) was dropped.
                            Err(_) => return,
                        }
                    }
                });
        }
        HashGate {
            jobs: std::sync::Mutex::new(sender),
            slots: Arc::new(Semaphore::new(n_slots)),
            n_slots,
            queue_max,
            waiting: Arc::new(AtomicUsize::new(0)),
            running: Arc::new(AtomicUsize::new(0)),
            peak_running: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn slot(&self, permit: OwnedSemaphorePermit) -> HashSlot {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_running.fetch_max(now, Ordering::SeqCst);
        HashSlot {
            _permit: permit,
            running: Arc::clone(&self.running),
        }
    }

    /// Takes a slot, waiting in the bounded queue; refuses with [`AppError::Busy`] when the
    /// queue is full.
    pub(crate) async fn enter(&self) -> Result<HashSlot, AppError> {
        if let Ok(p) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(self.slot(p));
        }
        let before = self.waiting.fetch_add(1, Ordering::SeqCst);
        let waiting = Waiting(Arc::clone(&self.waiting));
        if before >= self.queue_max {
            return Err(AppError::Busy { retry_after_s: 1 });
        }
        let permit = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|e| AppError::Internal(format!("hashing gate: {e}")))?;
        drop(waiting);
        Ok(self.slot(permit))
    }

    pub(crate) fn stats(&self) -> HashGateStats {
        HashGateStats {
            slots: self.n_slots,
            running: self.running.load(Ordering::SeqCst),
            waiting: self.waiting.load(Ordering::SeqCst),
            peak_running: self.peak_running.load(Ordering::SeqCst),
        }
    }
}

/// Runs `work` on one of the gate's dedicated hashing threads while holding `slot` (falling
/// back to the blocking pool if the threads are gone).
pub(crate) async fn run_hashing<T: Send + 'static>(
    gate: &HashGate,
    slot: HashSlot,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let out = work();
        // The slot is given back before the answer is sent, so a caller that hashes again at
        // once (sequential account creation) never meets its own previous hash's slot.
        drop(slot);
        let _ = done.send(out);
    });
    let sent = match gate.jobs.lock() {
        Ok(jobs) => jobs.send(job).map_err(|e| e.0),
        Err(_) => Err(job),
    };
    if let Err(job) = sent {
        tokio::task::spawn_blocking(job)
            .await
            .map_err(|e| AppError::Internal(format!("hashing task: {e}")))?;
    }
    result
        .await
        .map_err(|_| AppError::Internal("the hashing thread stopped".into()))
}

/// The key of a user's lockout row: the user's id when the name exists, otherwise a short
/// hash of the typed name (32 bits: enough to keep unknown names apart for a lockout, too
/// short to confirm a password typed into the name field offline).
fn user_lock_key(user_id: Option<&str>, typed_name: &str) -> String {
    match user_id {
        Some(id) => format!("user:{id}"),
        None => {
            let digest = Sha256::digest(typed_name.as_bytes());
            format!("name:{}", hex(&digest[..4]))
        }
    }
}

fn source_lock_key(source: &str) -> String {
    format!("source:{source}")
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
    /// Hashes a password with argon2id at the configured cost (on the blocking pool, through
    /// the bounded hashing gate).
    pub async fn hash_password(&self, password: &str) -> Result<String, AppError> {
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(AppError::invalid(
                "password",
                "(hidden)",
                format!("at least {MIN_PASSWORD_CHARS} characters"),
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
        let slot = self.hash_gate().enter().await?;
        run_hashing(self.hash_gate(), slot, move || {
            new_phc_hash(password.as_bytes(), &salt, params)
        })
        .await?
    }

    /// The hashing gate's counters: slots, running, waiting and the peak of running.
    pub fn password_hash_stats(&self) -> HashGateStats {
        self.hash_gate().stats()
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
        // Accounts made by an administrator (the API, the CLI) meet the password policy and
        // keep separation of duties. The system's own seeding (`actor = None`: the demo and
        // the test harnesses) sets fixed, documented demo passwords and test accounts.
        if actor.is_some() {
            check_password_policy(username, password)?;
            check_role_combination(roles)?;
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

    /// Creates a user from the operator's command line (`infusio users add`; on a fresh
    /// install, the first administrator). The password policy and the role combinations are
    /// checked as for an administrator's request; the record names the system as the actor.
    pub async fn create_user_by_operator(
        &self,
        username: &str,
        display_name: &str,
        password: &str,
        roles: &[Role],
    ) -> Result<UserView, AppError> {
        check_password_policy(username, password)?;
        check_role_combination(roles)?;
        self.create_user(None, username, display_name, password, roles)
            .await
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
        self.sign_in_from(username, password, kind, None).await
    }

    /// [`App::sign_in`] from a known source address (the client's IP as the edge trusts it):
    /// failures count towards the user's lockout and the source's.
    pub async fn sign_in_from(
        &self,
        username: &str,
        password: &str,
        kind: SessionKind,
        source: Option<&str>,
    ) -> Result<NewSession, AppError> {
        let user = self.check_credentials(username, password, source).await?;
        let token = random_hex(32)?;
        let csrf_token = random_hex(16)?;
        let now = self.now_us();
        let expires_at_us = now + self.config().session_max_age_s * 1_000_000;
        let mut tx = self.store().begin().await?;
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

    /// Checks a user name and password under the lockout rules and returns the active user.
    /// Order: a hashing slot is taken first (a full queue refuses before anything is counted),
    /// then the attempt is counted for the user and the source in one transaction, then a
    /// locked user or source is refused, then the password is checked.
    pub(crate) async fn check_credentials(
        &self,
        username: &str,
        password: &str,
        source: Option<&str>,
    ) -> Result<Stored<User>, AppError> {
        let slot = self.hash_gate().enter().await?;
        let cfg = self.config();
        let now = self.now_us();
        let mut tx = self.store().begin_snapshot().await?;
        let users = tx.find_by::<User>("username", text(username)).await?;
        tx.rollback().await?;
        let user = users.into_iter().next();
        let user_key = user_lock_key(user.as_ref().map(|u| u.id.as_str()), username);
        let source_key = source.map(source_lock_key);
        let mut tx = self.store().begin().await?;
        let by_user = tx.count_sign_in_attempt(&user_key, now).await?;
        let by_source = match &source_key {
            Some(k) => Some(tx.count_sign_in_attempt(k, now).await?),
            None => None,
        };
        let mut refused_until = None;
        let checks = [
            Some((&user_key, by_user, cfg.lockout_threshold)),
            source_key
                .as_ref()
                .zip(by_source)
                .map(|(k, f)| (k, f, cfg.lockout_source_threshold)),
        ];
        for (key, f, threshold) in checks.into_iter().flatten() {
            if let Some(until) = locked_until(f, threshold, now, cfg.lockout_duration_s) {
                // Past the threshold without a lockout yet (earlier attempts still being
                // checked, or a crash between count and check): lock now, so the lockout
                // also ends on time.
                if f.locked_until_us <= now {
                    tx.lock_sign_in(key, until).await?;
                }
                refused_until = refused_until.max(Some(until));
            }
        }
        tx.commit().await?;
        if let Some(until) = refused_until {
            return Err(AppError::Locked {
                retry_after_s: (until - now) / 1_000_000 + 1,
            });
        }
        let user = user.filter(|u| u.data.active);
        // An unknown or inactive user still pays for one hash check, so timing does not
        // reveal names.
        let hash = user
            .as_ref()
            .and_then(|u| u.data.password_hash.clone())
            .unwrap_or_else(|| DUMMY_HASH.to_string());
        let typed = password.to_string();
        let ok = run_hashing(self.hash_gate(), slot, move || {
            phc_matches(&hash, typed.as_bytes())
        })
        .await?;
        match user.filter(|_| ok) {
            Some(user) => {
                let mut tx = self.store().begin().await?;
                tx.clear_sign_in_failures(&user_key).await?;
                if let Some(k) = &source_key {
                    tx.clear_sign_in_failures(k).await?;
                }
                tx.commit().await?;
                Ok(user)
            }
            None => {
                let failure = Failure {
                    user_id: users_id_for_audit(&user_key),
                    by_user,
                    by_source,
                    source_key,
                    user_key,
                };
                self.record_failure(failure, now).await?;
                Err(AppError::BadCredentials)
            }
        }
    }

    async fn record_failure(&self, f: Failure, now: i64) -> Result<(), AppError> {
        let cfg = self.config();
        let until = now + cfg.lockout_duration_s * 1_000_000;
        let user_locks = f.by_user.failures >= cfg.lockout_threshold;
        let source_locks = f
            .by_source
            .is_some_and(|s| s.failures >= cfg.lockout_source_threshold);
        let mut tx = self.store().begin().await?;
        if user_locks {
            tx.lock_sign_in(&f.user_key, until).await?;
        }
        if let (true, Some(k)) = (source_locks, &f.source_key) {
            tx.lock_sign_in(k, until).await?;
        }
        tx.append_audit(AuditDraft {
            actor: "anonymous".into(),
            actor_role: "none".into(),
            action: if user_locks || source_locks {
                "auth.locked".into()
            } else {
                "auth.sign_in_failed".into()
            },
            entity_type: "sign_in".into(),
            entity_id: f.user_id,
            before: None,
            after: Some(serde_json::json!({
                "consecutive_failures": f.by_user.failures,
                "user_locked": user_locks,
                "source_failures": f.by_source.map(|s| s.failures),
                "source_locked": source_locks,
            })),
            reason: None,
            derivation: None,
        });
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn load_actor(&self, user_id: &str) -> Result<Actor, AppError> {
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

thread_local! {
    /// The argon2 memory of this hashing thread, allocated once and reused: hashing allocates
    /// nothing per sign-in, so resident memory stays at slots × `argon2_memory_kib`.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs argon2 with `params` into `out`, in this thread's reusable memory.
fn argon2_into(
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let n_blocks = params.block_count();
    ARGON2_MEMORY.with(|memory| {
        let mut blocks = memory.borrow_mut();
        if blocks.len() < n_blocks {
            blocks.resize(n_blocks, argon2::Block::new());
        }
        Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
            password,
            salt,
            out,
            &mut blocks[..n_blocks],
        )
    })
}

/// A new argon2id PHC string (`$argon2id$v=19$m=…,t=…,p=1$salt$hash`) for `password`.
fn new_phc_hash(password: &[u8], salt: &[u8; 16], params: Params) -> Result<String, AppError> {
    let internal =
        |what: &str, e: &dyn std::fmt::Display| AppError::Internal(format!("{what}: {e}"));
    let mut out = [0u8; 32];
    argon2_into(
        Algorithm::Argon2id,
        Version::V0x13,
        &params,
        password,
        salt,
        &mut out,
    )
    .map_err(|e| internal("argon2", &e))?;
    let salt = SaltString::encode_b64(salt).map_err(|e| internal("salt", &e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: argon2::password_hash::ParamsString::try_from(&params)
            .map_err(|e| internal("argon2 parameters", &e))?,
        salt: Some(salt.as_salt()),
        hash: Some(
            argon2::password_hash::Output::new(&out).map_err(|e| internal("argon2 output", &e))?,
        ),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc` (any argon2 variant, version and cost the
/// string names; the comparison of the outputs is constant-time).
pub(crate) fn phc_matches(phc: &str, password: &[u8]) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    argon2_into(algorithm, version, &params, password, salt, &mut out).is_ok()
        && argon2::password_hash::Output::new(&out).is_ok_and(|o| o == expected)
}

/// The one refusal of a second nurse's confirmation, whatever failed (password, lockout or
/// role).
pub const SECOND_CHECKER_REFUSED: &str =
    "the second checker's confirmation was not accepted (a nurse's user name and password)";

/// Common passwords refused whatever their length (compared in lower case, ignoring spaces,
/// digits and punctuation at the ends). Bundled so that an air-gapped install checks them too.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// Checks a new password against the policy: at least [`MIN_PASSWORD_CHARS`] characters, at
/// most 1,024, not a common password, and not the user name (nor containing it).
pub fn check_password_policy(username: &str, password: &str) -> Result<(), AppError> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=1024).contains(&n) {
        return Err(AppError::invalid(
            "password",
            "(hidden)",
            format!("{MIN_PASSWORD_CHARS} to 1,024 characters"),
        ));
    }
    let lower = password.to_lowercase();
    let name = username.to_lowercase();
    if name.chars().count() >= 3 && lower.contains(&name) {
        return Err(AppError::invalid(
            "password",
            "(hidden)",
            "a password that does not contain the user name",
        ));
    }
    let core: String = lower
        .trim_matches(|c: char| !c.is_alphabetic())
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let common = COMMON_PASSWORDS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|l| l == lower || l == core);
    if common {
        return Err(AppError::invalid(
            "password",
            "(hidden)",
            "a password that is not on the list of common passwords",
        ));
    }
    Ok(())
}

/// Role pairs one account may not hold together (separation of duties): a prescriber who is
/// also a pharmacist could sign an order and verify it as the "different person" the
/// workflow requires in the next session.
pub const CONFLICTING_ROLES: &[(Role, Role)] = &[(Role::Prescriber, Role::Pharmacist)];

/// Refuses a role set that breaks separation of duties, naming the pair.
pub fn check_role_combination(roles: &[Role]) -> Result<(), AppError> {
    for (a, b) in CONFLICTING_ROLES {
        if roles.contains(a) && roles.contains(b) {
            return Err(AppError::invalid(
                "roles",
                format!("{} + {}", a.as_str(), b.as_str()),
                "roles that keep separation of duties: one account may not be both",
            ));
        }
    }
    Ok(())
}

/// The shortest password accepted (NIST SP 800-63B allows 8; the hospital review asked for 12).
pub const MIN_PASSWORD_CHARS: usize = 12;

/// A failed attempt on its way to the record.
struct Failure {
    /// The user's id, or `unknown-user`: never the typed text.
    user_id: String,
    by_user: SignInFailures,
    by_source: Option<SignInFailures>,
    user_key: String,
    source_key: Option<String>,
}

/// The audit entity of a failed sign-in: the user's id when the name exists, else
/// `unknown-user`.
fn users_id_for_audit(user_key: &str) -> String {
    user_key
        .strip_prefix("user:")
        .map_or_else(|| "unknown-user".to_string(), str::to_string)
}

/// Until when an attempt counted as `f` is refused: the stored lockout if it still runs, or
/// the full lockout duration when the count is already past the threshold (earlier attempts
/// still being checked have used the budget and will set the lockout when they fail).
fn locked_until(f: SignInFailures, threshold: i64, now: i64, duration_s: i64) -> Option<i64> {
    if f.locked_until_us > now {
        Some(f.locked_until_us)
    } else if f.failures > threshold {
        Some(now + duration_s * 1_000_000)
    } else {
        None
    }
}

/// A valid argon2id hash of a random string, checked against when the user name is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Zk2D0lqkAqyNl5dBBE4ZKU8hMZQx2vYc8g0XbrfhfF4";

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    #[test]
    fn the_dummy_hash_parses_so_unknown_names_cost_a_full_check() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn hashes_made_here_and_by_the_argon2_crate_verify_both_ways() {
        let params = Params::new(64, 1, 1, None).expect("params");
        let ours =
            new_phc_hash(b"correct horse battery", &[7u8; 16], params.clone()).expect("hash");
        assert!(phc_matches(&ours, b"correct horse battery"));
        assert!(!phc_matches(&ours, b"correct horse battery!"));
        let parsed = PasswordHash::new(&ours).expect("phc");
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        // A hash stored by earlier builds (the argon2 crate's own hasher) still verifies.
        let salt = SaltString::encode_b64(&[9u8; 16]).expect("salt");
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"infusio-demo", &salt)
            .expect("hash")
            .to_string();
        assert!(phc_matches(&theirs, b"infusio-demo"));
        assert!(!phc_matches(&theirs, b"infusio-demO"));
        assert!(!phc_matches("not a hash", b"x"));
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
