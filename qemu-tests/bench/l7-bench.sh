#!/bin/bash
# HTTP mode's cost, measured: the same client, gateway and back-end
# namespaces, with the gateway proxying the VIP by ringgate-l7d (:80),
# HAProxy (:81, mode http, roundrobin) and nginx (:82, proxy_pass with
# upstream keep-alive), all three to the same two busybox httpd back-ends.
# Prints, per proxy, requests/s for a small file (wrk, keep-alive clients)
# and MB/s for a large one (wrk, 4 connections), and requests/s for the
# small file from back-ends that keep connections open (nginx on :8080 of
# the same namespaces; the proxies on :83, :84, :85), as medians of interleaved
# rounds with the ratio to HAProxy, and each proxy's CPU per small request;
# then the resume gap: a download through
# ringgate-l7d whose back-end is killed mid-body, as the proxy measured it
# (failure noticed to first resumed byte) and as the client saw it (the
# longest time its file did not grow). It asserts nothing.
#
#   ┌─ ns cl ──────┐     ┌─ ns gw ──────────────────┐     ┌─ be1, be2 ────────┐
#   │ wrk, curl    ├─────┤ 10.9.0.100 (VIP)         ├─────┤ busybox httpd :80 │
#   └──────────────┘     │ l7d :80 haproxy :81      │     │ nginx :8080       │
#                        │ nginx :82 (and +3)       │     │ small.bin 1 KB    │
#                        └──────────────────────────┘     │ large.bin 16 MB   │
#                                                         │ huge.bin 64 MB    │
#                                                         └───────────────────┘
. "$RG_REPO/qemu-tests/lib.sh"
set +e

VIP=10.9.0.100
SECONDS_PER_FIGURE=${RG_BENCH_SECONDS:-5}
ROUNDS=${RG_BENCH_ROUNDS:-5}
L7D=$RG_REPO/userd/target/release/ringgate-l7d

gateway_backends 2
WWW=/tmp/www
mkdir -p $WWW
head -c 1024 /dev/urandom >$WWW/small.bin
head -c 16M /dev/urandom >$WWW/large.bin
head -c 64M /dev/urandom >$WWW/huge.bin
touch -d '2026-01-01 00:00:00' $WWW/small.bin $WWW/large.bin $WWW/huge.bin
for n in 1 2; do
  ip netns exec be$n busybox httpd -f -p 80 -h $WWW &
  echo $! >/tmp/httpd-be$n-80
  mkdir -p /tmp/nginx-be$n
  cat >/tmp/nginx-be$n/nginx.conf <<EOF
worker_processes 1;
pid /tmp/nginx-be$n/nginx.pid;
error_log /tmp/nginx-be$n/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 100000;
    client_body_temp_path /tmp/nginx-be$n/body;
    proxy_temp_path /tmp/nginx-be$n/proxy;
    fastcgi_temp_path /tmp/nginx-be$n/fastcgi;
    uwsgi_temp_path /tmp/nginx-be$n/uwsgi;
    scgi_temp_path /tmp/nginx-be$n/scgi;
    server { listen 10.8.0.$((n + 1)):8080; root $WWW; }
}
EOF
  ip netns exec be$n nginx -e /tmp/nginx-be$n/error.log -c /tmp/nginx-be$n/nginx.conf
done

# HAProxy and nginx run at the default priority, and so does ringgate-l7d
# here: its default (nice 10) yields the CPU to ringgated on a gateway,
# but in this VM it would yield it to wrk and the back-ends as well, which
# a real gateway does not host, and measure the scheduler, not the proxy.
cat >/tmp/l7.toml <<EOF
status_socket = "/tmp/l7.sock"
nice = 0
[[services]]
listen = "$VIP:80"
backends = [ { address = "10.8.0.2:80" }, { address = "10.8.0.3:80" } ]
[[services]]
listen = "$VIP:83"
backends = [ { address = "10.8.0.2:8080" }, { address = "10.8.0.3:8080" } ]
EOF
ip netns exec gw "$L7D" --config /tmp/l7.toml 2>/tmp/l7d.log &
L7D_PID=$!

cat >/tmp/haproxy.cfg <<EOF
global
    maxconn 4096
    nbthread 2
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
frontend vip
    bind $VIP:81
    default_backend servers
backend servers
    balance roundrobin
    server be1 10.8.0.2:80
    server be2 10.8.0.3:80
frontend vip_keep_alive
    bind $VIP:84
    default_backend keep_alive
backend keep_alive
    balance roundrobin
    server be1 10.8.0.2:8080
    server be2 10.8.0.3:8080
