//! Parsing of user-typed quantities: `"154 lb"`, `"4 mg/250 mL"`, `"5 mcg/kg/min"`,
//! `"106 umol/L"`, `"5 ft 7 in"`, UCUM spellings (`ug`, `[lb_av]`, `m2`, `[iU]`).
//!
//! The set of units is closed and reviewed: anything not in [`BASE_UNITS`] is refused
//! with a message, never guessed. Error-prone spellings that ISMP lists as dangerous
//! (`U`, `cc`) are refused with the safe spelling in the message.

use super::{Kind, UnitError};

/// One unit symbol of the closed set: its kind and its factor to the kind's canonical unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BaseUnit {
    /// The ISMP spelling used for output.
    pub symbol: &'static str,
    pub kind: Kind,
    /// Multiply a value in this unit by `factor` to get the kind's canonical unit
    /// (mg, mL, cm, min, m2, mmol, mEq, units, kcal, gtt, %, count, mOsm).
    pub factor: f64,
}

const fn bu(symbol: &'static str, kind: Kind, factor: f64) -> BaseUnit {
    BaseUnit {
        symbol,
        kind,
        factor,
    }
}

/// Accepted spellings (matched case-insensitively, after the refusals below) and their unit.
pub const BASE_UNITS: &[(&str, BaseUnit)] = &[
    // Mass, canonical mg.
    ("kg", bu("kg", Kind::Mass, 1e6)),
    ("g", bu("g", Kind::Mass, 1e3)),
    ("gm", bu("g", Kind::Mass, 1e3)),
    ("mg", bu("mg", Kind::Mass, 1.0)),
    ("mcg", bu("mcg", Kind::Mass, 1e-3)),
    ("ug", bu("mcg", Kind::Mass, 1e-3)),
    ("µg", bu("mcg", Kind::Mass, 1e-3)),
    ("ng", bu("ng", Kind::Mass, 1e-6)),
    ("lb", bu("lb", Kind::Mass, 453_592.37)),
    ("lbs", bu("lb", Kind::Mass, 453_592.37)),
    ("[lb_av]", bu("lb", Kind::Mass, 453_592.37)),
    // Volume, canonical mL.
    ("l", bu("L", Kind::Volume, 1e3)),
    ("dl", bu("dL", Kind::Volume, 100.0)),
    ("ml", bu("mL", Kind::Volume, 1.0)),
    ("ul", bu("microL", Kind::Volume, 1e-3)),
    ("mcl", bu("microL", Kind::Volume, 1e-3)),
    ("mm3", bu("mm3", Kind::Volume, 1e-3)),
    // Length, canonical cm.
    ("m", bu("m", Kind::Length, 100.0)),
    ("cm", bu("cm", Kind::Length, 1.0)),
    ("mm", bu("mm", Kind::Length, 0.1)),
    ("in", bu("in", Kind::Length, 2.54)),
    ("[in_i]", bu("in", Kind::Length, 2.54)),
    ("ft", bu("ft", Kind::Length, 30.48)),
    ("[ft_i]", bu("ft", Kind::Length, 30.48)),
    // Time, canonical min. A month is 1/12 of a Julian year (365.25 days).
    ("s", bu("s", Kind::Time, 1.0 / 60.0)),
    ("sec", bu("s", Kind::Time, 1.0 / 60.0)),
    ("min", bu("min", Kind::Time, 1.0)),
    ("h", bu("h", Kind::Time, 60.0)),
    ("hr", bu("h", Kind::Time, 60.0)),
    ("d", bu("day", Kind::Time, 1440.0)),
    ("day", bu("day", Kind::Time, 1440.0)),
    ("days", bu("day", Kind::Time, 1440.0)),
    ("wk", bu("week", Kind::Time, 10_080.0)),
    ("week", bu("week", Kind::Time, 10_080.0)),
    ("weeks", bu("week", Kind::Time, 10_080.0)),
    ("mo", bu("mo", Kind::Time, 43_830.0)),
    ("y", bu("y", Kind::Time, 525_960.0)),
    ("yr", bu("y", Kind::Time, 525_960.0)),
    ("a", bu("y", Kind::Time, 525_960.0)),
    // Area, canonical m2.
    ("m2", bu("m2", Kind::Area, 1.0)),
    ("m^2", bu("m2", Kind::Area, 1.0)),
    ("m²", bu("m2", Kind::Area, 1.0)),
    // Amount of substance, canonical mmol.
    ("mol", bu("mol", Kind::Substance, 1e3)),
    ("mmol", bu("mmol", Kind::Substance, 1.0)),
    ("umol", bu("micromol", Kind::Substance, 1e-3)),
    ("µmol", bu("micromol", Kind::Substance, 1e-3)),
    ("nmol", bu("nmol", Kind::Substance, 1e-6)),
    // Equivalents, canonical mEq.
    ("eq", bu("Eq", Kind::Equivalent, 1e3)),
    ("meq", bu("mEq", Kind::Equivalent, 1.0)),
    // International units, canonical units. `U` is refused (see REFUSED).
    ("units", bu("units", Kind::IntlUnit, 1.0)),
    ("unit", bu("units", Kind::IntlUnit, 1.0)),
    ("iu", bu("units", Kind::IntlUnit, 1.0)),
    ("[iu]", bu("units", Kind::IntlUnit, 1.0)),
    // Energy, canonical kcal.
    ("kcal", bu("kcal", Kind::Energy, 1.0)),
    ("kj", bu("kJ", Kind::Energy, 1.0 / 4.184)),
    // Drops, percent, counts, osmoles.
    ("gtt", bu("gtt", Kind::Drop, 1.0)),
    ("drop", bu("gtt", Kind::Drop, 1.0)),
    ("drops", bu("gtt", Kind::Drop, 1.0)),
    ("[drp]", bu("gtt", Kind::Drop, 1.0)),
    ("%", bu("%", Kind::Percent, 1.0)),
    ("10*9", bu("10*9", Kind::Count, 1e9)),
    ("10^9", bu("10*9", Kind::Count, 1e9)),
    ("10*3", bu("10*3", Kind::Count, 1e3)),
    ("10^3", bu("10*3", Kind::Count, 1e3)),
    ("cells", bu("cells", Kind::Count, 1.0)),
    ("mosm", bu("mOsm", Kind::Osmole, 1.0)),
    ("osm", bu("Osm", Kind::Osmole, 1e3)),
];

