# shellcheck shell=bash
# A real HTTP server for the download tests: lighttpd on 127.0.0.1.
#
#   http_start DIR   serve DIR; exports HTTP_URL, HTTP_PORT, HTTP_PID and
#                    HTTP_ACCESS_LOG
#   http_log_wait ERE
#                    wait (up to about 5 s) until HTTP_ACCESS_LOG has a line
#                    matching the extended regular expression ERE
#   http_stop        stop it and remove its files; safe to call twice
#
# URLs under $HTTP_URL:
#   /files/NAME    DIR/NAME, with Range support
#   /norange/NAME  DIR/NAME, Range ignored: always 200 and the whole body
#   /broken/NAME   promises all of DIR/NAME in Content-Length, sends about
#                  half and closes the connection; Range is ignored
#   /status/CODE   an empty response with status CODE (e.g. /status/503)
#   /pks/lookup    DIR/pks/lookup, whatever the query: a keyserver that has
#                  one answer (gpg --keyserver hkp://127.0.0.1:PORT asks for
#                  /pks/lookup?op=get&options=mr&search=0xFINGERPRINT)
#   anything else  404
#
# Each line of HTTP_ACCESS_LOG holds the request line, the status, the bytes
# sent and the Range header, e.g.
#   127.0.0.1 "GET /files/a.img HTTP/1.1" 206 1024 "Range: bytes=1024-"
# (a request without Range logs "Range: -"; the first line, "GET /" 404, is
# http_start making sure the server is up). lighttpd logs a request when it
# has finished with it, which can be a moment after the client is done: look
# for lines with http_log_wait rather than grep.
#
# Start it from setup() or setup_file() and stop it from the matching
# teardown() or teardown_file(), which bats runs even when a test failed. Should that be
# forgotten, the server still goes away once the shell that started it exits.

# lighttpd config strings are double-quoted; escape what that needs.
_http_conf_str() {
	local s=${1//\\/\\\\}
	printf '"%s"' "${s//\"/\\\"}"
}

_http_write_config() {
	local tmp=$1 dir=$2 port=$3 tag=$4
	local q_tmp q_dir
	q_tmp=$(_http_conf_str "$tmp")
	q_dir=$(_http_conf_str "$dir")
	cat >"$tmp/lighttpd.conf" <<EOF
server.modules = ("mod_alias", "mod_setenv", "mod_cgi", "mod_accesslog")
server.bind = "127.0.0.1"
server.port = $port
server.tag = "$tag"
# Missing on purpose: every path outside the ones below is then a 404.
server.document-root = $(_http_conf_str "$tmp/nonexistent")
server.errorlog = $(_http_conf_str "$tmp/error.log")
server.upload-dirs = ($q_tmp)
mimetype.assign = ("" => "application/octet-stream")
# Files a test changes (a release directory that moves on) are served as
# they are now, not as lighttpd's stat cache last saw them.
server.stat-cache-engine = "disable"
# A piped logger gets every line as its request ends; a plain file is
# written in 8 KiB batches.
accesslog.filename = $(_http_conf_str "|exec cat >>$(printf %q "$tmp/access.log")")
accesslog.format = "%h \"%r\" %>s %b \"Range: %{Range}i\""
alias.url = (
	"/files/" => $(_http_conf_str "$dir/"),
	"/norange/" => $(_http_conf_str "$dir/"),
	"/broken/" => $(_http_conf_str "$tmp/cgi/broken.cgi/"),
	"/status/" => $(_http_conf_str "$tmp/cgi/status.cgi/"),
	"/pks/lookup" => $(_http_conf_str "$dir/pks/lookup"),
)
\$HTTP["url"] =^ "/norange/" {
	server.range-requests = "disable"
}
\$HTTP["url"] =~ "^/(broken|status)/" {
	# The scripts ignore Range; do not advertise it.
	server.range-requests = "disable"
	# Otherwise lighttpd holds a cut-short response's connection open for
	# seconds before the client learns that it ended.
	server.max-keep-alive-requests = 0
	cgi.assign = (".cgi" => "")
	setenv.add-environment = ("HTTP_HELPER_DIR" => $q_dir)
}
EOF
}

_http_write_cgi() {
	local cgi=$1/cgi
	mkdir -p -- "$cgi"
	# The client must see a short body, not a complete or chunked one:
	# lighttpd forwards Content-Length and closes when the script ends early.
	cat >"$cgi/broken.cgi" <<'EOF'
#!/bin/sh
f=$HTTP_HELPER_DIR$PATH_INFO
case $PATH_INFO in
*..*) printf 'Status: 403 Forbidden\r\n\r\n'; exit 0 ;;
esac
if [ ! -f "$f" ]; then
	printf 'Status: 404 Not Found\r\n\r\n'
	exit 0
fi
size=$(stat -c %s "$f")
printf 'Status: 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %s\r\n\r\n' "$size"
head -c $((size / 2)) "$f"
EOF
	cat >"$cgi/status.cgi" <<'EOF'
#!/bin/sh
code=${PATH_INFO#/}
case $code in
[1-5][0-9][0-9]) ;;
*) code=400 ;;
esac
printf 'Status: %s\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n' "$code"
EOF
	chmod 0755 "$cgi/broken.cgi" "$cgi/status.cgi"
}