EOF
ip netns exec gw haproxy -f /tmp/haproxy.cfg -D -p /tmp/haproxy.pid

mkdir -p /tmp/nginx
cat >/tmp/nginx.conf <<EOF
worker_processes 2;
pid /tmp/nginx/nginx.pid;
error_log /tmp/nginx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path /tmp/nginx/body;
    proxy_temp_path /tmp/nginx/proxy;
    fastcgi_temp_path /tmp/nginx/fastcgi;
    uwsgi_temp_path /tmp/nginx/uwsgi;
    scgi_temp_path /tmp/nginx/scgi;
    upstream servers { server 10.8.0.2:80; server 10.8.0.3:80; keepalive 32; }
    upstream keep_alive { server 10.8.0.2:8080; server 10.8.0.3:8080; keepalive 32; }
    server {
        listen $VIP:82;
        location / {
            proxy_pass http://servers;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
    server {
        listen $VIP:85;
        location / {
            proxy_pass http://keep_alive;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
ip netns exec gw nginx -e /tmp/nginx/error.log -c /tmp/nginx.conf
sleep 2
for port in 80 81 82 83 84 85; do
  ip netns exec cl curl -sf -o /dev/null "http://$VIP:$port/small.bin" ||
    echo "measured: l7-bench: nothing answers on :$port ($(tail -3 /tmp/l7d.log /tmp/nginx/error.log 2>/dev/null | tr '\n' ' '))"
done

# requests/s for the small file; MB/s for the large one. Port + 3 is the
# same proxy in front of the keep-alive back-ends.
#
# Each figure for the small file also gives the proxy's CPU per request
# (its processes' user and system time over the run, from /proc/PID/stat,
# divided by the requests wrk completed): what a request costs the proxy,
# less at the mercy of how the VM shares its CPUs among wrk, the back-ends
# and the proxy than the request rate is.
proxy_pids() {
  case $1 in
    ringgate) echo "$L7D_PID" ;;
    haproxy) cat /tmp/haproxy.pid ;;
    nginx) echo "$(cat /tmp/nginx/nginx.pid) $(pgrep -P "$(cat /tmp/nginx/nginx.pid)" | tr '\n' ' ')" ;;
  esac
}
cpu_ticks() {
  local ticks=0 pid
  for pid in $(proxy_pids "$1"); do
    ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$ticks"
}
TICK_US=$((1000000 / $(getconf CLK_TCK)))
# small NAME PORT: "requests/s CPU-µs-per-request" for the small file.
small() {
  local before after out
  before=$(cpu_ticks "$1")
  out=$(ip netns exec cl wrk -t1 -c16 -d"${SECONDS_PER_FIGURE}s" "http://$VIP:$2/small.bin" 2>/dev/null)
  after=$(cpu_ticks "$1")
  echo "$out" | awk -v ticks=$((after - before)) -v tick_us=$TICK_US '
    /requests in/ {n = $1} /Requests\/sec/ {rps = $2}
    END {if (n > 0) printf "%s %.0f\n", rps, ticks * tick_us / n; else print "0 0"}'
}
large_mbps() {
  ip netns exec cl wrk -t1 -c4 -d"${SECONDS_PER_FIGURE}s" "http://$VIP:$1/large.bin" 2>/dev/null |
    awk '/Transfer\/sec/ {v=$2; u=substr(v, length(v)-1); n=substr(v, 1, length(v)-2);
      if (u == "GB") n *= 1024; else if (u == "KB") n /= 1024; else if (u != "MB") n = 0; printf "%.1f\n", n}' | grep . || echo 0
}

