//! A tiny JSON writer: the demo's answers are flat objects of strings and numbers.

use std::fmt::Write;

/// Builds one JSON object.
pub(crate) struct Obj {
    s: String,
    first: bool,
}

impl Obj {
    pub fn new() -> Obj {
        Obj {
            s: String::from("{"),
            first: true,
        }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.s.push(',');
        }
        self.first = false;
        string(&mut self.s, k);
        self.s.push(':');
    }

    pub fn str(mut self, k: &str, v: &str) -> Obj {
        self.key(k);
        string(&mut self.s, v);
        self
    }

    pub fn opt_str(mut self, k: &str, v: Option<&str>) -> Obj {
        self.key(k);
        match v {
            Some(v) => string(&mut self.s, v),
            None => self.s.push_str("null"),
        }
        self
    }

    pub fn num(mut self, k: &str, v: impl std::fmt::Display) -> Obj {
        self.key(k);
        let _ = write!(self.s, "{v}");
        self
    }

    pub fn bool(mut self, k: &str, v: bool) -> Obj {
        self.key(k);
        self.s.push_str(if v { "true" } else { "false" });
        self
    }

    /// A value that is already JSON.
    pub fn raw(mut self, k: &str, json: &str) -> Obj {
        self.key(k);
        self.s.push_str(json);
        self
    }

    pub fn end(mut self) -> String {
        self.s.push('}');
        self.s
    }
}

/// A JSON array of `[name, value]` pairs (keeps order and duplicates, unlike an object).
pub(crate) fn pairs<'a>(it: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut s = String::from("[");
    for (i, (k, v)) in it.into_iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push('[');
        string(&mut s, k);
        s.push(',');
        string(&mut s, v);
        s.push(']');
    }
    s.push(']');
    s
}

pub(crate) fn string(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_shapes() {
        let j = Obj::new()
            .str("a", "x\"y\\\n\u{1}")
            .num("n", 3)
            .bool("b", true)
            .opt_str("o", None)
            .raw("p", &pairs([("k", "v")]))
            .end();
        assert_eq!(
            j,
            r#"{"a":"x\"y\\\n\u0001","n":3,"b":true,"o":null,"p":[["k","v"]]}"#
        );
    }
}
