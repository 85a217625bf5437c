#!/usr/bin/env bash
# The OpenWrt package's shell parts on a build host (`make test`, as part
# of `make packaging`): the UCI translation on sample files, the procd init
# script against a procd stand-in (a broken file must leave the serving
# instance alone), the hotplug notify program and the rpcd plugin.
# Usage: tests/openwrt.sh BONGOYO_BINARY
#
# The procd stand-in's functions are called by the sourced init script,
# in a subshell on purpose.
# shellcheck disable=SC2317,SC2031
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:?bongoyo binary}")
files=packaging/openwrt/bongoyo/files
data=tests/data/openwrt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "openwrt: ok: $*"; }
bad() { echo "openwrt: FAIL: $*" >&2; fails=$((fails + 1)); }

printf '%064d\n' 0 >"$tmp/key"
chmod 600 "$tmp/key"

# 1. The translation: each sample as expected, and `bongoyo check`
# accepts what it gives (the file alone: --offline).
translate() { # UCI-FILE -> stdout, in a shell that only knows uci.sh
	(cd "$(dirname "$1")" && sh -c '. "$0"; bongoyo_uci_conf "$1"' "$OLDPWD/$files/uci.sh" "$(basename "$1")")
}
sed "s|@KEY@|$tmp/key|" "$data/full.uci" >"$tmp/full.uci"
sed "s|@KEY@|$tmp/key|" "$data/full.conf" >"$tmp/full.expected"
if translate "$tmp/full.uci" >"$tmp/full.conf"; then
	if diff -u "$tmp/full.expected" "$tmp/full.conf"; then ok "full.uci translated as expected"; else bad "full.uci: translation differs"; fi
	if "$bin" check --offline -c "$tmp/full.conf" -n f2 >"$tmp/out" 2>&1; then
		ok "bongoyo check accepts the translation of full.uci"
	else
		bad "bongoyo check refuses the translation of full.uci: $(cat "$tmp/out")"
	fi
else
	bad "full.uci: translator failed"
fi
if translate "$data/bad-section.uci" >/dev/null 2>"$tmp/err"; then
	bad "bad-section.uci translated without an error"
elif grep -q "bad-section.uci:4: unknown section type 'vservre'" "$tmp/err"; then
	ok "an unknown section type is named with its line"
else
	bad "bad-section.uci: $(cat "$tmp/err")"
fi
sed "s|@KEY@|$tmp/key|" "$data/bad-option.uci" >"$tmp/bad-option.uci"
translate "$tmp/bad-option.uci" >"$tmp/bad-option.conf"
if "$bin" check --offline -c "$tmp/bad-option.conf" >"$tmp/out" 2>&1; then
	bad "bongoyo check accepts an unknown option"
elif grep -q "bad-option.conf:[0-9]*:[0-9]*: .*helo" "$tmp/out" && grep -q "helo 200ms  # bad-option.uci:5" "$tmp/bad-option.conf"; then
	ok "an unknown option reaches bongoyo check, and the line names its UCI line"
else
	bad "bad-option: $(cat "$tmp/out")"
fi
sed "s|/etc/bongoyo.key|$tmp/key|" "$files/bongoyo.config" >"$tmp/default.uci"
translate "$tmp/default.uci" >"$tmp/default.conf"
if "$bin" check --offline -c "$tmp/default.conf" >"$tmp/out" 2>&1; then
	ok "the shipped /etc/config/bongoyo translates to a valid file"
else
	bad "the shipped /etc/config/bongoyo: $(cat "$tmp/out")"
fi

