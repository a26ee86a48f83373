//! JSON fixtures and dotted-path edits shared by the check tests, the check benchmark and the
//! CLI tests.

use serde_json::{Value, json};

/// The example input of the `infusio check` contract (infliximab 5 mg/kg for a 70 kg patient).
pub fn check_contract_example() -> Value {
    json!({
      "patient": {
        "age": "54 y", "sex": "female", "weight": "70 kg", "height": "165 cm",
        "labs": {"serum_creatinine": "0.9 mg/dL", "anc": "1.8 10*9/L", "platelets": "150 10*9/L",
                 "hemoglobin": "9.1 g/dL", "potassium": "3.1 mEq/L", "sodium": "139 mEq/L"},
        "allergies": ["penicillin"],
        "history": [{"medication": "doxorubicin", "dose": "108 mg", "bsa": "1.8 m2", "weight": "71 kg", "at": "2026-10-01"}]
      },
      "care_area": "adult-infusion",
      "order": {
        "medication": "infliximab", "dose": "350 mg", "dose_per": "5 mg/kg", "route": "iv",
        "volume": "250 mL", "duration": "2 h", "rate": "125 mL/h", "line": "peripheral",
        "frequency": "once", "infusion_number": 1
      },
      "at": "2026-11-26T09:00:00Z"
    })
}

/// Sets a dotted path (`order.dose`, `patient.labs.anc`) in a JSON object, creating the
/// objects on the way.
pub fn set(v: &mut Value, path: &str, value: Value) {
    let parts: Vec<&str> = path.split('.').collect();
    let (last, parents) = parts.split_last().expect("a non-empty path");
    let mut cur = v;
    for p in parents {
        if cur.get(*p).is_none() {
            cur[*p] = json!({});
        }
        cur = &mut cur[*p];
    }
    cur[*last] = value;
}

/// Removes a dotted path (nothing happens when it is absent).
pub fn remove(v: &mut Value, path: &str) {
    let parts: Vec<&str> = path.split('.').collect();
    let (last, parents) = parts.split_last().expect("a non-empty path");
    let mut cur = v;
    for p in parents {
        cur = &mut cur[*p];
    }
    if let Some(o) = cur.as_object_mut() {
        o.remove(*last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_creates_and_remove_deletes_a_dotted_path() {
        let mut v = json!({"order": {"dose": "1 mg"}});
        set(&mut v, "patient.labs.anc", json!("1.8 10*9/L"));
        set(&mut v, "order.dose", json!("2 mg"));
        assert_eq!(v["patient"]["labs"]["anc"], "1.8 10*9/L");
        assert_eq!(v["order"]["dose"], "2 mg");
        remove(&mut v, "order.dose");
        remove(&mut v, "order.absent");
        assert_eq!(v["order"], json!({}));
    }
}