/// Spellings refused on purpose, with the reason shown to the user.
const REFUSED: &[(&str, &str)] = &[
    (
        "U",
        "the abbreviation U is refused (ISMP: misread as 0 or 4; in UCUM it is the enzyme unit); write 'units'",
    ),
    ("u", "the abbreviation u is refused (ISMP); write 'units'"),
    ("cc", "cc is refused (ISMP: misread as u or 00); write mL"),
    ("M", "molar concentrations are not accepted; write mmol/L"),
    (
        "mM",
        "molar concentrations are not accepted (mM is millimolar, not millimetre); write mmol/L",
    ),
    (
        "uM",
        "molar concentrations are not accepted; write micromol/L as umol/L",
    ),
    ("nM", "molar concentrations are not accepted; write nmol/L"),
];

/// A unit expression: `scale × Π numerator / Π denominator`, kept unreduced so that
/// `mg/kg` stays a per-kilogram dose rather than collapsing into a bare ratio.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitExpr {
    /// Numeric factor written inside the unit, e.g. `1/250` for `mg/250 mL`, `1.73` in `1.73m2`.
    pub scale: f64,
    pub numerator: Vec<BaseUnit>,
    pub denominator: Vec<BaseUnit>,
}

impl UnitExpr {
    /// The factor that turns a value in this unit into the canonical units of its signature.
    pub fn canonical_factor(&self) -> f64 {
        let num: f64 = self.numerator.iter().map(|u| u.factor).product();
        let den: f64 = self.denominator.iter().map(|u| u.factor).product();
        self.scale * num / den
    }

    /// The dimension signature: kinds of the numerator and of the denominator, sorted.
    pub fn signature(&self) -> (Vec<Kind>, Vec<Kind>) {
        let mut n: Vec<Kind> = self.numerator.iter().map(|u| u.kind).collect();
        let mut d: Vec<Kind> = self.denominator.iter().map(|u| u.kind).collect();
        n.sort();
        d.sort();
        (n, d)
    }

