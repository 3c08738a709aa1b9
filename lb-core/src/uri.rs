//! URI normalisation before matching (issue 3).
