//! Anchoring the audit chain outside the database.
//!
//! The chain's head (last sequence number and hash) is signed with an Ed25519 key that the
//! database never holds (`infusio audit keygen` writes it to a file the operator keeps
//! elsewhere) and the signed head is written to a file or handed to another system
//! (`infusio audit head --sign KEYFILE`). Later, [`check`] compares the chain with such an
//! anchor: a chain that now ends before the anchored event (its tail cut off) or whose event
//! at the anchored position no longer has the anchored hash (the head rewritten, even with a
//! consistent new chain and head row) is reported. Someone who can rewrite the database
//! cannot forge an anchor without the key, and cannot make an older anchor agree with a
//! rewritten chain.
//!
//! # Formats
//! The key file is one line: `infusio-ed25519-secret-key-v1 ` and the 32-byte secret seed in
//! lowercase hex; its public key file one line: `infusio-ed25519-public-key-v1 ` and the 32-byte
//! key in hex. An anchor is a JSON object `{"format": "infusio-audit-anchor", "version": 1,
//! "seq", "hash", "signed_at_us", "public_key", "signature"}`; the signature (hex) covers the
//! ASCII text `infusio-audit-anchor-v1\nseq=<seq>\nhash=<hash>\nsigned_at_us=<µs>\n`.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::audit::{AuditHead, read_events};
use crate::{Store, StoreError};

const SECRET_PREFIX: &str = "infusio-ed25519-secret-key-v1 ";
const PUBLIC_PREFIX: &str = "infusio-ed25519-public-key-v1 ";
const FORMAT: &str = "infusio-audit-anchor";

/// A signed chain head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub format: String,
    pub version: u32,
    pub seq: i64,
    pub hash: String,
    pub signed_at_us: i64,
    /// The signer's public key, hex.
    pub public_key: String,
    /// Ed25519 signature of [`Anchor::message`], hex.
    pub signature: String,
}

fn bad(message: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        field: "anchor",
        value: String::new(),
        message: message.into(),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex<const N: usize>(text: &str, what: &str) -> Result<[u8; N], StoreError> {
    let text = text.trim();
    let ok = text.len() == 2 * N && text.bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        return Err(bad(format!("{what}: {} hex digits", 2 * N)));
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
            .map_err(|_| bad(format!("{what}: hex digits")))?;
    }
    Ok(out)
}

/// A new key pair: (secret key file text, public key file text).
pub fn generate_key() -> Result<(String, String), StoreError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| bad(format!("random source: {e}")))?;
    let key = SigningKey::from_bytes(&seed);
    Ok((
        format!("{SECRET_PREFIX}{}\n", hex(&seed)),
        format!("{PUBLIC_PREFIX}{}\n", hex(key.verifying_key().as_bytes())),
    ))
}

fn read_secret(text: &str) -> Result<SigningKey, StoreError> {
    let line = text.lines().next().unwrap_or_default();
    let seed = line
        .strip_prefix(SECRET_PREFIX)
        .ok_or_else(|| bad("the key file is not an Infusio Ed25519 secret key"))?;
    Ok(SigningKey::from_bytes(&unhex::<32>(seed, "secret key")?))
}

/// Reads a public key file (or a bare hex key).
pub fn read_public(text: &str) -> Result<VerifyingKey, StoreError> {
    let line = text.lines().next().unwrap_or_default().trim();
    let key = line.strip_prefix(PUBLIC_PREFIX).unwrap_or(line);
    VerifyingKey::from_bytes(&unhex::<32>(key, "public key")?)
        .map_err(|e| bad(format!("public key: {e}")))
}

impl Anchor {
    /// The bytes the signature covers.
    pub fn message(&self) -> String {
        format!(
            "infusio-audit-anchor-v1\nseq={}\nhash={}\nsigned_at_us={}\n",
            self.seq, self.hash, self.signed_at_us
        )
    }

    /// Signs `head` with the secret key file's text.
    pub fn sign(head: &AuditHead, secret_key_file: &str, at_us: i64) -> Result<Anchor, StoreError> {
        let key = read_secret(secret_key_file)?;
        let mut a = Anchor {
            format: FORMAT.into(),
            version: 1,
            seq: head.seq,
            hash: head.hash.clone(),
            signed_at_us: at_us,
            public_key: hex(key.verifying_key().as_bytes()),
            signature: String::new(),
        };
        a.signature = hex(&key.sign(a.message().as_bytes()).to_bytes());
        Ok(a)
    }

    /// Checks the signature against `trusted` (the operator's public key) or, without one,
    /// against the key the anchor names (which proves only that the anchor is unaltered).
    pub fn check_signature(&self, trusted: Option<&VerifyingKey>) -> Result<(), StoreError> {
        if self.format != FORMAT || self.version != 1 {
            return Err(bad("not an Infusio audit anchor, version 1"));
        }
        let named = VerifyingKey::from_bytes(&unhex::<32>(&self.public_key, "public_key")?)
            .map_err(|e| bad(format!("public_key: {e}")))?;
        if trusted.is_some_and(|t| *t != named) {
            return Err(bad(
                "the anchor was signed with another key than the one given",
            ));
        }
        let signature = Signature::from_bytes(&unhex::<64>(&self.signature, "signature")?);
        named
            .verify(self.message().as_bytes(), &signature)
            .map_err(|_| bad("the anchor's signature does not verify: it was altered"))
    }
}

/// How the chain stands against an anchor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum AnchorCheck {
    /// The anchored event is in the chain with the anchored hash.
    Matches { seq: i64 },
    /// The chain ends before the anchored event: its tail was cut off.
    Truncated {
        anchored_seq: i64,
        chain_ends_at: i64,
    },
    /// The event at the anchored position has another hash: the chain was rewritten.
    Rewritten {
        seq: i64,
        anchored_hash: String,
        stored_hash: String,
    },
}

impl AnchorCheck {
    pub fn holds(&self) -> bool {
        matches!(self, AnchorCheck::Matches { .. })
    }
}

/// Compares the chain with a (signature-checked) anchor.
pub async fn check(store: &Store, anchor: &Anchor) -> Result<AnchorCheck, StoreError> {
    let mut tx = store.begin_snapshot().await?;
    let head = crate::audit::read_head(&mut tx).await?;
    let event = if anchor.seq >= 1 {
        read_events(&mut tx, anchor.seq, 1)
            .await?
            .into_iter()
            .next()
    } else {
        None
    };
    tx.rollback().await?;
    if anchor.seq == 0 {
        return Ok(AnchorCheck::Matches { seq: 0 });
    }
    Ok(match event {
        Some(e) if e.seq == anchor.seq && e.hash == anchor.hash => {
            AnchorCheck::Matches { seq: anchor.seq }
        }
        Some(e) if e.seq == anchor.seq => AnchorCheck::Rewritten {
            seq: anchor.seq,
            anchored_hash: anchor.hash.clone(),
            stored_hash: e.hash,
        },
        _ => AnchorCheck::Truncated {
            anchored_seq: anchor.seq,
            chain_ends_at: head.seq,
        },
    })
}