    /// A readable ISMP spelling of this unit (`mg/kg/min`, `mg/250 mL`).
    pub fn spelling(&self) -> String {
        let num = if self.numerator.is_empty() {
            "1".to_string()
        } else {
            self.numerator
                .iter()
                .map(|u| u.symbol)
                .collect::<Vec<_>>()
                .join(".")
        };
        let mut out = num;
        let mut scale_written = self.scale == 1.0;
        for u in &self.denominator {
            out.push('/');
            if !scale_written {
                out.push_str(&super::format::format_number(1.0 / self.scale, 6));
                out.push(' ');
                scale_written = true;
            }
            out.push_str(u.symbol);
        }
        out
    }
}

/// A parsed quantity: the number as typed and its unit expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantity {
    pub value: f64,
    pub unit: UnitExpr,
}

impl Quantity {
    /// The value converted into `target` (a unit expression such as `"mg/dL"`), or an error
    /// when the dimensions differ.
    pub fn value_in(&self, target: &str) -> Result<f64, UnitError> {
        let target_expr = parse_unit(target)?;
        self.value_in_expr(&target_expr, target)
    }

    pub(crate) fn value_in_expr(
        &self,
        target: &UnitExpr,
        target_name: &str,
    ) -> Result<f64, UnitError> {
        if self.unit.signature() != target.signature() {
            return Err(UnitError::Incompatible {
                given: self.unit.spelling(),
                expected: target_name.to_string(),
            });
        }
        Ok(self.value * self.unit.canonical_factor() / target.canonical_factor())
    }
}

/// Parses `"<number> <unit>"`. Also accepts feet and inches together (`"5 ft 7 in"`).
pub fn parse_quantity(text: &str) -> Result<Quantity, UnitError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(UnitError::Empty);
    }
    if let Some(q) = parse_feet_inches(trimmed)? {
        return Ok(q);
    }
    let split = trimmed
        .char_indices()
        .find(|(_, c)| {
            !(c.is_ascii_digit() || *c == '.' || *c == '-' || *c == '+' || *c == 'e' || *c == 'E')
        })
        .map(|(i, _)| i)
        .unwrap_or(trimmed.len());
    // Exponent letters only belong to the number when followed by a digit or sign; back off
    // so that "5 eq" is not read as the number "5 e".
    let (mut number_part, mut unit_part) = trimmed.split_at(split);
    while number_part.ends_with(['e', 'E']) {
        number_part = &number_part[..number_part.len() - 1];
        unit_part = &trimmed[number_part.len()..];
    }
    if number_part.is_empty() {
        return Err(UnitError::NoNumber(trimmed.to_string()));
    }
    if unit_part.starts_with(',') {
        return Err(UnitError::Comma(trimmed.to_string()));
    }
    let value = parse_number(number_part)?;
    let unit_text = unit_part.trim();
    if unit_text.is_empty() {
        return Err(UnitError::NoUnit(trimmed.to_string()));
    }
    let unit = parse_unit(unit_text)?;
    Ok(Quantity { value, unit })
}

fn parse_number(text: &str) -> Result<f64, UnitError> {
    let value: f64 = text
        .parse()
        .map_err(|_| UnitError::BadNumber(text.to_string()))?;
    if !value.is_finite() {
        return Err(UnitError::BadNumber(text.to_string()));
    }
    Ok(value)
}

fn parse_feet_inches(text: &str) -> Result<Option<Quantity>, UnitError> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() == 4
        && words[1].eq_ignore_ascii_case("ft")
        && words[3].eq_ignore_ascii_case("in")
    {
        let feet = parse_number(words[0])?;
        let inches = parse_number(words[2])?;
        if !(0.0..12.0).contains(&inches) {
            return Err(UnitError::BadNumber(format!(
                "{inches} in (inches after feet must be at least 0 and under 12)"
            )));
        }
        let unit = parse_unit("in")?;
        return Ok(Some(Quantity {
            value: feet * 12.0 + inches,
            unit,
        }));
    }
    Ok(None)
}

