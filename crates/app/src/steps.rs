//! The order-step table: every step an order can take, the states it may be taken from, the
//! state it leads to and the action (hence the roles) it needs. The workflow checks each step
//! against this table, and screens ask it which steps to offer
//! ([`OrderStep::allowed_at`]), so a button is shown exactly when the step would be accepted
//! by the state rule. Roles and separation of duties are still checked by the step itself.

use infusio_store::OrderStatus;

use crate::{Action, AppError};

use OrderStatus as S;

/// A step of the order lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStep {
    Edit,
    Sign,
    Verify,
    Prepare,
    /// Booking an appointment for a prepared order.
    Schedule,
    /// The bedside scan that starts the administration.
    Start,
    /// The administration finished: completed.
    Complete,
    Hold,
    Release,
    Cancel,
    Discontinue,
}

const BEFORE_ADMINISTRATION: &[OrderStatus] =
    &[S::Draft, S::Signed, S::Verified, S::Prepared, S::Scheduled];

impl OrderStep {
    pub const ALL: &'static [OrderStep] = &[
        OrderStep::Edit,
        OrderStep::Sign,
        OrderStep::Verify,
        OrderStep::Prepare,
        OrderStep::Schedule,
        OrderStep::Start,
        OrderStep::Complete,
        OrderStep::Hold,
        OrderStep::Release,
        OrderStep::Cancel,
        OrderStep::Discontinue,
    ];

    /// The step's name in the API and the audit log (`order.<name>`).
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStep::Edit => "edit",
            OrderStep::Sign => "sign",
            OrderStep::Verify => "verify",
            OrderStep::Prepare => "prepare",
            OrderStep::Schedule => "schedule",
            OrderStep::Start => "start",
            OrderStep::Complete => "complete",
            OrderStep::Hold => "hold",
            OrderStep::Release => "release",
            OrderStep::Cancel => "cancel",
            OrderStep::Discontinue => "discontinue",
        }
    }

    /// The states the step may be taken from.
    pub fn allowed_from(self) -> &'static [OrderStatus] {
        match self {
            OrderStep::Edit => BEFORE_ADMINISTRATION,
            OrderStep::Sign => &[S::Draft],
            OrderStep::Verify => &[S::Signed],
            OrderStep::Prepare => &[S::Verified],
            OrderStep::Schedule => &[S::Prepared],
            OrderStep::Start => &[S::Scheduled, S::Prepared],
            OrderStep::Complete => &[S::InProgress],
            OrderStep::Hold => &[S::Signed, S::Verified, S::Prepared, S::Scheduled],
            OrderStep::Release => &[S::Held],
            OrderStep::Cancel => &[
                S::Draft,
                S::Signed,
                S::Verified,
                S::Prepared,
                S::Scheduled,
                S::Held,
            ],
            OrderStep::Discontinue => &[
                S::Verified,
                S::Prepared,
                S::Scheduled,
                S::InProgress,
                S::Held,
            ],
        }
    }

    /// The state the step leads to (`None`: the state does not change, or depends on the
    /// outcome — an edit keeps the state; a preparation with a booked appointment is
    /// `scheduled`, without one `prepared`).
    pub fn leads_to(self) -> Option<OrderStatus> {
        match self {
            OrderStep::Edit | OrderStep::Prepare => None,
            OrderStep::Sign => Some(S::Signed),
            OrderStep::Verify => Some(S::Verified),
            OrderStep::Schedule => Some(S::Scheduled),
            OrderStep::Start => Some(S::InProgress),
            OrderStep::Complete => Some(S::Completed),
            OrderStep::Hold => Some(S::Held),
            OrderStep::Release => Some(S::Signed),
            OrderStep::Cancel => Some(S::Cancelled),
            OrderStep::Discontinue => Some(S::Discontinued),
        }
    }

    /// The action whose roles may take the step.
    pub fn action(self) -> Action {
        match self {
            OrderStep::Edit => Action::EditOrder,
            OrderStep::Sign => Action::SignOrder,
            OrderStep::Verify => Action::VerifyOrder,
            OrderStep::Prepare => Action::Prepare,
            OrderStep::Schedule => Action::BookAppointment,
            OrderStep::Start | OrderStep::Complete => Action::Administer,
            OrderStep::Hold => Action::HoldOrder,
            OrderStep::Release => Action::ReleaseOrder,
            OrderStep::Cancel => Action::CancelOrder,
            OrderStep::Discontinue => Action::DiscontinueOrder,
        }
    }

    /// Whether the step needs a reason (it stops or interrupts therapy).
    pub fn reason_required(self) -> bool {
        matches!(
            self,
            OrderStep::Hold | OrderStep::Cancel | OrderStep::Discontinue
        )
    }

    /// Whether the step may be taken from `status` (the state rule only).
    pub fn allowed(self, status: OrderStatus) -> bool {
        self.allowed_from().contains(&status)
    }

    /// The steps the state rule allows from `status`, in table order: what a screen offers.
    pub fn allowed_at(status: OrderStatus) -> Vec<OrderStep> {
        OrderStep::ALL
            .iter()
            .copied()
            .filter(|s| s.allowed(status))
            .collect()
    }

    /// The state-changing steps of `POST /api/orders/{id}/{step}`: hold, release, cancel,
    /// discontinue. Any other word is refused, naming the accepted ones.
    pub fn parse_transition(step: &str) -> Result<OrderStep, AppError> {
        match step {
            "hold" => Ok(OrderStep::Hold),
            "release" => Ok(OrderStep::Release),
            "cancel" => Ok(OrderStep::Cancel),
            "discontinue" => Ok(OrderStep::Discontinue),
            other => Err(AppError::invalid(
                "step",
                other,
                "one of hold, release, cancel, discontinue",
            )),
        }
    }
}

