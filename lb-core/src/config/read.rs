//! Reading one worker's typed settings out of the property map: parse, apply mod_jk's
//! defaults, and report values that do not parse (with the line they are on).

use super::diag::{Diagnostics, Location};
use super::properties::{Property, PropertyMap};
use super::setting::{Origin, Setting};
use super::value;

pub struct Props<'a> {
    pub map: &'a PropertyMap,
    pub worker: &'a str,
    pub diags: &'a mut Diagnostics,
}

fn origin_of(p: &Property) -> Origin {
    match (&p.template, p.via) {
        (Some(from), _) => Origin::Template {
            from: from.clone(),
            at: p.at.clone(),
        },
        (None, Some(name)) => Origin::Deprecated {
            name,
            at: p.at.clone(),
        },
        (None, None) => Origin::Line(p.at.clone()),
    }
}

impl Props<'_> {
    pub fn raw(&self, attr: &str) -> Option<&Property> {
        self.map.get(&format!("worker.{}.{attr}", self.worker))
    }

    pub fn is_set(&self, attr: &str) -> bool {
        self.raw(attr).is_some()
    }

    pub fn error(&mut self, at: Option<&Location>, message: String) {
        self.diags.error(at, Some(self.worker), message);
    }

    pub fn warn(&mut self, at: Option<&Location>, message: String) {
        self.diags.warn(at, Some(self.worker), message);
    }

    /// A value parsed by `parse`; on a parse error the error is reported and the default kept.
    pub fn parsed<T>(
        &mut self,
        attr: &str,
        default: Setting<T>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Setting<T> {
        let Some(p) = self.raw(attr).cloned() else {
            return default;
        };
        match parse(&p.value) {
            Ok(v) => Setting {
                value: v,
                origin: origin_of(&p),
            },
            Err(e) => {
                self.error(Some(&p.at), format!("{attr}: {e}"));
                default
            }
        }
    }

    pub fn int(&mut self, attr: &str, default: i64) -> Setting<i64> {
        self.parsed(attr, Setting::default(default), value::int)
    }

    pub fn int_or(&mut self, attr: &str, default: Setting<i64>) -> Setting<i64> {
        self.parsed(attr, default, value::int)
    }

    pub fn boolean(&mut self, attr: &str, default: bool) -> Setting<bool> {
        self.parsed(attr, Setting::default(default), value::boolean)
    }

    pub fn string(&mut self, attr: &str, default: &str) -> Setting<String> {
        self.parsed(attr, Setting::default(default.to_owned()), |s| {
            Ok(s.to_owned())
        })
    }

    pub fn opt_string(&mut self, attr: &str) -> Setting<Option<String>> {
        self.parsed(attr, Setting::default(None), |s| Ok(Some(s.to_owned())))
    }

    pub fn list(&mut self, attr: &str, default: &[&str]) -> Setting<Vec<String>> {
        let d = Setting::default(default.iter().map(|s| s.to_string()).collect());
        self.parsed(attr, d, |s| {
            Ok(value::list(s).into_iter().map(str::to_owned).collect())
        })
    }

    /// Raise a number below `min` to it, with a warning naming the line.
    pub fn at_least(&mut self, attr: &str, s: &mut Setting<i64>, min: i64) {
        if s.value < min {
            let at = s.origin.location().cloned();
            self.warn(
                at.as_ref(),
                format!("{attr}={} is below the minimum; using {min}", s.value),
            );
            s.value = min;
        }
    }

    /// Strings mod_jk keeps in fixed 64-byte shared-memory slots.
    pub fn short_string(&mut self, attr: &str, s: &Setting<String>) {
        if s.value.len() > super::MAX_SHM_STRING {
            let at = s.origin.location().cloned();
            self.error(
                at.as_ref(),
                format!(
                    "{attr} `{}` is {} characters long; mod_jk's limit is {}",
                    s.value,
                    s.value.len(),
                    super::MAX_SHM_STRING
                ),
            );
        }
    }
}