/// Parses a unit expression such as `mg/kg/min`, `mg/mL.min`, `mg.h/L`, `mg/250 mL`,
/// `mL/min/1.73m2`, `10*9/L`, `1/h`.
pub fn parse_unit(text: &str) -> Result<UnitExpr, UnitError> {
    let text = text.trim();
    if let Some((_, why)) = REFUSED.iter().find(|(s, _)| *s == text) {
        return Err(UnitError::Refused {
            unit: text.to_string(),
            reason: (*why).to_string(),
        });
    }
    let mut expr = UnitExpr {
        scale: 1.0,
        numerator: Vec::new(),
        denominator: Vec::new(),
    };
    for (segment_idx, segment) in text.split('/').enumerate() {
        let segment = segment.trim();
        if segment.is_empty() {
            return Err(UnitError::UnknownUnit(text.to_string()));
        }
        for factor in split_factors(segment) {
            let (number, symbol) = split_leading_number(factor);
            let mut scale = 1.0;
            if let Some(n) = number {
                scale = parse_number(n)?;
                if scale <= 0.0 {
                    return Err(UnitError::BadNumber(n.to_string()));
                }
            }
            let unit = if symbol.is_empty() {
                None
            } else {
                Some(lookup(symbol, text)?)
            };
            if number.is_none() && unit.is_none() {
                return Err(UnitError::UnknownUnit(text.to_string()));
            }
            if segment_idx == 0 {
                expr.scale *= scale;
                expr.numerator.extend(unit);
            } else {
                expr.scale /= scale;
                expr.denominator.extend(unit);
            }
        }
    }
    if expr.numerator.is_empty() && expr.denominator.is_empty() {
        return Err(UnitError::UnknownUnit(text.to_string()));
    }
    Ok(expr)
}

/// Splits a segment on `.`, `*` and spaces, but keeps `10*9`, `10^9` and `1.73m2` whole and
/// joins a number with the symbol after it (`250 mL`).
fn split_factors(segment: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let bytes = segment.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let is_sep = match c {
            b' ' => true,
            b'*' => !segment[start..i].ends_with("10"),
            // A dot between digits is a decimal point (1.73m2), not a product.
            b'.' => {
                let prev_digit = i > 0 && bytes[i - 1].is_ascii_digit();
                let next_digit = i + 1 < bytes.len() && bytes[i + 1].is_ascii_digit();
                !(prev_digit && next_digit)
            }
            _ => false,
        };
        if is_sep {
            let piece = &segment[start..i];
            // "250 mL": a bare number joins the symbol that follows it.
            if !(c == b' ' && !piece.is_empty() && piece.parse::<f64>().is_ok() && piece != "10") {
                if !piece.is_empty() {
                    out.push(piece);
                }
                start = i + 1;
            }
        }
        i += 1;
    }
    let last = &segment[start..];
    if !last.is_empty() {
        out.push(last);
    }
    out
}

/// `"250 mL"` → `(Some("250"), "mL")`; `"1.73m2"` → `(Some("1.73"), "m2")`; `"10*9"` → `(None, "10*9")`.
fn split_leading_number(factor: &str) -> (Option<&str>, &str) {
    let lower = factor.to_ascii_lowercase();
    if lower.starts_with("10*") || lower.starts_with("10^") {
        return (None, factor);
    }
    let end = factor
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
        .map(|(i, _)| i)
        .unwrap_or(factor.len());
    if end == 0 {
        (None, factor)
    } else {
        (Some(&factor[..end]), factor[end..].trim())
    }
}

fn lookup(symbol: &str, whole: &str) -> Result<BaseUnit, UnitError> {
    if let Some((_, why)) = REFUSED.iter().find(|(s, _)| *s == symbol) {
        return Err(UnitError::Refused {
            unit: symbol.to_string(),
            reason: (*why).to_string(),
        });
    }
    let lower = symbol.to_lowercase();
    BASE_UNITS
        .iter()
        .find(|(s, _)| *s == lower)
        .map(|(_, u)| *u)
        .ok_or_else(|| UnitError::UnknownUnit(whole.to_string()))
}
