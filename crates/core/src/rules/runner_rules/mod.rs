//! Rules of this group; each in its own file.

use crate::rules::Rule;

/// Every rule of this group.
pub fn all() -> Vec<&'static dyn Rule> {
    vec![]
}
