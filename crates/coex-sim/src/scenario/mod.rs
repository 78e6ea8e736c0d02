//! Scenario files: a TOML script of a business day (customers writing, the owner replying
//! from the phone, an offline phone returning with a backlog, a campaign's replies), run at
//! start (`coex sim --scenario FILE`) or posted to the control API (`POST /_sim/scenario`).
//!
//! ```toml
//! [sim]
//! speed = 60.0          # optional: virtual seconds per real second
//!
//! [world]               # optional: the world to build (else the default one)
//! seed = 7
//!
//! [[step]]
//! at = "9h15m"          # offset from the start of the scenario
//! action = "customer_sends"
//! customer = "alice"
//! text = "Good morning!"
//! ```
//!
//! Each step is an [`Action`] (the same fields as `POST /_sim/act`) plus its offset.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::{SimTime, parse_duration};
use crate::world::actions::Action;
use crate::world::seed::WorldSpec;
use crate::world::{Task, World};

/// The scenario shipped with the emulator: a business day at the default world's plant shop.
pub const BUSINESS_DAY: &str = include_str!("../../scenarios/business_day.toml");

/// Why a scenario was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    #[error("scenario is not valid TOML: {0}")]
    Toml(String),
    #[error("step {index}: {message}")]
    Step { index: usize, message: String },
}

/// `[sim]` settings of a scenario.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScenarioSim {
    /// Virtual seconds per real second.
    #[serde(default)]
    pub speed: Option<f64>,
    /// Virtual start instant, Unix seconds.
    #[serde(default)]
    pub start: Option<i64>,
    /// Chaos mode from the start.
    #[serde(default)]
    pub chaos: Option<bool>,
}

/// One scripted step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    /// Offset from the scenario's start (`"30s"`, `"9h15m"`).
    pub at: String,
    #[serde(flatten)]
    pub action: Action,
}

/// A parsed scenario.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Scenario {
    #[serde(default)]
    pub sim: ScenarioSim,
    #[serde(default)]
    pub world: Option<WorldSpec>,
    #[serde(default, rename = "step")]
    pub steps: Vec<Step>,
}

impl Scenario {
    /// Parses and checks a scenario file.
    pub fn from_toml(text: &str) -> Result<Self, ScenarioError> {
        let s: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Toml(e.to_string()))?;
        for (index, step) in s.steps.iter().enumerate() {
            parse_duration(&step.at).map_err(|e| ScenarioError::Step {
                index: index + 1,
                message: e.to_string(),
            })?;
        }
        Ok(s)
    }

    /// The steps with their offsets, in file order.
    pub fn timeline(&self) -> Result<Vec<(Duration, Action)>, ScenarioError> {
        self.steps
            .iter()
            .enumerate()
            .map(|(index, step)| {
                parse_duration(&step.at)
                    .map(|d| (d, step.action.clone()))
                    .map_err(|e| ScenarioError::Step {
                        index: index + 1,
                        message: e.to_string(),
                    })
            })
            .collect()
    }

    /// The offset of the last step.
    pub fn length(&self) -> Duration {
        self.timeline()
            .map(|t| t.iter().map(|(d, _)| *d).max().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl World {
    /// Schedules a scenario's steps from `start`; returns how many.
    pub fn schedule_scenario(
        &mut self,
        start: SimTime,
        scenario: &Scenario,
    ) -> Result<usize, ScenarioError> {
        let timeline = scenario.timeline()?;
        let n = timeline.len();
        for (offset, action) in timeline {
            self.schedule(start + offset, Task::Act(Box::new(action)));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_business_day_parses() {
        let s = Scenario::from_toml(BUSINESS_DAY).unwrap();
        assert!(s.steps.len() > 15);
        assert_eq!(s.sim.speed, Some(60.0));
        assert_eq!(s.length(), Duration::from_secs(9 * 3600));
        assert!(matches!(s.steps[0].action, Action::CustomerSends { .. }));
    }

    #[test]
    fn bad_offsets_and_actions_are_refused() {
        let bad = "[[step]]\nat = \"soon\"\naction = \"app_opens\"\n";
        assert!(matches!(
            Scenario::from_toml(bad),
            Err(ScenarioError::Step { index: 1, .. })
        ));
        let unknown = "[[step]]\nat = \"1m\"\naction = \"dance\"\n";
        assert!(matches!(
            Scenario::from_toml(unknown),
            Err(ScenarioError::Toml(_))
        ));
    }
}
