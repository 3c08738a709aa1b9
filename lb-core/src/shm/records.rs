//! One balancer's records, resolved once: the hot paths (choosing scans every member's record)
//! reach a record with a bounds check and one load instead of recomputing its place in the
//! table (and checking it against the table's capacity) on every look.

use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Arc;

use super::layout::{LbSlot, MemberSlot};
use super::table::ShmTable;

/// An lb record and its members' records in one table, kept alive with the table.
pub struct Records {
    table: Arc<ShmTable>,
    lb: NonNull<LbSlot>,
    members: Box<[MemberRef]>,
}

/// Where one member record lies. Only ever borrowed from its [`Records`] (it is neither `Clone`
/// nor constructible elsewhere), so it cannot outlive the table it points into.
#[repr(transparent)]
pub struct MemberRef(NonNull<MemberSlot>);

// SAFETY: it only gives out `&MemberSlot` (atomics, shared between threads anyway), and only
// while the `Records` it is borrowed from keeps the table alive.
unsafe impl Send for MemberRef {}
// SAFETY: as above.
unsafe impl Sync for MemberRef {}

impl Deref for MemberRef {
    type Target = MemberSlot;

    #[inline(always)]
    fn deref(&self) -> &MemberSlot {
        // SAFETY: taken from a reference into the table's region, which does not move (a heap
        // block or a mapping owned by the table) and outlives every borrow of `self` (see the
        // type's comment).
        unsafe { self.0.as_ref() }
    }
}

// SAFETY: the pointers only ever give out `&LbSlot` / `&MemberSlot`, which are all atomics
// and shared between threads anyway (as `ShmTable` hands them out); the table they point into
// is owned through the `Arc` and so outlives every use.
unsafe impl Send for Records {}
// SAFETY: as above.
unsafe impl Sync for Records {}

impl Records {
    /// Resolve lb record `lb` and member records `members` of `table` (panics on an index the
    /// table never handed out, as [`ShmTable::lb`] and [`ShmTable::member`] do).
    pub fn new(table: Arc<ShmTable>, lb: usize, members: &[usize]) -> Records {
        let lb = NonNull::from(table.lb(lb));
        let members = members
            .iter()
            .map(|&i| MemberRef(NonNull::from(table.member(i))))
            .collect();
        Records { table, lb, members }
    }

    pub fn table(&self) -> &Arc<ShmTable> {
        &self.table
    }

    #[inline]
    pub fn lb(&self) -> &LbSlot {
        // SAFETY: taken from a reference into the table's region, which does not move (it is
        // a heap block or a mapping owned by the table) and lives as long as `self.table`.
        unsafe { self.lb.as_ref() }
    }

    /// Member `i`'s record (`i` in configuration order). Panics when `i` is out of range.
    #[inline]
    pub fn member(&self, i: usize) -> &MemberSlot {
        &self.members[i]
    }

    /// Member `i`'s record, if there is one.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&MemberSlot> {
        self.members.get(i).map(|m| &**m)
    }

    /// Every member's record, in order (for loops that look at each: one load per member).
    #[inline]
    pub fn members(&self) -> &[MemberRef] {
        &self.members
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records")
            .field("members", &self.members.len())
            .finish()
    }
}

/// One member record resolved once, kept alive with its table: for a reader that looks at the
/// same record on every request (a member's shared settings), one load instead of finding
/// the record's place in the table (and checking it against the table's capacity) each time.
pub struct MemberRecord {
    table: Arc<ShmTable>,
    index: usize,
    slot: NonNull<MemberSlot>,
}

// SAFETY: as for `Records`: the pointer only gives out `&MemberSlot` (atomics, shared between
// threads anyway) and the table it points into is owned through the `Arc`.
unsafe impl Send for MemberRecord {}
// SAFETY: as above.
unsafe impl Sync for MemberRecord {}

impl MemberRecord {
    /// Member record `index` of `table` (panics on an index the table never handed out, as
    /// [`ShmTable::member`] does).
    pub fn new(table: Arc<ShmTable>, index: usize) -> MemberRecord {
        let slot = NonNull::from(table.member(index));
        MemberRecord { table, index, slot }
    }

    pub fn table(&self) -> &Arc<ShmTable> {
        &self.table
    }

    /// The record's index in the table.
    pub fn index(&self) -> usize {
        self.index
    }

    #[inline]
    pub fn slot(&self) -> &MemberSlot {
        // SAFETY: taken from a reference into the table's region, which does not move (a heap
        // block or a mapping owned by the table) and lives as long as `self.table`.
        unsafe { self.slot.as_ref() }
    }
}

impl std::fmt::Debug for MemberRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberRecord")
            .field("index", &self.index)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;

    #[test]
    fn records_are_the_tables() {
        let table = Arc::new(ShmTable::heap(2, 4));
        let (lb, _) = table.claim_lb("lb").unwrap();
        let a = table.claim_member("lb", "a").unwrap().0;
        let b = table.claim_member("lb", "b").unwrap().0;
        let r = Records::new(table.clone(), lb, &[b, a]);
        r.member(0).elected.store(7, Relaxed);
        r.lb().busy.store(3, Relaxed);
        assert_eq!(table.member(b).elected.load(Relaxed), 7);
        assert_eq!(table.member(a).elected.load(Relaxed), 0);
        assert_eq!(table.lb(lb).busy.load(Relaxed), 3);
        assert!(r.get(2).is_none());
        assert_eq!(r.len(), 2);
        // The records stay valid once the caller's handle is gone.
        drop(table);
        assert_eq!(r.member(0).elected.load(Relaxed), 7);
    }
}
