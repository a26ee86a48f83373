//! The entities of the record. Each is a plain struct of its business columns; the store adds
//! `id`, `version`, `created_at_us` and `updated_at_us` (see [`Stored`]).
//!
//! The field list of each struct is the column list of its table, in order: the CRUD tests
//! write and read back every entity on both backends, so a struct and its table cannot drift.

use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::value::{
    AdministrationEventKind, AdministrationStatus, AppointmentStatus, ColumnValue, Decimal, Kind,
    OrderStatus, PreparationStatus, Role, Val, VerificationOutcome,
};

/// A row as stored: the entity plus the columns the store manages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored<T> {
    /// UUIDv7, text.
    pub id: String,
    /// Starts at 1; every update adds 1. An update names the version it was based on.
    pub version: i64,
    pub created_at_us: i64,
    pub updated_at_us: i64,
    #[serde(flatten)]
    pub data: T,
}

/// An entity kept in one table.
pub trait Record: Serialize + Clone + Send + Sync + Sized + 'static {
    const TABLE: &'static str;
    /// Business columns, in table order (without the four managed columns).
    const COLUMNS: &'static [&'static str];
    const KINDS: &'static [Kind];
    fn to_values(&self) -> Vec<Val>;
    fn from_values(values: Vec<Val>) -> Result<Self, StoreError>;
}

/// The four columns every entity table starts with.
pub const MANAGED_COLUMNS: &[(&str, Kind)] = &[
    ("id", Kind::Text),
    ("version", Kind::Int),
    ("created_at_us", Kind::Int),
    ("updated_at_us", Kind::Int),
];

