//! Building the runner model from the inventory and settings.

use super::RunnerModel;
use crate::authz::Authz;
use crate::model::Inventory;
use crate::settings::Settings;

pub fn build(_inv: &Inventory, _authz: &Authz, _settings: &Settings) -> RunnerModel {
    RunnerModel::default()
}
