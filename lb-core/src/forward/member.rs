//! One AJP worker's settings in this process (an `ajp13` worker, or one lb member), and how a
//! status-worker change reaches them.
//!
//! An lb member is linked to its record in the shared table ([`Member::share`]): when a change
//! bumped the record's sequence, the next [`Member::spec`] adopts the new settings (when nothing
//! changed: one relaxed load of the shared sequence besides this process's current copy). A new
//! host or port changes `spec().addr`; the pools then hand out no connection to the old
//! address again.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::{Arc, Mutex};

use crate::pool::ConnSettings;
use crate::shm::{ConnSlot, MemberRecord, Published, ShmTable};

use super::spec::AjpWorkerSpec;

/// The settings this process uses, and the shared sequence they reflect (0: not shared yet).
#[derive(Debug)]
struct Current {
    sequence: u64,
    spec: AjpWorkerSpec,
}

/// Where a member's shared connection settings live (resolved once: [`Member::spec`] reads
/// its sequence on every call).
#[derive(Debug)]
struct Link {
    record: MemberRecord,
}

impl Link {
    #[inline]
    fn slot(&self) -> &ConnSlot {
        &self.record.slot().conn
    }

    fn table(&self) -> &Arc<ShmTable> {
        self.record.table()
    }
}

/// One AJP worker's settings in this process.
#[derive(Debug)]
pub struct Member {
    current: Published<Current>,
    link: Option<Link>,
    /// One thread adopts a change; the others wait for its result.
    adopting: Mutex<()>,
}

impl Member {
    pub fn new(spec: AjpWorkerSpec) -> Self {
        Member {
            current: Published::new(Current { sequence: 0, spec }),
            link: None,
            adopting: Mutex::new(()),
        }
    }

    /// Link to member record `record` of `table`: the first process publishes its settings
    /// there, later ones (and this one, after a status-worker change) adopt what it holds.
    pub fn share(&mut self, table: Arc<ShmTable>, record: usize) {
        let link = Link {
            record: MemberRecord::new(table, record),
        };
        {
            let _g = link.table().lock();
            let slot = link.slot();
            if slot.sequence.load(Acquire) == 0 {
                ConnSettings::of(&self.current.load().spec).store(slot);
                slot.sequence.store(1, Release);
            }
        }
        self.link = Some(link);
        self.spec();
    }

    /// Whether the shared settings changed since this worker first published them (a
    /// status-worker change, or one restored from a persist file).
    pub fn connection_changed(&self) -> bool {
        self.link
            .as_ref()
            .is_some_and(|l| l.slot().sequence.load(Acquire) > 1)
    }

    /// A status-worker change of a stand-alone ajp13 worker's connection settings, for every
    /// process (lb members change through their balancer, which also keeps its own copy).
    pub fn change_connection(&self, change: crate::balancer::ConnChange) -> Result<(), String> {
        use crate::balancer::ConnChange;
        let link = self
            .link
            .as_ref()
            .ok_or("its settings are not in the shared table")?;
        let cur = self.spec();
        let resolved = match &change {
            ConnChange::Host(h) if h.is_empty() || !crate::shm::Text::fits(h) => {
                return Err(format!("host `{h}` is empty or too long"));
            }
            ConnChange::Host(h) => Some((h.as_str(), cur.addr.port())),
            ConnChange::Port(p) => Some((cur.host.as_str(), *p)),
            _ => None,
        };
        let resolved = match resolved {
            Some((host, port)) => Some(crate::pool::resolve(host, port, cur.addr.is_ipv6())?),
            None => None,
        };
        match crate::balancer::change::store_connection(
            link.table(),
            link.record.index(),
            change,
            resolved,
        ) {
            true => Ok(()),
            false => Err("its settings are not in the shared table".into()),
        }
    }

    /// The settings to use now; adopts a change another process (or this one) published.
    #[inline]
    pub fn spec(&self) -> &AjpWorkerSpec {
        let cur = self.current.load();
        match &self.link {
            Some(l) if l.slot().sequence.load(Relaxed) != cur.sequence => self.adopt(l),
            _ => &cur.spec,
        }
    }

    #[cold]
    #[inline(never)]
    fn adopt(&self, link: &Link) -> &AjpWorkerSpec {
        let _one = self.adopting.lock().unwrap_or_else(|p| p.into_inner());
        let cur = self.current.load();
        let (sequence, shared) = {
            // Writers hold the lock while they rewrite the host.
            let _g = link.table().lock();
            let slot = link.slot();
            (slot.sequence.load(Acquire), ConnSettings::load(slot))
        };
        if sequence == cur.sequence {
            return &cur.spec;
        }
        let mut spec = cur.spec.clone();
        // The writer resolved the address once; an unresolved record (a table written by an
        // older module) keeps the old address, as mod_jk keeps one it cannot resolve.
        if let Some(addr) = shared.addr {
            spec.host = shared.host.clone();
            spec.addr = addr;
        }
        shared.apply(&mut spec);
        self.current.store(Current { sequence, spec });
        &self.current.load().spec
    }
}
