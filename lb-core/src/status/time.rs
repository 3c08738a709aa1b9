//! mod_jk's status time fields: `datetime` as `%Y%m%d%H%M%S` and `tz` as `%z`, in local time.

pub fn datetime(unix: i64) -> (String, String) {
    let t = unix as libc::time_t;
    // SAFETY: localtime_r fills our tm; strftime writes at most buf.len() bytes.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return (String::new(), String::new());
        }
        let fmt = |f: &std::ffi::CStr| {
            let mut buf = [0u8; 64];
            let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), f.as_ptr(), &tm);
            String::from_utf8_lossy(&buf[..n]).into_owned()
        };
        (fmt(c"%Y%m%d%H%M%S"), fmt(c"%z"))
    }
}
