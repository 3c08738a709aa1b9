//! `--session-file`: sessions outlive a restart of a lone node, as Tomcat's StandardManager
//! keeps them in `SESSIONS.ser`. The file is read before the listeners open and written on a
//! graceful stop (and every `--session-save-interval`), always whole and atomically: a temp
//! file beside it, fsync, rename, fsync of the directory — a crash mid-save leaves the previous
//! file. A file that cannot be read or decoded is moved aside and reported, never fatal.
//!
//! Layout: `RJKSESS1`, the save time (u64 Unix milliseconds), the sessions as the cluster's
//! state-transfer batch (`Message::Batch`, every length checked on decoding), and a SHA-256 of
//! all that — so a torn or edited file is recognised as such, not half-loaded.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::id;
use super::manager::{lock, SessionManager};
use crate::cluster::delta;
use crate::cluster::message::{Image, Message};

const MAGIC: &[u8; 8] = b"RJKSESS1";
const HEADER: usize = MAGIC.len() + 8;
const DIGEST: usize = 32;

/// What loading found.
#[derive(Debug, PartialEq, Eq)]
pub enum Loaded {
    /// No file yet (first start).
    Missing,
    /// Sessions restored, and how many had expired while the node was down.
    Restored { sessions: usize, expired: usize },
    /// The file was unusable: reported, and moved to `aside` (or left where it is when even
    /// that failed: `aside` is `None`, and saving stays off so it is not overwritten).
    Corrupt { aside: Option<PathBuf> },
}

/// Read `path` into `sessions`. Never fails: every problem is logged with the file's name.
pub fn load(path: &Path, sessions: &SessionManager) -> Loaded {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            log::info!("session file {}: none yet, starting empty", path.display());
            return Loaded::Missing;
        }
        Err(e) => return set_aside(path, &format!("cannot read it: {e}")),
    };
    let (saved_at, images) = match decode(&bytes) {
        Ok(d) => d,
        Err(what) => return set_aside(path, what),
    };
    // The node was down meanwhile: that time counts as idle, as in Tomcat.
    let down = unix_ms().saturating_sub(saved_at);
    let now = Instant::now();
    let (mut restored, mut expired) = (0, 0);
    for mut img in images {
        if !id::is_plausible(&img.id) {
            continue;
        }
        img.idle_ms = img.idle_ms.saturating_add(down);
        if img.idle_ms >= img.max_inactive_ms {
            expired += 1;
            continue;
        }
        if delta::apply_image(sessions, img, now) == delta::Applied::Yes {
            restored += 1;
        }
    }
    log::info!(
        "session file {}: restored {restored} session(s), {expired} expired while stopped",
        path.display()
    );
    Loaded::Restored {
        sessions: restored,
        expired,
    }
}

fn set_aside(path: &Path, what: &str) -> Loaded {
    let secs = unix_ms() / 1000;
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".corrupt-{secs}"));
    let aside = PathBuf::from(aside);
    match std::fs::rename(path, &aside) {
        Ok(()) => {
            log::error!(
                "session file {}: {what}; moved it to {} and starting without its sessions",
                path.display(),
                aside.display()
            );
            Loaded::Corrupt { aside: Some(aside) }
        }
        Err(e) => {
            log::error!(
                "session file {}: {what}; cannot move it aside ({e}): starting without its \
                 sessions, and not saving this run so that it stays for inspection",
                path.display()
            );
            Loaded::Corrupt { aside: None }
        }
    }
}

fn decode(b: &[u8]) -> Result<(u64, Vec<Image>), &'static str> {
    if b.len() < HEADER + DIGEST || &b[..MAGIC.len()] != MAGIC {
        return Err("not an rjk-node session file (no RJKSESS1 header)");
    }
    let (body, digest) = b.split_at(b.len() - DIGEST);
    if Sha256::digest(body).as_slice() != digest {
        return Err("checksum mismatch (truncated or changed)");
    }
    let mut at = [0u8; 8];
    at.copy_from_slice(&body[MAGIC.len()..HEADER]);
    match Message::decode(&body[HEADER..]) {
        Ok(Message::Batch(images)) => Ok((u64::from_be_bytes(at), images)),
        _ => Err("undecodable session records"),
    }
}

/// The file's bytes for every live session of `sessions` as of now.
fn encode(sessions: &SessionManager) -> (Vec<u8>, usize) {
    let now = Instant::now();
    let images: Vec<Image> = sessions
        .entries()
        .into_iter()
        .map(|(id, e)| delta::image(id, &lock(&e), now))
        .filter(|i| i.idle_ms < i.max_inactive_ms)
        .collect();
    let n = images.len();
    let mut out = Vec::with_capacity(HEADER + 64 * n + DIGEST);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&unix_ms().to_be_bytes());
    Message::Batch(images).encode(&mut out);
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    (out, n)
}

