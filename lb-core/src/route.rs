//! The sticky route of a request (issue 3).
