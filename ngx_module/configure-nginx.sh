#!/bin/sh
# Prepare the configured nginx source tree the nginx module's bindings are generated from
# (nginx-sys reads objs/Makefile and objs/ngx_auto_config.h; no nginx .c file is compiled).
# Debian's nginx-dev ships the headers and configure script; configuring a copy with Debian's
# ABI flags (conf_flags, which include --with-compat) gives the module the exact signature of
# /usr/sbin/nginx, so `load_module` accepts it.
#
# usage: configure-nginx.sh DIR   (DIR is replaced; build/nginx-src in the Makefile)
set -eu
dir=${1:?usage: configure-nginx.sh DIR}
src=/usr/share/nginx/src
if [ ! -f "$src/conf_flags" ] || [ ! -x "$src/configure" ]; then
    echo "configure-nginx.sh: $src is missing: install Debian's nginx-dev (make deps)" >&2
    exit 1
fi
rm -rf "$dir.tmp"
mkdir -p "$(dirname "$dir")"
cp -r "$src" "$dir.tmp"
cd "$dir.tmp"
# conf_flags is a bash array NGX_CONF_FLAGS=( ... ); read it into "$@" in POSIX sh.
eval "$(sed -n 's/^NGX_CONF_FLAGS=(\(.*\))$/set -- \1/p' conf_flags)"
if [ "$#" -eq 0 ]; then
    echo "configure-nginx.sh: no NGX_CONF_FLAGS in $src/conf_flags" >&2
    exit 1
fi
./configure "$@" \
    --with-cc-opt='-g -O2 -fstack-protector-strong -Wformat -Werror=format-security -fPIC -Wdate-time -D_FORTIFY_SOURCE=2' \
    --with-ld-opt='-Wl,-z,relro -Wl,-z,now -fPIC' >configure.log 2>&1 || {
    echo "configure-nginx.sh: nginx's configure failed; see $dir.tmp/configure.log" >&2
    exit 1
}
cd - >/dev/null
rm -rf "$dir"
mv "$dir.tmp" "$dir"
echo "configured $dir for $(/usr/sbin/nginx -v 2>&1 | sed 's/^nginx version: //')"
