/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	include/netlink/ringgate.yaml */
/* YNL-GEN uapi header */

#ifndef _UAPI_LINUX_RINGGATE_H
#define _UAPI_LINUX_RINGGATE_H

#define RINGGATE_FAMILY_NAME	"ringgate"
#define RINGGATE_FAMILY_VERSION	1

/**
 * enum ringgate_hook - The netfilter hook points ringgate attaches to, one
 *   counter set each.
 */
enum ringgate_hook {
	RINGGATE_HOOK_PRE_ROUTING,
	RINGGATE_HOOK_LOCAL_IN,
	RINGGATE_HOOK_FORWARD,
	RINGGATE_HOOK_LOCAL_OUT,
	RINGGATE_HOOK_POST_ROUTING,
	RINGGATE_HOOK_ARP_IN,
	RINGGATE_HOOK_ARP_OUT,
};

/**
 * enum ringgate_scheduler - How a service picks the back-end of a new
 *   connection.
 * @RINGGATE_SCHEDULER_WRR: Weighted round-robin over the back-ends that are
 *   up.
 * @RINGGATE_SCHEDULER_HASH: Consistent hashing of the client address (Maglev):
 *   a client keeps its back-end while that back-end is up, and a back-end
 *   change moves only about its share of clients. Weights apply.
 * @RINGGATE_SCHEDULER_LC: Weighted least-connections: the back-end with the
 *   fewest connections per unit of weight, an active connection weighing as
 *   much as 256 inactive (closing) ones, as IPVS's wlc.
 */
enum ringgate_scheduler {
	RINGGATE_SCHEDULER_WRR,
	RINGGATE_SCHEDULER_HASH,
	RINGGATE_SCHEDULER_LC,
};

/**
 * enum ringgate_session_stage - Where a NAT session is in its life; each stage
 *   has its own timeout.
 */
enum ringgate_session_stage {
	RINGGATE_SESSION_STAGE_UDP,
	RINGGATE_SESSION_STAGE_SYN,
	RINGGATE_SESSION_STAGE_ESTABLISHED,
	RINGGATE_SESSION_STAGE_CLOSING,
	RINGGATE_SESSION_STAGE_RESET,
};

/**
 * enum ringgate_down_policy - What happens to the sessions of a back-end taken
 *   down or removed.
 * @RINGGATE_DOWN_POLICY_KEEP: They go on until they end or expire (new
 *   connections go elsewhere).
 * @RINGGATE_DOWN_POLICY_DROP: They are removed at once, so the client's next
 *   packet opens a new session to a back-end that is up (TCP clients see a
 *   reset).
 */
enum ringgate_down_policy {
	RINGGATE_DOWN_POLICY_KEEP,
	RINGGATE_DOWN_POLICY_DROP,
};

/**
 * enum ringgate_conntrack_mode - Whether conntrack sees the connections
 *   ringgate translates.
 * @RINGGATE_CONNTRACK_MODE_UNTRACKED: Translated packets are marked untracked:
 *   no conntrack cost, but no ct state rule matches them (a stateful ruleset
 *   must accept ct state untracked).
 * @RINGGATE_CONNTRACK_MODE_TRACKED: Conntrack tracks each translated
 *   connection as client <-> back-end (ringgate translates before conntrack
 *   sees a packet), so ct state new, established and related rules, conntrack
 *   -L, its events and conntrackd see it. ICMP errors about it are related.
 *   Costs nothing in a namespace where nothing uses conntrack.
 */
enum ringgate_conntrack_mode {
	RINGGATE_CONNTRACK_MODE_UNTRACKED,
	RINGGATE_CONNTRACK_MODE_TRACKED,
};

#define RINGGATE_MAX_SERVICES	32
#define RINGGATE_MAX_BACKENDS	32
#define RINGGATE_MAX_VIPS	256
#define RINGGATE_MAX_GARP_COUNT	16

enum {
	RINGGATE_A_HOOK_STATS_HOOK = 1,
	RINGGATE_A_HOOK_STATS_PACKETS,
	RINGGATE_A_HOOK_STATS_BYTES,

	__RINGGATE_A_HOOK_STATS_MAX,
	RINGGATE_A_HOOK_STATS_MAX = (__RINGGATE_A_HOOK_STATS_MAX - 1)
};

enum {
	RINGGATE_A_STATUS_VERSION = 1,
	RINGGATE_A_STATUS_HOOKS,
	RINGGATE_A_STATUS_HOOK,
	RINGGATE_A_STATUS_ARP_SUPPRESSED,
	RINGGATE_A_STATUS_GARP_SENT,
	RINGGATE_A_STATUS_SESSIONS,
	RINGGATE_A_STATUS_SESSIONS_DROPPED,
	RINGGATE_A_STATUS_NO_BACKEND,
	RINGGATE_A_STATUS_SESSIONS_EVICTED,
	RINGGATE_A_STATUS_VIP_GENERATION,
	RINGGATE_A_STATUS_SERVICE_GENERATION,

	__RINGGATE_A_STATUS_MAX,
	RINGGATE_A_STATUS_MAX = (__RINGGATE_A_STATUS_MAX - 1)
};

