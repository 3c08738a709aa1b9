//! The shared runtime state table (issue 4).
