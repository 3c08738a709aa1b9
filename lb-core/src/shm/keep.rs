//! Whether the shared table of the previous configuration generation serves the new one (a
//! graceful restart, `nginx -s reload`): the same workers configuration keeps its table, with
//! its counters and status-worker changes; an edited one starts afresh so the edits take
//! effect, as with mod_jk. A table too small for the new workers is never kept.

use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;

use super::ShmTable;

/// What identifies a configuration for keeping its table: the effective properties and the
/// table's file.
pub fn fingerprint(dump: &[(String, String)], shm_file: Option<&Path>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    dump.hash(&mut h);
    shm_file.hash(&mut h);
    h.finish()
}

/// The kept table, if it serves a configuration with `fingerprint` needing `lbs` balancers and
/// `members` members.
pub fn reuse(
    kept: Option<(u64, Arc<ShmTable>)>,
    fingerprint: u64,
    lbs: usize,
    members: usize,
) -> Option<Arc<ShmTable>> {
    let (was, table) = kept?;
    (was == fingerprint && table.lb_capacity() >= lbs && table.member_capacity() >= members)
        .then_some(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_configuration_keeps_an_edited_one_starts_afresh() {
        let dump = vec![("worker.list".to_owned(), "lb".to_owned())];
        let f = fingerprint(&dump, None);
        let t = Arc::new(ShmTable::heap(1, 2));
        assert!(reuse(Some((f, t.clone())), f, 1, 2).is_some());
        let edited = vec![("worker.list".to_owned(), "lb,status".to_owned())];
        assert_ne!(fingerprint(&edited, None), f);
        assert!(reuse(Some((f, t.clone())), fingerprint(&edited, None), 1, 2).is_none());
        assert_ne!(fingerprint(&dump, Some(Path::new("/run/jk.shm"))), f);
        assert!(reuse(Some((f, t)), f, 1, 3).is_none(), "too small");
        assert!(reuse(None, f, 1, 1).is_none());
    }
}
