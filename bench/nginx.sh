#!/bin/bash
# The nginx rows of bench/side-by-side.sh alone (nginx static, ngx_module, proxy_pass), in
# bench/nginx-results.md: the same script, so both tables are measured the same way.
here=$(cd "$(dirname "$0")/.." && pwd)
FLAVOURS="nginx_static ngx_rjk nginx_proxy" OUT=${OUT:-$here/bench/nginx-results.md} \
  exec "$here/bench/side-by-side.sh"
