//! No panic crosses into httpd: every `extern "C"` entry point runs its body through `guard`.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Run `f`; if it panics, report where and return `fallback` instead of unwinding into C.
pub fn guard<T>(what: &str, fallback: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(e) => {
            let msg = e
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| e.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            eprintln!("mod_rjk: internal error in {what}: {msg} (request answered with an error)");
            fallback
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn panics_become_the_fallback() {
        assert_eq!(super::guard("test", 500, || panic!("boom")), 500);
        assert_eq!(super::guard("test", 500, || 0), 0);
    }
}
