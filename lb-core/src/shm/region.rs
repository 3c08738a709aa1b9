//! The memory a table lives in: a heap block (tests, a single process), an anonymous shared
//! mapping (created before fork, inherited by children), a file-backed mapping (`JkShmFile`, so
//! external tools can read it), or any region an adapter already has (an nginx shared zone).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

/// A block of memory holding a table. Only ever accessed through atomics.
pub struct Region {
    ptr: NonNull<u8>,
    len: usize,
    owner: Owner,
}

enum Owner {
    Heap(#[allow(dead_code)] Box<[AtomicU64]>),
    Mapping,
    Foreign,
}

// SAFETY: the region is only read and written through atomics (the table hands out `&Atomic*`
// references), so sharing it between threads is as sound as sharing those atomics.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.owner {
            Owner::Heap(_) => "heap",
            Owner::Mapping => "mapping",
            Owner::Foreign => "foreign",
        };
        write!(f, "Region({kind}, {} bytes)", self.len)
    }
}

impl Region {
    /// Zeroed, 8-byte aligned process-private memory.
    pub fn heap(len: usize) -> Region {
        let words: Box<[AtomicU64]> = (0..len.div_ceil(8)).map(|_| AtomicU64::new(0)).collect();
        let ptr = NonNull::new(words.as_ptr() as *mut u8).unwrap_or(NonNull::dangling());
        Region {
            ptr,
            len,
            owner: Owner::Heap(words),
        }
    }

    /// An anonymous `MAP_SHARED` mapping: processes forked after this share it.
    pub fn anonymous(len: usize) -> io::Result<Region> {
        // SAFETY: a fresh anonymous mapping; no existing memory is touched. The result is
        // checked before use and unmapped exactly once in Drop.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len.max(1),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        Self::mapped(p, len)
    }

    /// Use memory the caller owns (an nginx zone, an httpd `apr_shm` segment).
    ///
    /// # Safety
    /// `ptr` must be 8-byte aligned, valid for reads and writes of `len` bytes for as long as
    /// the returned region (and every table on it) lives, and only ever accessed through
    /// atomics by anyone else. Fresh memory must be zeroed before [`crate::shm::ShmTable::create`].
    pub unsafe fn from_raw(ptr: NonNull<u8>, len: usize) -> io::Result<Region> {
        if !(ptr.as_ptr() as usize).is_multiple_of(8) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "shared memory region is not 8-byte aligned",
            ));
        }
        Ok(Region {
            ptr,
            len,
            owner: Owner::Foreign,
        })
    }

    fn mapped(p: *mut libc::c_void, len: usize) -> io::Result<Region> {
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(p as *mut u8).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Region {
            ptr,
            len,
            owner: Owner::Mapping,
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn ptr(&self) -> NonNull<u8> {
        self.ptr
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if let Owner::Mapping = self.owner {
            // SAFETY: the pointer and length came from our own successful mmap, and no table
            // outlives the region (tables own their region).
            unsafe {
                libc::munmap(self.ptr.as_ptr() as *mut libc::c_void, self.len.max(1));
            }
        }
    }
}

/// A file-backed table (`JkShmFile`): created by the parent, mapped shared, readable by tools.
#[derive(Debug)]
pub struct JkShmFile {
    pub path: PathBuf,
}

impl JkShmFile {
    /// Create `path` with mode 0600, size it to `len` zero bytes and map it shared.
    ///
    /// The file is always a new one: an existing file at `path` is unlinked first, never
    /// truncated, because processes of an earlier server generation may still map it and a
    /// shrinking file kills them with SIGBUS on their next access. They keep the old inode.
    pub fn create(path: &Path, len: usize) -> io::Result<Region> {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Self::map(path, Some(len))
    }

    /// Map an existing table file (a tool reading the state of a running server).
    pub fn open(path: &Path) -> io::Result<Region> {
        Self::map(path, None)
    }

    fn map(path: &Path, create: Option<usize>) -> io::Result<Region> {
        let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "shm file path contains a NUL byte",
            )
        })?;
        let flags = libc::O_RDWR
            | libc::O_CLOEXEC
            | if create.is_some() {
                // Exclusive: `create` removed any old file, so this never truncates one.
                libc::O_CREAT | libc::O_EXCL
            } else {
                0
            };
        // SAFETY: `c` is a valid NUL-terminated path; the descriptor is closed below on every
        // path after use.
        let fd = unsafe { libc::open(c.as_ptr(), flags, 0o600 as libc::c_uint) };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("cannot open shm file {}: {e}", path.display()),
            ));
        }
        let result = (|| {
            let len = match create {
                Some(len) => {
                    // SAFETY: fd is an open descriptor we own.
                    if unsafe { libc::ftruncate(fd, len as libc::off_t) } != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    len
                }
                None => {
                    // SAFETY: fd is open; `st` is plain data filled by fstat.
                    let mut st: libc::stat = unsafe { std::mem::zeroed() };
                    if unsafe { libc::fstat(fd, &mut st) } != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    st.st_size as usize
                }
            };
            // SAFETY: maps `len` bytes of our open file shared; checked in `mapped`.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len.max(1),
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    fd,
                    0,
                )
            };
            Region::mapped(p, len)
        })();
        // SAFETY: fd is ours; the mapping stays valid after close.
        unsafe { libc::close(fd) };
        result
    }
}
