#!/usr/bin/env bash
# clang-tidy over src/ with the checks in .clang-tidy (every enabled check is an error).
#
#   scripts/lint.sh                   every src/ .cpp file (what `make lint` runs)
#   scripts/lint.sh --changed [BASE]  only what changed between BASE and the working tree
#                                     (committed, staged, unstaged and untracked src/ files)
#   scripts/lint.sh FILE...           these src/ files
#
# --changed lints the changed src/ .cpp files, and for each changed src/ .hpp the .cpp of the
# same name and every src/ .cpp that includes it directly. BASE defaults to $LINT_BASE; without
# it, to the newest commit older than 24 hours (so a CI run on a fresh clone, which has no
# upstream branch to compare with, lints what the last day changed); if there is none (all of
# the history is younger, or a shallow clone), HEAD~1; if that does not exist either, everything.
#
# Uses the release build's compile database (build/release/compile_commands.json; `make
# configure` writes it when it is missing). clang-tidy cannot read GCC's precompiled header nor
# knows GCC-only warning flags, so it gets a copy without the PCH flags and with
# -Wno-unknown-warning-option: build/lint/compile_commands.json. Files run in parallel
# (LINT_JOBS, default: nproc); CLANG_TIDY picks the binary (default clang-tidy); LINT_DRY_RUN=1
# only prints the files it would lint.
#
# Exit status: 0 clean, 1 findings (or a file clang-tidy could not compile), 2 usage error.
set -euo pipefail
caller_dir=$PWD
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/.."
root=$PWD
tidy=${CLANG_TIDY:-clang-tidy}
jobs=${LINT_JOBS:-$(nproc)}
release_db=build/release/compile_commands.json
lint_dir=build/lint
# Not linted:
# - src/core/boost_impl.cpp compiles Asio, Asio SSL and Beast (separate compilation) and nothing
#   of ours: only library code, whose diagnostics are all dropped as system headers (~12 s).
# (clang 14 cannot capture structured bindings implicitly, which C++20 and GCC allow: a lambda
# names them, `[&, &key = key, &c = c](StatementUse& s)`, or clang-tidy cannot parse the file.)
skip_re='^src/core/boost_impl\.cpp$'

usage() { sed -n '2,7p' "$self" | sed 's/^# \{0,1\}//' >&2; exit 2; }

default_base() {
  if [ -n "${LINT_BASE:-}" ]; then echo "$LINT_BASE"; return; fi
  local b
  b=$(git rev-list -1 --before='24 hours ago' HEAD 2>/dev/null || true)
  if [ -n "$b" ]; then echo "$b"; return; fi
  git rev-parse -q --verify 'HEAD~1^{commit}' 2>/dev/null || true
}

all_files() {
  git ls-files --cached --others --exclude-standard -- 'src/*.cpp' | grep -Ev "$skip_re" |
    while read -r f; do [ -f "$f" ] && echo "$f"; done || true
}

changed_files() {
  local base=$1 f stem
  {
    git diff --name-only --diff-filter=d "$base" -- 'src/*.cpp' 'src/*.hpp'
    git ls-files --others --exclude-standard -- 'src/*.cpp' 'src/*.hpp'
  } | sort -u | while read -r f; do
    [ -f "$f" ] || continue
    case $f in
      *.cpp) echo "$f" ;;
      *.hpp)
        stem=${f%.hpp}
        [ -f "$stem.cpp" ] && echo "$stem.cpp"
        # Its includers: the code includes project headers as "dir/name.hpp", relative to src/.
        git ls-files --cached --others --exclude-standard -- 'src/*.cpp' |
          xargs -r grep -lF "#include \"${f#src/}\"" || true
        ;;
    esac
  done | grep -Ev "$skip_re" | sort -u || true
}

files=()
case ${1:-} in
  -h|--help) usage ;;
  --changed)
    base=${2:-$(default_base)}
    [ $# -le 2 ] || usage
    if [ -z "$base" ]; then
      echo "lint: no base commit to compare with: linting every file"
      mapfile -t files < <(all_files)
    else
      base_commit=$(git rev-parse -q --verify "$base^{commit}") ||
        { echo "lint: not a commit: $base" >&2; exit 2; }
      echo "lint: files changed since $(git log -1 --format='%h %cd (%s)' --date=relative "$base_commit" | cut -c1-100)"
      mapfile -t files < <(changed_files "$base_commit")
    fi ;;
  -*) usage ;;
  '') mapfile -t files < <(all_files) ;;
  *)
    for a in "$@"; do
      r=$(cd "$caller_dir" && realpath -e --relative-to="$root" -- "$a" 2>/dev/null) ||
        { echo "lint: no such file: $a" >&2; exit 2; }
      files+=("$r")
    done ;;
