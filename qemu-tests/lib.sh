# Sourced by every test and the demo: small helpers in the WireGuard netns.sh
# style. Tests are `set -e` scripts; a failing command fails the test, and
# says which, since many fail without a word (grep -q, a test, `false`).
set -e
trap 'rc=$?; echo "FAIL: line $LINENO of ${0##*/} exited $rc: $BASH_COMMAND" >&2' ERR

ringgatectl() { "$RG_REPO/userd/target/release/ringgatectl" "$@"; }
# ctl_in NS ARGS...: ringgatectl in network namespace NS, through its -n:
# `ip netns exec` starts a second program and remounts /sys for it, which
# cost the TCG guest 0.3 s or more a call, and the cluster tests make one
# per node at every check they poll.
ctl_in() { local ns=$1; shift; "$RG_REPO/userd/target/release/ringgatectl" -n "$ns" "$@"; }
# Every jq filter in the tests runs on gojq, which reads the same language:
# jq 1.6 compiles its own builtins at every start, which took 0.5 s in the
# idle TCG guest (and over a second beside a busy cluster), gojq 0.1 s, and
# the cluster tests run a query per node at every check they poll.
command -v gojq >/dev/null || { echo "FAIL: gojq is missing (qemu-tests/tools/deps.sh installs it)" >&2; exit 1; }
jq() { gojq "$@"; }
load_module() { insmod "${RG_MODULE:-$RG_REPO/ringgate.ko}"; }
unload_module() { rmmod ringgate; }
module_loaded() { grep -q '^ringgate ' /proc/modules; }

# The kernel tree's own YNL client, driven by our spec: a client we did not write.
ynl() {
  /usr/bin/python3 "$RG_KSRC/tools/net/ynl/cli.py" --no-schema \
    --spec "$RG_REPO/include/netlink/ringgate.yaml" "$@"
}

# ynl_server: from here on `ynl` sends its arguments to one long-lived
# cli.py process (qemu-tests/guest/ynl-server.py) instead of starting
# python for each request; output and exit status are cli.py's. It talks
# through two FIFOs opened by this shell, which every subshell (pipelines,
# command substitutions) inherits, as a coproc's descriptors are not.
# `ynl_server NETNS` runs the process, and so every request, in NETNS.
ynl_server() {
  local dir run=()
  [ -z "${1:-}" ] || run=(ip netns exec "$1")
  dir=$(mktemp -d)
  mkfifo "$dir/in" "$dir/out"
  "${run[@]}" /usr/bin/python3 "$RG_REPO/qemu-tests/guest/ynl-server.py" "$RG_KSRC" <"$dir/in" >"$dir/out" &
  exec {YNL_IN}>"$dir/in" {YNL_OUT}<"$dir/out"
  ynl() {
    local arg answer request=''
    # A JSON list of the arguments (none holds a newline; quotes and
    # backslashes are escaped).
    for arg in --no-schema --spec "$RG_REPO/include/netlink/ringgate.yaml" "$@"; do
      arg=${arg//\\/\\\\}
      request+="\"${arg//\"/\\\"}\","
    done
    echo "[${request%,}]" >&"$YNL_IN"
    IFS= read -r answer <&"$YNL_OUT" || { echo "ynl-server died" >&2; return 1; }
    jq -j '.out' <<<"$answer"
    return "$(jq -r '.code' <<<"$answer")"
  }
}

# unix_reader: from here on `unix_read SOCKET` prints, as one line, what a
# server at the Unix socket path SOCKET writes to a connection before it
# closes it (ringgate-l7d's status document), read by one long-lived python
# process instead of a python start per read (about a second under TCG,
# and the tests poll the status). Through two FIFOs, as ynl_server's. A
# socket that cannot be read fails unix_read, with the error on stderr;
# each read connects anew, so a server started again is read again.
unix_reader() {
  local dir
  dir=$(mktemp -d)
  mkfifo "$dir/in" "$dir/out"
  python3 -c '
import socket, sys
for line in sys.stdin:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(line.rstrip("\n"))
        with s.makefile() as f:
            text = f.read()
        s.close()
        print("ok " + text.replace("\n", " ").strip(), flush=True)
    except Exception as e:
        print("err %s: %s" % (type(e).__name__, e), flush=True)
' <"$dir/in" >"$dir/out" &
  exec {UNIX_IN}>"$dir/in" {UNIX_OUT}<"$dir/out"
}
unix_read() {
  local answer
  echo "$1" >&"$UNIX_IN"
  IFS= read -r answer <&"$UNIX_OUT" || { echo "unix_read: the reader died" >&2; return 1; }
  case $answer in
    "ok "*) printf '%s\n' "${answer#ok }" ;;
    *) echo "unix_read $1: ${answer#err }" >&2; return 1 ;;
  esac
}

