//! The `opt` bitmask of mod_jk's status worker: what a page leaves out. Bits that remove data
//! (members, maps, balancers, AJP workers) apply to every format, so a script asking for
//! `mime=prop&opt=2` gets no maps, as with mod_jk; the presentation bits only concern HTML.

use super::model::Snapshot;

/// A decoded `opt` value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Show(pub u32);

impl Show {
    pub const NO_MEMBERS: u32 = 0x1;
    pub const NO_MAPS: u32 = 0x2;
    /// HTML legend: rjk's page has none (its columns are spelt out), so nothing to hide.
    pub const NO_LEGEND: u32 = 0x4;
    pub const NO_LB: u32 = 0x8;
    pub const NO_AJP: u32 = 0x10;
    /// A read-write status worker shows the page without its action buttons.
    pub const READ_ONLY: u32 = 0x20;
    pub const NO_LB_CONF: u32 = 0x40;
    pub const NO_LB_SUMMARY: u32 = 0x80;
    /// The members' connection settings (the Address column on rjk's page).
    pub const NO_AJP_CONF: u32 = 0x100;

    pub fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }

    /// Drop from `snap` what the data bits hide.
    pub fn filter(self, snap: &mut Snapshot) {
        if self.has(Self::NO_LB) {
            snap.balancers.clear();
        }
        if self.has(Self::NO_MEMBERS) {
            for b in &mut snap.balancers {
                b.members.clear();
            }
        }
        if self.has(Self::NO_AJP) {
            snap.ajp_workers.clear();
        }
        if self.has(Self::NO_MAPS) {
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
        Show(Show::NO_MEMBERS | Show::NO_MAPS).filter(&mut snap);
        assert!(snap.maps.is_empty());
        assert!(snap.balancers.iter().all(|b| b.members.is_empty()));
        assert!(!snap.balancers.is_empty(), "the balancers themselves stay");
        Show(Show::NO_LB | Show::NO_AJP).filter(&mut snap);
        assert!(snap.balancers.is_empty() && snap.ajp_workers.is_empty());
    }
}
