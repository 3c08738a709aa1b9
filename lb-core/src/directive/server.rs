//! One server's (main or virtual host) connector settings from its `Jk*` lines: options, log,
//! shared memory, mounts, and the environment variables ("indicators") that override what is
//! forwarded. A virtual host sees the main server's lines first (marked inherited) and its own
//! after them, so a later line overrides an earlier one as in mod_jk.

use std::path::{Path, PathBuf};

use super::options::{OptionLines, Options, Problem};
use super::JkLine;
use crate::config::{closest, Diagnostic, Location, Severity};
use crate::log::Level;

/// `JkMountCopy`: whether a virtual host gets the main server's mounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MountCopy {
    Off,
    On,
    /// Given in the main server: On for every virtual host.
    All,
}

/// A `JkMount`/`JkUnMount` line as written (the rule syntax is the mount module's business).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountLine {
    pub unmount: bool,
    pub uri: String,
    /// Worker name, possibly followed by `;ext=value` rule extensions.
    pub worker: String,
    pub at: Location,
    /// Came from the main server into this virtual host.
    pub inherited: bool,
}

/// Environment variable names that, when set for a request, replace a forwarded datum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Indicators {
    pub worker: String,
    pub https: String,
    pub ssl_protocol: String,
    pub certs: String,
    pub cipher: String,
    pub session: String,
    pub key_size: String,
    pub cert_chain_prefix: String,
    pub request_id: String,
    pub remote_addr: String,
    pub remote_port: String,
    pub remote_host: String,
    pub remote_user: String,
    pub auth_type: String,
    pub local_name: String,
    pub local_addr: String,
    pub local_port: String,
    pub ignore_cl: String,
}

