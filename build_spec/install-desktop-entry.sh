#!/usr/bin/env bash
# Install (or remove) the BrainScan launcher entry for the current user on Linux.
#
#   build_spec/install-desktop-entry.sh [PATH/TO/BrainScan/brainscan]   # install
#   build_spec/install-desktop-entry.sh --uninstall                      # remove
#
# Installs resources/brainscan.desktop into ~/.local/share/applications (with Exec and TryExec pointing to
# the absolute path of the frozen executable, default dist/BrainScan/brainscan) and the icons into
# ~/.local/share/icons/hicolor. Afterwards BrainScan shows up in the launcher, and a file manager's
# "Open with" on a folder (or on DICOM/PNG/JPEG files) starts it with those paths as arguments.
# It does not make BrainScan the default application for anything. Nothing is written outside
# ${XDG_DATA_HOME:-~/.local/share}; no root needed. Moving dist/BrainScan later: run it again.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}"
APPS="$DATA_HOME/applications"
ICONS="$DATA_HOME/icons/hicolor"
ENTRY="$APPS/brainscan.desktop"

refresh() {
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$APPS" || true
  # Refresh the user's icon cache only where one exists (a stale cache would hide icons installed later).
  if [ -f "$ICONS/icon-theme.cache" ] && command -v gtk-update-icon-cache >/dev/null 2>&1; then
    gtk-update-icon-cache -q -t "$ICONS" 2>/dev/null || true
  fi
}

if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$ENTRY" "$ICONS/scalable/apps/brainscan.svg"
  for size in 48 128 256; do rm -f "$ICONS/${size}x${size}/apps/brainscan.png"; done
  refresh
  echo "removed $ENTRY and the BrainScan icons"
  exit 0
fi

EXE="${1:-$ROOT/dist/BrainScan/brainscan}"
if [ ! -x "$EXE" ]; then
  echo "error: $EXE is not an executable; build it first: .venv/bin/pyinstaller --noconfirm build_spec/brainscan.spec" >&2
  exit 1
fi
EXE="$(cd "$(dirname "$EXE")" && pwd)/$(basename "$EXE")"

# Desktop Entry Specification, "The Exec key": quote the program, escape " ` $ \ inside the quotes,
# then escape every backslash once more because the value is also a string.
quoted="$EXE"
quoted="${quoted//\\/\\\\}"
quoted="${quoted//\"/\\\"}"
quoted="${quoted//\`/\\\`}"
quoted="${quoted//\$/\\\$}"
quoted="\"${quoted//\\/\\\\}\""
tryexec="${EXE//\\/\\\\}"

mkdir -p "$APPS" "$ICONS/scalable/apps"
tmp="$(mktemp "$APPS/.brainscan.desktop.XXXXXX")"
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    Exec=*) printf 'Exec=%s %%F\nTryExec=%s\n' "$quoted" "$tryexec" ;;
    \#*) ;;
    *) printf '%s\n' "$line" ;;
  esac
done <"$ROOT/resources/brainscan.desktop" >"$tmp"
chmod 644 "$tmp"
mv "$tmp" "$ENTRY"

install -m 644 "$ROOT/resources/icons/brainscan.svg" "$ICONS/scalable/apps/brainscan.svg"
for size in 48 128 256; do
  mkdir -p "$ICONS/${size}x${size}/apps"
  install -m 644 "$ROOT/resources/icons/brainscan-$size.png" "$ICONS/${size}x${size}/apps/brainscan.png"
done
if command -v desktop-file-validate >/dev/null 2>&1; then
  desktop-file-validate "$ENTRY" || echo "warning: desktop-file-validate reported problems in $ENTRY" >&2
fi
refresh
echo "installed $ENTRY -> $EXE"
