#!/bin/sh
# Installs tally-agent from an unpacked release folder (tally-agent-VERSION-linux-ARCH/): the
# bundled agent, its SQLite binding for this board's Node.js, the systemd unit, the device key.
# Nothing is compiled and nothing but Debian's nodejs package (when no Node.js is present) is
# downloaded. Run `install.sh --help` for the options.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=/opt/tally-agent
DATA=/var/lib/tally-agent
CONFIG=/etc/tally-agent.json
UNIT=/etc/systemd/system/tally-agent.service
SERVICE_USER=tally
NODE=${NODE:-}
BROKER=
HUB_KEY=
METER=
TLS_CA=
SERVICE=1
APT=1
START=1
JSON=0

usage() {
  cat <<'EOF'
Usage: sudo ./install.sh [--broker URL --hub-key HEX [--meter SPEC] [--tls-ca FILE]] [options]

Installs tally-agent on this machine from this release folder:
  /opt/tally-agent             the agent (tally-agent.js) and its SQLite binding
  /usr/local/bin/tally-agent   the command
  /var/lib/tally-agent         the device key and the outbox (system user "tally", mode 0700)
  /etc/tally-agent.json        the configuration, written when --broker and --hub-key are given
  tally-agent.service          enabled and started once the configuration exists

It prints the device's public key: enrol it on the hub (tally-hub device add --public-key HEX ...).
Running it again upgrades the program files and keeps the key, the outbox and the configuration
(unless new --broker/--hub-key/--meter values are given).

Options:
  --broker URL     the hub's MQTT URL (mqtt://, mqtts://, ws://, wss://)
  --hub-key HEX    the hub's public key (64 hex characters)
  --meter SPEC     the meter source, e.g. file:/sys/class/tally/pulse0/count (see docs/agent.md)
  --tls-ca FILE    CA certificate (PEM) for an mqtts:// broker
  --prefix DIR     install directory (default /opt/tally-agent)
  --data DIR       data directory for the key and outbox (default /var/lib/tally-agent)
  --config FILE    configuration file (default /etc/tally-agent.json)
  --node PATH      the Node.js binary to run the agent with (default: node on PATH)
  --no-service     files and device key only, as the current user: no system user, no systemd
                   unit, no /usr/local/bin link (containers, packaging, tests)
  --no-start       install and enable the service but do not start it
  --no-apt         never install Debian's nodejs package when no Node.js is found
  --json           print {"publicKey", "prefix", "data", "node", "abi"} as JSON at the end
  -h, --help       this text

Node.js: 20.19 or newer whose ABI this release carries a binding for (Node.js 20, 22 and 24 on
x64 and arm64; 20 and 22 on armhf). Without one on the PATH, Debian's nodejs package is installed
when it is new enough (Debian 13 / Raspberry Pi OS Trixie: 20.19).

Exit status: 0 installed, 1 failed, 2 bad usage.
EOF
}

fail() {
  echo "install.sh: $*" >&2
  exit 1
}
usage_error() {
  echo "install.sh: $*" >&2
  echo "Try: install.sh --help" >&2
  exit 2
}
say() {
  [ "$JSON" = 1 ] || echo "$*"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --broker | --hub-key | --meter | --tls-ca | --prefix | --data | --config | --node)
      [ $# -ge 2 ] || usage_error "$1 needs a value"
      case "$1" in
        --broker) BROKER=$2 ;;
        --hub-key) HUB_KEY=$2 ;;
        --meter) METER=$2 ;;
        --tls-ca) TLS_CA=$2 ;;
        --prefix) PREFIX=$2 ;;
        --data) DATA=$2 ;;
        --config) CONFIG=$2 ;;
        --node) NODE=$2 ;;
      esac
      shift 2
      ;;
    --no-service) SERVICE=0 && shift ;;
    --no-start) START=0 && shift ;;
    --no-apt) APT=0 && shift ;;
    --json) JSON=1 && shift ;;
    -h | --help) usage && exit 0 ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done

if [ -n "$BROKER$HUB_KEY" ] && { [ -z "$BROKER" ] || [ -z "$HUB_KEY" ]; }; then
  usage_error "--broker and --hub-key go together"