# The watchdog stops lighttpd and removes its files once the shell that
# started it has gone, so a missed http_stop cannot leave a server behind.
# shellcheck disable=SC2016 # expanded by that sh
_http_watchdog='
parent=$1 pid=$2 dir=$3 s=
quit() {
	[ -z "$s" ] || kill "$s" 2>/dev/null
	exit 0
}
trap quit TERM
while kill -0 "$parent" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do
	sleep 1 &
	s=$!
	wait "$s"
	s=
done
kill "$pid" 2>/dev/null
i=0
while [ "$i" -lt 50 ] && kill -0 "$pid" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
rm -rf -- "$dir"
'

# Until a background child has exec'd, it is a copy of the test's shell with
# bats' traps, and a TERM then makes it report the test a second time. Wait
# for its new command line (argument $2) before anyone may signal it.
_http_wait_exec() {
	local pid=$1 mark=$2 i argv
	for ((i = 0; i < 200; i++)); do
		mapfile -d '' argv 2>/dev/null <"/proc/$pid/cmdline" || return 1
		[[ " ${argv[*]} " == *" $mark "* ]] && return 0
		sleep 0.01
	done
	return 1
}

# Wait until lighttpd answers on its port (0), has exited (1) or does neither
# within about 5 s (2).
_http_wait_ready() {
	local pid=$1 url=$2 tag=$3 i head
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || return 1
		# The tag proves it is our server and not another on that port.
		head=$(curl -s -o /dev/null -D - --max-time 1 "$url/" 2>/dev/null) || true
		case $head in
		*"Server: $tag"*) return 0 ;;
		esac
		sleep 0.05
	done
	return 2
}

http_start() {
	local dir=${1:?usage: http_start DIR} tmp port tag pid try rc
	# Taken here: in "cmd \$BASHPID &" it would expand in the child.
	local shell_pid=$BASHPID
	[ -d "$dir" ] || {
		echo "http_start: not a directory: $dir" >&2
		return 1
	}
	dir=$(cd -- "$dir" && pwd)
	[ -z "${HTTP_PID-}" ] || http_stop
	tmp=$(mktemp -d "${BATS_TEST_TMPDIR:-${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}}/http.XXXXXX") || return 1
	_http_write_cgi "$tmp"
	_HTTP_TMP=$tmp
	export _HTTP_TMP

	for ((try = 0; try < 8; try++)); do
		# Below the kernel's ephemeral range, so client sockets do not collide.
		port=$((20000 + RANDOM % 12000))
		tag="rtik-http-$shell_pid-$port"
		_http_write_config "$tmp" "$dir" "$port" "$tag"
		: >"$tmp/error.log"
		# fd 3 is bats' own; a server holding it would keep bats waiting.
		lighttpd -D -f "$tmp/lighttpd.conf" </dev/null >>"$tmp/lighttpd.out" 2>&1 3>&- &
		pid=$!
		rc=0
		_http_wait_ready "$pid" "http://127.0.0.1:$port" "$tag" || rc=$?
		[ "$rc" -eq 0 ] && break
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=
		# Only a port someone else holds is worth another try.
		grep -qs 'Address already in use' "$tmp/error.log" "$tmp/lighttpd.out" || break
	done
	if [ -z "$pid" ]; then
		echo "http_start: lighttpd did not start:" >&2
		cat "$tmp/lighttpd.out" "$tmp/error.log" >&2 2>/dev/null
		rm -rf -- "$tmp"
		unset _HTTP_TMP
		return 1
	fi

	sh -c "$_http_watchdog" http-watchdog "$shell_pid" "$pid" "$tmp" \
		</dev/null >/dev/null 2>&1 3>&- &
	_HTTP_WATCH_PID=$!
	_http_wait_exec "$_HTTP_WATCH_PID" http-watchdog || true
	HTTP_PID=$pid
	HTTP_PORT=$port
	HTTP_URL=http://127.0.0.1:$port
	HTTP_ACCESS_LOG=$tmp/access.log
	export HTTP_PID HTTP_PORT HTTP_URL HTTP_ACCESS_LOG _HTTP_WATCH_PID
}

http_log_wait() {
	local ere=${1:?usage: http_log_wait ERE} i
	for ((i = 0; i < 100; i++)); do
		grep -Eq -- "$ere" "${HTTP_ACCESS_LOG:?http_log_wait: no server}" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "http_log_wait: no line matches '$ere' in $HTTP_ACCESS_LOG:" >&2
	cat "$HTTP_ACCESS_LOG" >&2 2>/dev/null
	return 1
}

http_stop() {
	local i
	if [ -n "${_HTTP_WATCH_PID-}" ]; then
		kill "$_HTTP_WATCH_PID" 2>/dev/null || true
		wait "$_HTTP_WATCH_PID" 2>/dev/null || true
	fi
	if [ -n "${HTTP_PID-}" ]; then
		kill "$HTTP_PID" 2>/dev/null || true
		# wait only reaps our own child; from another shell, poll.
		wait "$HTTP_PID" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$HTTP_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$HTTP_PID" 2>/dev/null; then
			kill -KILL "$HTTP_PID" 2>/dev/null || true
		fi
	fi
	if [ -n "${_HTTP_TMP-}" ]; then
		rm -rf -- "$_HTTP_TMP"
	fi
	unset HTTP_PID HTTP_PORT HTTP_URL HTTP_ACCESS_LOG _HTTP_WATCH_PID _HTTP_TMP
	return 0
}
