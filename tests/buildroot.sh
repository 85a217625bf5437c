#!/usr/bin/env bash
# The Buildroot recipe against the repository (`make test`, as part of
# `make packaging`): its hash file matches the license files it names, the
# files it installs exist, and its size profile is the one Cargo.toml has.
# Words of make lines on purpose; $(@D) is make's, not the shell's.
# shellcheck disable=SC2013,SC2016
set -euo pipefail
cd "$(dirname "$0")/.."
pkg=packaging/buildroot/bongoyo
fails=0
ok() { echo "buildroot: ok: $*"; }
bad() { echo "buildroot: FAIL: $*" >&2; fails=$((fails + 1)); }

while read -r algo sum file; do
	case "$algo" in '' | '#'*) continue ;; esac
	if [ "$(sha256sum "$file" | cut -d' ' -f1)" = "$sum" ]; then
		ok "$algo of $file"
	else
		bad "$file: bongoyo.hash says $sum, the file is $(sha256sum "$file" | cut -d' ' -f1)"
	fi
done <"$pkg/bongoyo.hash"
for f in $(sed -n 's/^BONGOYO_LICENSE_FILES = //p' "$pkg/bongoyo.mk"); do
	grep -q "  $f\$" "$pkg/bongoyo.hash" || bad "license file $f has no hash"
done
for f in $(grep -o '$(@D)/[^ ]*' "$pkg/bongoyo.mk" | sed 's|$(@D)/||'); do
	if [ -f "$f" ]; then ok "installs $f"; else bad "installs $f, which does not exist"; fi
done
# The environment's profile is Cargo.toml's [profile.release], not another.
for kv in opt-level:'"z"':z lto:true:true codegen-units:1:1 panic:'"abort"':abort strip:true:true; do
	key=${kv%%:*} rest=${kv#*:}
	toml=${rest%%:*} env=${rest#*:}
	var=CARGO_PROFILE_RELEASE_$(echo "$key" | tr a-z- A-Z_)
	sed -n '/^\[profile.release\]/,/^\[/p' Cargo.toml | grep -q "^$key = $toml\$" || bad "Cargo.toml's release profile has no $key = $toml"
	grep -q "	$var=$env " "$pkg/bongoyo.mk" || grep -q "	$var=$env\$" "$pkg/bongoyo.mk" || bad "bongoyo.mk does not set $var=$env"
done
ok "BONGOYO_CARGO_ENV matches Cargo.toml's release profile"
[ "$fails" -eq 0 ] || { echo "buildroot: $fails failed" >&2; exit 1; }
echo "buildroot: all passed"
