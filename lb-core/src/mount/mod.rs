//! JkMount / JkUnMount / uriworkermap rules and their precedence (issue 3).
