#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Every C file of the tree is formatted with the checked-in .clang-format.
#   tests/format_check.sh SOURCE_DIR
set -euo pipefail
cd "$1"
if ! command -v clang-format >/dev/null; then
  echo "format_check: clang-format is missing (tools/install-deps.sh installs it)" >&2
  exit 1
fi
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find include runtime transport tests tools examples -name '*.[ch]')
bad=$(printf '%s\n' $files | xargs clang-format --dry-run 2>&1 | grep 'warning:' | cut -d: -f1 | sort -u || true)
if [ -n "$bad" ]; then
  echo "format_check: these files differ from .clang-format; run" >&2
  echo "  git ls-files '*.c' '*.h' | xargs clang-format -i" >&2
  printf '  %s\n' $bad >&2
  exit 1
fi
echo "format_check: $(printf '%s\n' $files | wc -l) files formatted"