fi
if [ -n "$HUB_KEY" ] && ! printf '%s' "$HUB_KEY" | grep -Eq '^[0-9a-fA-F]{64}$'; then
  usage_error "--hub-key must be 64 hex characters (the hub's public key)"
fi
case "$PREFIX$DATA$CONFIG" in *[[:space:]]*) usage_error "paths with spaces are not supported" ;; esac
[ -f "$HERE/tally-agent.js" ] || fail "run install.sh from the unpacked release folder (tally-agent.js is missing)"
if [ "$SERVICE" = 1 ] && [ "$(id -u)" != 0 ]; then
  fail "installing the service needs root: run it with sudo (or use --no-service)"
fi

# --- Node.js ---------------------------------------------------------------------------------
# The version Debian's apt would install, or nothing.
apt_node_version() {
  command -v apt-cache >/dev/null 2>&1 || return 0
  apt-cache policy nodejs 2>/dev/null | sed -n 's/^ *Candidate: *\([0-9][0-9.]*\).*/\1/p' | head -n1
}
new_enough() { # MAJOR.MINOR... >= 20.19
  major=${1%%.*}
  rest=${1#*.}
  minor=${rest%%.*}
  [ "$major" -gt 20 ] 2>/dev/null || { [ "$major" -eq 20 ] 2>/dev/null && [ "$minor" -ge 19 ] 2>/dev/null; }
}
if [ -z "$NODE" ]; then
  NODE=$(command -v node || true)
fi
if [ -z "$NODE" ] && [ "$APT" = 1 ] && [ "$(id -u)" = 0 ]; then
  candidate=$(apt_node_version)
  if [ -n "$candidate" ] && new_enough "$candidate"; then
    say "No Node.js found: installing Debian's nodejs $candidate"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs >/dev/null || fail "apt-get install nodejs failed"
    NODE=$(command -v node || true)
  fi
fi
if [ -z "$NODE" ]; then
  fail "no Node.js found. Install Node.js 24 (64-bit) or 22 (32-bit ARM) from nodejs.org or your
  distribution (Debian 13 / Raspberry Pi OS Trixie: sudo apt-get install nodejs), or pass --node PATH"
fi
NODE_VERSION=$("$NODE" -p 'process.versions.node') || fail "$NODE does not run"
NODE_ARCH=$("$NODE" -p 'process.arch')
NODE_ABI=$("$NODE" -p 'process.versions.modules')
new_enough "$NODE_VERSION" || fail "Node.js $NODE_VERSION at $NODE is too old: the agent needs 20.19 or newer"
BINDINGS="$HERE/node_modules/better-sqlite3/lib/binding"
if [ ! -f "$BINDINGS/node-v$NODE_ABI-linux-$NODE_ARCH/better_sqlite3.node" ]; then
  carried=$(cd "$BINDINGS" && ls -d node-v* | tr '\n' ' ')
  fail "this release has no SQLite binding for Node.js $NODE_VERSION on $NODE_ARCH (ABI $NODE_ABI).
  It carries: $carried(node-v<ABI>-linux-<arch>). Use the release for this board's
  architecture, or a Node.js major it lists (20 = ABI 115, 22 = 127, 24 = 137)."
fi

# --- files -----------------------------------------------------------------------------------
if [ "$SERVICE" = 1 ] && ! id "$SERVICE_USER" >/dev/null 2>&1; then
  useradd --system --home-dir "$DATA" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER" ||
    fail "could not create the system user $SERVICE_USER"
fi
mkdir -p "$PREFIX"
# Replace the program files, never the data: the release folder holds no key or outbox.
rm -rf "$PREFIX/node_modules"
cp -R "$HERE/node_modules" "$PREFIX/"
for f in tally-agent.js tally-agent.service install.sh RELEASE.json SHA256SUMS; do
  [ -f "$HERE/$f" ] && cp "$HERE/$f" "$PREFIX/$f"
done
mkdir -p "$PREFIX/bin"
cat >"$PREFIX/bin/tally-agent" <<EOF
#!/bin/sh
exec "$NODE" "$PREFIX/tally-agent.js" "\$@"
EOF
chmod 0755 "$PREFIX/bin/tally-agent"

as_agent() {
  if [ "$SERVICE" = 1 ]; then
    runuser -u "$SERVICE_USER" -- "$@"
  else
    "$@"
  fi
}
if [ "$SERVICE" = 1 ]; then
  install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$DATA"
  ln -sf "$PREFIX/bin/tally-agent" /usr/local/bin/tally-agent
else
  mkdir -p "$DATA"
fi
# init: creates the key and the outbox (or prints the existing key); it also proves that the
# SQLite binding loads under this Node.js.
INIT=$(as_agent "$PREFIX/bin/tally-agent" init --data "$DATA" --json) || fail "tally-agent init failed"
PUBLIC_KEY=$(printf '%s' "$INIT" | "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).publicKey))')

# --- configuration ---------------------------------------------------------------------------
if [ -n "$BROKER" ]; then
  mkdir -p "$(dirname "$CONFIG")"
  # node writes the JSON, so no value needs shell quoting rules.
  "$NODE" -e '
    const [file, broker, hubKey, meter, tlsCa] = process.argv.slice(1);
    const fs = require("node:fs");
    let old = {};
    try { old = JSON.parse(fs.readFileSync(file, "utf8")); } catch {}
    const c = { ...old, broker, hubKey };
    if (meter) c.meter = meter;
    if (tlsCa) c.tlsCa = tlsCa;
    fs.writeFileSync(file, JSON.stringify(c, null, 2) + "\n", { mode: 0o644 });
  ' "$CONFIG" "$BROKER" "$HUB_KEY" "$METER" "$TLS_CA"
elif [ -n "$METER$TLS_CA" ] && [ ! -f "$CONFIG" ]; then
  usage_error "--meter and --tls-ca are written into the configuration together with --broker and --hub-key"
fi

# --- service ---------------------------------------------------------------------------------
STARTED=0
if [ "$SERVICE" = 1 ]; then
  sed -e "s#/usr/bin/node #$NODE #" \
    -e "s#/opt/tally-agent/#$PREFIX/#g" \
    -e "s#/var/lib/tally-agent#$DATA#g" \
    -e "s#/etc/tally-agent.json#$CONFIG#g" \
    "$HERE/tally-agent.service" >"$UNIT.tmp"
  # systemd's StateDirectory= only manages directories under /var/lib.
  case "$DATA" in /var/lib/tally-agent) ;; *) sed -i '/^StateDirectory/d' "$UNIT.tmp" ;; esac
  mv "$UNIT.tmp" "$UNIT"
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    if [ -f "$CONFIG" ]; then
      systemctl enable tally-agent >/dev/null 2>&1
      if [ "$START" = 1 ]; then
        systemctl restart tally-agent
        STARTED=1
      fi
    fi
  else
    say "systemd is not running here: the unit is installed but not enabled"
  fi
fi

if [ "$JSON" = 1 ]; then
  printf '{"publicKey":"%s","prefix":"%s","data":"%s","node":"%s","nodeVersion":"%s","abi":%s,"started":%s}\n' \
    "$PUBLIC_KEY" "$PREFIX" "$DATA" "$NODE" "$NODE_VERSION" "$NODE_ABI" "$([ $STARTED = 1 ] && echo true || echo false)"
  exit 0
fi
echo
echo "tally-agent $(cat "$HERE/VERSION" 2>/dev/null || echo) installed in $PREFIX (Node.js $NODE_VERSION, $NODE_ARCH)"
echo "  device public key: $PUBLIC_KEY"
echo "  enrol it on the hub: tally-hub device add --public-key $PUBLIC_KEY --unit Wh --price P --capacity C"
if [ "$STARTED" = 1 ]; then
  echo "  service started:    journalctl -u tally-agent -f   |   tally-agent status --data $DATA"
elif [ "$SERVICE" = 1 ] && [ ! -f "$CONFIG" ]; then
  echo "  next: run install.sh again with --broker URL --hub-key HEX [--meter SPEC] to configure and start it"
fi