impl Default for Indicators {
    fn default() -> Self {
        let s = |v: &str| v.to_owned();
        Indicators {
            worker: s("JK_WORKER_NAME"),
            https: s("HTTPS"),
            ssl_protocol: s("SSL_PROTOCOL"),
            certs: s("SSL_CLIENT_CERT"),
            cipher: s("SSL_CIPHER"),
            session: s("SSL_SESSION_ID"),
            key_size: s("SSL_CIPHER_USEKEYSIZE"),
            cert_chain_prefix: s("SSL_CLIENT_CERT_CHAIN_"),
            request_id: s("UNIQUE_ID"),
            remote_addr: s("JK_REMOTE_ADDR"),
            remote_port: s("JK_REMOTE_PORT"),
            remote_host: s("JK_REMOTE_HOST"),
            remote_user: s("JK_REMOTE_USER"),
            auth_type: s("JK_AUTH_TYPE"),
            local_name: s("JK_LOCAL_NAME"),
            local_addr: s("JK_LOCAL_ADDR"),
            local_port: s("JK_LOCAL_PORT"),
            ignore_cl: s("JK_IGNORE_CL"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSettings {
    pub options: Options,
    pub log_file: Option<String>,
    pub log_level: Level,
    pub log_stamp: Option<String>,
    pub request_log_format: Option<crate::request_log::RequestLogFormat>,
    pub shm_file: Option<PathBuf>,
    /// Bytes.
    pub shm_size: Option<u64>,
    /// Seconds; 0 = no watchdog thread.
    pub watchdog_interval: u64,
    pub mount_file: Option<(PathBuf, Location)>,
    /// Seconds; 0 = never re-read.
    pub mount_file_reload: u64,
    pub mount_copy: MountCopy,
    pub mounts: Vec<MountLine>,
    /// `JkStripSession`: the path parameter removed from URIs that are not forwarded.
    pub strip_session: Option<String>,
    pub auto_alias: Option<PathBuf>,
    pub extract_ssl: bool,
    pub indicators: Indicators,
    /// `JkEnvVar name [default]`: forwarded as request attributes.
    pub env_vars: Vec<(String, Option<String>)>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            options: Options::default(),
            log_file: None,
            log_level: Level::Info,
            log_stamp: None,
            request_log_format: None,
            shm_file: None,
            shm_size: None,
            watchdog_interval: 0,
            mount_file: None,
            mount_file_reload: 60,
            mount_copy: MountCopy::Off,
            mounts: Vec::new(),
            strip_session: None,
            auto_alias: None,
            extract_ssl: true,
            indicators: Indicators::default(),
            env_vars: Vec::new(),
        }
    }
}

/// Every directive name rjk knows (for "did you mean" on misspelt ones in `rjk check`).
pub const NAMES: &[&str] = &[
    "JkWorkersFile",
    "JkWorkerProperty",
    "JkShmFile",
    "JkShmSize",
    "JkMountFile",
    "JkMountFileReload",
    "JkMount",
    "JkUnMount",
    "JkMountCopy",
    "JkStripSession",
    "JkAutoAlias",
    "JkWorkerIndicator",
    "JkWatchdogInterval",
    "JkLogFile",
    "JkLogLevel",
    "JkLogStampFormat",
    "JkRequestLogFormat",
    "JkExtractSSL",
    "JkHTTPSIndicator",
    "JkSSLPROTOCOLIndicator",
    "JkCERTSIndicator",
    "JkCIPHERIndicator",
    "JkSESSIONIndicator",
    "JkKEYSIZEIndicator",
    "JkCERTCHAINPrefix",
    "JkRequestIdIndicator",
    "JkRemoteAddrIndicator",
    "JkRemotePortIndicator",
    "JkRemoteHostIndicator",
    "JkRemoteUserIndicator",
    "JkAuthTypeIndicator",
    "JkLocalNameIndicator",
    "JkLocalAddrIndicator",
    "JkLocalPortIndicator",
    "JkIgnoreCLIndicator",
    "JkOptions",
    "JkEnvVar",
];

/// Build one server's settings. `lines` are the main server's (inherited) lines followed by
/// the server's own; `is_vhost` selects the JkMountCopy rules.
pub fn server_settings<'a>(
    lines: impl IntoIterator<Item = (&'a JkLine, bool)>,
    is_vhost: bool,
    server_root: &Path,
) -> (ServerSettings, Vec<Diagnostic>) {
    let mut s = ServerSettings::default();
    let mut diags = Vec::new();
    let mut opts = OptionLines::default();
    let mut global_copy_all = false;
    // A virtual host's own JkMountCopy On/Off; mod_jk reads none from the main server.
    let mut own_copy: Option<bool> = None;
    // What mod_jk gives a virtual host only when it copies the main server's mounts.
    let (mut inherited_alias, mut inherited_mount_file) = (false, false);
    // A JkMount/JkUnMount/JkMountFile of the virtual host's own: mod_jk then builds it a map.
    let mut own_map = false;
    let mut mounts: Vec<MountLine> = Vec::new();
    let path = |p: &str| {
        let p = p.trim().trim_matches('"');
        if Path::new(p).is_absolute() {
            PathBuf::from(p)
        } else {
            server_root.join(p)
        }
    };
    for (line, inherited) in lines {
        let at = &line.at;
        let args = line.args.trim();
        let word = args.trim_matches('"').to_owned();
        let mut errors: Vec<String> = Vec::new();
        let mut warnings: Vec<String> = Vec::new();
        let mut err = |m: String| errors.push(m);
        let name = line.name.as_str();
        let num = |v: &str| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| format!("{name}: `{v}` is not a whole number"))
        };
        match name.to_ascii_lowercase().as_str() {
            "jkworkersfile" | "jkworkerproperty" => {}
            "jkoptions" => {
                for p in opts.read(args) {
                    match p {
                        Problem::Error(m) => err(m),
                        Problem::Warning(m) => warnings.push(m),
                    }
                }
            }
            "jklogfile" => {
                s.log_file = Some(if word.starts_with('|') {
                    word
                } else {
                    path(&word).display().to_string()
                })
            }
            "jkloglevel" => match Level::parse(&word) {
                Ok(l) => s.log_level = l,
                Err(m) => err(m),
            },
            "jklogstampformat" => s.log_stamp = Some(word),
            "jkrequestlogformat" => match crate::request_log::RequestLogFormat::parse(&word) {
                Ok(f) => s.request_log_format = Some(f),
                Err(m) => err(m),
            },
            "jkshmfile" => s.shm_file = Some(path(&word)),
            "jkshmsize" => match num(&word) {
                // KB, at least mod_jk's minimum, aligned to its 384-byte slots.
                Ok(kb) if kb > 0 => {
                    s.shm_size = Some(((kb as u64 * 1024).max(74112)).div_ceil(384) * 384)
                }
                Ok(_) => err(format!(
                    "JkShmSize: `{word}` must be a positive number of kilobytes"
                )),
                Err(m) => err(m),
            },
            "jkwatchdoginterval" => match num(&word) {
                Ok(n) => s.watchdog_interval = n.max(0) as u64,
                Err(m) => err(m),
            },
            "jkmountfile" => {
                s.mount_file = Some((path(&word), at.clone()));
                inherited_mount_file = inherited;
                own_map |= !inherited;
            }
            "jkmountfilereload" => match num(&word) {
                Ok(n) => s.mount_file_reload = n.max(0) as u64,
                Err(m) => err(m),
            },
            "jkmountcopy" => match word.to_ascii_lowercase().as_str() {
                "on" | "off" if inherited => {}
                "on" => {
                    s.mount_copy = MountCopy::On;
                    own_copy = Some(true);
                }
                "off" => {
                    s.mount_copy = MountCopy::Off;
                    own_copy = Some(false);
                }
                "all" if inherited || !is_vhost => global_copy_all = true,
                "all" => err(
                    "JkMountCopy All is only allowed in the main server; use On in a virtual host"
                        .into(),
                ),
                _ => err(format!("JkMountCopy must be All, On or Off, not `{word}`")),
            },
            "jkmount" | "jkunmount" => match mount_line(line, inherited) {
                Ok(m) => {
                    own_map |= !inherited;
                    mounts.push(m)
                }
                Err(m) => err(m),
            },
            "jkstripsession" => {
                let mut w = args.split_whitespace();
                match w.next().map(str::to_ascii_lowercase).as_deref() {
                    Some("on") => {
                        s.strip_session = Some(w.next().unwrap_or(";jsessionid").to_owned())
                    }
                    Some("off") => s.strip_session = None,
                    _ => err(format!(
                        "JkStripSession must be On or Off [name], not `{args}`"
                    )),
                }
            }
            "jkautoalias" => {
                s.auto_alias = Some(path(&word));
                inherited_alias = inherited;
            }
            "jkextractssl" => match word.to_ascii_lowercase().as_str() {
                "on" => s.extract_ssl = true,
                "off" => s.extract_ssl = false,
                _ => err(format!("JkExtractSSL must be On or Off, not `{word}`")),
            },
            "jkenvvar" => {
                let mut w = args.split_whitespace();
                match w.next() {
                    Some(n) => {
                        let n = n.to_owned();
                        let default = w.next().map(|d| d.trim_matches('"').to_owned());
                        s.env_vars.retain(|(x, _)| *x != n);
                        s.env_vars.push((n, default));
                    }
                    None => err("JkEnvVar needs a variable name".into()),
                }
            }
            other => match indicator(&mut s.indicators, other) {
                Some(slot) => *slot = word,
                None => {
                    let hint = closest(name, NAMES.iter().copied())
                        .map(|c| format!(" (did you mean `{c}`?)"))
                        .unwrap_or_default();
                    err(format!("unknown directive `{name}`{hint}"));
                }
            },
        }
        let found = errors
            .into_iter()
            .map(|m| (Severity::Error, m))
            .chain(warnings.into_iter().map(|m| (Severity::Warning, m)));
        diags.extend(found.map(|(severity, message)| Diagnostic {
            severity,
            at: Some(at.clone()),
            worker: None,
            message,
        }));
    }
    s.options = Options::default().with(&opts);
    // mod_jk's merge: an explicit JkMountCopy Off beats the main server's All; without the
    // copy a virtual host keeps neither the main server's mounts, nor its JkMountFile, nor its
    // JkAutoAlias; and one with no mount of its own has no map at all, so its requests never
    // reach JkStripSession either.
    let copying = own_copy.unwrap_or(global_copy_all);
    if is_vhost && !copying {
        s.mount_copy = MountCopy::Off;
        mounts.retain(|m| !m.inherited);
        if inherited_alias {
            s.auto_alias = None;
        }
        if inherited_mount_file {
            s.mount_file = None;
        }
        if !own_map {
            s.strip_session = None;
        }
    }
    if global_copy_all && s.mount_copy == MountCopy::Off && !is_vhost {
        s.mount_copy = MountCopy::All;
    }
    s.mounts = mounts;
    (s, diags)
}

