#!/usr/bin/env bash
# The dependency check: fails, naming them, when the build or the test tools used a Debian
# package that scripts/deps.sh neither names nor pulls in (as a Depends/Pre-Depends of a package
# it names). A fresh machine lacks such a package even when this one has it from an earlier,
# hand-made install: every CI run once passed while `make run` failed on a new machine for want
# of libboost-json1.81-dev.
#
#   scripts/check-deps.sh [BUILD_DIR]     (default build/release; run after the build)
#
# What counts as used:
#   - every file the compiler read, from Ninja's record of the compiler's dependency files
#     (`ninja -t deps`: headers of Boost, spdlog, GoogleTest, libc, libstdc++ …);
#   - the CMake package files the configure step loaded (each <Pkg>_DIR in CMakeCache.txt) and
#     the libraries, include directories and programs CMake found (FILEPATH/PATH cache entries);
#   - the libraries and link inputs named in build.ninja (absolute paths);
#   - the programs the test and bench scripts run (TOOLS below), resolved on PATH.
# Each file is mapped to its package through dpkg's file lists (what `dpkg -S` reads). Files of
# no package (under /usr/local, a home directory) are reported too: a fresh machine lacks them.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
[ -d "$BUILD" ] || { echo "check-deps: $BUILD is missing: build first (make build-all)" >&2; exit 2; }
BUILD=$(cd "$BUILD" && pwd)
[ -f "$BUILD/CMakeCache.txt" ] || { echo "check-deps: $BUILD/CMakeCache.txt is missing: configure first" >&2; exit 2; }

