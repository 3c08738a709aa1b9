//! A resolved property value and where it came from, so `rjk check` can show an operator why
//! each worker behaves as it does.

use std::fmt;

use super::diag::Location;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Written on this line (of workers.properties or a `JkWorkerProperty` directive).
    Line(Location),
    /// Written under a deprecated name on this line.
    Deprecated { name: &'static str, at: Location },
    /// Copied from a `reference` template.
    Template { from: String, at: Location },
    /// Taken from the lb the worker is a member of (the secret).
    Inherited { from: String },
    /// Computed from other settings (e.g. the domain from a dotted route).
    Derived(String),
    /// mod_jk's default.
    Default,
}

impl Origin {
    pub fn location(&self) -> Option<&Location> {
        match self {
            Origin::Line(at) | Origin::Deprecated { at, .. } | Origin::Template { at, .. } => {
                Some(at)
            }
            _ => None,
        }
    }

    /// One word for machine output: `line`, `deprecated`, `template`, `inherited`, `derived`,
    /// `default`.
    pub fn kind(&self) -> &'static str {
        match self {
            Origin::Line(_) => "line",
            Origin::Deprecated { .. } => "deprecated",
            Origin::Template { .. } => "template",
            Origin::Inherited { .. } => "inherited",
            Origin::Derived(_) => "derived",
            Origin::Default => "default",
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Line(at) => write!(f, "{at}"),
            Origin::Deprecated { name, at } => write!(f, "{at} (as deprecated `{name}`)"),
            Origin::Template { from, at } => write!(f, "template `{from}` at {at}"),
            Origin::Inherited { from } => write!(f, "inherited from lb `{from}`"),
            Origin::Derived(why) => write!(f, "derived: {why}"),
            Origin::Default => f.write_str("default"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T> Setting<T> {
    pub fn default(value: T) -> Self {
        Setting {
            value,
            origin: Origin::Default,
        }
    }

    pub fn derived(value: T, why: impl Into<String>) -> Self {
        Setting {
            value,
            origin: Origin::Derived(why.into()),
        }
    }

    pub fn is_default(&self) -> bool {
        self.origin == Origin::Default
    }

    /// Whether the operator wrote it (directly, via a deprecated name, or a template).
    pub fn is_explicit(&self) -> bool {
        self.origin.location().is_some()
    }
}

/// One row of `rjk check`: a property, its effective value as text, and its origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row<'a> {
    pub name: &'static str,
    pub value: String,
    pub origin: &'a Origin,
}

pub fn row<'a, T: fmt::Display>(name: &'static str, s: &'a Setting<T>) -> Row<'a> {
    Row {
        name,
        value: s.value.to_string(),
        origin: &s.origin,
    }
}
