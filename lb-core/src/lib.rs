//! lb-core: everything a connector decides, with no web server in sight. The httpd and nginx
//! adapters translate their requests into these types and call in; they decide nothing.
//!
//! - [`assemble`]: configuration → engine objects (specs, workers).
//! - [`config`]: workers.properties and the `Jk*` directive values, typed, with mod_jk's defaults.
//! - [`directive`]: what the `Jk*` directives mean, for every adapter.
//! - [`log`]: the connector's own log (JkLogFile) in mod_jk's line shape.
//! - [`uri`]: URI normalisation before matching (CVE-2018-11759) and the `ForwardURI*` forms.
//! - [`mount`]: `JkMount`/`JkUnMount`/uriworkermap rules and mod_jk's precedence.
//! - [`route`]: the sticky route of a request (`;jsessionid=`, session cookie).
//! - [`balancer`]: choosing a member as mod_jk does, failure accounting, maintenance.
//! - [`shm`]: the runtime state table shared by every process of a server.
//! - [`status`]: the status worker's pages (mod_jk's formats first).
//! - [`pool`]: per-process pools of AJP connections to each member.
//! - [`forward`]: one request through the chosen member, with safe retries.

pub mod assemble;
pub mod balancer;
pub mod config;
pub mod directive;
pub mod forward;
pub mod log;
pub mod mount;
pub mod pool;
pub mod request_log;
pub mod route;
pub mod shm;
pub mod status;
pub mod uri;
pub mod wildcard;
