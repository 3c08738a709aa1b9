//! mod_jk's status time fields: `datetime` as `%Y%m%d%H%M%S` and `tz` as `%z`, in local time.

use chrono::{Local, TimeZone};

pub fn datetime(unix: i64) -> (String, String) {
    match Local.timestamp_opt(unix, 0).single() {
        Some(t) => (
            t.format("%Y%m%d%H%M%S").to_string(),
            t.format("%z").to_string(),
        ),
        None => (String::new(), String::new()),
    }
}
