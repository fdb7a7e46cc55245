//! Renderers of a [`Report`]: a table grouped by RFC section, JSON, and
//! JUnit XML for CI systems.

pub mod json;
pub mod junit;
pub mod table;

use std::collections::BTreeMap;

use crate::model::{section_key, Outcome, Report};

/// The outcomes grouped by section, sections in natural order, outcomes in run order.
pub fn by_section(report: &Report) -> Vec<(String, Vec<&Outcome>)> {
    let mut groups: BTreeMap<(u32, Vec<u32>, String), Vec<&Outcome>> = BTreeMap::new();
    for o in &report.outcomes {
        groups
            .entry(section_key(&o.check.section))
            .or_default()
            .push(o);
    }
    groups.into_iter().map(|((_, _, s), v)| (s, v)).collect()
}
