# rjk — thin targets; the work is in cargo and in the crates' own tests.
CARGO ?= cargo
SUDO  := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Real peers the end-to-end tests start on loopback: Debian's apache2 (and its headers, for the
# module build), Debian's mod_jk as the reference, Tomcat 10 as a backend; wrk and curl drive them.
DEB_PACKAGES := apache2 apache2-dev libapache2-mod-jk tomcat10 wrk curl libclang-dev pkg-config python3-prometheus-client chromium python3-websocket iproute2
# Building and checking the Debian packages (make deb, tests/tests/packages.rs): debhelper
# (dh_apache2 comes with apache2-dev), lintian, and systemd-analyze and man for the unit check.
DEB_PACKAGES += debhelper dpkg-dev lintian systemd man-db
# The nginx module: Debian's nginx to load it into, nginx-dev for the headers its bindings are
# generated from (ngx_module/configure-nginx.sh).
DEB_PACKAGES += nginx nginx-dev
# bench/cost.sh and its guard in make test (tests/tests/cost_guard.rs): instructions and syscalls.
DEB_PACKAGES += valgrind strace
DEB_PACKAGES += redis-server redis-tools

.PHONY: test bench deps build fmt-check lint install deb demo demo-stop fuzz fuzz-deps soak nginx-src

# The configured nginx tree the nginx module builds against (.cargo/config.toml points
# nginx-sys at it). Made once; remade when Debian's nginx-dev changes.
NGINX_SRC := build/nginx-src
nginx-src: $(NGINX_SRC)/objs/ngx_auto_config.h
$(NGINX_SRC)/objs/ngx_auto_config.h: /usr/share/nginx/src/conf_flags ngx_module/configure-nginx.sh
	ngx_module/configure-nginx.sh $(NGINX_SRC)
/usr/share/nginx/src/conf_flags:
	@echo "Debian's nginx-dev is not installed: run \`make deps\` (the nginx module builds against it)" >&2; exit 1

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: nginx-src
	$(CARGO) build --workspace

# Every test in the workspace: unit, protocol, and end-to-end against real processes.
# The binaries and mod_rjk.so are built first because end-to-end tests start them as processes.
test: deps build
	$(CARGO) test --workspace

# Every cargo-fuzz target (the AJP codec and exchanges, workers.properties, mount rules, URI
# normalisation, session routes, the status query, JkRequestLogFormat) for FUZZ_SECONDS each
# (default 60), at low priority; prints executions per target, fails on a crash. Not in `test`.
FUZZ_SECONDS ?= 60
fuzz: fuzz-deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

# cargo-fuzz builds with sanitizer flags that need a nightly compiler.
fuzz-deps:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked

# The soak (issue 16): mixed traffic through httpd + mod_rjk, then nginx + ngx_module, to three
# rjk-nodes while members are killed and restarted at random and status changes are posted;
# asserts no failed idempotent request, no fd growth and stable RSS in the server's children.
# SOAK_SECONDS (default 600, per front end) bounds it. Not in `test`.
SOAK_SECONDS ?= 600
soak: deps build
	SOAK_SECONDS=$(SOAK_SECONDS) $(CARGO) test -p rjk-tests --test soak -- --ignored --nocapture

lint: nginx-src
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Criterion benchmarks (codec, balancer, forwarding), then rjk-node against Tomcat 10 through
# Debian's mod_jk (alternating runs, medians; node/bench/vs-tomcat.sh). Numbers are machine-dependent: compare
# runs made in one session, alternating A/B, and quote medians.
bench:
	$(CARGO) bench --workspace
	node/bench/vs-tomcat.sh
	bench/side-by-side.sh
	bench/cost.sh
	node/bench/cluster.sh
	node/bench/redis.sh
	bench/nginx.sh

# Install mod_rjk.so into httpd's module directory and a Debian-style rjk.load/rjk.conf pair
# (mods-available). Existing rjk.load/rjk.conf are never overwritten. Enable with:
#   a2dismod jk; a2enmod rjk; apache2ctl configtest && systemctl reload apache2
APXS     ?= apxs
MODDIR   := $(shell $(APXS) -q LIBEXECDIR 2>/dev/null || echo /usr/lib/apache2/modules)
CONFDIR  ?= /etc/apache2/mods-available
# The nginx module goes into nginx's module directory with a Debian-style mod-http-rjk.conf
# (modules-available, never overwritten). Enable with:
#   ln -s /usr/share/nginx/modules-available/mod-http-rjk.conf /etc/nginx/modules-enabled/50-mod-http-rjk.conf
NGX_MODDIR  ?= /usr/lib/nginx/modules
NGX_CONFDIR ?= /usr/share/nginx/modules-available
install: nginx-src
	$(CARGO) build --release -p mod_rjk -p rjk-cli -p ngx_module
	$(SUDO) install -D -m 0644 target/release/libmod_rjk.so $(DESTDIR)$(MODDIR)/mod_rjk.so
	$(SUDO) install -D -m 0644 target/release/libngx_http_rjk_module.so $(DESTDIR)$(NGX_MODDIR)/ngx_http_rjk_module.so
	@if [ -e $(DESTDIR)$(NGX_CONFDIR)/mod-http-rjk.conf ]; then echo "kept existing $(DESTDIR)$(NGX_CONFDIR)/mod-http-rjk.conf"; \
	else $(SUDO) install -D -m 0644 packaging/nginx/mod-http-rjk.conf $(DESTDIR)$(NGX_CONFDIR)/mod-http-rjk.conf && echo "installed $(DESTDIR)$(NGX_CONFDIR)/mod-http-rjk.conf"; fi
	$(SUDO) install -D -m 0755 target/release/rjk $(DESTDIR)/usr/local/bin/rjk
	@for f in rjk.load rjk.conf; do \
	  if [ -e $(DESTDIR)$(CONFDIR)/$$f ]; then echo "kept existing $(DESTDIR)$(CONFDIR)/$$f"; \
	  else $(SUDO) install -D -m 0644 packaging/apache2/$$f $(DESTDIR)$(CONFDIR)/$$f && echo "installed $(DESTDIR)$(CONFDIR)/$$f"; fi; \
	done

# Debian packages from release builds:
# target/debian/{libapache2-mod-rjk,libnginx-mod-http-rjk,rjk-node,rjk-tools}_VERSION_amd64.deb
# (plus -dbgsym), version from Cargo.toml. Lintian errors fail the build. Install with
#   apt install ./target/debian/libapache2-mod-rjk_*.deb ./target/debian/rjk-tools_*.deb
deb: deps nginx-src
	$(CARGO) build --release -p mod_rjk -p ngx_module -p rjk-cli -p rjk-node -p rjk-package-docs
	packaging/build-deb.sh --profile release --out target/debian
	lintian --fail-on error target/debian/*.deb

# A running cluster to look at: three rjk-nodes (domains A and B) behind a private apache2 with
# mod_rjk on 127.0.0.1:$(or $(PORT),8080). Prints the URLs; `make demo-stop` stops what it started.
demo: deps
	demo/demo.sh start

demo-stop:
	demo/demo.sh stop
