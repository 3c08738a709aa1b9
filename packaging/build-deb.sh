#!/bin/sh
# Build the Debian packages (libapache2-mod-rjk, libnginx-mod-http-rjk, rjk-node, rjk-tools) from
# binaries cargo has already built, with debhelper: stage them next to a copy of packaging/debian/
# and run `debian/rules binary`. `make deb` uses the release build; the package test uses the debug
# build it already has (the packaging is the same, only the binaries differ).
#
#   packaging/build-deb.sh [--profile release|debug] [--out DIR] [--version V]
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
profile=release
out=$target/debian
version=$(awk '/^\[workspace\.package\]/ { w = 1; next } /^\[/ { w = 0 }
	w && /^version *=/ { gsub(/^[^"]*"|".*$/, ""); print; exit }' "$root/Cargo.toml")

while [ $# -gt 0 ]; do
	case "$1" in
	--profile) profile=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--version) version=$2; shift 2 ;;
	*) echo "build-deb.sh: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
	esac
done

bin=$target/$profile
# The document generator is not shipped: any build of it renders the same pages.
docs=$target/$profile/rjk-package-docs
[ -x "$docs" ] || docs=$target/debug/rjk-package-docs
for f in "$bin/libmod_rjk.so" "$bin/libngx_http_rjk_module.so" "$bin/rjk" "$bin/rjk-node" "$docs"; do
	if [ ! -e "$f" ]; then
		echo "build-deb.sh: $f is missing: build it first (make deb does)" >&2
		exit 1
	fi
done
[ -n "$version" ] || { echo "build-deb.sh: no version in $root/Cargo.toml [workspace.package]" >&2; exit 1; }

mkdir -p "$out" "$target"
out=$(cd "$out" && pwd)
stage=$(mktemp -d "$target/deb-stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

cp -r "$root/packaging/debian" "$stage/debian"
mkdir -p "$stage/staged/man"
cp "$bin/libmod_rjk.so" "$stage/staged/mod_rjk.so"
cp "$bin/rjk" "$bin/rjk-node" "$stage/staged/"
cp "$bin/libngx_http_rjk_module.so" "$stage/staged/ngx_http_rjk_module.so"
cp "$root/packaging/apache2/rjk.load" "$root/packaging/apache2/rjk.conf" "$stage/staged/"
cp "$root/packaging/nginx/mod-http-rjk.conf" "$stage/staged/"
cp "$root/workers.properties.example" "$stage/staged/workers.properties"
cp "$root/README.md" "$stage/staged/"
"$docs" "$stage/staged/man"
mv "$stage/staged/man/rjk-node.default" "$stage/debian/rjk-node.default"

# The changelog carries the version; its date is the commit's, so rebuilding a commit gives
# the same package metadata.
date=$(git -C "$root" log -1 --format=%cD 2>/dev/null || date -R)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
cat > "$stage/debian/changelog" <<END
rjk ($version) unstable; urgency=medium

  * Built from the rjk repository at commit $commit ($profile build).

 -- rjk maintainers <maintainers@users.noreply.h-seed-cd374df6.example>  $date
END

# Debug builds carry hundreds of MB of DWARF: no -dbgsym packages from them.
[ "$profile" = release ] || export DEB_BUILD_OPTIONS="noautodbgsym ${DEB_BUILD_OPTIONS:-}"
(cd "$stage" && DEB_DESTDIR="$out" debian/rules binary)
ls "$out"/*_"$version"_*.deb
