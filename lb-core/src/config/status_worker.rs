//! A `status` worker's settings (the status page itself is rendered elsewhere).

use super::read::Props;
use super::setting::{row, Row, Setting};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusWorker {
    pub css: Setting<Option<String>>,
    pub read_only: Setting<bool>,
    pub user: Setting<Vec<String>>,
    pub user_case_insensitive: Setting<bool>,
    pub good: Setting<Vec<String>>,
    pub bad: Setting<Vec<String>>,
    pub prefix: Setting<String>,
    pub ns: Setting<String>,
    pub xmlns: Setting<String>,
    pub doctype: Setting<Option<String>>,
    /// rjk: accept state changes over GET without the page nonce (scripts written for mod_jk).
    pub allow_get_updates: Setting<bool>,
    /// rjk: where runtime member changes are saved and re-applied at startup.
    pub persist_file: Setting<Option<String>>,
}

impl StatusWorker {
    pub fn read(p: &mut Props<'_>) -> StatusWorker {
        StatusWorker {
            css: p.opt_string("css"),
            read_only: p.boolean("read_only", false),
            user: p.list("user", &[]),
            user_case_insensitive: p.boolean("user_case_insensitive", false),
            good: p.list("good", &["a.o", "a.n", "a.b", "a.r"]),
            bad: p.list("bad", &["s", "e"]),
            prefix: p.string("prefix", "worker"),
            ns: p.string("ns", "jk:"),
            xmlns: p.string("xmlns", "xmlns:jk=\"http://tomcat.apache.org\""),
            doctype: p.opt_string("doctype"),
            allow_get_updates: p.boolean("allow_get_updates", false),
            persist_file: p.opt_string("persist_file"),
        }
    }

    pub fn rows(&self) -> Vec<Row<'_>> {
        let opt = |s: &Setting<Option<String>>| s.value.clone().unwrap_or_default();
        let list = |s: &Setting<Vec<String>>| s.value.join(",");
        vec![
            Row {
                name: "css",
                value: opt(&self.css),
                origin: &self.css.origin,
            },
            row("read_only", &self.read_only),
            Row {
                name: "user",
                value: list(&self.user),
                origin: &self.user.origin,
            },
            row("user_case_insensitive", &self.user_case_insensitive),
            Row {
                name: "good",
                value: list(&self.good),
                origin: &self.good.origin,
            },
            Row {
                name: "bad",
                value: list(&self.bad),
                origin: &self.bad.origin,
            },
            row("prefix", &self.prefix),
            row("ns", &self.ns),
            row("xmlns", &self.xmlns),
            Row {
                name: "doctype",
                value: opt(&self.doctype),
                origin: &self.doctype.origin,
            },
            row("allow_get_updates", &self.allow_get_updates),
            Row {
                name: "persist_file",
                value: opt(&self.persist_file),
                origin: &self.persist_file.origin,
            },
        ]
    }
}
