//! `infusio audit access --patient ID`: who read a patient's data, through which view, when.

use std::process::ExitCode;

use crate::StoreArgs;
use crate::audit::AuditArgs;
use crate::db::refused;

pub fn run(_json: bool, _opts: &AuditArgs, _store: &StoreArgs) -> ExitCode {
    refused("audit access: not available in this build")
}
