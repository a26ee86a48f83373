//! `infusio-app`: the workflows of an infusion centre over the record.
//!
//! Order → sign → verify (blind, by a pharmacist who is not the prescriber) → prepare →
//! schedule → administer (five rights, pump programme, double check for high-alert drugs),
//! with held, cancelled and discontinued; patients with their measurements, labs and
//! allergies; users, roles, sign-in, sessions and lockout.
//!
//! Invariants:
//! - This crate owns the workflow rules: who may take each step ([`roles`]), from which state,
//!   and what blocks it (hard stops, missing override reasons, five-rights mismatches). It knows
//!   nothing of HTTP: callers hand it typed requests or JSON objects and get typed results or an
//!   [`AppError`].
//! - Every state change goes through one store transaction that also writes its audit event, so
//!   the change and its event commit together or not at all.
//! - Every clinical number it stores was computed by `infusio-core` (dose engine and `check`)
//!   and is stored with its derivation and findings.
//! - Updates to existing records name the version the caller read; a stale one is refused.
#![warn(clippy::too_many_lines)] // production functions stay under 100 lines (clippy.toml)

pub mod access;
pub mod accounts;
pub mod auth;
mod backfill;
pub mod bag_identity;
pub mod bedside;
pub mod commands;
pub mod completion;
mod db;
pub mod demo;
pub mod dose_basis;
mod error;
pub mod fhir_support;
pub mod integrity;
pub mod interface;
pub mod library;
pub mod model_dosing;
pub mod order_origin;
pub mod orders;
pub mod patients;
pub mod plans;
pub mod pn_order;
pub mod preparation;
pub mod pump_checks;
pub mod recalls;
pub mod release;
pub mod returned;
pub mod roles;
pub mod steps;
pub mod time;
pub mod titrated;
pub mod treatment_day;
pub mod ui_support;
pub mod vitals;
pub mod workflow;

use std::sync::Arc;

use infusio_core::library::Library;
use infusio_store::Store;

pub use error::{AppError, ErrorKind};
pub use roles::{Action, Actor};
pub use steps::OrderStep;

/// Settings of the workflows. Every field documents its default and unit.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// A cookie session ends after this many seconds without a request. Default 1,800 (30 min).
    pub session_idle_timeout_s: i64,
    /// Any session or API token ends this many seconds after sign-in. Default 43,200 (12 h).
    pub session_max_age_s: i64,
    /// Consecutive failed sign-ins that lock an account. Default 5.
    pub lockout_threshold: i64,
    /// How long a locked account stays locked, seconds. Default 900 (15 min).
    pub lockout_duration_s: i64,
    /// Failed sign-ins from one source address (whatever the user names) that lock that
    /// source for `lockout_duration_s`. A success from the source starts its count again.
    /// Default 20.
    pub lockout_source_threshold: i64,
    /// Password hashes (sign-in checks, new passwords) computed at once. Each argon2id hash
    /// holds `argon2_memory_kib` of memory while it runs, so this bounds the memory sign-in
    /// can take: 2 × 19 MiB by default. Default 2.
    pub password_hash_concurrency: usize,
    /// Sign-ins and password changes that may wait for a hashing slot; one more is refused at
    /// once (`AppError::Busy`, HTTP 503 with `Retry-After`) instead of queueing without
    /// bound. Default 32.
    pub password_hash_queue: usize,
    /// Argon2id memory cost in KiB for new password hashes. Default 19,456 (OWASP's minimum
    /// recommendation for argon2id); tests lower it to stay fast.
    pub argon2_memory_kib: u32,
    /// Argon2id iterations for new password hashes. Default 2.
    pub argon2_iterations: u32,
    /// Largest difference, in percent of the prescriber's figure, between the pharmacist's blind
    /// entry and the order that still verifies. Default 5.
    pub verification_tolerance_percent: f64,
    /// Largest difference, in percent, between a preparation's total amount or final volume
    /// and the verified order that is still accepted. Default 5: an institutional setting
    /// (the drug library states no compounding tolerance), not a figure from a label.
    pub preparation_tolerance_percent: f64,
    /// Whether the bedside accepts a bag of a high-alert or hazardous drug only once a
    /// pharmacist other than the preparer has released it ([`release`]). Default `false`
    /// while the pharmacy screens have no release step yet; the API's release works either
    /// way, and a released bag is always accepted.
    pub preparation_release_required: bool,
    /// The bedside scan must fall within this many minutes of the appointment's start.
    /// Default 60.
    pub administration_window_min: i64,
    /// The care area passed to the dose-error checks. Default `adult-infusion`.
    pub care_area: String,
    /// Where the workflows read the time (scan windows, beyond-use times, lockouts, session
    /// expiry, "not in the future" checks). Default [`Clock::system`]; tests use
    /// [`Clock::fixed`] or their own function.
    pub clock: Clock,
}

/// The time source of the workflows, microseconds since the Unix epoch (UTC). Injected through
/// [`AppConfig`] so that no rule reads the system clock behind the caller's back and tests can
/// pin the time.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            i64::try_from(now.as_micros()).unwrap_or(i64::MAX)
        }))
    }

    /// A clock that always reads `at_us`.
    pub fn fixed(at_us: i64) -> Clock {
        Clock(Arc::new(move || at_us))
    }

    /// A clock read from `f` (e.g. a test clock that can be moved on).
    pub fn from_fn(f: impl Fn() -> i64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(f))
    }

    /// The time now, µs since the Unix epoch (UTC).
    pub fn now_us(&self) -> i64 {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock(now_us = {})", self.now_us())
    }
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            session_idle_timeout_s: 1_800,
            session_max_age_s: 43_200,
            lockout_threshold: 5,
            lockout_duration_s: 900,
            lockout_source_threshold: 20,
            password_hash_concurrency: 2,
            password_hash_queue: 32,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            verification_tolerance_percent: 5.0,
            preparation_tolerance_percent: 5.0,
            preparation_release_required: false,
            administration_window_min: 60,
            care_area: "adult-infusion".to_string(),
            clock: Clock::system(),
        }
    }
}

struct Inner {
    store: Store,
    library: Library,
    config: AppConfig,
    hash_gate: auth::HashGate,
}

/// The application: the record, the drug library and the settings. Cheap to clone.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

impl App {
    /// Migrates the record (the store's schema, which includes this crate's session, lockout
    /// and idempotency tables) and returns the application.
    pub async fn open(store: Store, library: Library, config: AppConfig) -> Result<App, AppError> {
        store.migrate().await?;
        let hash_gate =
            auth::HashGate::new(config.password_hash_concurrency, config.password_hash_queue);
        let app = App {
            inner: Arc::new(Inner {
                store,
                library,
                config,
                hash_gate,
            }),
        };
        // Orders verified before schedules were stored with them (see `backfill`).
        backfill::titration_schedules(&app).await?;
        Ok(app)
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn library(&self) -> &Library {
        &self.inner.library
    }

    pub fn config(&self) -> &AppConfig {
        &self.inner.config
    }

    pub(crate) fn hash_gate(&self) -> &auth::HashGate {
        &self.inner.hash_gate
    }

    /// The time now by the configured [`Clock`], µs since the Unix epoch (UTC). Edges that
    /// need the time (an acknowledgement's timestamp, a default date) read it here too.
    pub fn now_us(&self) -> i64 {
        self.inner.config.clock.now_us()
    }
}
