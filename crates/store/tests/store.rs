//! Store tests, each run on SQLite and on PostgreSQL (see `common`).

mod common;

use common::*;
use infusio_store::audit::GENESIS_HASH;
use infusio_store::records::*;
use infusio_store::{
    AuditDraft, Backend, BreakKind, Change, OrderStatus, Record, Role, Store, StoreError, Val,
    backup,
};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Migrations

async fn migrations_are_idempotent(db: &TestDb) {
    let s = &db.store;
    assert_eq!(
        s.migrate().await.expect("second migrate"),
        Store::latest_schema_version()
    );
    assert_eq!(s.schema_version().await.expect("version"), 5);
    let head = s.audit_head().await.expect("head");
    assert_eq!((head.seq, head.hash.as_str()), (0, GENESIS_HASH));
    let report = s.verify_audit().await.expect("verify");
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.events_verified, 0);
    // Every table of the schema exists with every column the records name.
    let mut tx = s.begin_snapshot().await.expect("snapshot");
    for (table, columns, kinds) in ENTITY_TABLES {
        let sql = format!("SELECT {} FROM {table} WHERE 1 = 0", columns.join(", "));
        tx.raw_fetch(&sql, &[], kinds)
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"));
    }
    tx.rollback().await.expect("rollback");
}
on_both_backends!(migrations_are_idempotent_and_complete => migrations_are_idempotent);

// ---------------------------------------------------------------------------------------------
// CRUD of every entity

/// Inserts, reads back, updates, reads back and lists one entity; returns the stored row.
async fn round_trip<T: Record + PartialEq + std::fmt::Debug>(
    s: &Store,
    data: T,
    edit: impl FnOnce(&mut T),
) -> infusio_store::Stored<T> {
    let who = clinician("admin");
    let mut tx = s.begin().await.expect("begin");
    let created = tx
        .insert(&who, data)
        .await
        .unwrap_or_else(|e| panic!("insert {}: {e}", T::TABLE));
    let events = tx.commit().await.expect("commit");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, format!("{}.create", T::TABLE));
    assert_eq!(events[0].entity_id, created.id);
    assert_eq!(created.version, 1);

    let read = s
        .get::<T>(&created.id)
        .await
        .expect("get")
        .expect("row present");
    assert_eq!(read, created, "{} reads back as written", T::TABLE);

    let mut changed = created.data.clone();
    edit(&mut changed);
    assert_ne!(
        changed,
        created.data,
        "the edit of {} changes something",
        T::TABLE
    );
    let mut tx = s.begin().await.expect("begin");
    let updated = tx
        .update(
            &who.clone().reason("correction"),
            &created.id,
            1,
            changed.clone(),
        )
        .await
        .unwrap_or_else(|e| panic!("update {}: {e}", T::TABLE));
    let events = tx.commit().await.expect("commit");
    assert_eq!(updated.version, 2);
    assert_eq!(updated.data, changed);
    let before: serde_json::Value =
        serde_json::from_str(events[0].before_json.as_deref().expect("before image"))
            .expect("json");
    let after: serde_json::Value =
        serde_json::from_str(events[0].after_json.as_deref().expect("after image")).expect("json");
    assert_eq!(before["version"], 1);
    assert_eq!(after["version"], 2);
    assert_eq!(events[0].reason.as_deref(), Some("correction"));

    let read = s
        .get::<T>(&created.id)
        .await
        .expect("get")
        .expect("row present");
    assert_eq!(read, updated);
    let mut tx = s.begin_snapshot().await.expect("snapshot");
    let all = tx.list::<T>().await.expect("list");
    assert!(all.iter().any(|r| r == &updated));
    tx.rollback().await.expect("rollback");
    updated
}

async fn delete<T: Record>(s: &Store, row: &infusio_store::Stored<T>) {
    let mut tx = s.begin().await.expect("begin");
    tx.delete::<T>(&clinician("admin"), &row.id, row.version)
        .await
        .unwrap_or_else(|e| panic!("delete {}: {e}", T::TABLE));
    let events = tx.commit().await.expect("commit");
    assert_eq!(events[0].action, format!("{}.delete", T::TABLE));
    assert!(
        s.get::<T>(&row.id).await.expect("get").is_none(),
        "{} deleted",
        T::TABLE
    );
}

