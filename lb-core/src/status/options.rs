//! The `opt` bitmask of mod_jk's status worker: what a page leaves out. Bits that remove data
//! (members, maps, balancers, AJP workers) apply to every format, so a script asking for
//! `mime=prop&opt=2` gets no maps, as with mod_jk; the presentation bits only concern HTML.

use super::model::Snapshot;

bitflags::bitflags! {
    /// A decoded `opt` value.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Show: u32 {
        const NO_MEMBERS = 0x1;
        const NO_MAPS = 0x2;
        /// HTML legend: rjk's page has none (its columns are spelt out), so nothing to hide.
        const NO_LEGEND = 0x4;
        const NO_LB = 0x8;
        const NO_AJP = 0x10;
        /// A read-write status worker shows the page without its action buttons.
        const READ_ONLY = 0x20;
        const NO_LB_CONF = 0x40;
        const NO_LB_SUMMARY = 0x80;
        /// The members' connection settings (the Address column on rjk's page).
        const NO_AJP_CONF = 0x100;
        const _ = !0;
    }
}

impl Show {
    /// Drop from `snap` what the data bits hide.
    pub fn filter(self, snap: &mut Snapshot) {
        if self.contains(Self::NO_LB) {
            snap.balancers.clear();
        }
        if self.contains(Self::NO_MEMBERS) {
            for b in &mut snap.balancers {
                b.members.clear();
            }
        }
        if self.contains(Self::NO_AJP) {
            snap.ajp_workers.clear();
        }
        if self.contains(Self::NO_MAPS) {
            snap.maps.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_bits_remove_what_they_name() {
        let mut snap = crate::status::tests::sample();
        assert!(!snap.maps.is_empty() && !snap.balancers[0].members.is_empty());
        (Show::NO_MEMBERS | Show::NO_MAPS).filter(&mut snap);
        assert!(snap.maps.is_empty());
        assert!(snap.balancers.iter().all(|b| b.members.is_empty()));
        assert!(!snap.balancers.is_empty(), "the balancers themselves stay");
        (Show::NO_LB | Show::NO_AJP).filter(&mut snap);
        assert!(snap.balancers.is_empty() && snap.ajp_workers.is_empty());
    }
}
