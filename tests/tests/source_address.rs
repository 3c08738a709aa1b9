//! Worker `source`: backend connections leave from that local address, through mod_rjk, the
//! nginx module and (for reference) Debian's mod_jk. The fake container listens on 127.0.0.1
//! and records the address each connection came from; `source=127.0.0.2` must be it.

use std::net::IpAddr;

use rjk_tests::cluster::{front, Connector};
use rjk_tests::fake_ajp::FakeAjp;
use rjk_tests::http;
use rjk_tests::httpd::Mpm;
use rjk_tests::nginx::Nginx;

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("rjk-source-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn workers(fake: &FakeAjp) -> String {
    format!(
        "worker.list=a\nworker.a.host=127.0.0.1\nworker.a.port={}\nworker.a.source=127.0.0.2\n",
        fake.port
    )
}

/// The addresses connections came from, after two requests answered 200.
fn sources(fake: &FakeAjp, addr: std::net::SocketAddr, who: &str) -> Vec<IpAddr> {
    for _ in 0..2 {
        let r = http::get(addr, "/app/x", &[]).unwrap();
        assert_eq!(r.status, 200, "{who}: {}", r.text());
    }
    let peers: Vec<IpAddr> = fake.peers().iter().map(|p| p.ip()).collect();
    assert!(!peers.is_empty(), "{who}: no connection");
    peers
}

#[test]
fn backend_connections_leave_from_the_source_address() {
    let want: IpAddr = "127.0.0.2".parse().unwrap();
    for c in [Connector::ModRjk, Connector::ModJk] {
        let fake = FakeAjp::start("a").unwrap();
        let dir = tmp(c.name());
        let httpd = front(&dir, c, Mpm::Event, &workers(&fake), "JkMount /app/* a\n")
            .unwrap_or_else(|e| panic!("{}: {e}", c.name()));
        let seen = sources(&fake, httpd.addr(), c.name());
        httpd.stop();
        assert!(seen.iter().all(|ip| *ip == want), "{}: {seen:?}", c.name());
        let _ = std::fs::remove_dir_all(&dir);
    }
    let fake = FakeAjp::start("a").unwrap();
    let d = tmp("nginx");
    std::fs::write(d.join("workers.properties"), workers(&fake)).unwrap();
    let http = format!("  rjk_workers_file {}/workers.properties;\n", d.display());
    let nginx = Nginx::start(&d, 1, &http, "    location /app/ { rjk_pass a; }").unwrap();
    let seen = sources(&fake, nginx.addr(), "nginx");
    nginx.stop();
    assert!(seen.iter().all(|ip| *ip == want), "nginx: {seen:?}");
    let _ = std::fs::remove_dir_all(&d);
}