enum {
	RINGGATE_A_VIP_ADDR = 1,
	RINGGATE_A_VIP_OWNED,
	RINGGATE_A_VIP_GARP_COUNT,

	__RINGGATE_A_VIP_MAX,
	RINGGATE_A_VIP_MAX = (__RINGGATE_A_VIP_MAX - 1)
};

enum {
	RINGGATE_A_BACKEND_ADDR = 1,
	RINGGATE_A_BACKEND_PORT,
	RINGGATE_A_BACKEND_WEIGHT,
	RINGGATE_A_BACKEND_UP,
	RINGGATE_A_BACKEND_ACTIVE_CONNS,
	RINGGATE_A_BACKEND_INACTIVE_CONNS,
	RINGGATE_A_BACKEND_CONNS,
	RINGGATE_A_BACKEND_PACKETS_IN,
	RINGGATE_A_BACKEND_BYTES_IN,
	RINGGATE_A_BACKEND_PACKETS_OUT,
	RINGGATE_A_BACKEND_BYTES_OUT,

	__RINGGATE_A_BACKEND_MAX,
	RINGGATE_A_BACKEND_MAX = (__RINGGATE_A_BACKEND_MAX - 1)
};

enum {
	RINGGATE_A_SERVICE_VIP = 1,
	RINGGATE_A_SERVICE_PORT,
	RINGGATE_A_SERVICE_PROTO,
	RINGGATE_A_SERVICE_SCHEDULER,
	RINGGATE_A_SERVICE_BACKEND,
	RINGGATE_A_SERVICE_BACKENDS,

	__RINGGATE_A_SERVICE_MAX,
	RINGGATE_A_SERVICE_MAX = (__RINGGATE_A_SERVICE_MAX - 1)
};

enum {
	RINGGATE_A_CONFIG_NODE_ID = 1,
	RINGGATE_A_CONFIG_MAX_SESSIONS,
	RINGGATE_A_CONFIG_TIMEOUT_SYN,
	RINGGATE_A_CONFIG_TIMEOUT_ESTABLISHED,
	RINGGATE_A_CONFIG_TIMEOUT_CLOSING,
	RINGGATE_A_CONFIG_TIMEOUT_UDP,
	RINGGATE_A_CONFIG_DOWN_POLICY,
	RINGGATE_A_CONFIG_OWNER_LEASE_MS,
	RINGGATE_A_CONFIG_CONNTRACK,

	__RINGGATE_A_CONFIG_MAX,
	RINGGATE_A_CONFIG_MAX = (__RINGGATE_A_CONFIG_MAX - 1)
};

enum {
	RINGGATE_A_SESSION_PROTO = 1,
	RINGGATE_A_SESSION_CLIENT_ADDR,
	RINGGATE_A_SESSION_CLIENT_PORT,
	RINGGATE_A_SESSION_VIP,
	RINGGATE_A_SESSION_VIP_PORT,
	RINGGATE_A_SESSION_BACKEND_ADDR,
	RINGGATE_A_SESSION_BACKEND_PORT,
	RINGGATE_A_SESSION_STAGE,
	RINGGATE_A_SESSION_EXPIRES_MS,
	RINGGATE_A_SESSION_OWNER,

	__RINGGATE_A_SESSION_MAX,
	RINGGATE_A_SESSION_MAX = (__RINGGATE_A_SESSION_MAX - 1)
};

enum {
	RINGGATE_A_SESSION_BATCH_SESSION = 1,
	RINGGATE_A_SESSION_BATCH_IMPORTED,
	RINGGATE_A_SESSION_BATCH_REFUSED,

	__RINGGATE_A_SESSION_BATCH_MAX,
	RINGGATE_A_SESSION_BATCH_MAX = (__RINGGATE_A_SESSION_BATCH_MAX - 1)
};

enum {
	RINGGATE_CMD_STATUS_GET = 1,
	RINGGATE_CMD_COUNTERS_RESET,
	RINGGATE_CMD_VIP_ADD,
	RINGGATE_CMD_VIP_DEL,
	RINGGATE_CMD_VIP_SET,
	RINGGATE_CMD_VIP_GET,
	RINGGATE_CMD_SERVICE_ADD,
	RINGGATE_CMD_SERVICE_SET,
	RINGGATE_CMD_SERVICE_DEL,
	RINGGATE_CMD_BACKEND_ADD,
	RINGGATE_CMD_BACKEND_SET,
	RINGGATE_CMD_BACKEND_DEL,
	RINGGATE_CMD_SERVICE_GET,
	RINGGATE_CMD_CONFIG_SET,
	RINGGATE_CMD_CONFIG_GET,
	RINGGATE_CMD_SESSION_GET,
	RINGGATE_CMD_VIP_OWNER_NTF,
	RINGGATE_CMD_SESSIONS_FULL_NTF,
	RINGGATE_CMD_OWNER_LEASE,
	RINGGATE_CMD_SESSION_IMPORT,

	__RINGGATE_CMD_MAX,
	RINGGATE_CMD_MAX = (__RINGGATE_CMD_MAX - 1)
};

#define RINGGATE_MCGRP_EVENTS	"events"

#endif /* _UAPI_LINUX_RINGGATE_H */
