//! The error corpus: every typical order of every library entry is mutated by the slips that
//! cause real infusion errors (×10, ×100, ÷10, mg↔mcg, g↔mg, per-minute↔per-hour, per-kg
//! added or dropped, pounds entered as kilograms, rate and duration slips). An independent
//! oracle evaluates each mutant against the library's limits with its own arithmetic
//! (Mosteller, Devine, Cockcroft–Gault, Calvert written out here); the test asserts that
//! every mutant the oracle places outside a soft limit is flagged (verdict at least
//! `warning`) and every mutant outside a hard limit is a `hard_stop`. Mutants inside the
//! limits cannot be caught by limits at all; their count per class is printed (run with
//! `--nocapture`): they are left to the independent double check and barcode scanning.
//!
//! The model mutants test what limits on the whole drug miss: `regimen` (a multi-day
//! infusion programmed in hours, a per-cycle dose ordered daily), `product` (another brand of
//! the same drug), `age-band` (the adult order given to a child) and `rolling-window` (the
//! same dose already given 3 days earlier) and `sites` (a subcutaneous infusion split over
//! several sites run into one site, at the same or at the combined rate, against the
//! per-site limits). Without an indication the oracle expects the
//! least alarming rule consistent with the order, as the engine assumes. The table gives,
//! per class, how many mutants were caught (warning or hard stop) and how many were
//! silently accepted (`ok`).

mod common;

use std::collections::BTreeMap;

use infusio_core::check::time::parse_instant_h;
use infusio_core::check::{Frequency, Verdict, check_json};
use infusio_core::library::{Basis, DosingRule, DrugEntry, Library, Limits};
use infusio_core::units::{Amount, AmountKind, Concentration, DoseBasis, DosePer, parse_quantity};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Inside,
    Soft,
    Hard,
}

fn level(l: &Limits, v: f64) -> Level {
    let tol = 1e-6;
    if l.hard_max.is_some_and(|m| v > m * (1.0 + tol))
        || l.hard_min.is_some_and(|m| v < m * (1.0 - tol))
    {
        Level::Hard
    } else if l.soft_max.is_some_and(|m| v > m * (1.0 + tol))
        || l.soft_min.is_some_and(|m| v < m * (1.0 - tol))
    {
        Level::Soft
    } else {
        Level::Inside
    }
}

fn qty(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o
            .get("value")
            .and_then(|x| x.as_str())
            .map(|s| s.to_string()),
        _ => None,
    }
}

fn value_in(text: &str, unit: &str) -> Option<f64> {
    parse_quantity(text).ok()?.value_in(unit).ok()
}

/// The order's facts as the oracle sees them.
struct Facts {
    weight: Option<f64>,
    height: Option<f64>,
    female: bool,
    age: Option<f64>,
    scr: Option<f64>,
    medication: String,
    dose: Amount,
    volume: Option<f64>,
    duration_h: Option<f64>,
    rate: Option<f64>,
    frequency: Option<Frequency>,
    line: Option<String>,
    care_area: String,
    product: Option<String>,
    infusion_number: Option<u64>,
    /// Subcutaneous infusion sites (the engine assumes 1 when absent).
    sites: f64,
    conditions: Vec<String>,
    indication: Option<String>,
    route: Option<String>,
    dose_per: Option<DosePer>,
    doses: Option<u64>,
    at: Option<String>,
    /// Earlier doses: (medication, dose, bsa m2, at).
    history: Vec<(String, Amount, Option<f64>, Option<String>)>,
}

