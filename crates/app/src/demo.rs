//! Demo data for `infusio serve --demo`: one user per role, patients across the therapy
//! classes with measurements, labs and allergies, orders at several steps of the workflow, and
//! a day of appointments. Seeded once (skipped when the record already has users).
//!
//! Every demo user's password is [`DEMO_PASSWORD`]. Demo data is for trying Infusio out; never
//! seed it into a record used for patients.

use infusio_store::Role;
use infusio_store::records::User;

use crate::patients::{NewAllergy, NewLab, NewMeasurement, NewPatient};
use serde_json::{Value as Json, json};

use crate::{Actor, App, AppError};

/// The password of every demo user.
pub const DEMO_PASSWORD: &str = "infusio-demo";

/// The demo users: user name, display name, roles.
pub const DEMO_USERS: &[(&str, &str, &[Role])] = &[
    ("prescriber", "Dr Ada Prescriber", &[Role::Prescriber]),
    ("prescriber2", "Dr Ben Second", &[Role::Prescriber]),
    ("pharmacist", "Pat Pharmacist", &[Role::Pharmacist]),
    ("technician", "Tess Technician", &[Role::PharmacyTechnician]),
    ("nurse", "Nia Nurse", &[Role::Nurse]),
    ("nurse2", "Ned Nurse", &[Role::Nurse]),
    ("scheduler", "Sam Scheduler", &[Role::Scheduler]),
    ("admin", "Alex Admin", &[Role::Admin]),
];

/// The demo's therapy plans: patient MRN, protocol id, start date in days from today.
const DEMO_PLANS: &[(&str, &str, i64)] = &[
    ("MRN1001", "infliximab-ibd", -120),
    ("MRN1002", "carboplatin-paclitaxel", -21),
    ("MRN1005", "ivig-replacement", -56),
    ("MRN1006", "iron-sucrose-200-x5", -3),
    // A plan whose first treatment day is today: premedications and four drugs to release.
    ("MRN1004", "mfolfox6", 0),
];

/// What was seeded.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Seeded {
    pub users: usize,
    pub patients: usize,
    pub orders: usize,
    pub appointments: usize,
    /// Therapy plans (a protocol from a start date).
    pub plans: usize,
    /// Orders the demo could not create (with the reason), e.g. a drug not in this library.
    pub skipped: Vec<String>,
}

struct DemoPatient {
    mrn: &'static str,
    family: &'static str,
    given: &'static str,
    birth: &'static str,
    sex: &'static str,
    weight: &'static str,
    height: &'static str,
    labs: &'static [(&'static str, &'static str)],
    allergy: Option<&'static str>,
    /// The therapy class and the order (without patient_id).
    class: &'static str,
    order: fn() -> Json,
}

const NORMAL_LABS: &[(&str, &str)] = &[
    ("serum_creatinine", "0.9 mg/dL"),
    ("anc", "3.1 10*9/L"),
    ("platelets", "220 10*9/L"),
    ("hemoglobin", "12.8 g/dL"),
    ("potassium", "4.1 mEq/L"),
    ("sodium", "139 mEq/L"),
    ("bilirubin", "0.6 mg/dL"),
    ("ast", "24 units/L"),
    ("alt", "22 units/L"),
];

