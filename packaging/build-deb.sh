#!/usr/bin/env bash
# Build the Debian binary package of beanstalkd from this source tree.
#
#   packaging/build-deb.sh [--install-deps] [--sync-version] [OUTDIR]
#
# Copies the source tree (files known to git, or everything but build output
# when git is unavailable) into a temporary directory, puts packaging/debian
# there as debian/, runs "dpkg-buildpackage -us -uc -b", and moves the .deb
# (with its .buildinfo and .changes) into OUTDIR (default: build/deb).
#
# The package version must equal the project version in the top-level
# CMakeLists.txt, project(beanstalkd VERSION x.y.z); so must the version in
# the man page's .TH line. The script stops if they differ.
#   --sync-version  first rewrite packaging/debian/changelog (new entry) and
#                   man/beanstalkd.1 (.TH line) to the project version.
#   --install-deps  install the build dependencies with apt-get (needs root).
# Environment: KEEP_TMP=1 keeps the temporary build directory.
set -euo pipefail

die() { echo "build-deb.sh: $*" >&2; exit 1; }

install_deps=0
sync_version=0
outdir=""
while [ $# -gt 0 ]; do
    case "$1" in
        --install-deps) install_deps=1 ;;
        --sync-version) sync_version=1 ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1 (try --help)" ;;
        *) [ -z "$outdir" ] || die "only one OUTDIR, please"; outdir=$1 ;;
    esac
    shift
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
outdir=${outdir:-$root/build/deb}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

changelog=$root/packaging/debian/changelog
manpage=$root/man/beanstalkd.1

# --- versions --------------------------------------------------------------
version=$(sed -n 's/^[[:space:]]*project([[:space:]]*beanstalkd[[:space:]]\{1,\}VERSION[[:space:]]\{1,\}\([0-9][0-9.]*\).*/\1/p' \
    "$root/CMakeLists.txt" | head -n 1)
[ -n "$version" ] || die "cannot find project(beanstalkd VERSION x.y.z) in $root/CMakeLists.txt"

pkg=$(sed -n 's/^Source:[[:space:]]*//p' "$root/packaging/debian/control")
changelog_version() { sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$changelog"; }
man_version() { sed -n 's/^\.TH .*"beanstalkd \([^"]*\)".*/\1/p' "$manpage" | head -n 1; }

if [ "$sync_version" = 1 ]; then
    if [ "$(changelog_version)" != "$version" ]; then
        maint=$(sed -n 's/^Maintainer:[[:space:]]*//p' "$root/packaging/debian/control")
        tmp=$(mktemp)
        {
            printf '%s (%s) unstable; urgency=medium\n\n' "$pkg" "$version"
            printf '  * New version %s.\n\n' "$version"
            printf ' -- %s  %s\n\n' "$maint" "$(date -R)"
            cat "$changelog"
        } >"$tmp"
        cat "$tmp" >"$changelog"
        rm -f "$tmp"
        echo "build-deb.sh: added a changelog entry for $version"
    fi
    if [ "$(man_version)" != "$version" ]; then
        sed -i "s/^\(\.TH BEANSTALKD 1 \)[^ ]* \"beanstalkd [^\"]*\"/\1$(date -u +%F) \"beanstalkd $version\"/" "$manpage"
        echo "build-deb.sh: set the man page version to $version"
    fi
fi

deb_version=$(changelog_version)
upstream=${deb_version#*:}      # drop an epoch
upstream=${upstream%-*}         # drop a Debian revision
[ "$upstream" = "$version" ] || die "packaging/debian/changelog is at $deb_version but CMakeLists.txt says $version; add a changelog entry (or run with --sync-version)"
[ "$(man_version)" = "$version" ] || die "man/beanstalkd.1 says version '$(man_version)' but CMakeLists.txt says $version; fix its .TH line (or run with --sync-version)"

# --- tools and build dependencies -----------------------------------------
if [ "$install_deps" = 1 ]; then
    [ "$(id -u)" = 0 ] || die "--install-deps needs root"
    export DEBIAN_FRONTEND=noninteractive
    apt_install() { apt-get install -y -q --no-install-recommends "$@"; }
    apt_install dpkg-dev debhelper fakeroot build-essential \
        || { apt-get update -q && apt_install dpkg-dev debhelper fakeroot build-essential; }
fi
command -v dpkg-buildpackage >/dev/null || die "dpkg-buildpackage not found: apt-get install dpkg-dev debhelper (or use --install-deps)"

# --- copy the source tree ---------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/beanstalkd-deb.XXXXXX")
cleanup() { if [ "${KEEP_TMP:-0}" = 1 ]; then echo "build-deb.sh: kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
src=$work/$pkg-$version
mkdir -p "$src"

if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked files plus new files not yet committed, minus ignored ones
    # (build/, debian/, ...) and files deleted from the work tree.
    (cd "$root" && git ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' f; do if [ -f "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi; done \
        | tar --null --no-recursion -T - -cf -) | tar -xf - -C "$src"
else
    (cd "$root" && tar --exclude=./build --exclude='./build-*' --exclude=./.git \
        --exclude=./debian --exclude='./obj-*' -cf - .) | tar -xf - -C "$src"
fi
rm -rf "$src/debian"
cp -a "$root/packaging/debian" "$src/debian"

if [ "$install_deps" = 1 ]; then
    # apt-get build-dep reads Build-Depends (alternatives included) from debian/control.
    apt-get build-dep -y -q "$src" || { apt-get update -q && apt-get build-dep -y -q "$src"; }
fi

# --- build --------------------------------------------------------------------
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=$(nproc)}"
echo "build-deb.sh: building $pkg $deb_version in $src"
(cd "$src" && dpkg-buildpackage -us -uc -b)

shopt -s nullglob
debs=("$work"/*.deb)
[ ${#debs[@]} -gt 0 ] || die "dpkg-buildpackage produced no .deb"
for f in "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes; do
    mv -f "$f" "$outdir/"
done
for f in "${debs[@]}"; do
    echo "build-deb.sh: wrote $outdir/$(basename "$f")"
done
