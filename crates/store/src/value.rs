//! Column values: the two storage kinds of the portable schema (TEXT and BIGINT) and the Rust
//! types that map onto them.

use serde::{Deserialize, Serialize};

use crate::StoreError;

/// The storage kind of a column. Every column of the schema is one of these two, on both
/// backends, so one row decoder serves SQLite and PostgreSQL alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// TEXT: identifiers, names, decimals, dates, JSON documents.
    Text,
    /// BIGINT: timestamps in microseconds, versions, sequence numbers, 0/1 flags.
    Int,
}

/// One column value as stored (NULL is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Text(Option<String>),
    Int(Option<i64>),
}

impl Val {
    pub fn kind(&self) -> Kind {
        match self {
            Val::Text(_) => Kind::Text,
            Val::Int(_) => Kind::Int,
        }
    }

    /// The value as JSON (for dumps and audit before/after images).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Val::Text(Some(s)) => serde_json::Value::String(s.clone()),
            Val::Int(Some(i)) => serde_json::Value::from(*i),
            Val::Text(None) | Val::Int(None) => serde_json::Value::Null,
        }
    }

    /// Reads a JSON value back as a column of `kind`; `None` when the JSON has the wrong type.
    pub fn from_json(kind: Kind, v: &serde_json::Value) -> Option<Val> {
        match (kind, v) {
            (Kind::Text, serde_json::Value::Null) => Some(Val::Text(None)),
            (Kind::Int, serde_json::Value::Null) => Some(Val::Int(None)),
            (Kind::Text, serde_json::Value::String(s)) => Some(Val::Text(Some(s.clone()))),
            (Kind::Int, serde_json::Value::Number(n)) => n.as_i64().map(|i| Val::Int(Some(i))),
            _ => None,
        }
    }
}

/// A Rust type stored in one column.
pub trait ColumnValue: Sized {
    const KIND: Kind;
    fn to_val(&self) -> Val;
    /// Decodes a stored value; `column` names the column in the error.
    fn from_val(v: Val, column: &'static str) -> Result<Self, StoreError>;
}

fn corrupt(column: &'static str, what: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        column,
        message: what.into(),
    }
}

impl ColumnValue for String {
    const KIND: Kind = Kind::Text;
    fn to_val(&self) -> Val {
        Val::Text(Some(self.clone()))
    }
    fn from_val(v: Val, column: &'static str) -> Result<Self, StoreError> {
        match v {
            Val::Text(Some(s)) => Ok(s),
            other => Err(corrupt(column, format!("expected text, found {other:?}"))),
        }
    }
}

impl ColumnValue for Option<String> {
    const KIND: Kind = Kind::Text;
    fn to_val(&self) -> Val {
        Val::Text(self.clone())
    }
    fn from_val(v: Val, column: &'static str) -> Result<Self, StoreError> {
        match v {
            Val::Text(s) => Ok(s),
            other => Err(corrupt(column, format!("expected text, found {other:?}"))),
        }
    }
}

impl ColumnValue for i64 {
    const KIND: Kind = Kind::Int;
    fn to_val(&self) -> Val {
        Val::Int(Some(*self))
    }
    fn from_val(v: Val, column: &'static str) -> Result<Self, StoreError> {
        match v {
            Val::Int(Some(i)) => Ok(i),
            other => Err(corrupt(
                column,
                format!("expected integer, found {other:?}"),
            )),
        }
    }
}

impl ColumnValue for Option<i64> {
    const KIND: Kind = Kind::Int;
    fn to_val(&self) -> Val {
        Val::Int(*self)
    }
    fn from_val(v: Val, column: &'static str) -> Result<Self, StoreError> {
        match v {
            Val::Int(i) => Ok(i),
            other => Err(corrupt(
                column,
                format!("expected integer, found {other:?}"),
            )),
        }
    }
}

/// Flags are stored as 0/1 integers on both backends.
impl ColumnValue for bool {
    const KIND: Kind = Kind::Int;
    fn to_val(&self) -> Val {
        Val::Int(Some(i64::from(*self)))
    }
    fn from_val(v: Val, column: &'static str) -> Result<Self, StoreError> {
        match v {
            Val::Int(Some(0)) => Ok(false),
            Val::Int(Some(1)) => Ok(true),
            other => Err(corrupt(column, format!("expected 0 or 1, found {other:?}"))),
        }
    }
}

