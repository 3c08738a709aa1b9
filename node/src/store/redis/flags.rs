//! `--session-store`, `--session-store-password-file` and `--session-cache`, checked against
//! the flags they cannot be combined with.

use std::num::NonZeroUsize;

use super::RedisConfig;
use crate::config::Args;

/// The Redis settings the flags ask for, or what to change.
pub(crate) fn config(a: &Args) -> Result<Option<RedisConfig>, String> {
    let Some(url) = &a.session_store else {
        if a.session_store_password_file.is_some() || a.session_cache.is_some() {
            return Err("--session-store-password-file and --session-cache are for \
                        --session-store: give the Redis URL too"
                .into());
        }
        return Ok(None);
    };
    if a.cluster != "none" {
        return Err(format!(
            "--session-store and --cluster {}: sessions live either in Redis or in the \
             nodes' replication, not both; drop one of them",
            a.cluster
        ));
    }
    if a.session_file.is_some() {
        return Err(
            "--session-store and --session-file: with Redis the sessions survive a \
                    restart already; drop --session-file"
                .into(),
        );
    }
    let mut c = RedisConfig::parse(url)?;
    if let Some(f) = &a.session_store_password_file {
        let p = std::fs::read_to_string(f).map_err(|e| {
            format!(
                "--session-store-password-file {}: cannot read it: {e}",
                f.display()
            )
        })?;
        let p = p.trim();
        if p.is_empty() {
            return Err(format!(
                "--session-store-password-file {}: the file is empty",
                f.display()
            ));
        }
        c.password = Some(p.to_string());
    }
    c.cache = match a.session_cache {
        None => None,
        Some(n) => Some(NonZeroUsize::new(n).ok_or(
            "--session-cache 0: give the number of sessions to keep, or leave the flag out",
        )?),
    };
    Ok(Some(c))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    fn parse(extra: &[&str]) -> Result<Option<super::RedisConfig>, String> {
        let mut v = vec!["rjk-node", "--route", "n1", "--no-secret"];
        v.extend_from_slice(extra);
        let a = crate::config::Args::try_parse_from(v).map_err(|e| e.to_string())?;
        a.to_config()
            .map(|c| c.session_store)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn store_flags_and_their_conflicts() {
        assert_eq!(parse(&[]).unwrap(), None);
        let c = parse(&[
            "--session-store",
            "redis://127.0.0.1:6379",
            "--session-cache",
            "100",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.cache.map(|n| n.get()), Some(100));
        let e = parse(&[
            "--session-store",
            "redis://127.0.0.1:6379",
            "--cluster",
            "delta",
            "--cluster-insecure",
        ])
        .unwrap_err();
        assert!(e.contains("--session-store and --cluster delta"), "{e}");
        let e = parse(&["--session-cache", "5"]).unwrap_err();
        assert!(e.contains("give the Redis URL"), "{e}");
        let e = parse(&["--session-store", "redis://h:1", "--session-cache", "0"]).unwrap_err();
        assert!(e.contains("--session-cache 0"), "{e}");
        let dir = std::env::temp_dir().join(format!("rjk-store-flags-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("pw");
        std::fs::write(&f, " hush\n").unwrap();
        let c = parse(&[
            "--session-store",
            "redis://127.0.0.1:6379",
            "--session-store-password-file",
            f.to_str().unwrap(),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.password.as_deref(), Some("hush"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