esac
if [ ${#files[@]} -eq 0 ]; then
  echo "lint: no src/ files to lint"
  exit 0
fi
if [ -n "${LINT_DRY_RUN:-}" ]; then
  printf '%s\n' "${files[@]}"
  exit 0
fi
command -v "$tidy" >/dev/null || { echo "lint: $tidy not found (scripts/deps.sh installs it)" >&2; exit 2; }

# The compile database: configured if missing, or again if it lacks a file (added since).
for f in "${files[@]}"; do
  if [ ! -f "$release_db" ] || ! grep -qF "\"file\": \"$root/$f\"" "$release_db"; then
    echo "lint: configuring the release build for its compile database (make configure)"
    make --no-print-directory configure
    break
  fi
done
# Headers generated at build time (store/pg_sql.hpp from src/store/sql/pg/*.sql) must exist
# before clang-tidy reads the files that include them; a fresh clone has not built them yet.
cmake --build build/release --target pg_sql_generated >/dev/null
mkdir -p "$lint_dir"
sed -e 's| -Winvalid-pch||; s| -include [^ ]*/cmake_pch\.hxx||' \
    -e 's|\("command": "[^ ]*\) |\1 -Wno-unknown-warning-option |' \
    "$release_db" > "$lint_dir/compile_commands.json.tmp"
mv "$lint_dir/compile_commands.json.tmp" "$lint_dir/compile_commands.json"

logs=$lint_dir/logs
rm -rf "$logs"
mkdir -p "$logs"
echo "lint: clang-tidy on ${#files[@]} file(s), $jobs at a time"
start=$(date +%s)
# One log per file: clang-tidy's output, then a last line "@@lint STATUS SECONDS".
# shellcheck disable=SC2016 # the sh -c script expands its own arguments
printf '%s\n' "${files[@]}" | xargs -P "$jobs" -I{} sh -c '
  log=$2/$(printf %s "$1" | tr / _).log
  t0=$(date +%s%N)
  "$3" -p "$4" --quiet "$1" >"$log" 2>&1 && rc=0 || rc=$?
  s=$(( ($(date +%s%N) - t0) / 100000000 ))
  s="$((s / 10)).$((s % 10))"
  echo "@@lint $rc $s" >>"$log"
  if [ "$rc" -eq 0 ]; then st=ok; else st=FAIL; fi
  printf "  %-4s %6ss  %s\n" "$st" "$s" "$1"
' sh {} "$logs" "$tidy" "$lint_dir" || true
elapsed=$(( $(date +%s) - start ))

diag='^[^ ]+:[0-9]+:[0-9]+: (warning|error): '
# Logs with something to show: a finding, or a non-zero status.
mapfile -t bad < <(grep -lE "$diag|^@@lint [^0]" "$logs"/*.log || true)
if [ ${#bad[@]} -eq 0 ]; then
  echo "lint: clean (${#files[@]} files, ${elapsed}s)"
  exit 0
fi
echo
echo "== clang-tidy output"
for l in "${bad[@]}"; do
  grep -vE '^@@lint |^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Error while processing ' "$l" |
    sed "s|$root/||g; s|,-warnings-as-errors\]|]|"
done
# Findings, each once (a header's are reported by every file that includes it).
findings=$(cat "${bad[@]}" | grep -E "$diag" | sed "s|^$root/||; s|,-warnings-as-errors\]|]|" | sort -u || true)
echo
echo "== lint summary: ${#files[@]} files in ${elapsed}s"
if [ -n "$findings" ]; then
  echo "$(printf '%s\n' "$findings" | wc -l) finding(s), by check:"
  printf '%s\n' "$findings" | grep -oE '\[[^] ]+\]$' | sort | uniq -c | sort -rn | sed 's/^/  /'
  echo "findings:"
  printf '%s\n' "$findings" | sed 's/^/  /'
fi
for l in "${bad[@]}"; do
  grep -qE "$diag" "$l" || echo "clang-tidy failed without a finding on $(basename "$l" .log) (output above)"
done
exit 1