async fn crud_every_entity(db: &TestDb) {
    let s = &db.store;
    let t0 = 1_767_225_600_000_000i64; // 2026-01-01T00:00:00Z
    let hour = 3_600_000_000i64;
    let user = round_trip(s, user("rx1"), |u| u.display_name = "Dr Rx One".into()).await;
    let nurse = round_trip(s, common::user("rn1"), |u| u.active = false).await;
    let role = round_trip(s, role(&user.id, Role::Prescriber), |r| {
        r.role = Role::Pharmacist
    })
    .await;
    let patient = round_trip(s, patient("MRN-1"), |p| p.family_name = "Renamed".into()).await;
    let allergy = round_trip(
        s,
        Allergy {
            patient_id: patient.id.clone(),
            substance: "penicillin".into(),
            reaction: Some("rash".into()),
            severity: "moderate".into(),
            recorded_by: Some(nurse.id.clone()),
        },
        |a| a.severity = "severe".into(),
    )
    .await;
    let weight = round_trip(
        s,
        Measurement {
            patient_id: patient.id.clone(),
            kind: "weight".into(),
            value: d("70.5"),
            unit: "kg".into(),
            measured_at_us: t0,
            source: "scale".into(),
            recorded_by: Some(nurse.id.clone()),
        },
        |m| m.value = d("70.4"),
    )
    .await;
    let lab = round_trip(
        s,
        LabResult {
            patient_id: patient.id.clone(),
            code: "2160-0".into(),
            name: "Creatinine".into(),
            value: d("0.9"),
            unit: "mg/dL".into(),
            collected_at_us: t0,
            resulted_at_us: None,
            source: "lab".into(),
        },
        |l| l.resulted_at_us = Some(t0 + hour),
    )
    .await;
    let protocol = round_trip(
        s,
        Protocol {
            code: "IFX-IND".into(),
            name: "Infliximab induction".into(),
            therapy_class: "biologic".into(),
            template_json: json!({"weeks": [0, 2, 6], "then_every_weeks": 8}),
            source: "label".into(),
        },
        |p| p.name = "Infliximab induction and maintenance".into(),
    )
    .await;
    let plan = round_trip(
        s,
        TherapyPlan {
            patient_id: patient.id.clone(),
            protocol_id: protocol.id.clone(),
            start_date: "2026-01-05".into(),
            status: "active".into(),
            schedule_json: json!({"doses": ["2026-01-05", "2026-01-19", "2026-02-16"]}),
        },
        |p| p.status = "stopped".into(),
    )
    .await;
    let order = round_trip(
        s,
        order(&patient.id, &user.id, Some(plan.id.clone())),
        |o| {
            o.status = OrderStatus::Signed;
            o.signed_at_us = Some(t0);
            o.overrides_json =
                json!([{"code": "dose_above_soft_max", "reason": "protocol", "by": "rx1"}]);
        },
    )
    .await;
    let verification = round_trip(
        s,
        Verification {
            order_id: order.id.clone(),
            pharmacist_id: user.id.clone(),
            verified_at_us: t0 + hour,
            outcome: infusio_store::VerificationOutcome::Verified,
            blind_entry_json: json!({"dose_mg": "350"}),
            differences_json: json!([]),
            note: None,
        },
        |v| v.note = Some("checked".into()),
    )
    .await;
    let preparation = round_trip(
        s,
        Preparation {
            order_id: order.id.clone(),
            prepared_by: nurse.id.clone(),
            checked_by: None,
            prepared_at_us: t0 + 2 * hour,
            beyond_use_at_us: t0 + 26 * hour,
            final_volume_ml: d("250"),
            concentration: d("1.4"),
            concentration_unit: "mg/mL".into(),
            status: infusio_store::PreparationStatus::Prepared,
            waste_json: None,
        },
        |p| p.waste_json = Some(json!({"product": "infliximab 100 mg vial", "mg": "50"})),
    )
    .await;
    let component = round_trip(
        s,
        PreparationComponent {
            preparation_id: preparation.id.clone(),
            product: "infliximab 100 mg vial".into(),
            gtin: Some("00312345678906".into()),
            lot: "LOT-A1".into(),
            expiry_date: "2027-06-30".into(),
            quantity: d("4"),
            quantity_unit: "vial".into(),
        },
        |c| c.lot = "LOT-A2".into(),
    )
    .await;
    let appointment = round_trip(
        s,
        Appointment {
            patient_id: patient.id.clone(),
            order_id: Some(order.id.clone()),
            chair: "C3".into(),
            start_at_us: t0 + 3 * hour,
            end_at_us: t0 + 5 * hour,
            status: infusio_store::AppointmentStatus::Booked,
        },
        |a| a.status = infusio_store::AppointmentStatus::Arrived,
    )
    .await;
    let administration = round_trip(
        s,
        Administration {
            order_id: order.id.clone(),
            preparation_id: preparation.id.clone(),
            appointment_id: Some(appointment.id.clone()),
            nurse_id: nurse.id.clone(),
            second_nurse_id: None,
            wristband_scan: "MRN-1".into(),
            bag_scan: preparation.id.clone(),
            pump_programme_json: json!({"rate_ml_per_h": "125", "vtbi_ml": "250"}),
            started_at_us: t0 + 3 * hour,
            stopped_at_us: None,
            status: infusio_store::AdministrationStatus::InProgress,
            stop_reason: None,
        },
        |a| {
            a.status = infusio_store::AdministrationStatus::Stopped;
            a.stopped_at_us = Some(t0 + 4 * hour);
            a.stop_reason = Some("grade 2 reaction".into());
        },
    )
    .await;
    let event = round_trip(
        s,
        AdministrationEvent {
            administration_id: administration.id.clone(),
            kind: infusio_store::AdministrationEventKind::Reaction,
            at_us: t0 + 4 * hour,
            recorded_by: nurse.id.clone(),
            rate_ml_per_h: None,
            reaction_grade: Some(2),
            detail_json: json!({"signs": ["flushing"], "vitals": {"hr_per_min": 104}}),
        },
        |e| e.reaction_grade = Some(3),
    )
    .await;

    // Lot traceability: the component is found by its lot.
    let mut tx = s.begin_snapshot().await.expect("snapshot");
    let by_lot = tx
        .find_by::<PreparationComponent>("lot", Val::Text(Some("LOT-A2".into())))
        .await
        .expect("find by lot");
    assert_eq!(by_lot.len(), 1);
    assert_eq!(by_lot[0].data.preparation_id, preparation.id);
    let bad = tx
        .find_by::<PreparationComponent>("lot; DROP TABLE users", Val::Text(None))
        .await;
    assert!(
        matches!(
            bad,
            Err(StoreError::Invalid {
                field: "column",
                ..
            })
        ),
        "{bad:?}"
    );
    tx.rollback().await.expect("rollback");

    // Children first, as foreign keys require.
    delete(s, &event).await;
    delete(s, &administration).await;
    delete(s, &appointment).await;
    delete(s, &component).await;
    delete(s, &preparation).await;
    delete(s, &verification).await;
    delete(s, &order).await;
    delete(s, &plan).await;
    delete(s, &protocol).await;
    delete(s, &lab).await;
    delete(s, &weight).await;
    delete(s, &allergy).await;
    delete(s, &patient).await;
    delete(s, &role).await;
    delete(s, &nurse).await;
    delete(s, &user).await;

    // 16 rows × (create, update, delete), every event chained.
    let report = s.verify_audit().await.expect("verify");
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.events_verified, 48);
    assert_eq!(report.head.seq, 48);
}
on_both_backends!(crud_of_every_entity => crud_every_entity);

