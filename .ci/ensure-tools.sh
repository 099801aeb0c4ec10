#!/usr/bin/env bash
# Installs the external commands a suite runs when they are missing (Debian packages), so that
# a suite passes on a fresh machine and not only on one where someone installed them by hand.
# Idempotent: each command is checked first; `apt-get update` runs once, before the first
# install, and every missing package is installed in one `apt-get install`.
#
#   bash .ci/ensure-tools.sh SUITE...     the tools .ci/tools lists for those suites (and `*`)
#   source .ci/ensure-tools.sh; ensure_cmd CMD DEBIAN_PACKAGE
#
# Only `apt:` tools are installed here. `rustup` tools must already be there (the Rust
# toolchain); `script:`, `npm` and `built` tools are installed or built by the suite itself,
# pinned, right after this check. .ci/check-tools.mjs fails when a suite runs a command that
# .ci/tools does not list.

_ensure_tools_apt_updated=

# True when CMD (a name looked up in PATH, or an absolute path) can be run. `type -P` looks in
# PATH only: `time` is a shell keyword, yet /usr/bin/time may be missing.
_ensure_tools_present() {
    case $1 in
        /*) [ -x "$1" ] ;;
        *) type -P "$1" >/dev/null 2>&1 ;;
    esac
}

# apt-get as root (through sudo when we are not root and sudo exists).
_ensure_tools_apt_get() {
    if [ "$(id -u)" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get "$@"
    elif type -P sudo >/dev/null 2>&1; then
        sudo DEBIAN_FRONTEND=noninteractive apt-get "$@"
    else
        echo "ensure-tools: not root and no sudo: run \`apt-get $*\` as root" >&2
        return 1
    fi
}

# Installs the Debian packages given, running `apt-get update` first if this process has not.
# apt's output is shown only when it fails.
_ensure_tools_install() {
    local log
    if [ -z "$_ensure_tools_apt_updated" ]; then
        echo "ensure-tools: apt-get update"
        log=$(_ensure_tools_apt_get update -q 2>&1) || {
            printf '%s\n' "$log" >&2
            echo "ensure-tools: apt-get update failed" >&2
            return 1
        }
        _ensure_tools_apt_updated=1
    fi
    echo "ensure-tools: apt-get install $*"
    log=$(_ensure_tools_apt_get install -y -q "$@" 2>&1) || {
        printf '%s\n' "$log" >&2
        echo "ensure-tools: \`apt-get install $*\` failed" >&2
        return 1
    }
}

# ensure_cmd CMD DEBIAN_PACKAGE [CMD DEBIAN_PACKAGE]...: installs the packages of the missing
# commands (one apt-get install), then fails if any command is still missing.
ensure_cmd() {
    local missing_cmds=() packages=() cmd pkg
    while [ $# -ge 2 ]; do
        cmd=$1 pkg=$2
        shift 2
        _ensure_tools_present "$cmd" && continue
        echo "ensure-tools: $cmd is missing: installing Debian package $pkg"
        missing_cmds+=("$cmd")
        case " ${packages[*]} " in *" $pkg "*) ;; *) packages+=("$pkg") ;; esac
    done
    if [ $# -ne 0 ]; then
        echo "ensure-tools: ensure_cmd takes pairs: CMD DEBIAN_PACKAGE" >&2
        return 2
    fi
    [ ${#missing_cmds[@]} -eq 0 ] && return 0
    _ensure_tools_install "${packages[@]}" || return 1
    for cmd in "${missing_cmds[@]}"; do
        if ! _ensure_tools_present "$cmd"; then
            echo "ensure-tools: $cmd is still missing after installing ${packages[*]}: fix its package in .ci/tools" >&2
            return 1
        fi
    done
}

# ensure_suites SUITE...: every tool .ci/tools lists for the suites and for `*`.
ensure_suites() {
    local manifest
    manifest="$(dirname "${BASH_SOURCE[0]}")/tools"
    local pairs=() unavailable=() wanted suite cmd source _why count=0
    wanted=" * $* "
    # The playground tests build the playground: they need its build tools too.
    case $wanted in *" web "*) wanted="$wanted web-build " ;; esac
    while read -r suite cmd source _why; do
        case $suite in '' | '#'*) continue ;; esac
        case $wanted in *" $suite "*) ;; *) continue ;; esac
        count=$((count + 1))
        case $source in
            apt:*) pairs+=("$cmd" "${source#apt:}") ;;
            rustup) _ensure_tools_present "$cmd" || unavailable+=("$cmd") ;;
            script:* | npm | built) ;; # the suite installs or builds it, pinned, after this check
            *)
                echo "ensure-tools: $manifest: unknown source \`$source\` for $cmd" >&2
                return 2
                ;;
        esac
    done <"$manifest"
    if [ ${#unavailable[@]} -gt 0 ]; then
        echo "ensure-tools: ${unavailable[*]} missing: install the Rust toolchain with rustup (https://rustup.rs), then run again" >&2
        return 1
    fi
    ensure_cmd "${pairs[@]}" || return 1
    echo "ensure-tools: $*: the $count tools .ci/tools lists are present"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    if [ $# -eq 0 ]; then
        echo "usage: $0 SUITE... (suites of .ci/tools: rust component web-build web fuzz bench)" >&2
        exit 2
    fi
    for suite in "$@"; do
        case $suite in
            rust | component | web-build | web | fuzz | bench) ;;
            *)
                echo "ensure-tools: unknown suite $suite (rust component web-build web fuzz bench)" >&2
                exit 2
                ;;
        esac
    done
    ensure_suites "$@"
fi
