//! good / degraded / bad: the status worker's `good` and `bad` rules (`a.o,a.n` ...). A rule
//! item is an activation letter (a, d, s), a state letter (o ok, i/n idle, b busy, r recovering
//! — force and probe count as r —, e error), or both joined by `.`; a member is bad if it matches
//! a bad item, else good if it matches a good item, else degraded.

use super::model::{Member, State};
use crate::config::Activation;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rating {
    Good,
    Degraded,
    Bad,
}

fn activation_letter(a: Activation) -> char {
    match a {
        Activation::Active => 'a',
        Activation::Disabled => 'd',
        Activation::Stopped => 's',
    }
}

fn state_letters(s: State) -> &'static [char] {
    match s {
        State::Idle => &['i', 'n'],
        State::Ok => &['o'],
        State::Recover | State::Force | State::Probe => &['r'],
        State::Busy => &['b'],
        State::Error => &['e'],
    }
}

fn matches(item: &str, act: char, states: &[char]) -> bool {
    let item = item.trim().to_ascii_lowercase();
    let letters: Vec<char> = item.chars().filter(|c| *c != '.').collect();
    let (mut want_act, mut want_state) = (None, None);
    for c in letters {
        match c {
            'a' | 'd' | 's' => want_act = Some(c),
            _ => want_state = Some(c),
        }
    }
    if want_act.is_none() && want_state.is_none() {
        return false;
    }
    want_act.is_none_or(|a| a == act) && want_state.is_none_or(|s| states.contains(&s))
}

pub fn rate(m: &Member, good: &[String], bad: &[String]) -> Rating {
    let Some(lb) = &m.lb else { return Rating::Good };
    let act = activation_letter(lb.activation);
    let states = state_letters(lb.state);
    if bad.iter().any(|i| matches(i, act, states)) {
        Rating::Bad
    } else if good.iter().any(|i| matches(i, act, states)) {
        Rating::Good
    } else {
        Rating::Degraded
    }
}

/// (good, degraded, bad) counts of a balancer's members.
pub fn counts<'a>(
    members: impl IntoIterator<Item = &'a Member>,
    good: &[String],
    bad: &[String],
) -> (usize, usize, usize) {
    let mut c = (0, 0, 0);
    for m in members {
        match rate(m, good, bad) {
            Rating::Good => c.0 += 1,
            Rating::Degraded => c.1 += 1,
            Rating::Bad => c.2 += 1,
        }
    }
    c
}