async fn constraints_refuse_bad_rows(db: &TestDb) {
    let s = &db.store;
    let mut tx = s.begin().await.expect("begin");
    let orphan = Measurement {
        patient_id: "no-such-patient".into(),
        kind: "weight".into(),
        value: d("70"),
        unit: "kg".into(),
        measured_at_us: 0,
        source: "scale".into(),
        recorded_by: None,
    };
    let err = tx.insert(&clinician("nurse"), orphan).await;
    assert!(
        matches!(
            err,
            Err(StoreError::Conflict {
                table: "measurements",
                ..
            })
        ),
        "{err:?}"
    );
    drop(tx);
    let mut tx = s.begin().await.expect("begin");
    let mut bad = patient("MRN-X");
    bad.sex = "banana".into();
    let err = tx.insert(&clinician("admin"), bad).await;
    assert!(
        matches!(
            err,
            Err(StoreError::Conflict {
                table: "patients",
                ..
            })
        ),
        "{err:?}"
    );
    drop(tx);
    assert_eq!(s.audit_head().await.expect("head").seq, 0);
}
on_both_backends!(constraints_refuse_orphans_and_bad_values => constraints_refuse_bad_rows);

// ---------------------------------------------------------------------------------------------
// Optimistic concurrency

async fn stale_version(db: &TestDb) {
    let s = &db.store;
    let (p, _) = add_patient(s, "MRN-S").await;
    // Two clinicians read version 1. The first write wins…
    let mut first = p.data.clone();
    first.family_name = "First".into();
    let mut tx = s.begin().await.expect("begin");
    let v2 = tx
        .update(&clinician("admin"), &p.id, 1, first)
        .await
        .expect("first update");
    tx.commit().await.expect("commit");
    assert_eq!(v2.version, 2);
    // …the second, still based on version 1, is refused and writes nothing.
    let head_before = s.audit_head().await.expect("head");
    let mut second = p.data.clone();
    second.family_name = "Second".into();
    let mut tx = s.begin().await.expect("begin");
    let err = tx.update(&clinician("admin"), &p.id, 1, second).await;
    match err {
        Err(StoreError::StaleVersion {
            table,
            expected,
            current,
            ..
        }) => {
            assert_eq!((table, expected, current), ("patients", 1, 2));
        }
        other => panic!("expected a stale-version refusal, got {other:?}"),
    }
    let stale_delete = tx.delete::<Patient>(&clinician("admin"), &p.id, 1).await;
    assert!(
        matches!(stale_delete, Err(StoreError::StaleVersion { .. })),
        "{stale_delete:?}"
    );
    assert!(
        tx.pending_audit().is_empty(),
        "a refused write queues no audit event"
    );
    assert!(tx.commit().await.expect("commit").is_empty());
    let now = s
        .get::<Patient>(&p.id)
        .await
        .expect("get")
        .expect("present");
    assert_eq!(now.data.family_name, "First");
    assert_eq!(now.version, 2);
    assert_eq!(s.audit_head().await.expect("head"), head_before);
    // A missing row is reported as such.
    let mut tx = s.begin().await.expect("begin");
    let missing = tx
        .update(&clinician("admin"), "nope", 1, p.data.clone())
        .await;
    assert!(
        matches!(
            missing,
            Err(StoreError::NotFound {
                table: "patients",
                ..
            })
        ),
        "{missing:?}"
    );
}
on_both_backends!(stale_version_update_is_refused => stale_version);

