//! `infusio audit access --patient ID`: the operator lists who read a patient's chart.

use infusio_app::{Actor, App, AppConfig};
use infusio_store::Role;
use infusio_testkit::TempDir;
use infusio_testkit::run::{run_in, stderr, stdout, stdout_json};

#[test]
fn the_operator_lists_a_patients_chart_reads() {
    let tmp = TempDir::new("audit-access-cli");
    let data = tmp.path().join("infusio-data");
    let patient_id = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let store = infusio_store::Store::open_data_dir(&data).await.expect("open");
            let library = infusio_app::library::builtin().expect("library");
            let app = App::open(store, library, AppConfig::default())
                .await
                .expect("app");
            let nurse = app
                .create_user(None, "nurse.a", "Nurse A", "amber lantern by the river", &[Role::Nurse])
                .await
                .expect("user");
            let actor = Actor {
                user_id: nurse.id,
                username: nurse.username,
                display_name: nurse.display_name,
                roles: vec![Role::Nurse],
            };
            let input = serde_json::json!({"mrn": "MRN-ACCESS", "family_name": "Read", "given_name": "Chart", "birth_date": "1970-01-01", "sex": "female"});
            let new = infusio_app::patients::NewPatient::try_from(&input).expect("patient");
            let p = app.create_patient(&actor, &new).await.expect("create");
            app.chart(&actor, &p.id).await.expect("chart");
            app.chart(&actor, &p.id).await.expect("chart");
            app.store().close().await;
            p.id
        });
    let cwd = tmp.path();
    let o = run_in(
        env!("CARGO_BIN_EXE_infusio"),
        &["audit", "access", "--patient", &patient_id, "--json"],
        "",
        cwd,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = stdout_json(&o);
    let entries = v.as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 2, "{v}");
    assert!(
        entries
            .iter()
            .all(|e| e["view"] == "chart" && e["actor_role"] == "nurse")
    );
    let o = run_in(
        env!("CARGO_BIN_EXE_infusio"),
        &["audit", "access", "--patient", &patient_id],
        "",
        cwd,
    );
    assert!(stdout(&o).contains("2 reads of patient"), "{}", stdout(&o));
    let o = run_in(env!("CARGO_BIN_EXE_infusio"), &["audit", "access"], "", cwd);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