# jqr FILTER [JQ-OPTIONS...]: `jq -r FILTER` on the one JSON value on stdin,
# failing as `python3 -c 'json.load(sys.stdin)...'` did (which cost up to a
# second a start under TCG): on empty input (jq alone prints nothing and
# succeeds), and, with get(KEY) in FILTER instead of .KEY, on a missing key
# (.KEY gives null).
jqr() {
  local filter=$1; shift
  jq -nr "$@" 'def get($k): if has($k) then .[$k] else error("KeyError: \($k) in \(tojson)") end;
    input | ('"$filter"')'
}

# counter NETNS HOOK packets|bytes: one counter of `ringgatectl status --json` in NETNS.
counter() {
  ctl_in "$1" status --json --hook "$2" |
    jqr 'get("hooks")[0] | get($f)' --arg f "$3"
}

# How many netfilter hooks ringgate has registered in this namespace, as
# `nft list hooks` (which names each hook's module) reports them.
ringgate_hooks() { { nft list hooks ip; nft list hooks arp; } 2>/dev/null | grep -c 'ringgate' || true; }

# link_namespaces NS1 IF1 ADDR1 NS2 IF2 ADDR2: creates both namespaces (if
# they do not exist yet) and a veth pair between them, addressed and up, with loopback up on both sides.
link_namespaces() {
  [ -e "/run/netns/$1" ] || ip netns add "$1"
  [ -e "/run/netns/$4" ] || ip netns add "$4"
  ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
  ip -n "$1" addr add "$3" dev "$2"
  ip -n "$4" addr add "$6" dev "$5"
  ip -n "$1" link set "$2" up
  ip -n "$4" link set "$5" up
  ip -n "$1" link set lo up
  ip -n "$4" link set lo up
}

# gateway_line BACKEND_NS: the most common topology. The client `cl`
# (cl0 10.9.0.1) and the back-end BACKEND_NS (e0 10.8.0.2, routed through
# the gateway) on either side of the gateway `gw`, which forwards and has
# g0 10.9.0.11 with the VIP 10.9.0.100/32, and b0 10.8.0.1.
gateway_line() {
  link_namespaces cl cl0 10.9.0.1/24 gw g0 10.9.0.11/24
  link_namespaces gw b0 10.8.0.1/24 "$1" e0 10.8.0.2/24
  ip -n gw addr add 10.9.0.100/32 dev g0
  ip -n "$1" route add default via 10.8.0.1
  ip netns exec gw sysctl -qw net.ipv4.ip_forward=1
}

# gateway_backends N: the client `cl` (cl0 10.9.0.1) and the gateway `gw`
# (g0 10.9.0.11 with the VIP 10.9.0.100/32, forwarding) as in gateway_line,
# but with N back-ends be1..beN (e0 10.8.0.2, 10.8.0.3, ...) on a bridge br1
# in namespace `back`, which gw reaches through b0 10.8.0.1.
gateway_backends() {
  link_namespaces cl cl0 10.9.0.1/24 gw g0 10.9.0.11/24
  ip -n gw addr add 10.9.0.100/32 dev g0
  ip netns add back
  ip -n back link add br1 type bridge
  ip -n back link set br1 up
  ip link add b0 netns gw type veth peer name pgw netns back
  ip -n gw addr add 10.8.0.1/24 dev b0
  ip -n gw link set b0 up
  ip -n back link set pgw master br1 up
  ip netns exec gw sysctl -qw net.ipv4.ip_forward=1
  local n ns
  for n in $(seq "$1"); do
    ns=be$n
    ip netns add $ns
    ip link add e0 netns $ns type veth peer name p$ns netns back
    ip -n back link set p$ns master br1 up
    ip -n $ns addr add 10.8.0.$((n + 1))/24 dev e0
    ip -n $ns link set e0 up
    ip -n $ns link set lo up
    ip -n $ns route add default via 10.8.0.1
  done
}

