#!/usr/bin/env bash
# cmake --install into a temporary prefix, then build a program against the
# installed locus twice: with pkg-config and with find_package(locus).
set -euo pipefail
build=$1
# a sanitized liblocus needs sanitized programs (the ASan runtime first)
san=""
[ "${2:-OFF}" = "ON" ] && san="-fsanitize=address,undefined"
prefix=$(mktemp -d /tmp/locus-install-XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
test -f "$prefix/include/locus.h"
test -f "$prefix/lib/pkgconfig/locus.pc" -o -f "$prefix/lib/x86_64-linux-gnu/pkgconfig/locus.pc"
test -x "$prefix/bin/locus-worker"

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
echo "1 passed, 0 failed"
