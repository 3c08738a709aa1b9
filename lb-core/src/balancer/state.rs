//! Member states and activations as stored in the table, and mod_jk's two usability rules
//! (mod_jk: its member states). The enums are the crate's own: [`crate::status::State`] (with mod_jk's
//! texts) and [`crate::config::Activation`]; this file only gives them table codes.

use crate::config::Activation;
pub use crate::status::State;

/// The table code of a state, in mod_jk's order (IDLE 0 … PROBE 6).
pub fn state_code(s: State) -> u32 {
    match s {
        State::Idle => 0,
        State::Ok => 1,
        State::Recover => 2,
        State::Force => 3,
        State::Busy => 4,
        State::Error => 5,
        State::Probe => 6,
    }
}

/// The state a table code stands for; an unknown code (foreign or torn write) reads as ERROR,
/// so a damaged record is never chosen.
pub fn state_from_code(c: u32) -> State {
    match c {
        0 => State::Idle,
        1 => State::Ok,
        2 => State::Recover,
        3 => State::Force,
        4 => State::Busy,
        6 => State::Probe,
        _ => State::Error,
    }
}

/// The table code of an activation (ACTIVE 0, DISABLED 1, STOPPED 2).
pub fn activation_code(a: Activation) -> u32 {
    match a {
        Activation::Active => 0,
        Activation::Disabled => 1,
        Activation::Stopped => 2,
    }
}

/// The activation a table code stands for; unknown codes read as STOPPED (never chosen).
pub fn activation_from_code(c: u32) -> Activation {
    match c {
        0 => Activation::Active,
        1 => Activation::Disabled,
        _ => Activation::Stopped,
    }
}

/// IDLE, OK, RECOVER and FORCE may be chosen; BUSY, ERROR and PROBE never.
pub fn selectable(s: State) -> bool {
    matches!(s, State::Idle | State::Ok | State::Recover | State::Force)
}

/// May take new (non-sticky) requests.
pub fn usable(state: State, activation: Activation) -> bool {
    selectable(state) && activation == Activation::Active
}

/// May take requests of its own sessions (disabled members still do).
pub fn usable_sticky(state: State, activation: Activation) -> bool {
    selectable(state) && activation != Activation::Stopped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectable_states_are_the_codes_up_to_force() {
        // The by-value scan relies on it.
        for c in 0..8 {
            assert_eq!(selectable(state_from_code(c)), c <= 3, "{c}");
        }
        assert_eq!(state_code(State::Busy), 4);
    }

    #[test]
    fn usability_table() {
        use Activation::*;
        use State::*;
        for s in [Idle, Ok, Recover, Force, Busy, Error, Probe] {
            let sel = matches!(s, Idle | Ok | Recover | Force);
            assert_eq!(usable(s, Active), sel, "{s:?}");
            assert!(!usable(s, Disabled));
            assert!(!usable(s, Stopped));
            assert_eq!(usable_sticky(s, Active), sel);
            assert_eq!(usable_sticky(s, Disabled), sel);
            assert!(!usable_sticky(s, Stopped));
            assert_eq!(state_from_code(state_code(s)), s);
        }
        for a in [Active, Disabled, Stopped] {
            assert_eq!(activation_from_code(activation_code(a)), a);
        }
        assert_eq!(state_from_code(99), Error);
        assert_eq!(activation_from_code(99), Stopped);
    }
}
