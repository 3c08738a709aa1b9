//! rjk-node: an AJP/1.3 backend.
