//! The workflows read the time only through the injected clock: moving a test clock moves
//! session expiry and lockout, with no waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use infusio_app::auth::SessionKind;
use infusio_app::{App, AppConfig, AppError, Clock};
use infusio_store::{Role, Store};

const T0_US: i64 = 1_767_268_800 * 1_000_000; // 2026-01-01T12:00:00Z
const MIN_US: i64 = 60 * 1_000_000;

struct Harness {
    app: App,
    now: Arc<AtomicI64>,
    dir: std::path::PathBuf,
}

impl Harness {
    async fn new(name: &str) -> Harness {
        let dir = infusio_testkit::TempDir::new(&format!("app-clock-{name}")).keep();
        let store = Store::open_data_dir(&dir).await.expect("store");
        let now = Arc::new(AtomicI64::new(T0_US));
        let read = now.clone();
        let config = AppConfig {
            argon2_memory_kib: 64,
            argon2_iterations: 1,
            clock: Clock::from_fn(move || read.load(Ordering::SeqCst)),
            ..AppConfig::default()
        };
        let library = infusio_app::library::builtin().expect("library");
        let app = App::open(store, library, config).await.expect("app");
        app.create_user(None, "nurse", "Nurse", "a long password", &[Role::Nurse])
            .await
            .expect("user");
        Harness { app, now, dir }
    }

    fn advance(&self, by_us: i64) {
        self.now.fetch_add(by_us, Ordering::SeqCst);
    }

    async fn finish(self) {
        self.app.store().close().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn a_cookie_session_ends_when_the_clock_passes_its_idle_timeout() {
    let h = Harness::new("idle").await;
    assert_eq!(h.app.now_us(), T0_US);
    let s = h
        .app
        .sign_in("nurse", "a long password", SessionKind::Cookie)
        .await
        .expect("sign in");
    assert_eq!(
        s.expires_at_us,
        T0_US + h.app.config().session_max_age_s * 1_000_000
    );
    // 29 minutes later the session still works (idle timeout 30 min by default).
    h.advance(29 * MIN_US);
    assert!(h.app.session(&s.token).await.is_ok());
    // It was touched at minute 29; 31 more idle minutes end it.
    h.advance(31 * MIN_US);
    assert!(matches!(
        h.app.session(&s.token).await,
        Err(AppError::Unauthenticated)
    ));
    h.finish().await;
}

#[tokio::test]
async fn a_lockout_lasts_exactly_its_duration_by_the_clock() {
    let h = Harness::new("lockout").await;
    let threshold = h.app.config().lockout_threshold;
    for _ in 0..threshold {
        let r = h.app.sign_in("nurse", "wrong", SessionKind::Bearer).await;
        assert!(matches!(r, Err(AppError::BadCredentials)), "{r:?}");
    }
    let locked = h
        .app
        .sign_in("nurse", "a long password", SessionKind::Bearer)
        .await;
    let duration_s = h.app.config().lockout_duration_s;
    match locked {
        Err(AppError::Locked { retry_after_s }) => assert_eq!(retry_after_s, duration_s + 1),
        other => panic!("expected a lockout, got {other:?}"),
    }
    h.advance(duration_s * 1_000_000 - 1);
    assert!(matches!(
        h.app
            .sign_in("nurse", "a long password", SessionKind::Bearer)
            .await,
        Err(AppError::Locked { .. })
    ));
    h.advance(1);
    assert!(
        h.app
            .sign_in("nurse", "a long password", SessionKind::Bearer)
            .await
            .is_ok()
    );
    h.finish().await;
}