# Programs that `make test` and `make bench` run (besides the compiler CMake found).
TOOLS=(cmake ninja ccache git node npm chromium redis-server redis-cli promtool sqlite3 curl
       wrk nginx perf clang-format clang-tidy pgrep setsid timeout)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/voicegate-check-deps.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# 1. The files the build used, one absolute path a line.
{
  ninja -C "$BUILD" -t deps | awk '/^ +\// { print $1 }'
  sed -n 's/^[A-Za-z0-9_]*_DIR:PATH=\(\/.*\)$/\1/p' "$BUILD/CMakeCache.txt" | while read -r d; do
    [ -d "$d" ] && find "$d" -maxdepth 1 -type f -name '*.cmake'
  done
  sed -n 's/^[A-Za-z0-9_]*:\(FILE\)\{0,1\}PATH=\(\/.*\)$/\2/p' "$BUILD/CMakeCache.txt"
  grep -oE '(^| )/[^ :$]+\.(so|a)(\.[0-9.]+)?' "$BUILD/build.ninja" | tr -d ' '
  PATH="$PATH:/usr/sbin:/sbin"
  for t in "${TOOLS[@]}"; do
    p=$(command -v "$t" 2>/dev/null) || { echo "MISSING-TOOL $t"; continue; }
    echo "$p"
  done
  ls -d /usr/lib/postgresql/*/bin/initdb /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null || echo "MISSING-TOOL initdb"
} | sort -u >"$WORK/used.raw"

if grep -q '^MISSING-TOOL' "$WORK/used.raw"; then
  echo "check-deps: these programs are not installed: $(sed -n 's/^MISSING-TOOL //p' "$WORK/used.raw" | tr '\n' ' ')" >&2
  echo "check-deps: run scripts/deps.sh (and add their packages to it if it does not install them)" >&2
  exit 1
fi

# Keep files outside the checkout and the build tree, and every name they go by (the path as
# used, its resolved target, each without the /usr prefix of a merged-/usr system).
grep -vE "^($ROOT|$BUILD|/tmp|/proc)/" "$WORK/used.raw" | while read -r f; do
  if [ -f "$f" ]; then echo "$f"; fi
done >"$WORK/used.files"
realpath -m $(cat "$WORK/used.files") | paste "$WORK/used.files" - |
  awk -F'\t' '{ print $1 "\t" $1; if ($2 != $1) print $1 "\t" $2 }' |
  awk -F'\t' '{ n = $2; sub(/^\/usr\//, "/", n); print $1 "\t" n }' >"$WORK/used.names"

# 2. Owner of each name, from dpkg's file lists (all at once: one dpkg -S per header is slow).
awk -F'\t' '
  FNR == NR { want[$2] = 1; next }
  {
    n = $0; sub(/^\/usr\//, "/", n)
    if (n in want) {
      pkg = FILENAME; sub(/^.*\//, "", pkg); sub(/\.list$/, "", pkg); sub(/:.*$/, "", pkg)
      print n "\t" pkg
    }
  }' "$WORK/used.names" /var/lib/dpkg/info/*.list | sort -u >"$WORK/owners"
# file -> packages (a file can be owned through either of its names)
awk -F'\t' '
  FNR == NR { owners[$1] = owners[$1] " " $2; next }
  { if ($2 in owners) got[$1] = got[$1] owners[$2]; seen[$1] = 1 }
  END { for (f in seen) print f "\t" got[f] }' "$WORK/owners" "$WORK/used.names" | sort >"$WORK/file_pkgs"

# 3. The packages deps.sh names (and the Essential ones), and everything they pull in (Depends, Pre-Depends; virtual
# packages through the installed packages that provide them; every installed alternative).
"$ROOT/scripts/deps.sh" --list | sort -u >"$WORK/named"
dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Depends}, ${Pre-Depends}\t${Provides}\t${Essential}\n' |
  awk -F'\t' '$1 ~ /^ii/' | cut -f2- >"$WORK/installed"
# Essential packages (coreutils, util-linux, dpkg …) are on every Debian system by definition.
awk -F'\t' '$4 == "yes" { print $1 }' "$WORK/installed" >>"$WORK/named"
awk -F'\t' '
  function strip(s) { gsub(/\([^)]*\)/, "", s); gsub(/:[a-z0-9]+/, "", s); gsub(/[ \t]/, "", s); return s }
  FNR == NR { named[$1] = 1; next }
  {
    pkg = $1; inst[pkg] = 1; deps[pkg] = $2
    np = split($3, pv, ",")
    for (i = 1; i <= np; i++) { v = strip(pv[i]); if (v != "") prov[v] = prov[v] " " pkg }
  }
  END {
    n = 0
    for (p in named) if (p in inst) { inc[p] = 1; queue[n++] = p }
    for (q = 0; q < n; q++) {
      nd = split(deps[queue[q]], d, ",")
      for (i = 1; i <= nd; i++) {
        na = split(d[i], alt, "|")
        for (j = 1; j <= na; j++) {
          a = strip(alt[j]); if (a == "") continue
          cands = (a in inst) ? a : ""
          if (a in prov) cands = cands prov[a]
          nc = split(cands, c, " ")
          for (k = 1; k <= nc; k++) if (c[k] != "" && !(c[k] in inc)) { inc[c[k]] = 1; queue[n++] = c[k] }
        }
      }
    }
    for (p in inc) print p
  }' "$WORK/named" "$WORK/installed" | sort -u >"$WORK/closure"

# 4. Verdict.
awk -F'\t' '
  FNR == NR { ok[$1] = 1; next }
  {
    n = split($2, ps, " "); good = 0; cand = ""
    for (i = 1; i <= n; i++) { if (ps[i] in ok) good = 1; cand = ps[i] }
    if (n == 0) print "NOPKG\t" $1
    else if (!good) print cand "\t" $1
  }' "$WORK/closure" "$WORK/file_pkgs" | sort >"$WORK/bad"

used_pkgs=$(cut -f2 "$WORK/file_pkgs" | tr ' ' '\n' | sed '/^$/d' | sort -u | wc -l)
files=$(wc -l <"$WORK/file_pkgs")
if [ ! -s "$WORK/bad" ]; then
  echo "check-deps: ok: $files files from $used_pkgs Debian packages, each installed by scripts/deps.sh or a dependency of a package it names"
  exit 0
fi
if grep -qv '^NOPKG' "$WORK/bad"; then
  echo "check-deps: FAILED: the build or the tests use these Debian packages, which scripts/deps.sh does not install:" >&2
  grep -v '^NOPKG' "$WORK/bad" | awk -F'\t' '
    { c[$1]++; if (!($1 in ex)) ex[$1] = $2 }
    END { for (p in c) printf "  %-32s %d file(s), e.g. %s\n", p, c[p], ex[p] }' | sort >&2
  echo "check-deps: add them to PKGS in scripts/deps.sh (a fresh machine does not have them)" >&2
fi
if grep -q '^NOPKG' "$WORK/bad"; then
  echo "check-deps: FAILED: the build or the tests use files that no Debian package installed (a fresh machine lacks them):" >&2
  grep '^NOPKG' "$WORK/bad" | cut -f2 | head -20 | sed 's/^/  /' >&2
fi
exit 1
