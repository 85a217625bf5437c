# shellcheck shell=dash
# /usr/share/bongoyo/uci.sh: /etc/config/bongoyo (UCI) to bongoyo.conf.
#
# Sourced by /etc/init.d/bongoyo (and by tests/openwrt.sh on a build host,
# where no uci, libuci or /lib/functions.sh exists: the UCI file format is
# parsed here directly, so what the box runs is what the test runs).
#
# Sections and options (see /etc/config/bongoyo for a commented example):
#
#   config bongoyo 'main'    the cluster's top-level directives; an option
#                            `key_file` becomes `key-file`, a list one line
#                            per value, `multicast` + `port` one line.
#                            `enabled`, `node` and `config_file` are for the
#                            init script only.
#   config node ['NAME']     option name (default: the section's name),
#                            address, priority: `node NAME ADDR [priority N]`.
#   config vserver ['NAME']  a `vserver NAME { ... }` block; option
#                            `dedicated '1'` adds `dedicated` to `interface`,
#                            list `prefer` gives one `prefer` line.
#
# Every generated line ends with `# FILE:LINE`, the UCI line it came from,
# so an error `bongoyo check` reports in the generated file leads back to
# /etc/config/bongoyo. Unknown section types and a section with no name are
# translator errors (exit 65); unknown options are copied, and `bongoyo
# check` names them.

# One value as UCI writes or accepts it: 'single' (with '\'' for a
# quote, as `uci commit` writes), "double" (with \" and \\), or bare.
_bongoyo_unquote() {
	local v="$1" head
	case "$v" in
	\'*\')
		v=${v#\'}
		v=${v%\'}
		while :; do
			case "$v" in
			*"'\\''"*)
				head=${v%%"'\\''"*}
				v="$head'${v#*"'\\''"}"
				;;
			*) break ;;
			esac
		done
		;;
	\"*\")
		v=${v#\"}
		v=${v%\"}
		v=$(printf '%s' "$v" | sed -e 's/\\"/"/g' -e 's/\\\\/\\/g')
		;;
	esac
	printf '%s' "$v"
}

# Parse FILE, calling `$2 section TYPE NAME LINE` for each `config` line,
# `$2 option KEY VALUE LINE` and `$2 list KEY VALUE LINE` for each value,
# and `$2 end` at the end of the file.
bongoyo_uci_parse() {
	local file="$1" cb="$2" n=0 line kw rest key type name
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		# Leading and trailing blanks off; comments and empty lines skipped.
		line=${line#"${line%%[![:space:]]*}"}
		line=${line%"${line##*[![:space:]]}"}
		case "$line" in '' | '#'*) continue ;; esac
		kw=${line%%[[:space:]]*}
		rest=${line#"$kw"}
		rest=${rest#"${rest%%[![:space:]]*}"}
		case "$kw" in
		config)
			type=${rest%%[[:space:]]*}
			name=${rest#"$type"}
			name=${name#"${name%%[![:space:]]*}"}
			"$cb" section "$(_bongoyo_unquote "$type")" "$(_bongoyo_unquote "$name")" "$n"
			;;
		option | list)
			key=${rest%%[[:space:]]*}
			rest=${rest#"$key"}
			rest=${rest#"${rest%%[![:space:]]*}"}
			"$cb" "$kw" "$(_bongoyo_unquote "$key")" "$(_bongoyo_unquote "$rest")" "$n"
			;;
		package) ;;
		*)
			echo "$file:$n: not a UCI line: $line" >&2
			return 65
			;;
		esac
	done <"$file"
	"$cb" end
}

# State of the section being translated (the callbacks below share it).
_bu_file=
_bu_type=
_bu_name=
_bu_line=
_bu_body=
_bu_head=
_bu_mcast=
_bu_port=
_bu_addr=
_bu_prio=
_bu_iface=
_bu_dedicated=
_bu_prefer=
_bu_err=0

# Append one generated line (indented in a vserver block).
_bu_add() {
	local at="# $_bu_file:$2"
	_bu_body="$_bu_body$1  $at
"
}

# The section that ends here, as bongoyo.conf lines on stdout.
_bu_flush() {
	local ref="# $_bu_file:$_bu_line"
	case "$_bu_type" in
	'') ;;
	bongoyo)
		if [ -n "$_bu_mcast" ]; then
			printf 'multicast %s%s  %s\n' "$_bu_mcast" "${_bu_port:+ port $_bu_port}" "$ref"
		elif [ -n "$_bu_port" ]; then
			printf 'multicast 239.255.76.7 port %s  %s\n' "$_bu_port" "$ref"
		fi
		printf '%s' "$_bu_body"
		;;
	node)
		if [ -z "$_bu_name" ] || [ -z "$_bu_addr" ]; then
			echo "$_bu_file:$_bu_line: node section needs a name and an address" >&2
			_bu_err=65
		else
			printf 'node %s %s%s  %s\n' "$_bu_name" "$_bu_addr" "${_bu_prio:+ priority $_bu_prio}" "$ref"
		fi
		;;
	vserver)
		if [ -z "$_bu_name" ]; then
			echo "$_bu_file:$_bu_line: vserver section needs a name (config vserver 'NAME')" >&2
			_bu_err=65
		else
			printf 'vserver %s {  %s\n' "$_bu_name" "$ref"
			[ -n "$_bu_iface" ] && printf '    interface %s%s  %s\n' "$_bu_iface" \
				"$([ "$_bu_dedicated" = 1 ] && echo ' dedicated')" "$ref"
			[ -n "$_bu_prefer" ] && printf '    prefer%s  %s\n' "$_bu_prefer" "$ref"
			printf '%s' "$_bu_body"
			printf '}\n'
		fi
		;;
	esac
}

