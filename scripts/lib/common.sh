# shellcheck shell=bash
# Shared helpers for the scripts in scripts/ (bootstrap, test, format-check).
# Source it; it does not change shell options of the caller except where noted.
#
# Everything is located from this file's own path so the scripts work from any
# checkout location and any working directory (CI runs them on a fresh clone).

REBOUND_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export REBOUND_ROOT

# Kafka broker jars live outside the repo (they are ~100 MB and shared by all
# checkouts of this machine). The version is read from the Maven project so there
# is exactly one place to change it.
REBOUND_KAFKA_POM="$REBOUND_ROOT/deploy/local/kafka/pom.xml"
REBOUND_KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$REBOUND_KAFKA_POM" | head -n1)"
REBOUND_CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/rebound"
REBOUND_KAFKA_HOME="$REBOUND_CACHE_DIR/kafka-$REBOUND_KAFKA_VERSION"
export REBOUND_KAFKA_VERSION REBOUND_CACHE_DIR REBOUND_KAFKA_HOME

# Go installs tools into $(go env GOPATH)/bin, usually ~/go/bin; make them usable
# by the rest of the run even if the user's PATH does not list that folder.
REBOUND_GOBIN="${GOBIN:-$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin}"
case ":$PATH:" in *":$REBOUND_GOBIN:"*) ;; *) PATH="$PATH:$REBOUND_GOBIN" ;; esac
export REBOUND_GOBIN PATH

# Colour only on a terminal; CI logs stay plain.
if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  _c_dim=$'\e[2m' _c_yel=$'\e[33m' _c_red=$'\e[31m' _c_grn=$'\e[32m' _c_off=$'\e[0m'
else
  _c_dim='' _c_yel='' _c_red='' _c_grn='' _c_off=''
fi

log()  { printf '%s\n' "$*"; }
step() { printf '%s==>%s %s\n' "$_c_grn" "$_c_off" "$*"; }
skip() { printf '%sskip:%s %s\n' "$_c_dim" "$_c_off" "$*"; }
warn() { printf '%swarning:%s %s\n' "$_c_yel" "$_c_off" "$*" >&2; }
die()  { printf '%serror:%s %s\n' "$_c_red" "$_c_off" "$*" >&2; exit 1; }

have() { command -v "$1" >/dev/null 2>&1; }

# Runs a command as root: directly when we are root (CI, containers), through
# sudo otherwise. Fails with a clear message when neither is possible.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif have sudo; then
    sudo "$@"
  else
    die "need root to run: $* (run as root or install sudo)"
  fi
}