fn facts(v: &Value) -> Option<Facts> {
    Some(Facts {
        weight: qty(v, &["patient", "weight"]).and_then(|t| value_in(&t, "kg")),
        height: qty(v, &["patient", "height"]).and_then(|t| value_in(&t, "cm")),
        female: v["patient"]["sex"] == "female",
        age: qty(v, &["patient", "age"]).and_then(|t| value_in(&t, "y")),
        scr: qty(v, &["patient", "labs", "serum_creatinine"]).and_then(|t| value_in(&t, "mg/dL")),
        medication: v["order"]["medication"].as_str()?.to_string(),
        dose: Amount::parse(v["order"]["dose"].as_str()?).ok()?,
        volume: qty(v, &["order", "volume"]).and_then(|t| value_in(&t, "mL")),
        duration_h: qty(v, &["order", "duration"]).and_then(|t| value_in(&t, "h")),
        rate: qty(v, &["order", "rate"]).and_then(|t| value_in(&t, "mL/h")),
        frequency: v["order"]["frequency"].as_str().and_then(Frequency::parse),
        line: v["order"]["line"].as_str().map(|s| s.to_string()),
        care_area: v["care_area"].as_str()?.to_string(),
        product: v["order"]["product"].as_str().map(|s| s.to_string()),
        infusion_number: v["order"]["infusion_number"].as_u64(),
        sites: v["order"]["sites"].as_u64().map_or(1.0, |n| n as f64),
        conditions: v["patient"]["conditions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(|s| s.to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        indication: v["order"]["indication"].as_str().map(|s| s.to_string()),
        route: v["order"]["route"].as_str().map(|s| s.to_string()),
        dose_per: v["order"]["dose_per"]
            .as_str()
            .and_then(|t| DosePer::parse(t).ok()),
        doses: v["order"]["doses"].as_u64(),
        at: v["at"].as_str().map(|s| s.to_string()),
        history: v["patient"]["history"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|h| {
                        Some((
                            h["medication"].as_str()?.to_string(),
                            Amount::parse(h["dose"].as_str()?).ok()?,
                            h["bsa"].as_str().and_then(|b| value_in(b, "m2")),
                            h["at"].as_str().map(|s| s.to_string()),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}

fn bsa(f: &Facts) -> Option<f64> {
    Some((f.height? * f.weight? / 3600.0).sqrt())
}

/// Devine's ideal weight; `None` where it is not defined (a child under 60 inches, or not
/// positive), so the actual weight is used, as the engine's policy says.
fn ibw(f: &Facts) -> Option<f64> {
    let h = f.height?;
    let i = (if f.female { 45.5 } else { 50.0 }) + 2.3 * (h / 2.54 - 60.0);
    let short_child = f.age.is_some_and(|a| a < 18.0) && h < 152.4;
    (!short_child && i > 0.0).then_some(i)
}

fn dose_level(rule: &DosingRule, f: &Facts) -> Level {
    let amount_unit = match rule.basis {
        Basis::PerAuc => "mg".to_string(),
        _ => match DosePer::parse(&format!("1 {}", rule.dose_unit)) {
            Ok(d) => d.amount_unit,
            Err(_) => return Level::Inside,
        },
    };
    let Ok(amount) = f.dose.value_in(&amount_unit) else {
        return Level::Inside;
    };
    let per_basis = match rule.basis {
        Basis::Flat => Some(amount),
        Basis::PerM2 => bsa(f).map(|b| amount / b),
        Basis::PerKg => f.weight.and_then(|w| {
            let dw = match rule.weight_basis.as_deref() {
                Some("ideal") if f.height.is_some() => {
                    ibw(f).map_or(w, |i| if w > i { i } else { w })
                }
                Some("adjusted") if f.height.is_some() => {
                    ibw(f).map_or(w, |i| if w > i { i + 0.4 * (w - i) } else { w })
                }
                Some("ideal" | "adjusted") => return None,
                _ => w,
            };
            Some(amount / dw)
        }),
        Basis::PerAuc => match (f.age, f.weight, f.scr) {
            (Some(a), Some(w), Some(s)) => {
                let crcl = (140.0 - a) * w / (72.0 * s) * if f.female { 0.85 } else { 1.0 };
                Some(amount / (crcl.min(125.0) + 25.0))
            }
            _ => None,
        },
    };
    let mut worst = Level::Inside;
    if let Some(v) = per_basis {
        if let Some(l) = &rule.per_dose {
            worst = worst.max(level(l, v));
        }
        if let (Some(l), Some(fr)) = (&rule.per_day, f.frequency) {
            worst = worst.max(level(l, v * fr.doses_per_day()));
        }
    }
    if let Some(l) = &rule.per_dose_absolute
        && let Some(Ok(a)) = l.unit.as_deref().map(|u| f.dose.value_in(u))
    {
        worst = worst.max(level(l, a));
    }
    // A flat dose's ceiling per kg of actual weight.
    if let (Some(l), Some(w)) = (&rule.per_kg, f.weight)
        && let Some(d) = l
            .unit
            .as_deref()
            .and_then(|u| DosePer::parse(&format!("1 {u}")).ok())
        && let Ok(a) = f.dose.value_in(&d.amount_unit)
    {
        worst = worst.max(level(l, a / w));
    }
    // Rolling windows: history of this drug in the window + this order's repeats.
    if let (Some(v), Some(fr)) = (per_basis, f.frequency) {
        let now = f.at.as_deref().and_then(parse_instant_h);
        for win in &rule.windows {
            let window_h = win.days * 24.0;
            let by_frequency = match fr {
                Frequency::Once => 1.0,
                Frequency::EveryHours(h) => (window_h / h - 1e-9).ceil().max(1.0),
            };
            let repeats = match (f.doses, rule.course_doses) {
                (Some(n), _) => by_frequency.min(n as f64),
                (None, Some(n)) if fr != Frequency::Once => by_frequency.min(f64::from(n)),
                _ => by_frequency,
            };
            let mut total = v * repeats;
            for (med, dose, hb, at) in &f.history {
                let (Some(now), Some(t)) = (now, at.as_deref().and_then(parse_instant_h)) else {
                    continue;
                };
                if med != &f.medication || t > now || now - t >= window_h {
                    continue;
                }
                let Ok(a) = dose.value_in(&amount_unit) else {
                    continue;
                };
                let m = match rule.basis {
                    Basis::Flat => Some(1.0),
                    Basis::PerM2 => hb.or_else(|| bsa(f)),
                    _ => None,
                };
                if let Some(m) = m {
                    total += a / m;
                }
            }
            worst = worst.max(level(&win.limits, total));
        }
    }
    if let Some(cap) = &rule.cap
        && f.dose
            .value_in(&cap.unit)
            .is_ok_and(|a| a > cap.value * (1.0 + 1e-6))
    {
        worst = Level::Hard;
    }
    worst
}

/// The dose in the canonical unit of its kind, and whether it lies in a block's dose band.
fn in_dose_band(b: &Limits, f: &Facts) -> bool {
    let kind = f.dose.kind;
    let Ok(dose) = f.dose.value_in(kind.unit()) else {
        return false;
    };
    let bound = |t: &Option<String>| {
        t.as_deref().map(|t| {
            Amount::parse(t)
                .ok()
                .filter(|a| a.kind == kind)
                .and_then(|a| a.value_in(kind.unit()).ok())
        })
    };
    let above = match bound(&b.dose_above) {
        None => true,
        Some(Some(a)) => dose > a * (1.0 + 1e-9),
        Some(None) => false,
    };
    let at_most = match bound(&b.dose_at_most) {
        None => true,
        Some(Some(a)) => dose <= a * (1.0 + 1e-9),
        Some(None) => false,
    };
    above && at_most
}

fn in_band(v: Option<f64>, min: Option<f64>, max: Option<f64>) -> bool {
    (min.is_none() && max.is_none())
        || v.is_some_and(|v| min.is_none_or(|m| v >= m) && max.is_none_or(|m| v < m))
}

/// Blocks that apply to the order checked against `rule`: all qualifiers match; per unit
/// the most specific.
fn applicable<'a>(blocks: &'a [Limits], f: &Facts, rule: &str) -> Vec<&'a Limits> {
    let mut out: Vec<&Limits> = Vec::new();
    for b in blocks {
        let ok = (b.care_areas.is_empty() || b.care_areas.contains(&f.care_area))
            && (b.rules.is_empty() || b.rules.iter().any(|r| r == rule))
            && in_dose_band(b, f)
            && in_band(f.age, b.age_min_y, b.age_max_y)
            && in_band(f.weight, b.weight_min_kg, b.weight_max_kg)
            && (b.conditions.is_empty() || b.conditions.iter().any(|c| f.conditions.contains(c)))
            && (b.products.is_empty()
                || f.product.as_ref().is_some_and(|p| b.products.contains(p)))
            && b.line.as_ref().is_none_or(|l| f.line.as_ref() == Some(l))
            && b.infusion
                .as_ref()
                .is_none_or(|i| f.infusion_number.is_some_and(|n| infusion_is(i, n)));
        if !ok {
            continue;
        }
        let spec = |x: &Limits| {
            usize::from(x.line.is_some())
                + usize::from(!x.care_areas.is_empty())
                + usize::from(!x.conditions.is_empty())
                + usize::from(!x.products.is_empty())
                + usize::from(x.infusion.is_some())
                + usize::from(!x.rules.is_empty())
                + usize::from(x.dose_above.is_some() || x.dose_at_most.is_some())
                + usize::from(x.age_min_y.is_some() || x.age_max_y.is_some())
                + usize::from(x.weight_min_kg.is_some() || x.weight_max_kg.is_some())
        };
        match out.iter().position(|o| o.unit == b.unit) {
            Some(i) if spec(b) > spec(out[i]) => out[i] = b,
            Some(_) => {}
            None => out.push(b),
        }
    }
    out
}

/// The infusion qualifier written out: `first`, `subsequent`, `N-M`, `N+`.
fn infusion_is(spec: &str, n: u64) -> bool {
    if spec == "first" {
        return n == 1;
    }
    if spec == "subsequent" {
        return n >= 2;
    }
    if let Some(from) = spec.strip_suffix('+') {
        return from.parse::<u64>().is_ok_and(|a| n >= a);
    }
    match spec.split_once('-') {
        Some((a, b)) => match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(a), Ok(b)) => a <= n && n <= b,
            _ => false,
        },
        None => false,
    }
}

/// Amount per hour (in `kind`'s canonical unit) converted into a rate unit.
fn rate_in(per_h: f64, kind: AmountKind, unit: &str, f: &Facts) -> Option<f64> {
    let d = DosePer::parse(&format!("1 {unit}")).ok()?;
    if d.amount_kind != kind {
        return None;
    }
    let factor = Amount::parse(&format!("1 {}", d.amount_unit))
        .ok()?
        .value_in(kind.unit())
        .ok()?;
    let measure = match d.basis {
        DoseBasis::Flat => 1.0,
        DoseBasis::PerKg => f.weight?,
        DoseBasis::PerM2 => bsa(f)?,
    };
    let minutes = d.per_time.map(|(_, m)| m)?;
    Some(per_h / factor / measure * minutes / 60.0)
}

fn administration_level(e: &DrugEntry, f: &Facts, rule: &str) -> Level {
    let kind = f.dose.kind;
    let Ok(dose) = f.dose.value_in(kind.unit()) else {
        return Level::Inside;
    };
    let conc = match f.volume {
        Some(v) if kind != AmountKind::Volume => Some(dose / v),
        _ => None,
    };
    let titrated = e.titration.iter().any(|t| {
        (t.products.is_empty() || f.product.as_ref().is_some_and(|p| t.products.contains(p)))
            && (t.rules.is_empty() || t.rules.iter().any(|r| r == rule))
            && t.infusion.as_ref().is_none_or(|i| {
                f.infusion_number
                    .is_some_and(|n| (i == "first") == (n == 1))
            })
    });
    let mut worst = Level::Inside;
    for b in applicable(&e.administration.concentration, f, rule) {
        if let (Some(c), Some(u)) = (conc, b.unit.as_deref())
            && let Ok(c1) = Concentration::parse(&format!("1 {u}"))
            && c1.amount_kind == kind
        {
            worst = worst.max(level(b, c / c1.per_ml));
        }
    }
    let programmed = match (f.volume, f.rate) {
        (Some(v), Some(r)) => Some(v / r),
        _ => None,
    };
    let effective = if titrated {
        f.duration_h
    } else {
        match (f.duration_h, programmed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    };
    for b in applicable(&e.administration.duration, f, rule) {
        if let Some(h) = effective {
            worst = worst.max(level(
                b,
                if b.unit.as_deref() == Some("min") {
                    h * 60.0
                } else {
                    h
                },
            ));
        }
    }
    let dose_per_h = match (f.rate, conc) {
        (Some(r), _) if kind == AmountKind::Volume => Some(r),
        (Some(r), Some(c)) => Some(r * c),
        _ if titrated => None,
        _ => effective.map(|h| dose / h),
    };
    // A titrated infusion still delivers the whole dose within its duration: its average
    // rate is bounded by the maximum rate too.
    let dose_per_h = match (dose_per_h, f.duration_h) {
        (a, Some(h)) if titrated && kind != AmountKind::Volume => {
            Some(a.map_or(dose / h, |a| a.max(dose / h)))
        }
        (a, _) => a,
    };
    let volume_per_h = f.rate.or_else(|| Some(f.volume? / effective?));
    for b in applicable(&e.administration.dose_rate, f, rule) {
        let Some(u) = b.unit.as_deref() else { continue };
        let by_volume =
            DosePer::parse(&format!("1 {u}")).is_ok_and(|d| d.amount_kind == AmountKind::Volume);
        let v = if by_volume {
            volume_per_h.and_then(|a| rate_in(a, AmountKind::Volume, u, f))
        } else {
            dose_per_h.and_then(|a| rate_in(a, kind, u, f))
        };
        if let Some(v) = v {
            worst = worst.max(level(b, v));
        }
    }
    for b in applicable(&e.administration.per_site_rate, f, rule) {
        if let Some(r) = f.rate {
            worst = worst.max(level(b, r / f.sites));
        }
    }
    for b in applicable(&e.administration.per_site_volume, f, rule) {
        if let Some(v) = f.volume {
            worst = worst.max(level(b, v / f.sites));
        }
    }
    worst
}

/// Whether a rule's own qualifiers admit the order (an unknown measure does not exclude).
fn rule_fits(r: &DosingRule, f: &Facts) -> bool {
    (r.care_areas.is_empty() || r.care_areas.contains(&f.care_area))
        && (r.routes.is_empty() || f.route.as_ref().is_none_or(|ro| r.routes.contains(ro)))
        && f.age
            .is_none_or(|a| r.age_min_y.is_none_or(|m| a >= m) && r.age_max_y.is_none_or(|m| a < m))
        && f.weight.is_none_or(|w| {
            r.weight_min_kg.is_none_or(|m| w >= m) && r.weight_max_kg.is_none_or(|m| w < m)
        })
        && match (r.infusion.as_deref(), f.infusion_number) {
            (None, _) | (_, None) => true,
            (Some("first"), Some(n)) => n == 1,
            (Some(_), Some(n)) => n > 1,
        }
}

/// The least level over the rules the engine may assume: the named indication when it fits,
/// otherwise every fitting rule of dose_per's basis whose hard limits hold dose_per itself.
/// The engine never hard-stops what some consistent rule allows, so the oracle expects the
/// least alarming of them.
fn expected_level(e: &DrugEntry, f: &Facts) -> Level {
    let of = |r: &DosingRule| dose_level(r, f).max(administration_level(e, f, &r.id));
    if let Some(ind) = &f.indication
        && let Some(r) = e.dosing.iter().find(|r| &r.id == ind)
        && rule_fits(r, f)
    {
        return of(r);
    }
    let mut c: Vec<&DosingRule> = e.dosing.iter().filter(|r| rule_fits(r, f)).collect();
    if let Some(dp) = &f.dose_per {
        let basis = |r: &DosingRule| match r.basis {
            Basis::PerKg => Some(DoseBasis::PerKg),
            Basis::PerM2 => Some(DoseBasis::PerM2),
            Basis::Flat => Some(DoseBasis::Flat),
            Basis::PerAuc => None,
        };
        let same: Vec<&DosingRule> = c
            .iter()
            .copied()
            .filter(|r| basis(r) == Some(dp.basis))
            .collect();
        if !same.is_empty() {
            c = same;
        }
        let within: Vec<&DosingRule> = c
            .iter()
            .copied()
            .filter(|r| {
                let Some(l) = &r.per_dose else { return true };
                let Ok(u) = DosePer::parse(&format!("1 {}", r.dose_unit)) else {
                    return true;
                };
                if u.basis != dp.basis {
                    return true;
                }
                let Some(v) = Amount::parse(&format!("{} {}", dp.value, dp.amount_unit))
                    .ok()
                    .and_then(|a| a.value_in(&u.amount_unit).ok())
                else {
                    return true;
                };
                l.hard_min.is_none_or(|m| v >= m * (1.0 - 1e-9))
                    && l.hard_max.is_none_or(|m| v <= m * (1.0 + 1e-9))
            })
            .collect();
        if !within.is_empty() {
            c = within;
        }
    }
    c.into_iter().map(of).min().unwrap_or(Level::Inside)
}

fn set_order(v: &mut Value, key: &str, value: Value) {
    v["order"][key] = value;
}

fn fmt(x: f64) -> String {
    format!("{}", (x * 1e6).round() / 1e6)
}

/// The regimen, product, age-band and rolling-window mutants of one order: the errors that
/// limits on the whole drug miss.
fn model_mutants(v: &Value, e: &DrugEntry) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    // A multi-day (or any) infusion programmed in hours instead of days: rate × 24.
    if let (Some(h), Some(r)) = (
        qty(v, &["order", "duration"]).and_then(|t| value_in(&t, "h")),
        qty(v, &["order", "rate"]).and_then(|t| value_in(&t, "mL/h")),
    ) {
        let mut m = v.clone();
        set_order(&mut m, "duration", json!(format!("{} h", fmt(h / 24.0))));
        set_order(&mut m, "rate", json!(format!("{} mL/h", fmt(r * 24.0))));
        out.push(("regimen", m));
    }
    // A per-cycle dose ordered daily (the cisplatin boxed warning).
    if let Some(Frequency::EveryHours(h)) =
        v["order"]["frequency"].as_str().and_then(Frequency::parse)
        && h >= 168.0
    {
        let mut m = v.clone();
        set_order(&mut m, "frequency", json!("q24h"));
        out.push(("regimen", m));
    }
    // Another brand of the same drug, the order otherwise unchanged.
    if let Some(p) = v["order"]["product"].as_str() {
        for other in e.products.iter().filter(|x| x.id != p) {
            let mut m = v.clone();
            set_order(&mut m, "product", json!(other.id));
            out.push(("product", m));
        }
    }
    // A subcutaneous infusion split over several sites run into one site: at the same
    // pump rate, and at the combined rate of all sites (an IV pump programme).
    if let Some(n) = v["order"]["sites"].as_u64().filter(|n| *n > 1) {
        let mut m = v.clone();
        set_order(&mut m, "sites", json!(1));
        out.push(("sites", m.clone()));
        if let (Some(h), Some(r)) = (
            qty(v, &["order", "duration"]).and_then(|t| value_in(&t, "h")),
            qty(v, &["order", "rate"]).and_then(|t| value_in(&t, "mL/h")),
        ) {
            let k = n as f64;
            set_order(&mut m, "rate", json!(format!("{} mL/h", fmt(r * k))));
            set_order(&mut m, "duration", json!(format!("{} h", fmt(h / k))));
            out.push(("sites", m));
        }
    }
    // The adult order given to an 8-year-old child (26 kg, 128 cm).
    if v["patient"]["age"]
        .as_str()
        .is_some_and(|a| value_in(a, "y").is_some_and(|y| y >= 18.0))
    {
        let mut m = v.clone();
        m["patient"]["age"] = json!("8 y");
        m["patient"]["weight"] = json!("26 kg");
        m["patient"]["height"] = json!("128 cm");
        out.push(("age-band", m));
    }
    // The same dose already given 3 days and 1 day earlier (a repeat inside the cycle, or
    // inside a weekly or 5-day window).
    for earlier in ["2026-11-23T09:00:00Z", "2026-11-25T09:00:00Z"] {
        if let Some(m) = repeated(v, e, earlier) {
            out.push(("rolling-window", m));
        }
    }
    out
}

/// The order with the same dose already given at `earlier` (its `at` must be the library's
/// usual check time).
fn repeated(v: &Value, e: &DrugEntry, earlier: &str) -> Option<Value> {
    if v["at"] != "2026-11-26T09:00:00Z" {
        return None;
    }
    let dose = v["order"]["dose"].as_str()?;
    let mut m = v.clone();
    let bsa = match (
        qty(v, &["patient", "weight"]).and_then(|t| value_in(&t, "kg")),
        qty(v, &["patient", "height"]).and_then(|t| value_in(&t, "cm")),
    ) {
        (Some(w), Some(h)) => Some(format!("{} m2", fmt((w * h / 3600.0).sqrt()))),
        _ => None,
    };
    let mut item = json!({"medication": e.id, "dose": dose, "at": earlier});
    if let Some(b) = bsa {
        item["bsa"] = json!(b);
    }
    if let Some(w) = v["patient"]["weight"].as_str() {
        item["weight"] = json!(w);
    }
    match m["patient"]["history"].as_array_mut() {
        Some(a) => a.push(item),
        None => m["patient"]["history"] = json!([item]),
    }
    Some(m)
}

/// The mutants of one order: (class, mutant).
fn mutants(v: &Value, rule: &DosingRule) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    let Some(dose_text) = v["order"]["dose"].as_str() else {
        return out;
    };
    let Ok(dose) = Amount::parse(dose_text) else {
        return out;
    };
    let (value, unit) = (dose.value, dose.display_unit.clone());
    let with_dose = |d: String| {
        let mut m = v.clone();
        set_order(&mut m, "dose", json!(d));
        m
    };
    out.push(("x10", with_dose(format!("{} {unit}", fmt(value * 10.0)))));
    out.push(("x100", with_dose(format!("{} {unit}", fmt(value * 100.0)))));
    out.push(("div10", with_dose(format!("{} {unit}", fmt(value / 10.0)))));
    // mg and mcg confused: the number kept with the other unit, both ways.
    match unit.as_str() {
        "mg" => {
            out.push(("mg-mcg", with_dose(format!("{} mcg", fmt(value)))));
            out.push((
                "mg-mcg",
                with_dose(format!("{} {unit}", fmt(value * 1000.0))),
            ));
        }
        _ => {
            out.push((
                "mg-mcg",
                with_dose(format!("{} {unit}", fmt(value * 1000.0))),
            ));
            out.push((
                "mg-mcg",
                with_dose(format!("{} {unit}", fmt(value / 1000.0))),
            ));
        }
    }
    match unit.as_str() {
        "g" => out.push(("g-mg", with_dose(format!("{} mg", fmt(value))))),
        "mg" => out.push(("g-mg", with_dose(format!("{} g", fmt(value))))),
        _ => {}
    }
    // Per-kg added (a flat dose multiplied by the weight) or dropped (the per-kg number given as the dose).
    let weight = qty(v, &["patient", "weight"]).and_then(|t| value_in(&t, "kg"));
    let bsa_m2 = match (
        weight,
        qty(v, &["patient", "height"]).and_then(|t| value_in(&t, "cm")),
    ) {
        (Some(w), Some(h)) => Some((w * h / 3600.0).sqrt()),
        _ => None,
    };
    match (rule.basis, weight) {
        (Basis::Flat, Some(w)) | (Basis::PerAuc, Some(w)) => {
            out.push(("per-kg", with_dose(format!("{} {unit}", fmt(value * w)))))
        }
        (Basis::PerKg, Some(w)) => {
            out.push(("per-kg", with_dose(format!("{} {unit}", fmt(value / w)))))
        }
        (Basis::PerM2, _) => {
            if let Some(b) = bsa_m2 {
                out.push(("per-kg", with_dose(format!("{} {unit}", fmt(value / b)))));
            }
        }
        _ => {}
    }
    // Pounds entered as kilograms: the weight and a weight-based dose grow together.
    if let Some(w) = weight {
        let lb = w / 0.453_592_37;
        let mut m = v.clone();
        m["patient"]["weight"] = json!(format!("{} kg", fmt(lb)));
        let factor = match rule.basis {
            Basis::PerKg => lb / w,
            Basis::PerM2 => (lb / w).sqrt(),
            _ => 1.0,
        };
        set_order(
            &mut m,
            "dose",
            json!(format!("{} {unit}", fmt(value * factor))),
        );
        out.push(("lb-as-kg", m));
    }
    // Per-minute read as per-hour and back, on the pump rate.
    if let Some(r) = qty(v, &["order", "rate"]).and_then(|t| value_in(&t, "mL/h")) {
        for k in [60.0, 1.0 / 60.0] {
            let mut m = v.clone();
            set_order(&mut m, "rate", json!(format!("{} mL/h", fmt(r * k))));
            out.push(("per-min-per-h", m));
        }
        for k in [10.0, 0.1] {
            let mut m = v.clone();
            set_order(&mut m, "rate", json!(format!("{} mL/h", fmt(r * k))));
            out.push(("rate-slip", m));
        }
    }
    if let Some(h) = qty(v, &["order", "duration"]).and_then(|t| value_in(&t, "h")) {
        for k in [10.0, 0.1] {
            let mut m = v.clone();
            set_order(&mut m, "duration", json!(format!("{} h", fmt(h * k))));
            out.push(("duration-slip", m));
        }
    }
    out
}

#[derive(Default)]
struct Counts {
    total: usize,
    outside_hard: usize,
    outside_soft: usize,
    inside: usize,
    inside_flagged_otherwise: usize,
    /// Verdict warning or hard stop.
    caught: usize,
    /// Verdict ok (inside every limit the library has for that order).
    accepted: usize,
}

#[test]
fn every_mutant_outside_the_limits_is_flagged() {
    let lib: Library = common::library();
    let mut by_class: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut failures = Vec::new();
    for e in lib.entries() {
        for order in &e.typical_order {
            let base = check_json(&lib, order).expect("typical order accepted");
            let Some(rule) = base
                .medication
                .as_ref()
                .and_then(|m| m.rule.as_ref())
                .and_then(|id| e.dosing.iter().find(|r| &r.id == id))
            else {
                failures.push(format!("{}: no rule matched the typical order", e.id));
                continue;
            };
            let all = mutants(order, rule)
                .into_iter()
                .chain(model_mutants(order, e));
            for (class, m) in all {
                let c = by_class.entry(class).or_default();
                c.total += 1;
                let Some(f) = facts(&m) else { continue };
                let expected = expected_level(e, &f);
                let verdict = match check_json(&lib, &m) {
                    Ok(r) => r.verdict,
                    // A refused input never reaches a pump: it counts as stopped.
                    Err(_) => Verdict::HardStop,
                };
                if verdict == Verdict::Ok {
                    c.accepted += 1;
                } else {
                    c.caught += 1;
                }
                match expected {
                    Level::Hard => {
                        c.outside_hard += 1;
                        if verdict != Verdict::HardStop {
                            failures.push(format!(
                                "{} [{class}] outside a hard limit but verdict {}: {}",
                                e.id,
                                verdict.as_str(),
                                m["order"]
                            ));
                        }
                    }
                    Level::Soft => {
                        c.outside_soft += 1;
                        if verdict == Verdict::Ok {
                            failures.push(format!(
                                "{} [{class}] outside a soft limit but verdict ok: {}",
                                e.id, m["order"]
                            ));
                        }
                    }
                    Level::Inside => {
                        c.inside += 1;
                        if verdict != Verdict::Ok {
                            c.inside_flagged_otherwise += 1;
                        }
                    }
                }
            }
        }
    }
    println!(
        "\nerror class      mutants  outside-hard  outside-soft  inside-limits  (of which flagged by other checks)  caught  silently-accepted"
    );
    let mut total = 0;
    for (class, c) in &by_class {
        total += c.total;
        println!(
            "{class:<16} {:>7}  {:>12}  {:>12}  {:>13}  {:>10}  {:>28}  {:>17}",
            c.total,
            c.outside_hard,
            c.outside_soft,
            c.inside,
            c.inside_flagged_otherwise,
            c.caught,
            c.accepted
        );
    }
    println!("total            {total:>7}");
    assert!(
        failures.is_empty(),
        "{} silently accepted mutants:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total > 500, "the corpus is too small: {total}");
    // ×10 and ×100 slips are outside the limits for every drug.
    let x100 = &by_class["x100"];
    assert_eq!(x100.inside, 0, "a ×100 slip inside the limits");
}
