//! Choosing a member as mod_jk does (issue 4).