macro_rules! records {
    ($(
        $(#[$m:meta])*
        $name:ident in $table:literal {
            $( $(#[$fm:meta])* $field:ident : $ty:ty ),+ $(,)?
        }
    )+) => {
        $(
            $(#[$m])*
            #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
            pub struct $name {
                $( $(#[$fm])* pub $field: $ty ),+
            }

            impl Record for $name {
                const TABLE: &'static str = $table;
                const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];
                const KINDS: &'static [Kind] = &[$(<$ty as ColumnValue>::KIND),+];

                fn to_values(&self) -> Vec<Val> {
                    vec![$(ColumnValue::to_val(&self.$field)),+]
                }

                fn from_values(values: Vec<Val>) -> Result<Self, StoreError> {
                    let mut it = values.into_iter();
                    Ok($name {
                        $($field: <$ty as ColumnValue>::from_val(
                            it.next().ok_or(StoreError::Corrupt {
                                column: stringify!($field),
                                message: "missing from the row".into(),
                            })?,
                            stringify!($field),
                        )?),+
                    })
                }
            }
        )+

        /// Every entity table with its business columns, in foreign-key order (parents first):
        /// the order in which a restore inserts and a dump lists them.
        pub const ENTITY_TABLES: &[(&str, &[&str], &[Kind])] = &[
            $(($table, <$name as Record>::COLUMNS, <$name as Record>::KINDS)),+
        ];
    };
}

records! {
    /// A person who signs in. `password_hash` is an argon2 PHC string or absent (SSO only).
    User in "users" {
        username: String,
        display_name: String,
        password_hash: Option<String>,
        active: bool,
    }

    /// One role held by a user.
    UserRole in "user_roles" {
        user_id: String,
        role: Role,
    }

    /// Demographics and identifiers. `identifiers_json` is an array of
    /// `{"system": "...", "value": "..."}` beside the local MRN.
    Patient in "patients" {
        mrn: String,
        family_name: String,
        given_name: String,
        /// `YYYY-MM-DD`.
        birth_date: String,
        /// female | male | other | unknown
        sex: String,
        identifiers_json: serde_json::Value,
    }

    /// A recorded allergy or intolerance.
    Allergy in "allergies" {
        patient_id: String,
        substance: String,
        reaction: Option<String>,
        /// mild | moderate | severe | unknown
        severity: String,
        recorded_by: Option<String>,
    }

    /// A body measurement with its time and source (`"scale"`, `"stated"`, `"EHR"` …).
    Measurement in "measurements" {
        patient_id: String,
        /// weight | height
        kind: String,
        value: Decimal,
        /// `kg` for weight, `cm` for height.
        unit: String,
        measured_at_us: i64,
        source: String,
        recorded_by: Option<String>,
    }

    /// A laboratory result (`code` is the lab's or LOINC code).
    LabResult in "lab_results" {
        patient_id: String,
        code: String,
        name: String,
        value: Decimal,
        unit: String,
        collected_at_us: i64,
        resulted_at_us: Option<i64>,
        source: String,
    }

    /// A protocol template: cycles, days, intervals and the pump programme, as planned by the
    /// scheduling and infusion-planning engines (`template_json`).
    Protocol in "protocols" {
        code: String,
        name: String,
        therapy_class: String,
        template_json: serde_json::Value,
        /// Where the protocol comes from (label, guideline, local approval).
        source: String,
    }

    /// A protocol applied to a patient from a start date.
    TherapyPlan in "therapy_plans" {
        patient_id: String,
        protocol_id: String,
        /// `YYYY-MM-DD`.
        start_date: String,
        /// active | completed | stopped
        status: String,
        schedule_json: serde_json::Value,
    }

    /// A medication order. `derivation_json` explains the computed dose (steps, inputs, sources),
    /// `findings_json` holds the safety-check findings, `overrides_json` each soft-limit
    /// override with its reason and who made it.
    Order in "orders" {
        patient_id: String,
        therapy_plan_id: Option<String>,
        drug_id: String,
        dose: Decimal,
        dose_unit: String,
        route: String,
        final_volume_ml: Option<Decimal>,
        rate_ml_per_h: Option<Decimal>,
        status: OrderStatus,
        prescriber_id: String,
        signed_at_us: Option<i64>,
        high_alert: bool,
        pump_programme_json: serde_json::Value,
        derivation_json: serde_json::Value,
        findings_json: serde_json::Value,
        overrides_json: serde_json::Value,
    }

    /// A pharmacist's independent verification: the blind entry and the differences found.
    Verification in "verifications" {
        order_id: String,
        pharmacist_id: String,
        verified_at_us: i64,
        /// verified | rejected
        outcome: VerificationOutcome,
        blind_entry_json: serde_json::Value,
        differences_json: serde_json::Value,
        note: Option<String>,
    }

    /// A compounded or dispensed product for one order.
    Preparation in "preparations" {
        order_id: String,
        prepared_by: String,
        checked_by: Option<String>,
        prepared_at_us: i64,
        /// Beyond-use date and time.
        beyond_use_at_us: i64,
        final_volume_ml: Decimal,
        concentration: Decimal,
        /// e.g. `mg/mL`.
        concentration_unit: String,
        /// prepared | released | administered | wasted
        status: PreparationStatus,
        waste_json: Option<serde_json::Value>,
    }

    /// One product and lot used in a preparation (indexed by lot for recalls).
    PreparationComponent in "preparation_components" {
        preparation_id: String,
        product: String,
        /// GS1 GTIN of a commercial product, when known.
        gtin: Option<String>,
        lot: String,
        /// `YYYY-MM-DD`.
        expiry_date: String,
        quantity: Decimal,
        quantity_unit: String,
    }

    /// A lot the pharmacy has recalled: a preparation that uses it is refused. `gtin`, when
    /// given, narrows the recall to that product's lot.
    LotRecall in "lot_recalls" {
        lot: String,
        gtin: Option<String>,
        product: Option<String>,
        reason: String,
        recalled_by: String,
        /// A recall lifted by the pharmacy stays on record, inactive.
        active: bool,
    }

    /// A booked chair slot.
    Appointment in "appointments" {
        patient_id: String,
        order_id: Option<String>,
        chair: String,
        start_at_us: i64,
        end_at_us: i64,
        /// booked | arrived | completed | cancelled | no_show
        status: AppointmentStatus,
    }

    /// An administration at the bedside: the scans, the pump programme as keyed, start and stop.
    Administration in "administrations" {
        order_id: String,
        preparation_id: String,
        appointment_id: Option<String>,
        nurse_id: String,
        /// The second, distinct nurse of a high-alert double check.
        second_nurse_id: Option<String>,
        wristband_scan: String,
        bag_scan: String,
        pump_programme_json: serde_json::Value,
        started_at_us: i64,
        stopped_at_us: Option<i64>,
        /// in_progress | completed | stopped
        status: AdministrationStatus,
        stop_reason: Option<String>,
    }

    /// Something that happened during an administration: a rate change, a titration step,
    /// vitals, a reaction (with its grade, 1–5), a stop or a note.
    AdministrationEvent in "administration_events" {
        administration_id: String,
        /// rate_change | titration | vitals | reaction | stop | note
        kind: AdministrationEventKind,
        at_us: i64,
        recorded_by: String,
        rate_ml_per_h: Option<Decimal>,
        reaction_grade: Option<i64>,
        detail_json: serde_json::Value,
    }
}
