//! A titrated order names its schedule: `titration: "<schedule id>"` on the order, one of the
//! library's `[[titration]]` schedules for the drug that fits the order's infusion number,
//! product and dosing rule. Without it, verification picks the library's schedule for the
//! infusion number (`workflow::choose_schedule`). The verified order keeps the complete pump
//! programme computed from it (`crate::pump_checks::programme_steps`).

use infusio_core::library::{Library, Titration};

use crate::AppError;
use crate::orders::OrderParams;

/// Whether a schedule's infusion qualifier (`first`, `subsequent`, `2`, `1-2`, `3+`) admits
/// infusion `n`; `None` when the qualifier is unknown or the order gives no number.
fn admits(t: &Titration, n: Option<u32>) -> Option<bool> {
    let q = t.infusion.as_deref()?;
    let n = n?;
    Some(match q {
        "first" => n == 1,
        "subsequent" => n > 1,
        _ => {
            if let Some(from) = q.strip_suffix('+') {
                from.parse::<u32>().ok().is_some_and(|f| n >= f)
            } else if let Some((a, b)) = q.split_once('-') {
                matches!((a.parse::<u32>(), b.parse::<u32>()), (Ok(a), Ok(b)) if (a..=b).contains(&n))
            } else {
                q.parse::<u32>().ok() == Some(n)
            }
        }
    })
}

/// The schedule the order names, checked against the library: `None` when it names none;
/// an input error on `titration` naming the schedules that fit when it names another.
pub fn ordered_schedule(
    library: &Library,
    params: &OrderParams,
) -> Result<Option<(String, String)>, AppError> {
    let Some(id) = params.titration.as_deref() else {
        return Ok(None);
    };
    let schedules = library
        .get(&params.medication)
        .map(|e| e.titration.as_slice())
        .unwrap_or_default();
    let fits = |t: &Titration| {
        admits(t, params.infusion_number) != Some(false)
            && (t.products.is_empty()
                || params
                    .product
                    .as_ref()
                    .is_some_and(|p| t.products.contains(p)))
            && (t.rules.is_empty()
                || params
                    .indication
                    .as_ref()
                    .is_none_or(|r| t.rules.contains(r)))
    };
    match schedules.iter().find(|t| t.id == id) {
        Some(t) if fits(t) => Ok(Some((
            t.id.clone(),
            format!("ordered by the prescriber: {}", t.description),
        ))),
        _ => {
            let fitting: Vec<&str> = schedules
                .iter()
                .filter(|t| fits(t))
                .map(|t| t.id.as_str())
                .collect();
            Err(AppError::invalid(
                "titration",
                id,
                if schedules.is_empty() {
                    format!(
                        "{} has no titration schedule in the library",
                        params.medication
                    )
                } else {
                    format!(
                        "one of the library's schedules for {} that fit this order (infusion number, product, indication): {}",
                        params.medication,
                        if fitting.is_empty() {
                            "none".to_string()
                        } else {
                            fitting.join(", ")
                        }
                    )
                },
            ))
        }
    }
}
