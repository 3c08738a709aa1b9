//! `ngx_http_rjk_module`: mod_jk's workers.properties, balancing and AJP forwarding for nginx.
//!
//! Everything a connector decides is lb-core's: the directives become the same `Jk*` lines
//! mod_rjk hands to lb-core, the workers and balancers are built by `lb_core::assemble`, and
//! each request is an `lb_core::forward::Exchange` that this module drives from nginx's event
//! loop ([`driver`]) — non-blocking connect, send and receive on nginx events, deadlines on
//! nginx timers, a connection pool per member in each worker process ([`backend`]).
//!
//! Layout: [`module`] (the nginx module and its directive table), [`conf`] and [`directives`]
//! (configuration as read), [`setup`] (checking it at `nginx -t`, the shared zone, the
//! per-cycle [`runtime`]), [`handler`] (the content handler), [`driver`] (the machine on
//! nginx events), [`client`] (request body and response through nginx), [`facts`] (the
//! request as lb-core sees it), [`log`].

mod backend;
mod client;
mod clock;
mod conf;
mod directives;
mod driver;
mod facts;
mod ffi;
mod handler;
mod log;
mod module;
mod ping;
mod request;
mod runtime;
mod setup;
mod status;
mod variables;

ngx::ngx_modules!(ngx_http_rjk_module);

pub use module::ngx_http_rjk_module;