# 2. The init script under a procd stand-in: rc.common's rc_procd and the
# procd_* helpers record what they are asked; a fake bongoyo's `check`
# passes or fails as told.
cat >"$tmp/fake-bongoyo" <<'FAKE'
#!/bin/sh
echo "bongoyo $*" >>"$CALLS"
case "$1" in
check) exit "${FAKE_CHECK:-0}" ;;
status) exit 69 ;;
esac
FAKE
chmod 755 "$tmp/fake-bongoyo"
initscript() { # UCI-FILE FAKE-CHECK COMMAND...: run in a subshell, its exit code
	local uci=$1 check=$2
	shift 2
	(
		# The init script runs under a plain sh on the box: no -e, no -u.
		set +euo pipefail
		export CALLS=$tmp/calls FAKE_CHECK=$check
		export BONGOYO_BIN=$tmp/fake-bongoyo BONGOYO_UCI_FILE=$uci
		export BONGOYO_UCI_LIB=$files/uci.sh BONGOYO_GENERATED=$tmp/var/etc/bongoyo.conf
		rec() { echo "$*" >>"$CALLS"; }
		rc_procd() { rec open_service; "$@"; rec close_service; }
		procd_open_instance() { rec open_instance; }
		procd_close_instance() { rec close_instance; }
		procd_set_param() { rec "param $*"; }
		procd_append_param() { rec "append $*"; }
		procd_send_signal() { rec "signal $*"; }
		procd_kill() { rec "kill $*"; }
		logger() { rec "logger $*"; }
		start() { rc_procd start_service; }
		stop() { procd_kill bongoyo; }
		reload() { reload_service; }
		# shellcheck source=packaging/openwrt/bongoyo/files/bongoyo.init
		. "$files/bongoyo.init"
		"$@"
	) >/dev/null 2>&1
}
: >"$tmp/calls"
cp "$tmp/full.uci" "$tmp/good.uci"
if initscript "$tmp/good.uci" 0 start && grep -q "^param command $tmp/fake-bongoyo run -c $tmp/var/etc/bongoyo.conf -s /var/run/bongoyo.sock$" "$tmp/calls" &&
	grep -q "^append command -n f2$" "$tmp/calls" && grep -q "^param term_timeout 15$" "$tmp/calls" &&
	grep -q "^param stderr 1$" "$tmp/calls" && grep -q "^param respawn" "$tmp/calls" &&
	grep -q "^param netdev br-lan eth1 wan$" "$tmp/calls" && grep -q "^close_service$" "$tmp/calls" &&
	grep -q "^node f2 192.168.1.3  # .*/good.uci:22$" "$tmp/var/etc/bongoyo.conf"; then
	ok "start: checked file, -n, term_timeout 15 (> the 5 s stop grace), stderr, respawn, netdev of every interface"
else
	bad "start with a good file: $(cat "$tmp/calls")"
fi
cp "$tmp/var/etc/bongoyo.conf" "$tmp/serving.conf"
for case in "broken UCI file:$data/bad-section.uci:0" "file bongoyo check refuses:$tmp/good.uci:65"; do
	what=${case%%:*} rest=${case#*:}
	uci=${rest%:*} check=${rest##*:}
	for cmd in start reload restart; do
		: >"$tmp/calls"
		if initscript "$uci" "$check" "$cmd"; then
			bad "$cmd with a $what succeeded"
		elif grep -qE "^(close_service|open_instance|kill|signal)" "$tmp/calls"; then
			bad "$cmd with a $what touched procd: $(cat "$tmp/calls")"
		elif ! cmp -s "$tmp/var/etc/bongoyo.conf" "$tmp/serving.conf"; then
			bad "$cmd with a $what replaced the running daemon's file"
		else
			ok "$cmd with a $what: refused, procd and the serving instance's file untouched"
		fi
	done
done
: >"$tmp/calls"
if initscript "$tmp/good.uci" 0 reload && grep -q "^close_service$" "$tmp/calls" && grep -q "^signal bongoyo \* HUP$" "$tmp/calls"; then
	ok "reload with a good file: instance re-declared, SIGHUP"
else
	bad "reload with a good file: $(cat "$tmp/calls")"
fi
: >"$tmp/calls"
if initscript "$tmp/good.uci" 0 restart && [ "$(grep -E '^(kill|bongoyo status|open_service)' "$tmp/calls" | cut -d' ' -f1-2 | tr '\n' ,)" = "kill bongoyo,bongoyo status,open_service," ]; then
	ok "restart: stop, wait until the control socket no longer answers, start"
else
	bad "restart: $(cat "$tmp/calls")"
fi

# 3. notify -> hotplug-call bongoyo, with the alert in the environment.
cat >"$tmp/hotplug-call" <<'HP'
#!/bin/sh
echo "$1 ACTION=$ACTION EVENT=$BONGOYO_EVENT VSERVER=$BONGOYO_VSERVER NODE=$BONGOYO_NODE FIELDS=$BONGOYO_FIELDS"
HP
chmod 755 "$tmp/hotplug-call"
got=$(HOTPLUG_CALL=$tmp/hotplug-call sh "$files/notify-hotplug" foreign-mac vserver=web "address=192.168.1.50/24 mac=02:00:00:00:00:09")
if [ "$got" = "bongoyo ACTION=foreign-mac EVENT=foreign-mac VSERVER=web NODE= FIELDS=address=192.168.1.50/24 mac=02:00:00:00:00:09" ]; then
	ok "notify-hotplug: hotplug-call bongoyo with ACTION and BONGOYO_*"
else
	bad "notify-hotplug: $got"
fi

# 4. The rpcd plugin: its method list, and a JSON object when no daemon runs.
if [ "$(sh "$files/rpcd" list)" = '{ "status": {} }' ] &&
	[ "$(echo '{}' | BONGOYO_BIN=$bin BONGOYO_SOCKET=$tmp/none.sock sh "$files/rpcd" call status)" = '{ "error": "bongoyo is not running" }' ]; then
	ok "rpcd plugin: list, and status without a daemon"
else
	bad "rpcd plugin"
fi

[ "$fails" -eq 0 ] || { echo "openwrt: $fails failed" >&2; exit 1; }
echo "openwrt: all passed"