// ---------------------------------------------------------------------------------------------
// Row and audit event in one transaction

async fn atomic(db: &TestDb) {
    let s = &db.store;
    let (_, seq) = add_patient(s, "MRN-A").await;
    assert_eq!(seq, 1);
    let head = s.audit_head().await.expect("head");

    // A transaction that fails midway leaves neither the row nor any event.
    let mut tx = s.begin().await.expect("begin");
    let b = tx
        .insert(&clinician("admin"), patient("MRN-B"))
        .await
        .expect("insert B");
    assert_eq!(tx.pending_audit().len(), 1);
    let dup = tx.insert(&clinician("admin"), patient("MRN-A")).await;
    assert!(matches!(dup, Err(StoreError::Conflict { .. })), "{dup:?}");
    drop(tx); // the caller gives up: rollback
    assert!(s.get::<Patient>(&b.id).await.expect("get").is_none());
    assert_eq!(s.audit_head().await.expect("head"), head);

    // An explicit rollback after several writes leaves nothing either.
    let mut tx = s.begin().await.expect("begin");
    let c = tx
        .insert(&clinician("admin"), patient("MRN-C"))
        .await
        .expect("insert C");
    tx.append_audit(AuditDraft {
        actor: "user-under-test".into(),
        actor_role: "admin".into(),
        action: "patient.export".into(),
        entity_type: "patients".into(),
        entity_id: c.id.clone(),
        before: None,
        after: None,
        reason: Some("transfer".into()),
        derivation: None,
    });
    tx.rollback().await.expect("rollback");
    assert!(s.get::<Patient>(&c.id).await.expect("get").is_none());
    assert_eq!(s.audit_head().await.expect("head"), head);

    // A committed transaction has both, linked: the event's after image is the row.
    let mut tx = s.begin().await.expect("begin");
    let d = tx
        .insert(
            &Change::by("rx1", "prescriber")
                .action("patient.admit")
                .derivation(json!({"source": "test"})),
            patient("MRN-D"),
        )
        .await
        .expect("insert D");
    let events = tx.commit().await.expect("commit");
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!((e.seq, e.prev_hash.as_str()), (2, head.hash.as_str()));
    assert_eq!(
        (e.actor.as_str(), e.actor_role.as_str()),
        ("rx1", "prescriber")
    );
    assert_eq!(e.action, "patient.admit");
    assert_eq!(e.entity_id, d.id);
    assert_eq!(e.derivation_json.as_deref(), Some(r#"{"source":"test"}"#));
    let after: serde_json::Value =
        serde_json::from_str(e.after_json.as_deref().expect("after")).expect("json");
    assert_eq!(after, serde_json::to_value(&d).expect("json"));
    assert!(s.get::<Patient>(&d.id).await.expect("get").is_some());
    assert_eq!(s.audit_head().await.expect("head").seq, 2);
}
on_both_backends!(row_and_audit_event_commit_together => atomic);

// ---------------------------------------------------------------------------------------------
// Tampering

async fn ten_events(s: &Store) {
    for i in 1..=10 {
        add_patient(s, &format!("MRN-T{i}")).await;
    }
    assert!(s.verify_audit().await.expect("verify").intact());
}

/// The database itself refuses to rewrite history through ordinary SQL.
async fn assert_guarded(s: &Store, statement: &str) {
    let mut tx = s.begin().await.expect("begin");
    let err = tx.raw_execute(statement, &[]).await.expect_err("refused");
    assert!(
        err.to_string().contains("append-only"),
        "{statement}: {err}"
    );
}

async fn tamper_flip(db: &TestDb) {
    let s = &db.store;
    ten_events(s).await;
    assert_guarded(s, "UPDATE audit_event SET actor = 'mallory' WHERE seq = 4").await;
    let mut tx = s.begin().await.expect("begin");
    bypass_guards(&mut tx).await;
    // Flip one byte of the after image of event 4.
    let n = tx
        .raw_execute("UPDATE audit_event SET after_json = REPLACE(after_json, 'MRN-T4', 'MRN-T5') WHERE seq = 4", &[])
        .await
        .expect("tamper");
    assert_eq!(n, 1);
    tx.commit().await.expect("commit");
    let broken = s
        .verify_audit()
        .await
        .expect("verify")
        .broken
        .expect("tampering detected");
    assert_eq!(
        (broken.seq, broken.kind),
        (4, BreakKind::HashMismatch),
        "{broken:?}"
    );
}
on_both_backends!(tamper_flipped_byte_is_caught => tamper_flip);

async fn tamper_delete(db: &TestDb) {
    let s = &db.store;
    ten_events(s).await;
    assert_guarded(s, "DELETE FROM audit_event WHERE seq = 5").await;
    let mut tx = s.begin().await.expect("begin");
    bypass_guards(&mut tx).await;
    tx.raw_execute("DELETE FROM audit_event WHERE seq = 5", &[])
        .await
        .expect("tamper");
    tx.commit().await.expect("commit");
    let broken = s
        .verify_audit()
        .await
        .expect("verify")
        .broken
        .expect("tampering detected");
    assert_eq!((broken.seq, broken.kind), (5, BreakKind::Gap), "{broken:?}");
}
on_both_backends!(tamper_deleted_event_is_caught => tamper_delete);

async fn tamper_reorder(db: &TestDb) {
    let s = &db.store;
    ten_events(s).await;
    let mut tx = s.begin().await.expect("begin");
    bypass_guards(&mut tx).await;
    // Swap events 3 and 6.
    for sql in [
        "UPDATE audit_event SET seq = 1000003 WHERE seq = 3",
        "UPDATE audit_event SET seq = 3 WHERE seq = 6",
        "UPDATE audit_event SET seq = 6 WHERE seq = 1000003",
    ] {
        tx.raw_execute(sql, &[]).await.expect("tamper");
    }
    tx.commit().await.expect("commit");
    let broken = s
        .verify_audit()
        .await
        .expect("verify")
        .broken
        .expect("tampering detected");
    assert_eq!(
        (broken.seq, broken.kind),
        (3, BreakKind::Reordered),
        "{broken:?}"
    );
    assert!(
        broken.detail.contains("written as event 6"),
        "{}",
        broken.detail
    );
}
on_both_backends!(tamper_reordered_events_are_caught => tamper_reorder);

async fn tamper_truncate(db: &TestDb) {
    let s = &db.store;
    ten_events(s).await;
    if s.backend() == Backend::Postgres {
        assert_guarded(s, "TRUNCATE audit_event").await;
    }
    let mut tx = s.begin().await.expect("begin");
    bypass_guards(&mut tx).await;
    tx.raw_execute("DELETE FROM audit_event WHERE seq >= 9", &[])
        .await
        .expect("tamper");
    tx.commit().await.expect("commit");
    let report = s.verify_audit().await.expect("verify");
    assert_eq!(report.events_verified, 8);
    let broken = report.broken.expect("tampering detected");
    assert_eq!(
        (broken.seq, broken.kind),
        (9, BreakKind::Truncated),
        "{broken:?}"
    );
}
on_both_backends!(tamper_truncated_tail_is_caught => tamper_truncate);

// ---------------------------------------------------------------------------------------------
// Backup and restore

async fn backup_restore(db: &TestDb) {
    let s = &db.store;
    ten_events(s).await;
    let (p, _) = add_patient(s, "MRN-BR").await;
    let mut tx = s.begin().await.expect("begin");
    let mut edited = p.data.clone();
    edited.given_name = "Edited".into();
    tx.update(&clinician("admin"), &p.id, 1, edited)
        .await
        .expect("update");
    tx.commit().await.expect("commit");
    // The interface's inbound message log (migration 4) is part of the record too.
    let inbound = inbound_row("LAB^HOSP", "MSG-1");
    let mut tx = s.begin().await.expect("begin");
    assert!(tx.insert_inbound(&inbound).await.expect("log"));
    // Redelivery of the same (sender, control id) writes nothing: the first answer stands.
    let mut twin = inbound.clone();
    twin.ack_code = "AE".into();
    assert!(!tx.insert_inbound(&twin).await.expect("log twin"));
    tx.commit().await.expect("commit");
    let head = s.audit_head().await.expect("head");
    assert_eq!(head.seq, 12);

    let file = db.dir.path().join("snapshot.bak");
    let summary = backup::backup(s, &file).await.expect("backup");
    assert_eq!(summary.audit_head, head);
    assert_eq!(
        summary.format,
        if s.backend() == Backend::Sqlite {
            "sqlite-file"
        } else {
            "json"
        }
    );
    // A backup never overwrites.
    let again = backup::backup(s, &file).await;
    assert!(matches!(again, Err(StoreError::Backup(_))), "{again:?}");
    // Writes after the snapshot are not in it.
    add_patient(s, "MRN-LATE").await;

    // Restore into a new SQLite store: same head, same rows.
    let target_dir = TempDir::new("restore");
    let target = Store::open_data_dir(target_dir.path())
        .await
        .expect("open target");
    let restored = backup::restore(&target, &file).await.expect("restore");
    assert_eq!(restored.audit_head, head);
    assert_eq!(target.audit_head().await.expect("head"), head);
    assert!(target.verify_audit().await.expect("verify").intact());
    let back = target
        .get::<Patient>(&p.id)
        .await
        .expect("get")
        .expect("restored row");
    assert_eq!(back.data.given_name, "Edited");
    assert_eq!(back.version, 2);
    let mut tx = target.begin_snapshot().await.expect("snapshot");
    assert_eq!(
        tx.inbound("LAB^HOSP", "MSG-1").await.expect("read log"),
        Some(inbound.clone())
    );
    assert_eq!(tx.inbound_log().await.expect("log"), vec![inbound.clone()]);
    tx.rollback().await.expect("rollback");
    // The restored store keeps chaining from the snapshot's head.
    let (_, next_seq) = add_patient(&target, "MRN-AFTER").await;
    assert_eq!(next_seq, head.seq + 1);
    assert!(target.verify_audit().await.expect("verify").intact());
    // A second restore into a database that holds records is refused.
    let twice = backup::restore(&target, &file).await;
    assert!(matches!(twice, Err(StoreError::Backup(_))), "{twice:?}");
    target.close().await;

    // And into a new PostgreSQL database (also from a SQLite snapshot: moving a clinic's record
    // to a health system's server).
    if let Some((pg, schema)) = pg_fresh_store("backup_restore (into PostgreSQL)").await {
        let restored = backup::restore(&pg, &file)
            .await
            .expect("restore into PostgreSQL");
        assert_eq!(restored.audit_head, head);
        assert!(pg.verify_audit().await.expect("verify").intact());
        let mut tx = pg.begin_snapshot().await.expect("snapshot");
        assert_eq!(tx.inbound_log().await.expect("log"), vec![inbound.clone()]);
        tx.rollback().await.expect("rollback");
        pg.close().await;
        schema.drop().await;
    }
}
on_both_backends!(backup_restore_keeps_the_chain_head => backup_restore);

fn inbound_row(sender: &str, control_id: &str) -> infusio_store::InboundRecord {
    infusio_store::InboundRecord {
        sender: sender.into(),
        control_id: control_id.into(),
        message_hash: "0".repeat(64),
        message_type: "ORU^R01".into(),
        received_at_us: 1_700_000_000_000_000,
        ack_code: "AA".into(),
        ack_text: "MSH|^~\\&|...".into(),
        outcome: "accepted".into(),
        message_text: "MSH|^~\\&|LAB|HOSP".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Concurrency

async fn concurrent(db: &TestDb) {
    let s = &db.store;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let s = s.clone();
        tasks.spawn(async move { add_patient(&s, &format!("MRN-C{i}")).await.1 });
    }
    let mut seqs = Vec::new();
    while let Some(r) = tasks.join_next().await {
        seqs.push(r.expect("task"));
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=50).collect::<Vec<i64>>(),
        "gap-free, no duplicates"
    );
    let report = s.verify_audit().await.expect("verify");
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.events_verified, 50);
}
on_both_backends!(fifty_concurrent_appends_make_a_gap_free_chain => concurrent);

// ---------------------------------------------------------------------------------------------
// Backend settings

#[tokio::test]
async fn sqlite_runs_wal_full_sync_with_foreign_keys() {
    let db = infusio_testkit::BACKEND
        .scope(infusio_testkit::TestBackend::Sqlite, TestDb::open())
        .await;
    let mut tx = db.store.begin_snapshot().await.expect("snapshot");
    let mut pragma = async |name: &str, kind| {
        tx.raw_fetch(&format!("PRAGMA {name}"), &[], &[kind])
            .await
            .expect("pragma")[0][0]
            .clone()
    };
    assert_eq!(
        pragma("journal_mode", infusio_store::Kind::Text).await,
        Val::Text(Some("wal".into()))
    );
    // 2 = FULL.
    assert_eq!(
        pragma("synchronous", infusio_store::Kind::Int).await,
        Val::Int(Some(2))
    );
    assert_eq!(
        pragma("foreign_keys", infusio_store::Kind::Int).await,
        Val::Int(Some(1))
    );
    drop(tx);
    db.finish().await;
}

#[tokio::test]
async fn postgres_refuses_synchronous_commit_off() {
    let Some(server) = pg_url("postgres_refuses_synchronous_commit_off") else {
        return;
    };
    // The session default comes from the server, the database, the role or the connection:
    // whichever set it, a connection that would acknowledge commits before they are on disk
    // is refused.
    let url = with_param(&server, "options%5Bsynchronous_commit%5D=off");
    match Store::open(&url).await {
        Err(StoreError::UnsafeDurability { setting, value }) => {
            assert_eq!((setting, value.as_str()), ("synchronous_commit", "off"));
        }
        Err(other) => panic!("expected a durability refusal, got {other}"),
        Ok(_) => panic!("a server with synchronous_commit = off must be refused"),
    }
    // The same server with the durable default is accepted.
    Store::open(&server)
        .await
        .expect("durable server accepted")
        .close()
        .await;
}

#[tokio::test]
async fn bad_urls_are_refused_clearly() {
    for url in ["mysql://x", "sqlite://", "file.db"] {
        assert!(
            matches!(Store::open(url).await, Err(StoreError::BadUrl { .. })),
            "{url}"
        );
    }
}
