//! The table over a [`Region`]: create or attach (checking magic, version and sizes), claim
//! records by name (so a process that starts later finds the record an earlier one pushed), and
//! hand out references to the atomics.

use std::sync::atomic::Ordering;

use super::layout::{
    table_size, Header, LbSlot, MemberSlot, Text, HEADER_SIZE, LAYOUT_VERSION, LB_SIZE, MAGIC,
    MEMBER_SIZE,
};
use super::lock::TableLock;
use super::region::{JkShmFile, Region};

/// Why a table could not be created, attached or extended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShmError {
    TooSmall {
        needed: usize,
        have: usize,
    },
    NotATable,
    Version {
        found: u32,
        expected: u32,
    },
    Layout {
        what: &'static str,
        found: u32,
        expected: u32,
    },
    Full {
        what: &'static str,
        capacity: u32,
    },
    NameTooLong {
        name: String,
    },
    Unaligned,
    /// Creating or mapping the memory failed (the message names the file, if any).
    Map {
        message: String,
    },
}

impl std::fmt::Display for ShmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShmError::TooSmall { needed, have } => write!(
                f,
                "shared memory holds {have} bytes but the workers need {needed}; raise JkShmSize"
            ),
            ShmError::NotATable => f.write_str("shared memory does not hold an rjk state table"),
            ShmError::Version { found, expected } => write!(
                f,
                "shared memory table has layout version {found}, this build uses {expected}; \
                 remove the stale JkShmFile or restart fully"
            ),
            ShmError::Layout {
                what,
                found,
                expected,
            } => write!(
                f,
                "shared memory table {what} is {found}, expected {expected}: built by another version"
            ),
            ShmError::Full { what, capacity } => write!(
                f,
                "shared memory table has no free {what} record (capacity {capacity}); raise JkShmSize"
            ),
            ShmError::NameTooLong { name } => write!(
                f,
                "'{name}' is longer than {} bytes, the most a shared memory record holds",
                Text::MAX
            ),
            ShmError::Unaligned => f.write_str("shared memory region is not 8-byte aligned"),
            ShmError::Map { message } => write!(f, "cannot set up shared memory: {message}"),
        }
    }
}

impl std::error::Error for ShmError {}

/// The runtime state table shared by every process of a server.
#[derive(Debug)]
pub struct ShmTable {
    region: Region,
    lbs: u32,
    members: u32,
}

impl ShmTable {
    /// Bytes needed for `lbs` balancers and `members` members (stand-alone workers included).
    pub fn size_for(lbs: usize, members: usize) -> usize {
        table_size(lbs, members)
    }

    /// A process-private table (tests, single-process servers).
    pub fn heap(lbs: usize, members: usize) -> ShmTable {
        let region = Region::heap(table_size(lbs, members));
        Self::create(region, lbs, members)
            .expect("a heap region is sized and aligned for the table")
    }

    /// A table in a fresh anonymous shared mapping: processes forked afterwards share it (the
    /// httpd parent creates it in post_config, before the children).
    pub fn anonymous(lbs: usize, members: usize) -> Result<ShmTable, ShmError> {
        let region = Region::anonymous(table_size(lbs, members)).map_err(map_error)?;
        Self::create(region, lbs, members)
    }

    /// A table in `path` (`JkShmFile`), created afresh (mode 0600) and mapped shared, so
    /// forked children share it and tools can read it with [`open_file`](Self::open_file).
    pub fn file(path: &std::path::Path, lbs: usize, members: usize) -> Result<ShmTable, ShmError> {
        let region = JkShmFile::create(path, table_size(lbs, members)).map_err(map_error)?;
        Self::create(region, lbs, members)
    }

    /// Attach to the table a running server keeps in `path` (status tools, tests).
    pub fn open_file(path: &std::path::Path) -> Result<ShmTable, ShmError> {
        Self::attach(JkShmFile::open(path).map_err(map_error)?)
    }

    /// Lay out a fresh table in zeroed memory.
    pub fn create(region: Region, lbs: usize, members: usize) -> Result<ShmTable, ShmError> {
        let needed = table_size(lbs, members);
        if region.len() < needed {
            return Err(ShmError::TooSmall {
                needed,
                have: region.len(),
            });
        }
        if !(region.ptr().as_ptr() as usize).is_multiple_of(8) {
            return Err(ShmError::Unaligned);
        }
        let lbs = u32::try_from(lbs).map_err(|_| ShmError::TooSmall { needed, have: 0 })?;
        let members = u32::try_from(members).map_err(|_| ShmError::TooSmall { needed, have: 0 })?;
        let t = ShmTable {
            region,
            lbs,
            members,
        };
        let h = t.header();
        h.layout_version.store(LAYOUT_VERSION, Ordering::Relaxed);
        h.header_size.store(HEADER_SIZE as u32, Ordering::Relaxed);
        h.lb_size.store(LB_SIZE as u32, Ordering::Relaxed);
        h.member_size.store(MEMBER_SIZE as u32, Ordering::Relaxed);
        h.lb_capacity.store(lbs, Ordering::Relaxed);
        h.member_capacity.store(members, Ordering::Relaxed);
        h.lbs_used.store(0, Ordering::Relaxed);
        h.members_used.store(0, Ordering::Relaxed);
        h.magic.store(MAGIC, Ordering::Release);
        Ok(t)
    }