fn indicator<'a>(i: &'a mut Indicators, lower_name: &str) -> Option<&'a mut String> {
    Some(match lower_name {
        "jkworkerindicator" => &mut i.worker,
        "jkhttpsindicator" => &mut i.https,
        "jksslprotocolindicator" => &mut i.ssl_protocol,
        "jkcertsindicator" => &mut i.certs,
        "jkcipherindicator" => &mut i.cipher,
        "jksessionindicator" => &mut i.session,
        "jkkeysizeindicator" => &mut i.key_size,
        "jkcertchainprefix" => &mut i.cert_chain_prefix,
        "jkrequestidindicator" => &mut i.request_id,
        "jkremoteaddrindicator" => &mut i.remote_addr,
        "jkremoteportindicator" => &mut i.remote_port,
        "jkremotehostindicator" => &mut i.remote_host,
        "jkremoteuserindicator" => &mut i.remote_user,
        "jkauthtypeindicator" => &mut i.auth_type,
        "jklocalnameindicator" => &mut i.local_name,
        "jklocaladdrindicator" => &mut i.local_addr,
        "jklocalportindicator" => &mut i.local_port,
        "jkignoreclindicator" => &mut i.ignore_cl,
        _ => return None,
    })
}

/// `JkMount /uri worker` or, inside `<Location /uri>`, `JkMount worker` (exactly that path).
fn mount_line(line: &JkLine, inherited: bool) -> Result<MountLine, String> {
    let unmount = line.name.eq_ignore_ascii_case("JkUnMount");
    let words: Vec<&str> = line
        .args
        .split_whitespace()
        .map(|w| w.trim_matches('"'))
        .collect();
    let (uri, worker) = match (&line.location, words.as_slice()) {
        (None, [uri, worker]) => (uri.to_string(), worker.to_string()),
        (None, [_]) => {
            return Err(format!(
                "{} needs a path when not defined in a location",
                line.name
            ))
        }
        (Some(loc), [worker]) => (loc.clone(), worker.to_string()),
        (Some(_), [_, _]) => {
            return Err(format!(
                "{} can not have a path when defined in a location",
                line.name
            ))
        }
        _ => {
            return Err(format!(
                "{} takes a path and a worker name, not `{}`",
                line.name,
                line.args.trim()
            ))
        }
    };
    if !uri.starts_with('/') {
        return Err(format!(
            "{} context should start with /, not `{uri}`",
            line.name
        ));
    }
    Ok(MountLine {
        unmount,
        uri,
        worker,
        at: line.at.clone(),
        inherited,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directive::options::{Flag, ForwardUri};

    fn l(name: &str, args: &str, n: u32) -> JkLine {
        JkLine {
            name: name.into(),
            args: args.into(),
            at: Location::new("httpd.conf", n),
            location: None,
        }
    }

    #[test]
    fn defaults_match_mod_jk() {
        let (s, d) = server_settings(std::iter::empty(), false, Path::new("/srv"));
        assert!(d.is_empty());
        assert_eq!(s.log_level, Level::Info);
        assert_eq!(s.mount_file_reload, 60);
        assert_eq!(s.indicators.worker, "JK_WORKER_NAME");
        assert_eq!(s.indicators.request_id, "UNIQUE_ID");
        assert!(s.extract_ssl);
        assert_eq!(s.options.forward_uri, ForwardUri::Proxy);
    }

    #[test]
    fn a_vhost_inherits_and_overrides() {
        let main = [
            l("JkLogLevel", "debug", 1),
            l("JkOptions", "+FlushPackets", 2),
            l("JkMount", "/a/* w1", 3),
            l("JkEnvVar", "X dflt", 4),
        ];
        let own = [
            l("JkLogLevel", "error", 10),
            l("JkMount", "/b/* w2", 11),
            l("JkRemoteAddrIndicator", "MY_ADDR", 12),
            l("JkEnvVar", "Y", 13),
        ];
        let lines = main
            .iter()
            .map(|x| (x, true))
            .chain(own.iter().map(|x| (x, false)));
        let (s, d) = server_settings(lines, true, Path::new("/srv"));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(s.log_level, Level::Error);
        assert!(s.options.has(Flag::FLUSH_PACKETS));
        assert_eq!(s.indicators.remote_addr, "MY_ADDR");
        assert_eq!(
            s.env_vars,
            vec![("X".into(), Some("dflt".into())), ("Y".into(), None)]
        );
        // without JkMountCopy the main server's mounts stay there
        assert_eq!(
            s.mounts.iter().map(|m| m.uri.as_str()).collect::<Vec<_>>(),
            vec!["/b/*"]
        );
    }

    #[test]
    fn mount_copy_on_and_all() {
        let main = [l("JkMount", "/a/* w1", 1), l("JkMountCopy", "All", 2)];
        let own = [l("JkMount", "/b/* w2", 10)];
        let lines = main
            .iter()
            .map(|x| (x, true))
            .chain(own.iter().map(|x| (x, false)));
        let (s, _) = server_settings(lines, true, Path::new("/"));
        assert_eq!(s.mounts.len(), 2);
        let own = [l("JkMountCopy", "All", 10)];
        let (_, d) = server_settings(own.iter().map(|x| (x, false)), true, Path::new("/"));
        assert!(
            d[0].message.contains("only allowed in the main server"),
            "{d:?}"
        );
    }

    /// mod_jk's merge_jk_config, pinned by tests/tests/vhost_parity.rs against Debian's mod_jk.
    #[test]
    fn virtual_hosts_inherit_as_mod_jk_merges() {
        let main = [
            l("JkMount", "/a/* w1", 1),
            l("JkMountFile", "main.map", 2),
            l("JkAutoAlias", "/webapps", 3),
            l("JkStripSession", "On", 4),
            l("JkMountCopy", "On", 5),
        ];
        let vhost = |own: &[JkLine]| {
            let lines: Vec<(&JkLine, bool)> = main
                .iter()
                .map(|x| (x, true))
                .chain(own.iter().map(|x| (x, false)))
                .collect();
            server_settings(lines, true, Path::new("/srv")).0
        };
        // The main server's JkMountCopy On is not the vhost's; no own mount: no map at all.
        let s = vhost(&[]);
        assert!(s.mounts.is_empty() && s.mount_file.is_none() && s.auto_alias.is_none());
        assert_eq!(s.strip_session, None);
        // An own mount: a map, so the inherited JkStripSession applies; still no copy.
        let s = vhost(&[l("JkMount", "/b/* w2", 10)]);
        assert_eq!(s.mounts.len(), 1);
        assert!(s.mount_file.is_none() && s.auto_alias.is_none());
        assert_eq!(s.strip_session.as_deref(), Some(";jsessionid"));
        // JkMountCopy On: the main server's mounts, mount file and alias.
        let s = vhost(&[l("JkMountCopy", "On", 10)]);
        assert_eq!(s.mounts.len(), 1);
        assert_eq!(s.auto_alias.as_deref(), Some(Path::new("/webapps")));
        assert_eq!(s.mount_file.unwrap().0, Path::new("/srv/main.map"));
        // An explicit Off beats the main server's All.
        let all = [l("JkMount", "/a/* w1", 1), l("JkMountCopy", "All", 2)];
        let off = [l("JkMountCopy", "Off", 10)];
        let lines = all
            .iter()
            .map(|x| (x, true))
            .chain(off.iter().map(|x| (x, false)));
        assert!(server_settings(lines, true, Path::new("/"))
            .0
            .mounts
            .is_empty());
    }

    #[test]
    fn mounts_in_locations_and_their_errors() {
        let mut inside = l("JkMount", "status", 5);
        inside.location = Some("/jkstatus".into());
        let (s, d) = server_settings([(&inside, false)], false, Path::new("/"));
        assert!(d.is_empty());
        assert_eq!(
            (s.mounts[0].uri.as_str(), s.mounts[0].worker.as_str()),
            ("/jkstatus", "status")
        );
        let bad = [
            l("JkMount", "worker", 1),
            l("JkUnMount", "app/* w", 2),
            l("JkMountCopy", "maybe", 3),
            l("JkLogLevel", "loud", 4),
            l("JkMountt", "/x w", 5),
        ];
        let (_, d) = server_settings(bad.iter().map(|x| (x, false)), false, Path::new("/"));
        let m: Vec<String> = d.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            m[0],
            "httpd.conf:1: error: JkMount needs a path when not defined in a location"
        );
        assert_eq!(
            m[1],
            "httpd.conf:2: error: JkUnMount context should start with /, not `app/*`"
        );
        assert_eq!(
            m[2],
            "httpd.conf:3: error: JkMountCopy must be All, On or Off, not `maybe`"
        );
        assert!(m[3].starts_with("httpd.conf:4: error: JkLogLevel: unknown level `loud`"));
        assert_eq!(
            m[4],
            "httpd.conf:5: error: unknown directive `JkMountt` (did you mean `JkMount`?)"
        );
    }

    #[test]
    fn paths_relative_to_server_root_and_shm_size() {
        let lines = [
            l("JkShmFile", "run/jk.shm", 1),
            l("JkLogFile", "\"|/usr/bin/rotatelogs x 86400\"", 2),
            l("JkShmSize", "10", 3),
        ];
        let (s, _) = server_settings(lines.iter().map(|x| (x, false)), false, Path::new("/srv"));
        assert_eq!(s.shm_file.as_deref(), Some(Path::new("/srv/run/jk.shm")));
        assert_eq!(s.log_file.as_deref(), Some("|/usr/bin/rotatelogs x 86400"));
        assert_eq!(s.shm_size, Some(74112));
    }
}
