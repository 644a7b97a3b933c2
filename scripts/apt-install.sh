#!/usr/bin/env bash
# Install Debian packages for the project's scripts (system-deps.sh, postgres.sh), as root or
# through passwordless sudo; says what is missing and exits 1 when it can do neither.
#   scripts/apt-install.sh WHY PACKAGE...
set -euo pipefail
why="$1"; shift
if [[ $(id -u) -eq 0 ]]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo -n)
else
    echo "apt-install: $* missing (for $why) and no root or sudo to install them;" >&2
    echo "  install them with: apt-get install $*" >&2
    exit 1
fi
echo "apt-install: installing $* (Debian) for $why" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
