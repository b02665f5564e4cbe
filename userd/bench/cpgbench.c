/*
 * cpgbench: corosync's side of `make bench-ring`, a libcpg client like
 * those of corosync's users. It joins the process group "rgbench", waits
 * until the group has --nodes members, and sends AGREED messages of
 * --size bytes, as fast as corosync takes them (--max) or at a fixed rate
 * (--rate R per second, on a schedule). Every message starts with its
 * intended send time (CLOCK_MONOTONIC, shared by every network namespace
 * of the host), so latency counts from the slot in the schedule, not from
 * when corosync let the client send (no coordinated omission). It counts
 * the messages delivered to it in a window of --seconds after one second
 * of warm-up and prints one key=value line.
 *
 * --death: sends 100 messages a second and prints, on CLOCK_REALTIME, when
 * the group first lost a member and when a message was next delivered, so
 * the script can time node death to the survivors delivering again.
 */
#include <corosync/cpg.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum mode { MODE_MAX, MODE_RATE, MODE_DEATH };

static uint64_t clock_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t members;
static uint64_t window_from, window_until;
static uint64_t delivered_in_window;
static uint64_t *latencies;
static size_t latency_count, latency_capacity;
static uint64_t lost_member_at, delivered_after_loss_at;

static void deliver(cpg_handle_t handle, const struct cpg_name *group,
		    uint32_t nodeid, uint32_t pid, void *msg, size_t len)
{
	uint64_t now = clock_us(CLOCK_MONOTONIC), intended;

	(void)handle, (void)group, (void)nodeid, (void)pid;
	if (len < sizeof(intended))
		return;
	memcpy(&intended, msg, sizeof(intended));
	if (now >= window_from && now < window_until)
		delivered_in_window++;
	if (intended >= window_from && intended < window_until &&
	    latency_count < latency_capacity)
		latencies[latency_count++] = now - intended;
	if (lost_member_at && !delivered_after_loss_at)
		delivered_after_loss_at = clock_us(CLOCK_REALTIME);
}

static void confchg(cpg_handle_t handle, const struct cpg_name *group,
		    const struct cpg_address *member_list, size_t member_count,
		    const struct cpg_address *left_list, size_t left_count,
		    const struct cpg_address *joined_list, size_t joined_count)
{
	(void)handle, (void)group, (void)member_list, (void)left_list;
	(void)joined_list, (void)joined_count;
	members = member_count;
	if (left_count > 0 && !lost_member_at)
		lost_member_at = clock_us(CLOCK_REALTIME);
}

static int compare(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void usage(const char *why)
{
	fprintf(stderr, "cpgbench: %s\nusage: cpgbench --nodes N --size BYTES --seconds S (--max | --rate R | --death)\n", why);
	exit(2);
}

int main(int argc, char **argv)
{
	cpg_callbacks_t callbacks = { .cpg_deliver_fn = deliver, .cpg_confchg_fn = confchg };
	struct cpg_name group = { .length = 7, .value = "rgbench" };
	enum mode mode = MODE_MAX;
	long nodes = 0, size = 1024;
	double seconds = 10, rate = 0;
	cpg_handle_t handle;
	uint64_t start, now, end, send_until, sent = 0, refused = 0;
	char *message;
	int fd, i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--nodes") && i + 1 < argc)
			nodes = atol(argv[++i]);
		else if (!strcmp(argv[i], "--size") && i + 1 < argc)
			size = atol(argv[++i]);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
			mode = MODE_RATE, rate = atof(argv[++i]);
		else if (!strcmp(argv[i], "--max"))
			mode = MODE_MAX;
		else if (!strcmp(argv[i], "--death"))
			mode = MODE_DEATH, rate = 100;
		else
			usage("unknown argument");
	}
	if (nodes < 2 || size < 16 || size > 60000 || seconds <= 0 ||
	    (mode == MODE_RATE && rate <= 0))
		usage("bad --nodes, --size, --seconds or --rate");
	message = calloc(1, size);
	latency_capacity = 8 << 20;
	latencies = malloc(latency_capacity * sizeof(*latencies));
	if (!message || !latencies)
		usage("out of memory");
	if (cpg_initialize(&handle, &callbacks) != CS_OK ||
	    cpg_join(handle, &group) != CS_OK ||
	    cpg_fd_get(handle, &fd) != CS_OK) {
		fprintf(stderr, "cpgbench: cannot reach corosync\n");
		return 1;
	}
	/* Wait for the whole group, at most 60 s. */
	start = clock_us(CLOCK_MONOTONIC);
	while (members < (size_t)nodes) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (clock_us(CLOCK_MONOTONIC) - start > 60000000) {
			fprintf(stderr, "cpgbench: only %zu of %ld members joined\n", members, nodes);
			return 1;
		}
		poll(&p, 1, 100);
		if (cpg_dispatch(handle, CS_DISPATCH_ALL) != CS_OK)
			return 1;
	}
	/* The script kills a node only once every client got this far. */
	fprintf(stderr, "group complete\n");
	start = clock_us(CLOCK_MONOTONIC);
	window_from = start + 1000000;
	window_until = window_from + (uint64_t)(seconds * 1e6);
	end = mode == MODE_DEATH ? start + 30000000 : window_until + 500000;
	/* After a death, corosync takes its token timeout and consensus (several
	 * seconds for 5 or more nodes) to form a new ring: keep sending until
	 * the end, or the survivors would have nothing to deliver. */
	send_until = mode == MODE_DEATH ? end : window_until;
	while ((now = clock_us(CLOCK_MONOTONIC)) < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t slot = mode == MODE_MAX ? now : start + (uint64_t)(sent * 1e6 / rate);
		int wait_ms = 0;

		if (slot <= now && now < send_until) {
			struct iovec iov = { .iov_base = message, .iov_len = size };
			cs_error_t err;

			memcpy(message, &slot, sizeof(slot));
			err = cpg_mcast_joined(handle, CPG_TYPE_AGREED, &iov, 1);
			if (err == CS_OK)
				sent++;
			else if (err == CS_ERR_TRY_AGAIN)
				/* Flow control: dispatch, then retry the same slot. */
				refused++, wait_ms = 1;
			else if (mode != MODE_DEATH)
				break;
		} else if (slot > now) {
			wait_ms = (int)((slot - now) / 1000);
		} else {
			wait_ms = 10;
		}
		poll(&p, 1, wait_ms);
		if (cpg_dispatch(handle, CS_DISPATCH_ALL) != CS_OK)
			break;
		if (mode == MODE_DEATH && delivered_after_loss_at)
			break;
	}
	qsort(latencies, latency_count, sizeof(*latencies), compare);
#define PCT(p) (latency_count ? latencies[(size_t)((latency_count - 1) * (p) + 0.5)] : 0)
	if (mode == MODE_DEATH)
		printf("lost_member_at_us=%llu delivered_after_us=%llu\n",
		       (unsigned long long)lost_member_at,
		       (unsigned long long)delivered_after_loss_at);
	else
		printf("msgs_per_s=%.0f p50_us=%llu p99_us=%llu max_us=%llu samples=%zu sent=%llu refused=%llu\n",
		       delivered_in_window / seconds, (unsigned long long)PCT(0.5),
		       (unsigned long long)PCT(0.99),
		       (unsigned long long)(latency_count ? latencies[latency_count - 1] : 0),
		       latency_count, (unsigned long long)sent, (unsigned long long)refused);
	cpg_finalize(handle);
	return 0;
}
