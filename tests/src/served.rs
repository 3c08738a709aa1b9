//! Who served a request, as balancing tests count it: the node's `X-Rjk-Node` header (rjk-node
//! sets it), with the status when it is not 200.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::http;

/// Who served `GET path` (or the status when nobody did).
pub fn who(a: SocketAddr, path: &str, cookie: Option<&str>) -> String {
    let h: Vec<(&str, &str)> = cookie.map(|c| vec![("Cookie", c)]).unwrap_or_default();
    let r = http::get(a, path, &h).unwrap();
    match r.header("X-Rjk-Node") {
        Some(n) if r.status == 200 => n.to_owned(),
        Some(n) => format!("{n}:{}", r.status),
        None => r.status.to_string(),
    }
}

/// Who served each of `n` GETs of `/1k`.
pub fn tally(a: SocketAddr, n: usize, cookie: Option<&str>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for _ in 0..n {
        *m.entry(who(a, "/1k", cookie)).or_insert(0) += 1;
    }
    m
}

/// All `n` served by `k`.
pub fn only(k: &str, n: usize) -> BTreeMap<String, usize> {
    BTreeMap::from([(k.to_owned(), n)])
}
