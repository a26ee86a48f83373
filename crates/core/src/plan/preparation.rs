//! Preparation: which vials to open, how much to reconstitute and withdraw, which bag, the
//! final volume and concentration, and how long the preparation may be used.
//!
//! - **Vials**: the combination with the least waste; ties go to the fewest vials, then to the
//!   larger strengths (fewer punctures). Searched exhaustively over counts, so the answer is the
//!   true optimum, not a greedy guess.
//! - **Withdraw volume**: every vial but one is withdrawn whole; the partial vial is the
//!   smallest strength in the combination, so the measured part is the smallest volume.
//! - **Bag**: a fixed final volume from the label (infliximab: "dilute to 250 mL") or the
//!   smallest available bag that puts the final concentration inside the labelled range.
//! - **Beyond-use**: the shorter of the USP <797> (2023) limit for the category and storage and
//!   the product's in-use stability from its label.

use crate::derivation::{Finding, Severity, Step};
use crate::units::Qty;

/// One vial presentation.
#[derive(Clone, Debug, PartialEq)]
pub struct VialSpec {
    /// Amount of drug in the vial (in the amount unit of the preparation).
    pub strength: f64,
    /// Diluent added to reconstitute a powder (mL); `None` for a solution.
    pub reconstitution_ml: Option<f64>,
    /// Volume of drug solution in the vial once ready (mL): the reconstitution volume for a
    /// powder (unless the label gives the reconstituted volume), the fill volume for a solution.
    pub volume_ml: f64,
}

impl VialSpec {
    /// Amount per mL once ready.
    pub fn concentration(&self) -> f64 {
        self.strength / self.volume_ml
    }
}

/// How the drug goes into the bag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BagMode {
    /// A volume of diluent equal to the drug volume is first removed, so the final volume
    /// equals the bag's nominal volume (infliximab, Remicade PI section 2.x).
    ReplaceVolume,
    /// The drug is added to the bag: final volume = bag + drug volume.
    AddToBag,
}

/// The dilution rules of a product.
#[derive(Clone, Debug, PartialEq)]
pub struct Dilution {
    /// e.g. `0.9% sodium chloride`.
    pub diluent: String,
    /// Bag sizes in stock (mL).
    pub bag_sizes_ml: Vec<f64>,
    /// The label's fixed final volume (mL), when it gives one.
    pub final_volume_ml: Option<f64>,
    /// Final concentration range (amount per mL).
    pub concentration_min: Option<f64>,
    pub concentration_max: Option<f64>,
    pub mode: BagMode,
    /// Overfill of the bags in stock (mL above the nominal volume), when known from the
    /// manufacturer or measured. `None`: not known, the plan works on the nominal volume and
    /// says so.
    pub bag_overfill_ml: Option<f64>,
}

/// USP <797> (2023) compounded sterile preparation categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UspCategory {
    /// Immediate use: administration begins within 4 h of the start of preparation.
    ImmediateUse,
    /// Category 1 (prepared in a segregated compounding area): 12 h room, 24 h refrigerated.
    Category1,
    /// Category 2, aseptically prepared from sterile components, not sterility tested:
    /// 4 days room, 10 days refrigerated.
    Category2,
}