/// Write every live session to `path`, atomically; returns how many.
pub fn save(path: &Path, sessions: &SessionManager) -> std::io::Result<usize> {
    let (bytes, n) = encode(sessions);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let written = (|| {
        // Sessions can hold credentials: readable by the node's user only.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename itself is durable only once the directory is.
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map(|()| n)
}

/// [`save`] off the async threads, logging the outcome.
pub(crate) async fn save_logged(path: PathBuf, sessions: SessionManager, on_stop: bool) {
    let p = path.clone();
    let r = tokio::task::spawn_blocking(move || save(&p, &sessions)).await;
    match r {
        Ok(Ok(n)) if on_stop => log::info!("saved {n} session(s) to {}", path.display()),
        Ok(Ok(n)) => log::debug!("saved {n} session(s) to {}", path.display()),
        Ok(Err(e)) => log::error!("saving sessions to {}: {e}", path.display()),
        Err(e) => log::error!("saving sessions to {}: {e}", path.display()),
    }
}

/// `--session-save-interval`: save every `every` until shutdown. A save in progress always
/// completes (the final save on stop comes after it, never beside it).
pub(crate) async fn save_periodically(
    path: PathBuf,
    sessions: SessionManager,
    every: Duration,
    mut shutdown: crate::shutdown::Shutdown,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.wait() => return,
        }
        save_logged(path.clone(), sessions.clone(), false).await;
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rjk-persist-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn round_trip_keeps_attributes_and_drops_expired() {
        let d = dir("rt");
        let f = d.join("sessions");
        let m = SessionManager::new("n1", Duration::from_secs(60));
        let now = Instant::now();
        let (id, e) = m.create(now);
        lock(&e)
            .attributes
            .insert("counter".into(), Bytes::from_static(b"7"));
        let (old, e) = m.create(now);
        lock(&e).max_inactive = Duration::from_millis(1);
        lock(&e).last_access = now - Duration::from_millis(5);
        assert_eq!(save(&f, &m).unwrap(), 1, "the expired one is not saved");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&f).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        let back = SessionManager::new("n1", Duration::from_secs(60));
        assert_eq!(
            load(&f, &back),
            Loaded::Restored {
                sessions: 1,
                expired: 0
            }
        );
        assert_eq!(back.attributes(&id).unwrap()["counter"], "7");
        assert!(back.attributes(&old).is_none());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn every_truncation_and_a_flipped_bit_are_set_aside() {
        let d = dir("cut");
        let f = d.join("sessions");
        let m = SessionManager::new("n1", Duration::from_secs(60));
        m.create(Instant::now());
        save(&f, &m).unwrap();
        let good = std::fs::read(&f).unwrap();
        let mut flipped = good.clone();
        flipped[HEADER + 3] ^= 1;
        let mut cases: Vec<Vec<u8>> = (0..good.len()).map(|n| good[..n].to_vec()).collect();
        cases.push(flipped);
        for bad in cases {
            std::fs::write(&f, &bad).unwrap();
            let fresh = SessionManager::new("n1", Duration::from_secs(60));
            let Loaded::Corrupt { aside: Some(a) } = load(&f, &fresh) else {
                panic!("{} bytes accepted", bad.len());
            };
            assert!(fresh.is_empty());
            assert!(!f.exists());
            assert_eq!(std::fs::read(&a).unwrap(), bad, "moved, not changed");
            std::fs::remove_file(a).unwrap();
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_file_that_cannot_be_moved_aside_stays_untouched() {
        let d = dir("stuck");
        let f = d.join("sessions");
        std::fs::write(&f, b"junk").unwrap();
        // Every name it could be moved to is a non-empty directory: rename fails.
        let now = unix_ms() / 1000;
        for t in now..now + 60 {
            let taken = d.join(format!("sessions.corrupt-{t}"));
            std::fs::create_dir_all(taken.join("x")).unwrap();
        }
        let m = SessionManager::new("n1", Duration::from_secs(60));
        assert_eq!(load(&f, &m), Loaded::Corrupt { aside: None });
        assert_eq!(std::fs::read(&f).unwrap(), b"junk");
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// Not a check: how long saving and loading take (`--ignored --nocapture`).
    #[test]
    #[ignore]
    fn timing_100k_sessions() {
        let d = dir("timing");
        let f = d.join("sessions");
        let m = SessionManager::new("n1", Duration::from_secs(600));
        for i in 0..100_000u32 {
            let (_, e) = m.create(Instant::now());
            lock(&e)
                .attributes
                .insert("counter".into(), Bytes::from(i.to_string()));
        }
        let t = Instant::now();
        save(&f, &m).unwrap();
        let saved = t.elapsed();
        let size = std::fs::metadata(&f).unwrap().len();
        let back = SessionManager::new("n1", Duration::from_secs(600));
        let t = Instant::now();
        load(&f, &back);
        println!(
            "100k sessions: save {saved:?}, load {:?}, {size} bytes",
            t.elapsed()
        );
        assert_eq!(back.len(), 100_000);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn downtime_counts_as_idle() {
        let d = dir("down");
        let f = d.join("sessions");
        let m = SessionManager::new("n1", Duration::from_secs(60));
        m.create(Instant::now());
        let (mut bytes, _) = encode(&m);
        // Saved two minutes ago: past the 60 s timeout by now.
        let at = unix_ms() - 120_000;
        bytes[MAGIC.len()..HEADER].copy_from_slice(&at.to_be_bytes());
        let n = bytes.len() - DIGEST;
        let digest = Sha256::digest(&bytes[..n]);
        bytes[n..].copy_from_slice(&digest);
        std::fs::write(&f, &bytes).unwrap();
        let back = SessionManager::new("n1", Duration::from_secs(60));
        assert_eq!(
            load(&f, &back),
            Loaded::Restored {
                sessions: 0,
                expired: 1
            }
        );
        assert!(back.is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