#[expect(
    clippy::too_many_lines,
    reason = "the demo patients as one literal list"
)]
fn patients() -> Vec<DemoPatient> {
    vec![
        DemoPatient {
            mrn: "MRN1001",
            family: "Okafor",
            given: "Grace",
            birth: "1979-04-12",
            sex: "female",
            weight: "68 kg",
            height: "165 cm",
            labs: NORMAL_LABS,
            allergy: None,
            class: "biologics",
            order: || json!({"medication": "infliximab", "dose_per": "5 mg/kg", "route": "iv", "volume": "250 mL", "duration": "2 h", "line": "peripheral", "frequency": "q8w", "infusion_number": 4, "indication": "crohns-disease"}),
        },
        DemoPatient {
            mrn: "MRN1002",
            family: "Lindqvist",
            given: "Erik",
            birth: "1958-09-30",
            sex: "male",
            weight: "82 kg",
            height: "178 cm",
            labs: NORMAL_LABS,
            allergy: Some("penicillin"),
            class: "oncology",
            order: || json!({"medication": "carboplatin", "dose": "600 mg", "route": "iv", "volume": "500 mL", "duration": "1 h", "line": "peripheral", "frequency": "q21d"}),
        },
        DemoPatient {
            mrn: "MRN1003",
            family: "Haddad",
            given: "Layla",
            birth: "1966-01-21",
            sex: "female",
            weight: "74 kg",
            height: "160 cm",
            labs: NORMAL_LABS,
            allergy: None,
            class: "anti-infectives",
            order: || json!({"medication": "vancomycin", "dose_per": "15 mg/kg", "route": "iv", "volume": "250 mL", "duration": "2 h", "line": "peripheral", "frequency": "q12h", "rounding": {"increment": "250 mg", "tolerance_percent": 10}}),
        },
        DemoPatient {
            mrn: "MRN1004",
            family: "Moreau",
            given: "Jules",
            birth: "1987-06-03",
            sex: "male",
            weight: "90 kg",
            height: "183 cm",
            labs: NORMAL_LABS,
            allergy: None,
            class: "biologics",
            order: || json!({"medication": "rituximab", "dose_per": "375 mg/m2", "route": "iv", "volume": "500 mL", "duration": "4 h", "line": "peripheral", "frequency": "once", "infusion_number": 1}),
        },
        DemoPatient {
            mrn: "MRN1005",
            family: "Tanaka",
            given: "Yui",
            birth: "1992-11-15",
            sex: "female",
            weight: "55 kg",
            height: "158 cm",
            labs: NORMAL_LABS,
            allergy: Some("sulfonamides"),
            class: "immune globulin",
            order: || json!({"medication": "immune-globulin", "dose_per": "0.4 g/kg", "route": "iv", "volume": "220 mL", "duration": "3 h", "frequency": "q28d"}),
        },
        DemoPatient {
            mrn: "MRN1006",
            family: "Novak",
            given: "Petra",
            birth: "1949-02-27",
            sex: "female",
            weight: "61 kg",
            height: "162 cm",
            labs: NORMAL_LABS,
            allergy: None,
            class: "iron",
            order: || json!({"medication": "iron-sucrose", "dose": "200 mg", "route": "iv", "volume": "100 mL", "duration": "30 min", "frequency": "once"}),
        },
        DemoPatient {
            mrn: "MRN1007",
            family: "Mensah",
            given: "Kwame",
            birth: "1971-08-08",
            sex: "male",
            weight: "77 kg",
            height: "175 cm",
            labs: NORMAL_LABS,
            allergy: None,
            class: "fluids and electrolytes",
            order: || json!({"medication": "potassium-chloride", "dose": "20 mEq", "route": "iv", "volume": "100 mL", "duration": "2 h", "line": "central"}),
        },
        DemoPatient {
            mrn: "MRN1008",
            family: "Rossi",
            given: "Luca",
            birth: "2001-12-19",
            sex: "male",
            weight: "70 kg",
            height: "180 cm",
            labs: NORMAL_LABS,
            allergy: None,
            class: "clotting factors",
            order: || json!({"medication": "factor-viii", "dose": "1750 units", "route": "iv", "volume": "10 mL", "duration": "10 min", "frequency": "once"}),
        },
    ]
}