: >/tmp/l7-bench-results
for round in $(seq "$ROUNDS"); do
  for proxy in ringgate:80 haproxy:81 nginx:82; do
    name=${proxy%:*} port=${proxy#*:}
    # (The guest has no /dev/fd for a process substitution.)
    small_figures=$(small "$name" "$port")
    mbps=$(large_mbps "$port")
    kept_figures=$(small "$name" $((port + 3)))
    set -- $small_figures $kept_figures
    echo "$round $name $1 $mbps $3 $2 $4" >>/tmp/l7-bench-results
  done
done

python3 - /tmp/l7-bench-results <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
by = {}
for _, name, rps, mbps, kept, small_us, kept_us in rows:
    by.setdefault(name, []).append((float(rps), float(mbps), float(kept), float(small_us), float(kept_us)))
def median(name, i):
    return statistics.median(v[i] for v in by[name])
def ratios(name, i):
    # Per-round ratios to HAProxy (interleaved rounds share their drift).
    rounds = [r for r in zip(by[name], by["haproxy"]) if r[1][i] > 0]
    return [a[i] / b[i] for a, b in rounds]
print("measured: l7-bench: %d interleaved rounds, medians; ratio = median of per-round ratios to HAProxy (min..max)" % len(by["haproxy"]))
print("measured: l7-bench: %-9s %14s %-18s %10s %-18s %10s %-18s" % ("proxy", "small req/s", "ratio", "large MB/s", "ratio", "kept req/s", "ratio"))
for name in ("ringgate", "haproxy", "nginx"):
    cells = []
    for i in (0, 1, 2):
        r = ratios(name, i)
        spread = "%.2f (%.2f..%.2f)" % (statistics.median(r), min(r), max(r)) if r else "-"
        cells.append((median(name, i), spread))
    print("measured: l7-bench: %-9s %14.0f %-18s %10.1f %-18s %10.0f %-18s" % (name, cells[0][0], cells[0][1], cells[1][0], cells[1][1], cells[2][0], cells[2][1]))
print("measured: l7-bench: the proxy's CPU per request, medians; ratio to HAProxy as above (lower is cheaper)")
print("measured: l7-bench: %-9s %14s %-18s %10s %-18s" % ("proxy", "small us/req", "ratio", "kept us/req", "ratio"))
for name in ("ringgate", "haproxy", "nginx"):
    cells = []
    for i in (3, 4):
        r = ratios(name, i)
        spread = "%.2f (%.2f..%.2f)" % (statistics.median(r), min(r), max(r)) if r else "-"
        cells.append((median(name, i), spread))
    print("measured: l7-bench: %-9s %14.0f %-18s %10.0f %-18s" % (name, cells[0][0], cells[0][1], cells[1][0], cells[1][1]))
EOF

# The resume gap: a 64 MB download at 8 MB/s through ringgate-l7d, its
# back-end killed at 10 %, several times. The socket buffers between the
# back-end and the client grow to some 20 MB: with a smaller file the
# back-end may have sent its last byte before the kill.
status() {
  python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print(s.makefile().read())' /tmp/l7.sock
}
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
want=$(sha256sum <$WWW/huge.bin | cut -d' ' -f1)
for kill in $(seq 3); do
  rm -f /tmp/dl /tmp/dl.rc
  ip netns exec cl sh -c 'curl -sS --limit-rate 8M -o /tmp/dl "$1" 2>/tmp/dl.err; echo $? >/tmp/dl.rc' \
    sh "http://$VIP:80/huge.bin" &
  killed=$(python3 "$RG_REPO/qemu-tests/guest/kill-at.py" /tmp/dl $((64 * 1024 * 1024 / 10)) kill \
    be1:/tmp/httpd-be1-80 be2:/tmp/httpd-be2-80 2>/tmp/kill.err)

  last=0 since=$(date +%s%N) longest=0
  while [ ! -e /tmp/dl.rc ]; do
    size=$(size_of /tmp/dl) now=$(date +%s%N)
    if [ "$size" -gt "$last" ]; then
      [ $(((now - since) / 1000000)) -gt "$longest" ] && longest=$(((now - since) / 1000000))
      last=$size since=$now
    fi
    sleep 0.01
  done
  same=no
  [ "$(sha256sum </tmp/dl | cut -d' ' -f1)" = "$want" ] && same=yes
  gap=$(status | python3 -c 'import json,sys; print(json.load(sys.stdin)["services"][0]["counters"]["last_resume_gap_us"])' 2>/dev/null)
  if [ -z "$killed" ]; then
    # kill-at.py found no serving back-end: nothing was resumed, and the
    # proxy's gap would be the previous download's.
    echo "measured: l7-bench: resume $kill: no back-end killed ($(head -c 200 /tmp/kill.err)); curl $(cat /tmp/dl.rc), SHA-256 equal: $same"
  else
    echo "measured: l7-bench: resume $kill: killed $killed; proxy's gap ${gap:-?} us, client's longest pause ${longest} ms; curl $(cat /tmp/dl.rc), SHA-256 equal: $same"
  fi
  ns=${killed%% *}
  [ -n "$ns" ] && { ip netns exec "$ns" busybox httpd -f -p 80 -h $WWW & echo $! >"/tmp/httpd-$ns-80"; }
  sleep 6 # the killed back-end's hold-down (5 s) ends
done
kill "$(cat /tmp/haproxy.pid)" 2>/dev/null
kill "$(cat /tmp/nginx/nginx.pid)" 2>/dev/null
pkill -f ringgate-l7d
pkill -f "busybox httpd"
for n in 1 2; do kill "$(cat /tmp/nginx-be$n/nginx.pid)" 2>/dev/null; done
