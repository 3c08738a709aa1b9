//! Route re-binding (Tomcat's JvmRouteBinderValve), as the application sees it.
//!
//! After a failover the balancer sends a session named `<id>.n1` to this node (say `n3`),
//! which holds a replica. The session layer moves it to `<id>.n3` before the application runs
//! (keeping the random part), the response carries the new `JSESSIONID` cookie, and the id
//! change is replicated like any delta, so the balancer now sticks to `n3` and every member
//! follows the new id. A request still carrying the old id finds the session through an alias.

/// The id a request's session had before this node re-bound it to its own route; found in the
/// request extensions (`req.extensions().get::<OriginalSessionId>()`), as Tomcat's
/// `org.apache.catalina.ha.session.JvmRouteOriginalSessionID` attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginalSessionId(pub String);
