//! ajp