_bu_cb() {
	local what="$1" key="${2:-}" value="${3:-}" n="${4:-}" directive
	case "$what" in
	section | end)
		_bu_flush
		[ "$what" = end ] && return
		case "$key" in
		bongoyo | node | vserver) ;;
		*)
			echo "$_bu_file:$n: unknown section type '$key' (bongoyo, node, vserver)" >&2
			_bu_err=65
			;;
		esac
		_bu_type=$key _bu_name=$value _bu_line=$n _bu_body='' _bu_mcast='' _bu_port=''
		_bu_addr='' _bu_prio='' _bu_iface='' _bu_dedicated='' _bu_prefer=''
		return
		;;
	esac
	if [ -z "$_bu_type" ]; then
		echo "$_bu_file:$n: option outside a section" >&2
		_bu_err=65
		return
	fi
	directive=$(printf '%s' "$key" | tr _ -)
	case "$_bu_type:$key" in
	bongoyo:enabled | bongoyo:node | bongoyo:config_file) ;;
	bongoyo:multicast) _bu_mcast=$value ;;
	bongoyo:port) _bu_port=$value ;;
	bongoyo:*) _bu_add "$directive $value" "$n" ;;
	node:name | vserver:name) _bu_name=$value ;;
	node:address) _bu_addr=$value ;;
	node:priority) _bu_prio=$value ;;
	node:*)
		echo "$_bu_file:$n: unknown node option '$key' (name, address, priority)" >&2
		_bu_err=65
		;;
	vserver:interface) _bu_iface=$value ;;
	vserver:dedicated) case "$value" in 1 | yes | on | true) _bu_dedicated=1 ;; esac ;;
	vserver:prefer) _bu_prefer="$_bu_prefer $value" ;;
	vserver:*) _bu_add "    $directive $value" "$n" ;;
	esac
}

# bongoyo.conf for the UCI file $1 (default /etc/config/bongoyo) on
# stdout; 0, or 65 with the reasons on stderr.
bongoyo_uci_conf() {
	_bu_file=${1:-/etc/config/bongoyo}
	_bu_type='' _bu_err=0
	printf '# Generated from %s by /etc/init.d/bongoyo: edit that file, not this one.\n' "$_bu_file"
	bongoyo_uci_parse "$_bu_file" _bu_cb || return
	return "$_bu_err"
}

# The value of option $2 in the first section of type `bongoyo` in the UCI
# file $1 (empty if unset): the init script's own settings.
bongoyo_uci_main() {
	_bm_want=$2 _bm_in='' _bm_seen='' _bm_value=''
	bongoyo_uci_parse "$1" _bm_cb >/dev/null 2>&1
	printf '%s' "$_bm_value"
}

_bm_cb() {
	case "$1" in
	section)
		_bm_in=
		if [ "$2" = bongoyo ] && [ -z "$_bm_seen" ]; then _bm_in=1 _bm_seen=1; fi
		;;
	option) [ -n "$_bm_in" ] && [ "$2" = "$_bm_want" ] && _bm_value=$3 ;;
	esac
	return 0
}

# The interfaces a bongoyo.conf ($1) names, one per line, each once: the
# cluster interface, each vserver's and each tracked one (procd restarts
# the daemon when one of them is re-created with a new ifindex).
bongoyo_conf_ifaces() {
	sed -n -e 's/#.*//' \
		-e 's/^[[:space:]]*interface[[:space:]][[:space:]]*\([^[:space:]]*\).*/\1/p' \
		-e 's/^[[:space:]]*track-interface[[:space:]][[:space:]]*\([^[:space:]]*\).*/\1/p' \
		"$1" | sort -u
}
