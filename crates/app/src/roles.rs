//! Who may do what. One table, read by every workflow before it touches the record; the
//! separation-of-duties rules that depend on the record itself (a pharmacist never verifies
//! their own order, a double check needs a second, distinct nurse) live in the workflows and
//! are refused with the same error.

use infusio_store::Role;

use crate::AppError;
use crate::orders::OrderParams;

/// Every action the workflows know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ReadClinical,
    WritePatient,
    RecordObservation,
    CreateOrder,
    EditOrder,
    SignOrder,
    VerifyOrder,
    HoldOrder,
    ReleaseOrder,
    CancelOrder,
    DiscontinueOrder,
    Prepare,
    BookAppointment,
    Administer,
    ManageUsers,
    ReadAudit,
    /// Order a drug outside the library with a limit set entered by a pharmacist
    /// (`off_library`): its own right, held besides the right to create or sign the order.
    OrderOffLibrary,
}

impl Action {
    pub const ALL: &'static [Action] = &[
        Action::ReadClinical,
        Action::WritePatient,
        Action::RecordObservation,
        Action::CreateOrder,
        Action::EditOrder,
        Action::SignOrder,
        Action::VerifyOrder,
        Action::HoldOrder,
        Action::ReleaseOrder,
        Action::CancelOrder,
        Action::DiscontinueOrder,
        Action::Prepare,
        Action::BookAppointment,
        Action::Administer,
        Action::ManageUsers,
        Action::ReadAudit,
        Action::OrderOffLibrary,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::ReadClinical => "read clinical record",
            Action::WritePatient => "register or edit a patient",
            Action::RecordObservation => "record a measurement, lab or allergy",
            Action::CreateOrder => "create an order",
            Action::EditOrder => "edit an order",
            Action::SignOrder => "sign an order",
            Action::VerifyOrder => "verify an order",
            Action::HoldOrder => "hold an order",
            Action::ReleaseOrder => "release a held order",
            Action::CancelOrder => "cancel an order",
            Action::DiscontinueOrder => "discontinue an order",
            Action::Prepare => "record a preparation",
            Action::BookAppointment => "book an appointment",
            Action::Administer => "administer",
            Action::ManageUsers => "manage users",
            Action::ReadAudit => "read the audit trail",
            Action::OrderOffLibrary => "order a drug outside the drug library",
        }
    }

    /// The roles that may take this action.
    pub fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Action::ReadClinical => &[Prescriber, Pharmacist, PharmacyTechnician, Nurse, Scheduler],
            Action::WritePatient => &[Prescriber, Nurse, Scheduler],
            Action::RecordObservation => &[Prescriber, Pharmacist, Nurse],
            Action::CreateOrder | Action::EditOrder | Action::SignOrder => &[Prescriber],
            Action::VerifyOrder => &[Pharmacist],
            Action::HoldOrder => &[Prescriber, Pharmacist, Nurse],
            Action::ReleaseOrder | Action::CancelOrder | Action::DiscontinueOrder => &[Prescriber],
            Action::Prepare => &[Pharmacist, PharmacyTechnician],
            Action::BookAppointment => &[Scheduler, Nurse],
            Action::Administer => &[Nurse],
            Action::ManageUsers => &[Admin],
            Action::ReadAudit => &[Admin, Pharmacist],
            // The limit set is a pharmacist's: a prescriber orders outside the library only
            // when they also hold the pharmacist role (and another pharmacist verifies).
            Action::OrderOffLibrary => &[Pharmacist],
        }
    }
}

/// A signed-in user: who they are and the roles they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
}

impl Actor {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The role this actor acts in for `action` (the first of its roles that permits it), or
    /// `Forbidden` naming the roles that would.
    pub fn permit(&self, action: Action) -> Result<Role, AppError> {
        action
            .roles()
            .iter()
            .copied()
            .find(|r| self.has(*r))
            .ok_or_else(|| {
                AppError::forbidden(
                    action.as_str(),
                    format!(
                        "needs the role {}",
                        action
                            .roles()
                            .iter()
                            .map(|r| r.as_str())
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                )
            })
    }
}

/// The off-library gate of order creation, editing and signing: an order carrying an
/// `off_library` limit set needs [`Action::OrderOffLibrary`] besides the step's own right; an
/// order from the library needs nothing more. The check engine then applies the limit set and
/// always asks for a double check.
pub fn permit_off_library(actor: &Actor, params: &OrderParams) -> Result<(), AppError> {
    if params.off_library.is_some() {
        actor.permit(Action::OrderOffLibrary)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(roles: &[Role]) -> Actor {
        Actor {
            user_id: "u".into(),
            username: "u".into(),
            display_name: "U".into(),
            roles: roles.to_vec(),
        }
    }

    #[test]
    fn admin_holds_no_clinical_power() {
        let admin = actor(&[Role::Admin]);
        for a in [
            Action::CreateOrder,
            Action::SignOrder,
            Action::VerifyOrder,
            Action::Prepare,
            Action::Administer,
            Action::ReadClinical,
        ] {
            assert!(admin.permit(a).is_err(), "{a:?}");
        }
        assert_eq!(admin.permit(Action::ManageUsers).ok(), Some(Role::Admin));
    }

    #[test]
    fn only_pharmacists_verify_and_only_prescribers_sign() {
        for role in Role::ALL {
            let a = actor(&[*role]);
            assert_eq!(
                a.permit(Action::VerifyOrder).is_ok(),
                *role == Role::Pharmacist
            );
            assert_eq!(
                a.permit(Action::SignOrder).is_ok(),
                *role == Role::Prescriber
            );
        }
    }

    #[test]
    fn only_a_pharmacist_holds_the_off_library_right() {
        for role in Role::ALL {
            let a = actor(&[*role]);
            assert_eq!(
                a.permit(Action::OrderOffLibrary).is_ok(),
                *role == Role::Pharmacist,
                "{role:?}"
            );
        }
        let prescriber = actor(&[Role::Prescriber]);
        let dual = actor(&[Role::Prescriber, Role::Pharmacist]);
        let mut params = OrderParams {
            medication: "unlisted".into(),
            dose_per: None,
            dose: Some("10 mg".into()),
            target_hemoglobin: None,
            iron_stores: None,
            pn: None,
            weight_basis: None,
            max_dose: None,
            rounding: None,
            route: "iv".into(),
            volume: None,
            duration: None,
            line: None,
            frequency: None,
            infusion_number: None,
            product: None,
            indication: None,
            off_library: None,
            titration: None,
        };
        assert!(permit_off_library(&prescriber, &params).is_ok());
        params.off_library = Some(serde_json::json!({"dose_hard_max": "20 mg"}));
        let refused = permit_off_library(&prescriber, &params);
        assert!(
            matches!(refused, Err(AppError::Forbidden { action, .. }) if action == Action::OrderOffLibrary.as_str())
        );
        assert!(permit_off_library(&dual, &params).is_ok());
    }
}