impl std::fmt::Display for OrderStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_allow_no_step() {
        for s in [S::Completed, S::Cancelled, S::Discontinued] {
            assert_eq!(OrderStep::allowed_at(s), vec![], "{s}");
        }
    }

    #[test]
    fn the_screens_offer_what_the_table_says() {
        use OrderStep as O;
        let cases: &[(OrderStatus, &[OrderStep])] = &[
            (S::Draft, &[O::Edit, O::Sign, O::Cancel]),
            (S::Signed, &[O::Edit, O::Verify, O::Hold, O::Cancel]),
            (
                S::Verified,
                &[O::Edit, O::Prepare, O::Hold, O::Cancel, O::Discontinue],
            ),
            (
                S::Prepared,
                &[
                    O::Edit,
                    O::Schedule,
                    O::Start,
                    O::Hold,
                    O::Cancel,
                    O::Discontinue,
                ],
            ),
            (
                S::Scheduled,
                &[O::Edit, O::Start, O::Hold, O::Cancel, O::Discontinue],
            ),
            (S::InProgress, &[O::Complete, O::Discontinue]),
            (S::Held, &[O::Release, O::Cancel, O::Discontinue]),
        ];
        for (status, expected) in cases {
            assert_eq!(OrderStep::allowed_at(*status), *expected, "{status}");
        }
    }

    #[test]
    fn no_step_leads_back_to_draft_and_none_leaves_a_terminal_state() {
        for step in OrderStep::ALL {
            assert_ne!(step.leads_to(), Some(S::Draft), "{step}");
            for from in step.allowed_from() {
                assert!(
                    !matches!(from, S::Completed | S::Cancelled | S::Discontinued),
                    "{step} from {from}"
                );
            }
        }
    }

    #[test]
    fn only_the_four_transitions_parse_and_a_bad_word_is_named() {
        for s in ["hold", "release", "cancel", "discontinue"] {
            let step = OrderStep::parse_transition(s).map(OrderStep::as_str).ok();
            assert_eq!(step, Some(s));
        }
        match OrderStep::parse_transition("sign") {
            Err(AppError::Invalid(e)) => {
                assert_eq!((e.field.as_str(), e.value.as_str()), ("step", "sign"));
            }
            other => panic!("{other:?}"),
        }
    }
}