# tcp_echo NS PORT: a TCP echo server in NS, in the background, a thread per
# connection; a connection the test resets ends that connection only.
tcp_echo() {
  ip netns exec "$1" python3 -c '
import socket, sys, threading
def echo(conn):
    try:
        while data := conn.recv(64):
            conn.sendall(data)
    except ConnectionResetError:
        pass
    conn.close()
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", int(sys.argv[1])))
srv.listen(64)
while True:
    threading.Thread(target=echo, args=(srv.accept()[0],), daemon=True).start()
' "$2" &
  # Ready when it listens: a test's first SYN must not meet a closed port.
  wait_port "$1" tcp "$2"
}

# wait_port NS tcp|udp PORT: waits (at most 10 s) until a socket in NS
# listens on PORT (a TCP listener, or a bound UDP socket), so a server
# started in the background is ready before the first packet comes.
wait_port() {
  local flag=-ltnH _
  [ "$2" = udp ] && flag=-lunH
  for _ in $(seq 100); do
    ip netns exec "$1" ss "$flag" "sport = :$3" | grep -q . && return 0
    sleep 0.1
  done
  fail "nothing in $1 listens on $2 port $3"
}

# tcpraw ARGS...: the raw TCP client (guest/tcpraw.py) in `cl`, from 10.9.0.1.
tcpraw() { ip netns exec cl python3 "$RG_REPO/qemu-tests/guest/tcpraw.py" 10.9.0.1 "$@"; }

# session PORT FIELD: a field of the session in `gw` whose client port is PORT.
session() {
  ctl_in gw sessions --json |
    jqr '.[] | select(get("client_port") == $port) | get($f)' --argjson port "$1" --arg f "$2"
}

fail() { echo "FAIL: $*" >&2; exit 1; }
# events_start NS OUT: `ringgatectl monitor` in NS in the background, its
# lines into OUT and its stderr into OUT.err; returns once it says it has
# joined the events group (at most 10 s).
events_start() {
  events_out=$2
  "$RG_REPO/userd/target/release/ringgatectl" -n "$1" monitor >"$2" 2>"$2.err" &
  events_pid=$!
  local deadline=$((SECONDS + 10))
  until grep -qx 'ringgatectl: monitoring the events group' "$2.err"; do
    kill -0 "$events_pid" 2>/dev/null || fail "ringgatectl monitor in $1 ended: $(cat "$2.err")"
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill "$events_pid" 2>/dev/null || true
      fail "ringgatectl monitor in $1 did not join the events group in 10 s: $(cat "$2.err")"
    fi
    sleep 0.1
  done
}
# events_stop REGEX: waits (at most 10 s) for a line matching REGEX from the
# monitor events_start started, then ends it. The monitor prints events in
# the order they came, so every event before that line is in OUT by then.
events_stop() {
  local deadline=$((SECONDS + 10))
  until grep -q "$1" "$events_out" || [ "$SECONDS" -ge "$deadline" ]; do
    kill -0 "$events_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$events_pid" 2>/dev/null || fail "ringgatectl monitor failed: $(cat "$events_out.err")"
  wait "$events_pid" 2>/dev/null || true
}
# wait_listening LOG: waits until the tcpdump writing its messages to LOG
# captures (under TCG on a busy host that can take seconds).
wait_listening() {
  for _ in $(seq 600); do grep -q listening "$1" && return 0; sleep 0.1; done
  fail "tcpdump did not start: $(cat "$1")"
}
expect_eq() { [ "$1" = "$2" ] || fail "${3:-values differ}: expected '$2', got '$1'"; }
expect_ge() { [ "$1" -ge "$2" ] || fail "${3:-value too small}: expected >= $2, got $1"; }