/// JSON documents are stored as TEXT, serialised with sorted keys (serde_json's default map),
/// so the same document always has the same stored text.
impl ColumnValue for serde_json::Value {
    const KIND: Kind = Kind::Text;
    fn to_val(&self) -> Val {
        Val::Text(Some(self.to_string()))
    }
    fn from_val(v: Val, column: &'static str) -> Result<Self, StoreError> {
        match v {
            Val::Text(Some(s)) => serde_json::from_str(&s)
                .map_err(|e| corrupt(column, format!("invalid JSON document: {e}"))),
            other => Err(corrupt(
                column,
                format!("expected JSON text, found {other:?}"),
            )),
        }
    }
}

impl ColumnValue for Option<serde_json::Value> {
    const KIND: Kind = Kind::Text;
    fn to_val(&self) -> Val {
        Val::Text(self.as_ref().map(|v| v.to_string()))
    }
    fn from_val(v: Val, column: &'static str) -> Result<Self, StoreError> {
        match v {
            Val::Text(None) => Ok(None),
            other => serde_json::Value::from_val(other, column).map(Some),
        }
    }
}

/// A decimal number kept as the exact text that was entered or computed (`"0.5"`, `"1250"`,
/// `"-3.25"`): never a binary float, so a stored dose reads back digit for digit.
///
/// Accepted form: an optional `-`, one or more digits, optionally `.` and one or more digits.
/// No exponent, no thousands separators, no leading `+`, no leading `.`, at most 40 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Decimal(String);

