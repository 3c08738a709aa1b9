//! workers.properties and the Jk* directive values, typed (issue 3).
