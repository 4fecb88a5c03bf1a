#!/bin/sh
# version.sh - the version of this tree, for `matter-pki --version`:
# `git describe` in a git checkout (the tag; without tags the VERSION file's
# number plus the commit), else the VERSION file (a release tarball made by
# `make dist` carries the full version there).
cd "$(dirname "$0")/.." || exit 1
base=$(cat VERSION 2>/dev/null || echo 0.0.0)
if [ -e .git ] && d=$(git describe --tags --dirty 2>/dev/null); then
    echo "${d#v}"
elif [ -e .git ] && h=$(git describe --always --dirty 2>/dev/null); then
    echo "$base-g$h"
else
    echo "$base"
fi
