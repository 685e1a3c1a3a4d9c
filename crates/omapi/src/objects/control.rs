//! `control`: the server itself (common/comapi.c `dhcp_control_*`, server/dhcpd.c
//! `dhcp_set_control_state`).
//!
//! There is one control object: any open finds it (no key needed). It cannot be created or
//! removed (`ISC_R_NOPERM`). Setting `state` to 2 (shutdown) stops the server, the way
//! `kill -TERM` does: dhcpd answers the update with success, then shuts down (the failover
//! peer moves to shutdown, then recover on the next start).

use crate::result::IscResult;
use crate::wire::{Attributes, Value};

/// `control_object_state_t` (includes/dhcpd.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlState {
    Startup,
    Running,
    Shutdown,
    Hibernate,
    Awaken,
}

impl ControlState {
    pub fn code(self) -> u32 {
        match self {
            ControlState::Startup => 0,
            ControlState::Running => 1,
            ControlState::Shutdown => 2,
            ControlState::Hibernate => 3,
            ControlState::Awaken => 4,
        }
    }

    pub fn from_code(code: u32) -> Option<ControlState> {
        Some(match code {
            0 => ControlState::Startup,
            1 => ControlState::Running,
            2 => ControlState::Shutdown,
            3 => ControlState::Hibernate,
            4 => ControlState::Awaken,
            _ => return None,
        })
    }
}

/// What a `control` open reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlObject {
    /// `state`: 4-byte integer. dhcpd never moves it past its initial 0 (startup), so a
    /// running dhcpd answers `state = 00:00:00:00` (captured); report
    /// [`ControlState::Startup`] to read the same.
    pub state: ControlState,
}

impl ControlObject {
    pub fn to_values(&self) -> Attributes {
        Attributes::new().with("state", Value::int(self.state.code()))
    }
}

/// Parse an update of the control object: `state` must be a 4-byte integer equal to 2
/// (`dhcp_set_control_state` refuses every other state with `DHCP_R_INVALIDARG`); any other
/// attribute is `ISC_R_NOTFOUND`. `Ok(true)` means: shut down.
pub fn shutdown_requested(values: &Attributes) -> Result<bool, IscResult> {
    let mut shutdown = false;
    for (name, value) in values.iter() {
        if name != "state" {
            return Err(IscResult::NOTFOUND);
        }
        let state = value.as_u32().ok_or(IscResult::INVALIDARG)?;
        if ControlState::from_code(state) != Some(ControlState::Shutdown) {
            return Err(IscResult::INVALIDARG);
        }
        shutdown = true;
    }
    Ok(shutdown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control() {
        assert_eq!(
            ControlObject {
                state: ControlState::Startup
            }
            .to_values(),
            Attributes::new().with("state", Value::int(0))
        );
        assert_eq!(
            shutdown_requested(&Attributes::new().with("state", Value::int(2))),
            Ok(true)
        );
        assert_eq!(
            shutdown_requested(&Attributes::new().with("state", Value::int(1))),
            Err(IscResult::INVALIDARG)
        );
        assert_eq!(
            shutdown_requested(&Attributes::new().with("x", Value::int(2))),
            Err(IscResult::NOTFOUND)
        );
        assert_eq!(shutdown_requested(&Attributes::new()), Ok(false));
        for c in 0..5 {
            assert_eq!(ControlState::from_code(c).map(ControlState::code), Some(c));
        }
    }
}
