//! Open backend connections per member in the shared table, counted by a front end that owns
//! its connections (nginx's driver): the status page's `connected`, summed over every process.

use std::sync::atomic::Ordering::Relaxed;

use super::Balancer;

impl Balancer {
    /// A connection to `member` was opened in this process.
    pub fn connection_opened(&self, member: usize) {
        if member < self.len() {
            let s = self.slot(member);
            s.max_connected
                .fetch_max(s.connected.fetch_add(1, Relaxed) + 1, Relaxed);
        }
    }

    /// A connection to `member` counted in by [`Balancer::connection_opened`] was closed.
    pub fn connection_closed(&self, member: usize) {
        if member < self.len() {
            // Never below zero (a reset table under connections that were open before).
            let _ = self
                .slot(member)
                .connected
                .fetch_update(Relaxed, Relaxed, |n| Some(n.saturating_sub(1)));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::balancer::{Balancer, LbSpec, MemberSpec};
    use crate::shm::ShmTable;

    #[test]
    fn opened_and_closed_connections_show_in_the_stats() {
        let members = [MemberSpec::named("a"), MemberSpec::named("b")];
        let table = Arc::new(ShmTable::heap(1, 2));
        let b = Balancer::new(&LbSpec::named("lb"), &members, table, 0).unwrap();
        b.connection_opened(1);
        b.connection_opened(1);
        b.connection_closed(1);
        b.connection_closed(0);
        let s = b.stats(0);
        assert_eq!((s.members[1].connected, s.members[1].max_connected), (1, 2));
        assert_eq!(s.members[0].connected, 0, "never below zero");
    }
}
