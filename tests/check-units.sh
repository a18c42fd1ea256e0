#!/bin/sh
# systemd-analyze checks the user unit (with ExecStart pointed at the built
# daemon, since nothing is installed), and the D-Bus activation file names
# the same bus name and unit.
set -eu
unit=$1 dbus_service=$2 daemon=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|^ExecStart=.*|ExecStart=$daemon|" "$unit" > "$tmp/claude-agent-service.service"
mkdir -m 700 "$tmp/runtime"
XDG_RUNTIME_DIR="$tmp/runtime" systemd-analyze --user verify "$tmp/claude-agent-service.service"
grep -qx 'Type=dbus' "$unit"
grep -qx 'BusName=org.ClaudeAgentService' "$unit"
grep -qx 'Restart=on-failure' "$unit"
grep -qx 'Name=org.ClaudeAgentService' "$dbus_service"
grep -qx 'SystemdService=claude-agent-service.service' "$dbus_service"
grep -q '^Exec=/.*/claude-agent-service$' "$dbus_service"
echo ok