impl App {
    /// Seeds the demo record (once). Returns what was seeded.
    #[expect(
        clippy::too_many_lines,
        reason = "the demo's seeding script, one step after another; split when the demo gains a data file"
    )]
    pub async fn seed_demo(&self) -> Result<Seeded, AppError> {
        let mut seeded = Seeded::default();
        {
            let mut tx = self.store().begin_snapshot().await?;
            let any = !tx.list::<User>().await?.is_empty();
            tx.rollback().await?;
            if any {
                return Ok(seeded);
            }
        }
        let mut actors: Vec<Actor> = Vec::new();
        for (username, name, roles) in DEMO_USERS {
            let u = self
                .create_user(None, username, name, DEMO_PASSWORD, roles)
                .await?;
            actors.push(Actor {
                user_id: u.id,
                username: u.username,
                display_name: u.display_name,
                roles: u.roles,
            });
            seeded.users += 1;
        }
        let by = |name: &str| actors.iter().find(|a| a.username == name).cloned();
        let (Some(prescriber), Some(pharmacist), Some(nurse), Some(scheduler)) = (
            by("prescriber"),
            by("pharmacist"),
            by("nurse"),
            by("scheduler"),
        ) else {
            return Err(AppError::Internal("demo users missing".into()));
        };
        let now = self.now_us();
        let day_start = now - now.rem_euclid(86_400_000_000);
        let hour = 3_600_000_000i64;
        let mut patient_ids: Vec<(&str, String)> = Vec::new();
        for (i, p) in patients().into_iter().enumerate() {
            let patient = self
                .create_patient(
                    &scheduler,
                    &NewPatient {
                        mrn: p.mrn.to_string(),
                        family_name: p.family.to_string(),
                        given_name: p.given.to_string(),
                        birth_date: p.birth.to_string(),
                        sex: p.sex.to_string(),
                        identifiers: Vec::new(),
                    },
                )
                .await?;
            seeded.patients += 1;
            patient_ids.push((p.mrn, patient.id.clone()));
            let at = crate::time::iso_from_us(now - 2 * hour);
            self.add_measurement(
                &nurse,
                &patient.id,
                &NewMeasurement::try_from(&json!({"kind": "weight", "value": p.weight, "measured_at": at, "source": "scale"}))?,
            )
            .await?;
            self.add_measurement(&nurse, &patient.id, &NewMeasurement::try_from(&json!({"kind": "height", "value": p.height, "measured_at": at, "source": "stated"}))?).await?;
            for (name, value) in p.labs {
                self.add_lab(
                    &nurse,
                    &patient.id,
                    &NewLab::try_from(&json!({"name": name, "value": value, "collected_at": at}))?,
                )
                .await?;
            }
            if let Some(a) = p.allergy {
                self.add_allergy(
                    &nurse,
                    &patient.id,
                    &NewAllergy::try_from(
                        &json!({"substance": a, "reaction": "rash", "severity": "moderate"}),
                    )?,
                )
                .await?;
            }
            // The order, with every warning overridden by the demo prescriber (hard stops are
            // never overridden: such an order is skipped and reported).
            let mut input = (p.order)();
            input["patient_id"] = json!(patient.id);
            let mut input = crate::commands::NewOrder::try_from(&input)?;
            let preview = match self.preview_order(&prescriber, &input).await {
                Ok(pv) => pv,
                Err(e) => {
                    seeded.skipped.push(format!("{} ({}): {e}", p.mrn, p.class));
                    continue;
                }
            };
            input.overrides = preview
                .computed
                .warnings()
                .into_iter()
                .map(|w| crate::orders::Override {
                    code: w.code,
                    reason: "Demo order: reviewed by the demo prescriber".into(),
                })
                .collect();
            let created = match self.create_order(&prescriber, &input, None).await {
                Ok(c) => c.order,
                Err(e) => {
                    seeded.skipped.push(format!("{} ({}): {e}", p.mrn, p.class));
                    continue;
                }
            };
            seeded.orders += 1;
            // Half the orders are signed and verified, so each screen has something to show.
            let mut order_version = created.version;
            if i % 2 == 0
                && let Ok(signed) = self
                    .sign_order(
                        &prescriber,
                        &created.id,
                        Some(order_version),
                        &crate::commands::SignInput::default(),
                    )
                    .await
            {
                order_version = signed.version;
                let mut blind =
                    json!({"dose": format!("{} {}", signed.data.dose, signed.data.dose_unit)});
                if let Some(v) = &signed.data.final_volume_ml {
                    blind["volume"] = json!(format!("{v} mL"));
                }
                if let Some(r) = &signed.data.rate_ml_per_h {
                    blind["rate"] = json!(format!("{r} mL/h"));
                }
                if let Ok(blind) = crate::commands::BlindVerification::try_from(&blind)
                    && let Ok(v) = self
                        .verify_order(&pharmacist, &created.id, Some(order_version), &blind)
                        .await
                {
                    order_version = v.order.version;
                }
            }
            let _ = order_version;
            let start = day_start + (8 + (i as i64 / 4) * 4) * hour;
            let chair = format!("C{}", i % 4 + 1);
            self.book_appointment(
                &scheduler,
                &crate::commands::NewAppointment {
                    patient_id: patient.id.clone(),
                    order_id: Some(created.id.clone()),
                    chair,
                    start_at_us: start,
                    end_at_us: start + 3 * hour,
                },
            )
            .await?;
            seeded.appointments += 1;
        }
        // A few therapy plans, started at different points so the chart shows past and coming
        // treatment days.
        for (mrn, protocol, start_offset_days) in DEMO_PLANS {
            let Some((_, pid)) = patient_ids.iter().find(|(m, _)| m == mrn) else {
                continue;
            };
            let start = crate::time::date_from_us(now + start_offset_days * 24 * hour);
            match self
                .create_therapy_plan(
                    &prescriber,
                    pid,
                    &crate::plans::NewTherapyPlan {
                        protocol: protocol.to_string(),
                        start_date: start,
                        open_ended_cycles: crate::plans::DEFAULT_OPEN_ENDED_CYCLES,
                    },
                )
                .await
            {
                Ok(_) => seeded.plans += 1,
                Err(e) => seeded.skipped.push(format!("{mrn}: plan {protocol}: {e}")),
            }
        }
        Ok(seeded)
    }
}