impl Decimal {
    pub fn parse(text: &str) -> Result<Decimal, StoreError> {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let (int, frac) = match digits.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (digits, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if text.len() <= 40 && all_digits(int) && frac.is_none_or(all_digits) {
            Ok(Decimal(text.to_string()))
        } else {
            Err(StoreError::Invalid {
                field: "decimal",
                value: text.to_string(),
                message:
                    "a decimal number such as 0.5, 12 or -3.25 (digits, optional '.', no exponent)"
                        .into(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Decimal {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Decimal::parse(&s)
    }
}

impl From<Decimal> for String {
    fn from(d: Decimal) -> String {
        d.0
    }
}

impl ColumnValue for Decimal {
    const KIND: Kind = Kind::Text;
    fn to_val(&self) -> Val {
        Val::Text(Some(self.0.clone()))
    }
    fn from_val(v: Val, column: &'static str) -> Result<Self, StoreError> {
        let s = String::from_val(v, column)?;
        Decimal::parse(&s).map_err(|_| corrupt(column, format!("not a decimal: {s:?}")))
    }
}

impl ColumnValue for Option<Decimal> {
    const KIND: Kind = Kind::Text;
    fn to_val(&self) -> Val {
        Val::Text(self.as_ref().map(|d| d.0.clone()))
    }
    fn from_val(v: Val, column: &'static str) -> Result<Self, StoreError> {
        match v {
            Val::Text(None) => Ok(None),
            other => Decimal::from_val(other, column).map(Some),
        }
    }
}

/// Declares a closed set of words stored as TEXT (the schema repeats the set in a CHECK).
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Result<$name, StoreError> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(StoreError::Invalid {
                        field: stringify!($name),
                        value: text.to_string(),
                        message: format!("one of: {}", [$($text),+].join(", ")),
                    }),
                }
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ColumnValue for $name {
            const KIND: Kind = Kind::Text;
            fn to_val(&self) -> Val {
                Val::Text(Some(self.as_str().to_string()))
            }
            fn from_val(v: Val, column: &'static str) -> Result<Self, StoreError> {
                let s = String::from_val(v, column)?;
                $name::parse(&s).map_err(|e| corrupt(column, e.to_string()))
            }
        }
    };
}

text_enum! {
    /// What a user may do. A user holds one or more roles (table `user_roles`).
    Role {
        Prescriber = "prescriber",
        Pharmacist = "pharmacist",
        PharmacyTechnician = "pharmacy_technician",
        Nurse = "nurse",
        Scheduler = "scheduler",
        Admin = "admin",
    }
}

text_enum! {
    /// The order lifecycle: draft → signed → verified → prepared → scheduled → in progress →
    /// completed, with held, cancelled and discontinued. The store records the state; the
    /// transitions and who may make them are the application's rules.
    OrderStatus {
        Draft = "draft",
        Signed = "signed",
        Verified = "verified",
        Prepared = "prepared",
        Scheduled = "scheduled",
        InProgress = "in_progress",
        Completed = "completed",
        Held = "held",
        Cancelled = "cancelled",
        Discontinued = "discontinued",
    }
}

text_enum! {
    /// A pharmacist's verification of an order.
    VerificationOutcome {
        Verified = "verified",
        Rejected = "rejected",
    }
}

text_enum! {
    /// A prepared product: prepared → released (to the ward) → administered, or wasted.
    PreparationStatus {
        Prepared = "prepared",
        Released = "released",
        Administered = "administered",
        Wasted = "wasted",
    }
}

text_enum! {
    /// A chair appointment: booked → arrived → completed, or cancelled, or a no-show.
    AppointmentStatus {
        Booked = "booked",
        Arrived = "arrived",
        Completed = "completed",
        Cancelled = "cancelled",
        NoShow = "no_show",
    }
}

text_enum! {
    /// An administration at the bedside: in progress until completed or stopped.
    AdministrationStatus {
        InProgress = "in_progress",
        Completed = "completed",
        Stopped = "stopped",
    }
}

text_enum! {
    /// What an administration event records.
    AdministrationEventKind {
        RateChange = "rate_change",
        Titration = "titration",
        Vitals = "vitals",
        Reaction = "reaction",
        Stop = "stop",
        Note = "note",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_keep_their_exact_text() {
        for ok in ["0", "0.5", "12", "-3.25", "1250.000", "0.0001"] {
            let d = Decimal::parse(ok).map(|d| d.to_string()).ok();
            assert_eq!(d.as_deref(), Some(ok));
        }
        for bad in [
            "", ".5", "5.", "1e3", "+1", "1,250", "NaN", "inf", "0x10", "1.2.3", "- 1", "12 mg",
        ] {
            let err = Decimal::parse(bad);
            assert!(
                matches!(&err, Err(StoreError::Invalid { field: "decimal", value, .. }) if value == bad),
                "{bad:?}: {err:?}"
            );
        }
        let long = "1".repeat(41);
        assert!(Decimal::parse(&long).is_err());
    }

    #[test]
    fn decimals_refuse_bad_json_and_bad_stored_text() {
        assert!(serde_json::from_str::<Decimal>("\"1e5\"").is_err());
        assert_eq!(
            serde_json::from_str::<Decimal>("\"2.50\"").ok(),
            Decimal::parse("2.50").ok()
        );
        let stored = Decimal::from_val(Val::Text(Some("abc".into())), "dose");
        assert!(matches!(
            stored,
            Err(StoreError::Corrupt { column: "dose", .. })
        ));
    }

    #[test]
    fn flags_and_words_round_trip_and_refuse_strangers() {
        assert_eq!(bool::from_val(true.to_val(), "f").ok(), Some(true));
        assert!(bool::from_val(Val::Int(Some(2)), "f").is_err());
        for r in Role::ALL {
            assert_eq!(Role::from_val(r.to_val(), "role").ok(), Some(*r));
        }
        assert!(Role::parse("surgeon").is_err());
        assert_eq!(
            OrderStatus::parse("in_progress").ok(),
            Some(OrderStatus::InProgress)
        );
        assert_eq!(
            serde_json::to_string(&OrderStatus::InProgress)
                .ok()
                .as_deref(),
            Some("\"in_progress\"")
        );
    }

    #[test]
    fn json_values_convert_by_kind() {
        assert_eq!(
            Val::from_json(Kind::Int, &serde_json::json!(5)),
            Some(Val::Int(Some(5)))
        );
        assert_eq!(Val::from_json(Kind::Int, &serde_json::json!("5")), None);
        assert_eq!(
            Val::from_json(Kind::Text, &serde_json::Value::Null),
            Some(Val::Text(None))
        );
        assert_eq!(Val::Int(Some(5)).to_json(), serde_json::json!(5));
    }
}