impl UspCategory {
    pub const NAMES: [&'static str; 3] = ["immediate-use", "category-1", "category-2"];

    pub fn parse(s: &str) -> Option<UspCategory> {
        match s {
            "immediate-use" => Some(UspCategory::ImmediateUse),
            "category-1" => Some(UspCategory::Category1),
            "category-2" => Some(UspCategory::Category2),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// Where the preparation is kept until administration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    RoomTemperature,
    Refrigerated,
}

impl Storage {
    pub const NAMES: [&'static str; 2] = ["room-temperature", "refrigerated"];

    pub fn parse(s: &str) -> Option<Storage> {
        match s {
            "room-temperature" => Some(Storage::RoomTemperature),
            "refrigerated" => Some(Storage::Refrigerated),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// USP <797> (2023) beyond-use limit in hours for a category and storage.
pub fn usp797_limit_h(category: UspCategory, storage: Storage) -> f64 {
    match (category, storage) {
        (UspCategory::ImmediateUse, _) => 4.0,
        (UspCategory::Category1, Storage::RoomTemperature) => 12.0,
        (UspCategory::Category1, Storage::Refrigerated) => 24.0,
        (UspCategory::Category2, Storage::RoomTemperature) => 4.0 * 24.0,
        (UspCategory::Category2, Storage::Refrigerated) => 10.0 * 24.0,
    }
}

/// Product in-use stability after preparation (hours), from the label.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stability {
    pub room_temperature_h: Option<f64>,
    pub refrigerated_h: Option<f64>,
    /// The label's own "begin within" limit, whatever the storage (infliximab: 3 h).
    pub begin_within_h: Option<f64>,
}

/// Everything the preparation needs.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparationRequest {
    /// The dose, in `amount_unit`.
    pub dose: f64,
    pub amount_unit: String,
    pub vials: Vec<VialSpec>,
    /// `None`: given undiluted from the vials (e.g. 10 % immune globulin).
    pub dilution: Option<Dilution>,
    pub category: UspCategory,
    pub storage: Storage,
    pub stability: Stability,
    pub light_protection: bool,
    pub filter: Option<String>,
    pub hazardous: bool,
}

/// Vials of one strength in the chosen combination.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct VialUse {
    pub strength: Qty,
    pub count: u32,
}

/// The bag chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct BagChoice {
    pub size_ml: f64,
    pub diluent: String,
    /// Diluent removed from the bag before adding the drug (mL).
    pub remove_ml: f64,
}

/// The preparation plan.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparationPlan {
    pub vials: Vec<VialUse>,
    pub vial_count: u32,
    pub total_in_vials: f64,
    pub waste: f64,
    /// Diluent per vial by strength, for powders: `(strength, mL)`.
    pub reconstitution_ml: Vec<(f64, f64)>,
    pub withdraw_volume_ml: f64,
    pub bag: Option<BagChoice>,
    pub final_volume_ml: f64,
    pub final_concentration: f64,
    pub beyond_use_h: f64,
    pub steps: Vec<Step>,
    pub findings: Vec<Finding>,
}

/// Why a preparation cannot be planned.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PreparationError {
    #[error("the product has no vial sizes")]
    NoVials,
    #[error("vial strengths and volumes must be positive numbers")]
    BadVial,
    #[error("the dose must be a positive number")]
    BadDose,
    #[error("no combination of at most {0} vials holds this dose")]
    TooManyVials(u32),
}

/// At most this many vials in one preparation (a larger need means a wrong unit or strength).
pub const MAX_VIALS: u32 = 200;

/// Largest search table for [`least_waste`] (entries); beyond it the dose is refused as
/// needing too many vials.
const MAX_TABLE: usize = 5_000_000;

/// The scale (1, 10, … 10⁶) that makes every strength a whole number, and their greatest common
/// divisor at that scale.
fn integer_grid(strengths: &[f64]) -> Option<(f64, u64)> {
    let mut scale = 1.0;
    for _ in 0..7 {
        let ints: Option<Vec<u64>> = strengths
            .iter()
            .map(|s| {
                let v = s * scale;
                ((v - v.round()).abs() <= 1e-9 * v.max(1.0)).then_some(v.round() as u64)
            })
            .collect();
        if let Some(ints) = ints {
            let g = ints.iter().fold(0u64, |a, &b| gcd(a, b));
            return (g > 0).then_some((scale, g));
        }
        scale *= 10.0;
    }
    None
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The least-waste vial combination: counts per strength (same order as `strengths`).
/// Ties in waste go to fewer vials, then to larger strengths.
///
/// Exact, by dynamic programming on the strengths' common grid (e.g. 100 mg for 100 and
/// 500 mg vials; 0.5 g for 1, 2.5, 5 … 30 g): the fewest vials that hold exactly each total,
/// then the smallest total at or above the dose.
pub fn least_waste(dose: f64, strengths: &[f64]) -> Result<Vec<u32>, PreparationError> {
    if strengths.is_empty() {
        return Err(PreparationError::NoVials);
    }
    if strengths.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(PreparationError::BadVial);
    }
    if !(dose.is_finite() && dose > 0.0) {
        return Err(PreparationError::BadDose);
    }
    let largest = strengths.iter().copied().fold(0.0, f64::max);
    if dose > largest * f64::from(MAX_VIALS) {
        return Err(PreparationError::TooManyVials(MAX_VIALS));
    }
    let (scale, g) = integer_grid(strengths).ok_or(PreparationError::BadVial)?;
    let unit = g as f64 / scale;
    let coins: Vec<usize> = strengths
        .iter()
        .map(|s| ((s * scale).round() as u64 / g) as usize)
        .collect();
    let eps = 1e-9 * dose.max(1.0);
    let need = ((dose - eps) / unit).ceil().max(1.0) as usize;
    let top = need + coins.iter().copied().max().unwrap_or(0);
    if top > MAX_TABLE {
        return Err(PreparationError::TooManyVials(MAX_VIALS));
    }
    // fewest[t] = fewest vials holding exactly t grid units (u32::MAX: unreachable).
    let mut fewest = vec![u32::MAX; top + 1];
    fewest[0] = 0;
    for t in 1..=top {
        for &c in &coins {
            if c <= t && fewest[t - c] != u32::MAX {
                fewest[t] = fewest[t].min(fewest[t - c] + 1);
            }
        }
    }
    let total = (need..=top)
        .find(|&t| fewest[t] != u32::MAX && fewest[t] <= MAX_VIALS)
        .ok_or(PreparationError::TooManyVials(MAX_VIALS))?;
    // Walk back, taking the largest strength that stays on an optimal path.
    let mut order: Vec<usize> = (0..strengths.len()).collect();
    order.sort_by(|&a, &b| strengths[b].total_cmp(&strengths[a]));
    let mut counts = vec![0u32; strengths.len()];
    let mut t = total;
    while t > 0 {
        let i = order
            .iter()
            .copied()
            .find(|&i| {
                coins[i] <= t
                    && fewest[t - coins[i]] != u32::MAX
                    && fewest[t - coins[i]] + 1 == fewest[t]
            })
            .ok_or(PreparationError::TooManyVials(MAX_VIALS))?;
        counts[i] += 1;
        t -= coins[i];
    }
    Ok(counts)
}

fn fmt(v: f64) -> String {
    crate::units::format_number(v, 3)
}

/// The vials chosen, in the request's order of strengths.
struct VialSelection {
    vials: Vec<VialUse>,
    /// Number of vials opened.
    count: u32,
    /// Drug in the opened vials, in the dose's unit.
    total: f64,
    /// Diluent per vial by strength, for powders: `(strength, mL)`.
    reconstitution_ml: Vec<(f64, f64)>,
}

/// The vials used by `counts` (per strength, as from [`least_waste`]).
fn select_vials(req: &PreparationRequest, counts: &[u32]) -> VialSelection {
    let u = req.amount_unit.as_str();
    let mut selection = VialSelection {
        vials: Vec::new(),
        count: 0,
        total: 0.0,
        reconstitution_ml: Vec::new(),
    };
    for (v, &c) in req.vials.iter().zip(counts) {
        if c == 0 {
            continue;
        }
        selection.vials.push(VialUse {
            strength: Qty::new(v.strength, u),
            count: c,
        });
        selection.total += f64::from(c) * v.strength;
        selection.count += c;
        if let Some(r) = v.reconstitution_ml {
            selection.reconstitution_ml.push((v.strength, r));
        }
    }
    selection
}

/// The steps of the vial choice (with its waste) and of each reconstitution.
fn vial_steps(req: &PreparationRequest, selection: &VialSelection, waste: f64) -> Vec<Step> {
    let u = req.amount_unit.as_str();
    let combo = selection
        .vials
        .iter()
        .map(|v| format!("{} × {} {u}", v.count, fmt(v.strength.value)))
        .collect::<Vec<_>>()
        .join(" + ");
    let mut steps = vec![
        Step::new(
            format!("Vials: {combo} (least waste; ties: fewest vials)"),
            "waste = Σ(count × strength) − dose, minimised over every combination",
            Qty::new(waste, u),
        )
        .input("dose", Qty::new(req.dose, u))
        .input("total in vials", Qty::new(selection.total, u)),
    ];
    for (strength, ml) in &selection.reconstitution_ml {
        steps.push(Step::new(
            format!("Reconstitute each {} {u} vial", fmt(*strength)),
            "diluent volume per vial (label)",
            Qty::new(*ml, "mL"),
        ));
    }
    steps
}

/// The volume of drug solution to withdraw (mL), with its step: all vials whole except the
/// smallest strength used, which supplies the rest.
fn withdraw_volume(
    req: &PreparationRequest,
    counts: &[u32],
    total: f64,
) -> Result<(f64, Step), PreparationError> {
    let u = req.amount_unit.as_str();
    let used: Vec<(&VialSpec, u32)> = req
        .vials
        .iter()
        .zip(counts.iter().copied())
        .filter(|(_, c)| *c > 0)
        .collect();
    let partial = used
        .iter()
        .min_by(|a, b| a.0.strength.total_cmp(&b.0.strength))
        .map(|(v, _)| *v)
        .ok_or(PreparationError::NoVials)?;
    let whole_amount = total - partial.strength;
    let whole_volume: f64 = used
        .iter()
        .map(|(v, c)| f64::from(*c) * v.volume_ml)
        .sum::<f64>()
        - partial.volume_ml;
    let withdraw = whole_volume + (req.dose - whole_amount) / partial.concentration();
    let step = Step::new(
        "Volume of drug solution to withdraw",
        "whole vials' volume + (dose − whole vials' amount) ÷ concentration of the partial vial",
        Qty::new(withdraw, "mL"),
    )
    .input("dose", Qty::new(req.dose, u))
    .input(
        "vial concentration",
        Qty::new(partial.concentration(), &format!("{u}/mL")),
    );
    Ok((withdraw, step))
}

/// Plans the preparation.
pub fn prepare(req: &PreparationRequest) -> Result<PreparationPlan, PreparationError> {
    let u = req.amount_unit.as_str();
    let conc_unit = format!("{u}/mL");
    if req
        .vials
        .iter()
        .any(|v| !(v.volume_ml.is_finite() && v.volume_ml > 0.0))
    {
        return Err(PreparationError::BadVial);
    }
    let strengths: Vec<f64> = req.vials.iter().map(|v| v.strength).collect();
    let counts = least_waste(req.dose, &strengths)?;
    let mut findings = Vec::new();
    let selection = select_vials(req, &counts);
    let waste = selection.total - req.dose;
    let mut steps = vial_steps(req, &selection, waste);
    let (withdraw, withdraw_step) = withdraw_volume(req, &counts, selection.total)?;
    steps.push(withdraw_step);

    let (bag, final_volume) = match &req.dilution {
        None => {
            steps.push(Step::new(
                "Given undiluted from the vials",
                "final volume = withdraw volume",
                Qty::new(withdraw, "mL"),
            ));
            (None, withdraw)
        }
        Some(d) => choose_bag(d, req.dose, withdraw, u, &mut steps, &mut findings),
    };
    let final_concentration = req.dose / final_volume;
    steps.push(
        Step::new(
            "Final concentration",
            "dose ÷ final volume",
            Qty::new(final_concentration, &conc_unit),
        )
        .input("dose", Qty::new(req.dose, u))
        .input("final volume", Qty::new(final_volume, "mL")),
    );
    if let Some(d) = &req.dilution
        && !in_range(final_concentration, d)
        && !findings
            .iter()
            .any(|f: &Finding| f.code == "preparation.no_bag_fits")
    {
        findings.push(Finding::new(
            "preparation.concentration_out_of_range",
            Severity::Warning,
            format!(
                "final concentration {} {conc_unit} is outside the labelled range {}",
                fmt(final_concentration),
                range_text(d, &conc_unit)
            ),
        ));
    }
    let (beyond_use_h, beyond_use_step) = beyond_use(req);
    steps.push(beyond_use_step);
    findings.extend(handling_findings(req, waste));
    Ok(PreparationPlan {
        vials: selection.vials,
        vial_count: selection.count,
        total_in_vials: selection.total,
        waste,
        reconstitution_ml: selection.reconstitution_ml,
        withdraw_volume_ml: withdraw,
        bag,
        final_volume_ml: final_volume,
        final_concentration,
        beyond_use_h,
        steps,
        findings,
    })
}

/// The beyond-use time (h), with its step: the shorter of the USP <797> limit and the label's
/// stability and begin-within limits.
fn beyond_use(req: &PreparationRequest) -> (f64, Step) {
    let usp = usp797_limit_h(req.category, req.storage);
    let product = match req.storage {
        Storage::RoomTemperature => req.stability.room_temperature_h,
        Storage::Refrigerated => req.stability.refrigerated_h,
    };
    let mut bud = usp;
    let mut why = format!(
        "USP <797> {} stored {}: {} h",
        req.category.as_str(),
        req.storage.as_str(),
        fmt(usp)
    );
    for (label, h) in [
        ("product stability", product),
        ("label: begin within", req.stability.begin_within_h),
    ] {
        if let Some(h) = h {
            why.push_str(&format!("; {label} {} h", fmt(h)));
            bud = bud.min(h);
        }
    }
    let step = Step::new(
        format!("Beyond-use: the shorter limit ({why})"),
        "min(USP <797> limit, product stability)",
        Qty::new(bud, "h"),
    );
    (bud, step)
}

/// Handling findings: light protection, filter, hazardous drug, discarded vial remainder.
fn handling_findings(req: &PreparationRequest, waste: f64) -> Vec<Finding> {
    let u = req.amount_unit.as_str();
    let mut findings = Vec::new();
    if req.light_protection {
        findings.push(Finding::new(
            "preparation.protect_from_light",
            Severity::Info,
            "protect the prepared bag from light (label)",
        ));
    }
    if let Some(f) = &req.filter {
        findings.push(Finding::new(
            "preparation.filter_required",
            Severity::Info,
            format!("administer through this filter (label): {f}"),
        ));
    }
    if req.hazardous {
        findings.push(Finding::new(
            "preparation.hazardous_handling",
            Severity::Info,
            "NIOSH hazardous drug: prepare in a containment primary engineering control with chemotherapy gloves and gown; use a closed-system drug-transfer device where the dosage form allows (USP <800>)",
        ));
    }
    if waste > 1e-9 * req.dose.max(1.0) {
        findings.push(Finding::new(
            "preparation.vial_waste",
            Severity::Info,
            format!(
                "{} {u} left in the opened vials is discarded (single-dose vials)",
                fmt(waste)
            ),
        ));
    }
    findings
}

fn in_range(c: f64, d: &Dilution) -> bool {
    let eps = 1e-9;
    d.concentration_min.is_none_or(|m| c >= m * (1.0 - eps))
        && d.concentration_max.is_none_or(|m| c <= m * (1.0 + eps))
}

fn range_text(d: &Dilution, unit: &str) -> String {
    match (d.concentration_min, d.concentration_max) {
        (Some(a), Some(b)) => format!("{} to {} {unit}", fmt(a), fmt(b)),
        (Some(a), None) => format!("at least {} {unit}", fmt(a)),
        (None, Some(b)) => format!("at most {} {unit}", fmt(b)),
        (None, None) => "(none)".to_string(),
    }
}

fn final_for(size: f64, drug_ml: f64, mode: BagMode) -> f64 {
    match mode {
        BagMode::ReplaceVolume => size,
        BagMode::AddToBag => size + drug_ml,
    }
}

/// Diluent removed from a bag of `size_ml` before the drug is added (mL).
fn remove_ml(d: &Dilution, size_ml: f64, drug_ml: f64) -> f64 {
    match d.mode {
        BagMode::ReplaceVolume => drug_ml.min(size_ml),
        BagMode::AddToBag => 0.0,
    }
}

/// The bag and the final volume (mL): the label's fixed final volume when there is one,
/// otherwise the smallest bag in stock that keeps the concentration in range.
fn choose_bag(
    d: &Dilution,
    dose: f64,
    drug_ml: f64,
    u: &str,
    steps: &mut Vec<Step>,
    findings: &mut Vec<Finding>,
) -> (Option<BagChoice>, f64) {
    if let Some(fixed) = d.final_volume_ml {
        return fixed_volume_bag(d, fixed, drug_ml, steps, findings);
    }
    let conc_unit = format!("{u}/mL");
    let mut sizes = d.bag_sizes_ml.clone();
    sizes.retain(|s| s.is_finite() && *s > 0.0);
    sizes.sort_by(f64::total_cmp);
    let fits = |size: f64| {
        let fin = final_for(size, drug_ml, d.mode);
        (d.mode == BagMode::AddToBag || drug_ml < size) && in_range(dose / fin, d)
    };
    let size = match sizes.iter().copied().find(|&s| fits(s)) {
        Some(s) => s,
        None => {
            findings.push(Finding::new(
                "preparation.no_bag_fits",
                Severity::Warning,
                format!(
                    "no bag size in stock ({} mL) gives a final concentration in the labelled range {}; a pharmacist must choose the volume",
                    sizes.iter().map(|s| fmt(*s)).collect::<Vec<_>>().join(", "),
                    range_text(d, &conc_unit)
                ),
            ));
            match closest_bag(d, &sizes, dose, drug_ml) {
                Some(s) => s,
                None => return (None, drug_ml),
            }
        }
    };
    let fin = final_for(size, drug_ml, d.mode);
    let formula = match d.mode {
        BagMode::ReplaceVolume => {
            "final volume = bag volume (an equal volume of diluent removed first)"
        }
        BagMode::AddToBag => "final volume = bag volume + drug volume",
    };
    steps.push(
        Step::new(
            format!(
                "Bag: {} mL {} — the smallest in stock that keeps the concentration in {}",
                fmt(size),
                d.diluent,
                range_text(d, &conc_unit)
            ),
            formula,
            Qty::new(fin, "mL"),
        )
        .input("drug volume", Qty::new(drug_ml, "mL")),
    );
    (
        Some(BagChoice {
            size_ml: size,
            diluent: d.diluent.clone(),
            remove_ml: remove_ml(d, size, drug_ml),
        }),
        fin,
    )
}

/// When no bag fits: the bag whose concentration is closest to the range (its upper end,
/// else its lower end), to show; `None` without any bag size.
fn closest_bag(d: &Dilution, sizes: &[f64], dose: f64, drug_ml: f64) -> Option<f64> {
    let target = d
        .concentration_max
        .or(d.concentration_min)
        .unwrap_or(dose / drug_ml);
    sizes.iter().copied().min_by(|a, b| {
        let da = (dose / final_for(*a, drug_ml, d.mode) - target).abs();
        let db = (dose / final_for(*b, drug_ml, d.mode) - target).abs();
        da.total_cmp(&db)
    })
}

/// A fixed final volume (the label's, such as infliximab's 250 mL, or the order's, such as
/// rituximab in 500 mL): the smallest bag in stock that holds it is chosen and diluent is
/// withdrawn from it so that, once the drug is added, the bag holds exactly the final volume:
/// remove = bag nominal volume + overfill − (final volume − drug volume). Without a bag that
/// holds the final volume, a bag of the final volume itself is assumed. A drug volume above the
/// final volume is a hard stop; an unknown overfill is an info finding (the final volume is
/// then exact only for the nominal fill).
///
/// Source: the labels' preparation instructions — REMICADE PI section 2 ("withdraw a volume of
/// 0.9% sodium chloride equal to the volume of reconstituted REMICADE … to a final volume of
/// 250 mL"); RITUXAN PI, Dosage and Administration, Preparation for Administration ("withdraw
/// the necessary amount … and dilute to a final concentration of 1 mg/mL to 4 mg/mL into an
/// infusion bag"). The withdraw arithmetic is volume conservation.
fn fixed_volume_bag(
    d: &Dilution,
    final_ml: f64,
    drug_ml: f64,
    steps: &mut Vec<Step>,
    findings: &mut Vec<Finding>,
) -> (Option<BagChoice>, f64) {
    let mut sizes: Vec<f64> = d
        .bag_sizes_ml
        .iter()
        .copied()
        .filter(|s| s.is_finite() && *s >= final_ml)
        .collect();
    sizes.sort_by(f64::total_cmp);
    let bag_ml = sizes.first().copied().unwrap_or(final_ml);
    let overfill = d.bag_overfill_ml.filter(|o| o.is_finite() && *o >= 0.0);
    let diluent_kept = final_ml - drug_ml;
    let remove = (bag_ml + overfill.unwrap_or(0.0) - diluent_kept).max(0.0);
    let fin = final_ml.max(drug_ml);
    let mut step = Step::new(
        format!(
            "Dilute to the final volume of {} mL with {}: from the {} mL bag remove {} mL, then add the drug",
            fmt(final_ml),
            d.diluent,
            fmt(bag_ml),
            fmt(remove)
        ),
        "remove = bag volume + overfill − (final volume − drug volume)",
        Qty::new(remove, "mL"),
    )
    .input("bag volume", Qty::new(bag_ml, "mL"))
    .input("overfill", Qty::new(overfill.unwrap_or(0.0), "mL"))
    .input("final volume", Qty::new(final_ml, "mL"))
    .input("drug volume", Qty::new(drug_ml, "mL"));
    step = step.input("final volume after adding the drug", Qty::new(fin, "mL"));
    steps.push(step);
    if overfill.is_none() {
        findings.push(Finding::new(
            "preparation.overfill_unknown",
            Severity::Info,
            format!(
                "the overfill of the {} mL bag is not known: the withdraw volume assumes the nominal fill; measure or use the manufacturer's overfill (give bag_overfill) for an exact final volume",
                fmt(bag_ml)
            ),
        ));
    }
    if drug_ml > final_ml {
        findings.push(Finding::new(
            "preparation.drug_volume_exceeds_bag",
            Severity::HardStop,
            format!(
                "the drug volume {} mL exceeds the {} mL final volume",
                fmt(drug_ml),
                fmt(final_ml)
            ),
        ));
    }
    (
        Some(BagChoice {
            size_ml: bag_ml,
            diluent: d.diluent.clone(),
            remove_ml: remove,
        }),
        fin,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_waste_prefers_fewest_vials_on_ties() {
        // 500 mg: 1 × 500 or 5 × 100, both without waste.
        assert_eq!(least_waste(500.0, &[100.0, 500.0]), Ok(vec![0, 1]));
        // 350 mg: 4 × 100 (50 mg waste) beats 1 × 500 (150 mg).
        assert_eq!(least_waste(350.0, &[100.0, 500.0]), Ok(vec![4, 0]));
        // 700 mg: 2 × 100 + 1 × 500, no waste, 3 vials (7 × 100 also no waste).
        assert_eq!(least_waste(700.0, &[100.0, 500.0]), Ok(vec![2, 1]));
    }

    #[test]
    fn usp_limits() {
        assert_eq!(
            usp797_limit_h(UspCategory::Category1, Storage::Refrigerated),
            24.0
        );
        assert_eq!(
            usp797_limit_h(UspCategory::ImmediateUse, Storage::Refrigerated),
            4.0
        );
    }
}
