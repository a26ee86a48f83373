//! Anchoring the audit chain outside the database (issue 19): a signed head detects a chain
//! whose tail was cut off, or whose head was rewritten, even when the rewritten chain and its
//! head row are consistent and `verify` alone finds nothing.

#![allow(unused_imports)] // the shared fixtures serve several test files

mod common;

use common::*;
use infusio_store::Val;
use infusio_store::anchor::{self, Anchor, AnchorCheck};
use infusio_store::audit::{event_hash, read_events};

/// Five events, then an anchor signed at the head (seq 5).
async fn anchored(s: &infusio_store::Store) -> (Anchor, String) {
    for i in 0..5 {
        add_patient(s, &format!("MRN-A{i}")).await;
    }
    let (secret, public) = anchor::generate_key().expect("key");
    let head = s.audit_head().await.expect("head");
    assert_eq!(head.seq, 5);
    let a = Anchor::sign(&head, &secret, 1).expect("sign");
    let key = anchor::read_public(&public).expect("public key");
    a.check_signature(Some(&key)).expect("signature");
    assert_eq!(
        anchor::check(s, &a).await.expect("check"),
        AnchorCheck::Matches { seq: 5 }
    );
    (a, public)
}

/// Sets the head row to event `seq` as stored, so the shortened chain verifies by itself.
async fn move_head_to(tx: &mut infusio_store::Tx, seq: i64) {
    let events = read_events(tx, seq, 1).await.expect("read");
    tx.raw_execute(
        "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
        &[Val::Int(Some(seq)), Val::Text(Some(events[0].hash.clone()))],
    )
    .await
    .expect("move head");
}

async fn truncated_chain(db: &TestDb) {
    let s = &db.store;
    let (a, _) = anchored(s).await;
    let mut tx = s.begin().await.expect("begin");
    bypass_guards(&mut tx).await;
    tx.raw_execute("DELETE FROM audit_event WHERE seq >= 4", &[])
        .await
        .expect("cut the tail");
    move_head_to(&mut tx, 3).await;
    tx.commit().await.expect("commit");
    assert!(
        s.verify_audit().await.expect("verify").intact(),
        "the shortened chain is consistent by itself"
    );
    assert_eq!(
        anchor::check(s, &a).await.expect("check"),
        AnchorCheck::Truncated {
            anchored_seq: 5,
            chain_ends_at: 3
        }
    );
}
on_both_backends!(a_truncated_chain_is_caught_by_the_anchor => truncated_chain);

async fn rewritten_head(db: &TestDb) {
    let s = &db.store;
    let (a, _) = anchored(s).await;
    let mut tx = s.begin().await.expect("begin");
    bypass_guards(&mut tx).await;
    let mut e = read_events(&mut tx, 5, 1).await.expect("read").remove(0);
    e.actor = "someone-else".into();
    e.hash = event_hash(&e);
    tx.raw_execute("DELETE FROM audit_event WHERE seq = 5", &[])
        .await
        .expect("delete");
    tx.raw_execute(
        "INSERT INTO audit_event (seq, at_us, actor, actor_role, action, entity_type, entity_id, \
         before_json, after_json, reason, derivation_json, prev_hash, hash, row_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        &[
            Val::Int(Some(e.seq)),
            Val::Int(Some(e.at_us)),
            Val::Text(Some(e.actor.clone())),
            Val::Text(Some(e.actor_role.clone())),
            Val::Text(Some(e.action.clone())),
            Val::Text(Some(e.entity_type.clone())),
            Val::Text(Some(e.entity_id.clone())),
            Val::Text(e.before_json.clone()),
            Val::Text(e.after_json.clone()),
            Val::Text(e.reason.clone()),
            Val::Text(e.derivation_json.clone()),
            Val::Text(Some(e.prev_hash.clone())),
            Val::Text(Some(e.hash.clone())),
            Val::Text(e.row_hash.clone()),
        ],
    )
    .await
    .expect("insert the rewritten event");
    move_head_to(&mut tx, 5).await;
    tx.commit().await.expect("commit");
    assert!(
        s.verify_audit().await.expect("verify").intact(),
        "the rewritten chain is consistent by itself"
    );
    match anchor::check(s, &a).await.expect("check") {
        AnchorCheck::Rewritten {
            seq,
            anchored_hash,
            stored_hash,
        } => {
            assert_eq!(seq, 5);
            assert_eq!(anchored_hash, a.hash);
            assert_eq!(stored_hash, e.hash);
        }
        other => panic!("not detected: {other:?}"),
    }
}
on_both_backends!(a_rewritten_head_is_caught_by_the_anchor => rewritten_head);

async fn forged_anchors(db: &TestDb) {
    let s = &db.store;
    let (a, public) = anchored(s).await;
    let key = anchor::read_public(&public).expect("key");
    // An anchor edited to a later position no longer verifies.
    let mut edited = a.clone();
    edited.seq = 3;
    assert!(edited.check_signature(Some(&key)).is_err());
    assert!(edited.check_signature(None).is_err());
    // An anchor signed with another key is refused when the operator's key is pinned.
    let (other_secret, _) = anchor::generate_key().expect("key");
    let head = s.audit_head().await.expect("head");
    let forged = Anchor::sign(&head, &other_secret, 2).expect("sign");
    assert!(forged.check_signature(None).is_ok());
    assert!(forged.check_signature(Some(&key)).is_err());
}
on_both_backends!(an_edited_or_foreign_anchor_is_refused => forged_anchors);
