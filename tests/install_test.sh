#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# cmake --install into a temporary prefix, then build a program against the
# installed locus twice: with pkg-config and with find_package(locus).
# liblocus.so exports only locus_* symbols and holds no daemon code (nm),
# and needs no libhdf5 (readelf -d, ldd).
# No installed file names the build or source tree (strings), every program
# has its man page, locus.pc needs no other package, and with the build
# tree moved away the installed locus-cluster still finds its daemons.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
# a sanitized liblocus needs sanitized programs (its sanitizer's runtime
# first): $2 is the build's -fsanitize flag, empty in a normal build
san=${2:-}
prefix=$(mktemp -d /tmp/locus-install-XXXXXX)
moved=""
cleanup() {
  # the build tree comes back whatever happened
  if [ -n "$moved" ] && [ -d "$moved" ]; then mv "$moved" "$build"; fi
  if [ -n "${cdir:-}" ]; then
    "$prefix/bin/locus-cluster" stop --dir "$cdir" >/dev/null 2>&1 || true
  fi
  rm -rf "$prefix"
}
trap cleanup EXIT
fail() { echo "install: $*"; echo "0 passed, 1 failed"; exit 1; }
cmake --install "$build" --prefix "$prefix" >/dev/null
test -f "$prefix/include/locus.h"
test -f "$prefix/lib/pkgconfig/locus.pc" -o -f "$prefix/lib/x86_64-linux-gnu/pkgconfig/locus.pc"
test -x "$prefix/bin/locus-worker"
test -x "$prefix/bin/locus-launch"

# no build or source path in any installed file
while IFS= read -r -d '' f; do
  if strings -a "$f" | grep -qF -e "$build" -e "$src/"; then
    strings -a "$f" | grep -F -e "$build" -e "$src/" | head -3
    fail "$f names the build or source tree"
  fi
done < <(find "$prefix" -type f -print0)

# a man page for every program
for p in "$prefix"/bin/locus-*; do
  n=$(basename "$p")
  test -f "$prefix/share/man/man1/$n.1" || fail "no man page for $n"
  if command -v man >/dev/null; then
    MANWIDTH=80 man -l "$prefix/share/man/man1/$n.1" 2>&1 >/dev/null | grep . &&
      fail "man page of $n has warnings"
  fi
done

mkdir "$prefix/app"
cat > "$prefix/app/main.c" <<'C'
#include <locus.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    locus_client *c;
    int rc = locus_connect("/nonexistent/scheduler.json", NULL, &c);
    if (rc != LOCUS_ENOENT || !strstr(locus_last_error(), "/nonexistent")) {
        fprintf(stderr, "unexpected: %d %s\n", rc, locus_last_error());
        return 1;
    }
    printf("locus %s: %s\n", locus_version(), locus_strerror(rc));
    return 0;
}
C
pcdir=$(dirname "$(find "$prefix" -name locus.pc | head -1)")
# only locus itself: no Requires that force -dev packages on every user
req=$(PKG_CONFIG_PATH=$pcdir pkg-config --print-requires --print-requires-private locus)
[ -z "$req" ] || fail "locus.pc requires other packages: $req"
# liblocus.so is the client: it exports locus_* only, holds no daemon
# code, and does not drag HDF5 in (neither NEEDED nor through a dependency)
lib=$(find "$prefix" -name 'liblocus.so*' -type f | head -1)
exported=$(nm -D --defined-only "$lib" | awk '{print $NF}' | grep -v '^locus_' |
  grep -v -e '^_init$' -e '^_fini$' -e '^_edata$' -e '^_end$' -e '^__bss_start$' || true)
[ -z "$exported" ] ||
  fail "liblocus.so exports non-locus_ symbols: $(echo $exported | head -c 300)"
nm -D --defined-only "$lib" | grep -q ' locus_connect$' ||
  fail "nm -D shows no locus_connect in $lib (nm broken?)"
# the daemons' entry points must not be in the client library at all (the
# symbol table, where the library is not stripped, else the dynamic one)
syms=$(nm "$lib" 2>/dev/null | grep -q ' T ' && nm "$lib" || nm -D "$lib")
daemon=$(echo "$syms" | awk '$2 ~ /^[TtDdBbRr]$/ {print $3}' |
  grep -E '^(sched_[a-z_]+|worker_run|worker_resolve|worker_on_[a-z_]+|dash_[a-z_]+|h5_builtin|h5_tasks_register|array_builtin|array_tasks_register|bench_[a-z_0-9]+)$' || true)
[ -z "$daemon" ] ||
  fail "liblocus.so holds daemon code (link it into locus_core only): $(echo $daemon | head -c 300)"
readelf -d "$lib" | grep NEEDED | grep -qi hdf5 &&
  fail "liblocus.so has libhdf5 as NEEDED (readelf -d)"
ldd "$lib" | grep -q hdf5 && fail "liblocus.so links libhdf5 (ldd)"
# shellcheck disable=SC2046
cc -std=c11 $san -o "$prefix/app/pc" "$prefix/app/main.c" \
   $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs locus)
libdir=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=libdir locus)
LD_LIBRARY_PATH=$libdir "$prefix/app/pc"

cat > "$prefix/app/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.20)
project(app C)
find_package(locus REQUIRED)
add_executable(app main.c)
target_link_libraries(app PRIVATE locus::locus)
CM
cmake -S "$prefix/app" -B "$prefix/app/build" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_C_FLAGS="$san" >/dev/null
cmake --build "$prefix/app/build" >/dev/null
"$prefix/app/build/app"

# the installed tools with the build tree gone
moved=$build.moved-$$
mv "$build" "$moved"
cdir=$prefix/cluster
sched=$(timeout 60 "$prefix/bin/locus-cluster" start -n 2 --nthreads 1 --dir "$cdir") ||
  fail "installed locus-cluster start failed (build tree moved away)"
grep -q '"net_host":"127.0.0.1:[0-9]*"' "$sched" || fail "no net_host in $sched"
out=$(timeout 30 "$prefix/bin/locus-cluster" status --scheduler-file "$sched")
echo "$out"
echo "$out" | grep -q '^2 workers$' || fail "status does not show 2 workers"
echo "$out" | grep -q "^scheduler 127.0.0.1:[0-9]* (job local-" || fail "status shows no host:port"
# the daemons that ran are the installed ones
for pid in $(awk '{print $2}' "$cdir/cluster.pids"); do
  exe=$(readlink "/proc/$pid/exe")
  case $exe in "$prefix"/bin/*) ;; *) fail "pid $pid runs $exe, not from $prefix/bin" ;; esac
done
timeout 30 "$prefix/bin/locus-cluster" stop --dir "$cdir" || fail "stop failed"
cdir=""
mv "$moved" "$build"
moved=""
echo "1 passed, 0 failed"