    /// Attach to a table another process created (checks magic, version and record sizes).
    pub fn attach(region: Region) -> Result<ShmTable, ShmError> {
        if region.len() < HEADER_SIZE {
            return Err(ShmError::TooSmall {
                needed: HEADER_SIZE,
                have: region.len(),
            });
        }
        if !(region.ptr().as_ptr() as usize).is_multiple_of(8) {
            return Err(ShmError::Unaligned);
        }
        let probe = ShmTable {
            region,
            lbs: 0,
            members: 0,
        };
        let h = probe.header();
        if h.magic.load(Ordering::Acquire) != MAGIC {
            return Err(ShmError::NotATable);
        }
        let version = h.layout_version.load(Ordering::Relaxed);
        if version != LAYOUT_VERSION {
            return Err(ShmError::Version {
                found: version,
                expected: LAYOUT_VERSION,
            });
        }
        for (what, found, expected) in [
            (
                "header size",
                h.header_size.load(Ordering::Relaxed),
                HEADER_SIZE,
            ),
            (
                "balancer record size",
                h.lb_size.load(Ordering::Relaxed),
                LB_SIZE,
            ),
            (
                "member record size",
                h.member_size.load(Ordering::Relaxed),
                MEMBER_SIZE,
            ),
        ] {
            if found as usize != expected {
                return Err(ShmError::Layout {
                    what,
                    found,
                    expected: expected as u32,
                });
            }
        }
        let lbs = h.lb_capacity.load(Ordering::Relaxed);
        let members = h.member_capacity.load(Ordering::Relaxed);
        let needed = table_size(lbs as usize, members as usize);
        if probe.region.len() < needed {
            return Err(ShmError::TooSmall {
                needed,
                have: probe.region.len(),
            });
        }
        h.children.fetch_add(1, Ordering::Relaxed);
        Ok(ShmTable {
            region: probe.region,
            lbs,
            members,
        })
    }

    pub fn header(&self) -> &Header {
        // SAFETY: the region is at least HEADER_SIZE bytes (checked in create/attach), 8-byte
        // aligned, zero-initialised or written by a table of the same layout (all-zero bytes
        // and any bytes are valid atomics), and lives as long as `self`.
        unsafe { &*(self.region.ptr().as_ptr() as *const Header) }
    }

    pub fn lb_capacity(&self) -> usize {
        self.lbs as usize
    }

    pub fn member_capacity(&self) -> usize {
        self.members as usize
    }

    /// Balancer record `i`. Panics only on an index this table never handed out.
    pub fn lb(&self, i: usize) -> &LbSlot {
        assert!(i < self.lbs as usize, "lb record {i} out of range");
        // SAFETY: in bounds (checked above and at creation), aligned (sizes are multiples of
        // 8), valid for any bytes, lives as long as `self`.
        unsafe { &*(self.region.ptr().as_ptr().add(HEADER_SIZE + i * LB_SIZE) as *const LbSlot) }
    }

    /// Member record `i`. Panics only on an index this table never handed out.
    pub fn member(&self, i: usize) -> &MemberSlot {
        assert!(i < self.members as usize, "member record {i} out of range");
        let off = HEADER_SIZE + self.lbs as usize * LB_SIZE + i * MEMBER_SIZE;
        // SAFETY: as in `lb`.
        unsafe { &*(self.region.ptr().as_ptr().add(off) as *const MemberSlot) }
    }

    /// Take the table lock (cross-process).
    pub fn lock(&self) -> TableLock<'_> {
        TableLock::acquire(&self.header().lock_owner)
    }

    /// Find the balancer record named `name`, or claim a new one. `true` means it was new (the
    /// caller pushes its configuration); `false` means another process pushed it already.
    pub fn claim_lb(&self, name: &str) -> Result<(usize, bool), ShmError> {
        check_name(name)?;
        let _g = self.lock();
        let h = self.header();
        let used = h.lbs_used.load(Ordering::Acquire).min(self.lbs);
        if let Some(i) = (0..used as usize).find(|&i| self.lb(i).name.eq_str(name)) {
            return Ok((i, false));
        }
        if used >= self.lbs {
            return Err(ShmError::Full {
                what: "balancer",
                capacity: self.lbs,
            });
        }
        self.lb(used as usize).name.store(name);
        h.lbs_used.store(used + 1, Ordering::Release);
        Ok((used as usize, true))
    }

    /// As [`claim_lb`](Self::claim_lb) for a member of `parent` ("" for a stand-alone worker).
    pub fn claim_member(&self, parent: &str, name: &str) -> Result<(usize, bool), ShmError> {
        check_name(parent)?;
        check_name(name)?;
        let _g = self.lock();
        let h = self.header();
        let used = h.members_used.load(Ordering::Acquire).min(self.members);
        if let Some(i) = (0..used as usize).find(|&i| {
            let m = self.member(i);
            m.name.eq_str(name) && m.parent.eq_str(parent)
        }) {
            return Ok((i, false));
        }
        if used >= self.members {
            return Err(ShmError::Full {
                what: "member",
                capacity: self.members,
            });
        }
        let m = self.member(used as usize);
        m.name.store(name);
        m.parent.store(parent);
        h.members_used.store(used + 1, Ordering::Release);
        Ok((used as usize, true))
    }

    /// Records in use, for tools and the status worker.
    pub fn used(&self) -> (usize, usize) {
        let h = self.header();
        (
            h.lbs_used.load(Ordering::Acquire).min(self.lbs) as usize,
            h.members_used.load(Ordering::Acquire).min(self.members) as usize,
        )
    }
}

fn map_error(e: std::io::Error) -> ShmError {
    ShmError::Map {
        message: e.to_string(),
    }
}

fn check_name(name: &str) -> Result<(), ShmError> {
    if Text::fits(name) {
        Ok(())
    } else {
        Err(ShmError::NameTooLong {
            name: name.to_owned(),
        })
    }
}
