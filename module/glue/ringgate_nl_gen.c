// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	include/netlink/ringgate.yaml */
/* YNL-GEN kernel source */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "ringgate_nl_gen.h"

#include <uapi/linux/ringgate.h>

/* Integer value ranges */
static const struct netlink_range_validation ringgate_a_config_max_sessions_range = {
	.min	= 64ULL,
	.max	= 1048576ULL,
};

static const struct netlink_range_validation ringgate_a_config_timeout_syn_range = {
	.min	= 1ULL,
	.max	= 86400ULL,
};

static const struct netlink_range_validation ringgate_a_config_timeout_established_range = {
	.min	= 1ULL,
	.max	= 86400ULL,
};

static const struct netlink_range_validation ringgate_a_config_timeout_closing_range = {
	.min	= 1ULL,
	.max	= 86400ULL,
};

static const struct netlink_range_validation ringgate_a_config_timeout_udp_range = {
	.min	= 1ULL,
	.max	= 86400ULL,
};

static const struct netlink_range_validation ringgate_a_config_owner_lease_ms_range = {
	.max	= 60000ULL,
};

static const struct netlink_range_validation ringgate_a_session_changed_within_ms_range = {
	.min	= 1ULL,
	.max	= 3600000ULL,
};

/* Common nested types */
const struct nla_policy ringgate_backend_nl_policy[RINGGATE_A_BACKEND_BYTES_OUT + 1] = {
	[RINGGATE_A_BACKEND_ADDR] = { .type = NLA_U32, },
	[RINGGATE_A_BACKEND_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[RINGGATE_A_BACKEND_WEIGHT] = NLA_POLICY_RANGE(NLA_U32, 1, 1000),
	[RINGGATE_A_BACKEND_UP] = NLA_POLICY_MAX(NLA_U8, 1),
	[RINGGATE_A_BACKEND_ACTIVE_CONNS] = { .type = NLA_U32, },
	[RINGGATE_A_BACKEND_INACTIVE_CONNS] = { .type = NLA_U32, },
	[RINGGATE_A_BACKEND_CONNS] = { .type = NLA_UINT, },
	[RINGGATE_A_BACKEND_PACKETS_IN] = { .type = NLA_UINT, },
	[RINGGATE_A_BACKEND_BYTES_IN] = { .type = NLA_UINT, },
	[RINGGATE_A_BACKEND_PACKETS_OUT] = { .type = NLA_UINT, },
	[RINGGATE_A_BACKEND_BYTES_OUT] = { .type = NLA_UINT, },
};

const struct nla_policy ringgate_peer_nl_policy[RINGGATE_A_PEER_PORT_HI + 1] = {
	[RINGGATE_A_PEER_NODE_ID] = NLA_POLICY_MIN(NLA_U16, 1),
	[RINGGATE_A_PEER_IFINDEX] = NLA_POLICY_MIN(NLA_U32, 1),
	[RINGGATE_A_PEER_MAC] = NLA_POLICY_EXACT_LEN(6),
	[RINGGATE_A_PEER_PORT_LO] = NLA_POLICY_MIN(NLA_U16, 1),
	[RINGGATE_A_PEER_PORT_HI] = NLA_POLICY_MIN(NLA_U16, 1),
};

const struct nla_policy ringgate_session_entry_nl_policy[RINGGATE_A_SESSION_OUTBOUND + 1] = {
	[RINGGATE_A_SESSION_PROTO] = NLA_POLICY_RANGE(NLA_U8, 6, 17),
	[RINGGATE_A_SESSION_CLIENT_ADDR] = { .type = NLA_U32, },
	[RINGGATE_A_SESSION_CLIENT_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[RINGGATE_A_SESSION_VIP] = { .type = NLA_U32, },
	[RINGGATE_A_SESSION_VIP_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[RINGGATE_A_SESSION_BACKEND_ADDR] = { .type = NLA_U32, },
	[RINGGATE_A_SESSION_BACKEND_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[RINGGATE_A_SESSION_STAGE] = NLA_POLICY_MAX(NLA_U32, 4),
	[RINGGATE_A_SESSION_EXPIRES_MS] = NLA_POLICY_MIN(NLA_U32, 1),
	[RINGGATE_A_SESSION_OWNER] = { .type = NLA_U16, },
	[RINGGATE_A_SESSION_OUTBOUND] = NLA_POLICY_MAX(NLA_U8, 1),
};

/* RINGGATE_CMD_STATUS_GET - do */
static const struct nla_policy ringgate_status_get_nl_policy[RINGGATE_A_STATUS_HOOK + 1] = {
	[RINGGATE_A_STATUS_HOOK] = NLA_POLICY_MAX(NLA_U32, 6),
};

/* RINGGATE_CMD_COUNTERS_RESET - do */
static const struct nla_policy ringgate_counters_reset_nl_policy[RINGGATE_A_STATUS_HOOK + 1] = {
	[RINGGATE_A_STATUS_HOOK] = NLA_POLICY_MAX(NLA_U32, 6),
};

/* RINGGATE_CMD_VIP_ADD - do */
static const struct nla_policy ringgate_vip_add_nl_policy[RINGGATE_A_VIP_GARP_COUNT + 1] = {
	[RINGGATE_A_VIP_ADDR] = { .type = NLA_U32, },
	[RINGGATE_A_VIP_GARP_COUNT] = NLA_POLICY_RANGE(NLA_U32, 1, RINGGATE_MAX_GARP_COUNT),
};

/* RINGGATE_CMD_VIP_DEL - do */
static const struct nla_policy ringgate_vip_del_nl_policy[RINGGATE_A_VIP_ADDR + 1] = {
	[RINGGATE_A_VIP_ADDR] = { .type = NLA_U32, },
};

/* RINGGATE_CMD_VIP_SET - do */
static const struct nla_policy ringgate_vip_set_nl_policy[RINGGATE_A_VIP_OWNER_NODE + 1] = {
	[RINGGATE_A_VIP_ADDR] = { .type = NLA_U32, },
	[RINGGATE_A_VIP_OWNED] = NLA_POLICY_MAX(NLA_U8, 1),
	[RINGGATE_A_VIP_GARP_COUNT] = NLA_POLICY_RANGE(NLA_U32, 1, RINGGATE_MAX_GARP_COUNT),
	[RINGGATE_A_VIP_OWNER_NODE] = { .type = NLA_U16, },
};

/* RINGGATE_CMD_VIP_GET - do */
static const struct nla_policy ringgate_vip_get_nl_policy[RINGGATE_A_VIP_ADDR + 1] = {
	[RINGGATE_A_VIP_ADDR] = { .type = NLA_U32, },
};

/* RINGGATE_CMD_SERVICE_ADD - do */
static const struct nla_policy ringgate_service_add_nl_policy[RINGGATE_A_SERVICE_SCHEDULER + 1] = {
	[RINGGATE_A_SERVICE_VIP] = { .type = NLA_U32, },
	[RINGGATE_A_SERVICE_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[RINGGATE_A_SERVICE_PROTO] = NLA_POLICY_RANGE(NLA_U8, 6, 17),
	[RINGGATE_A_SERVICE_SCHEDULER] = NLA_POLICY_MAX(NLA_U32, 2),
};

/* RINGGATE_CMD_SERVICE_SET - do */
static const struct nla_policy ringgate_service_set_nl_policy[RINGGATE_A_SERVICE_SCHEDULER + 1] = {
	[RINGGATE_A_SERVICE_VIP] = { .type = NLA_U32, },
	[RINGGATE_A_SERVICE_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[RINGGATE_A_SERVICE_PROTO] = NLA_POLICY_RANGE(NLA_U8, 6, 17),
	[RINGGATE_A_SERVICE_SCHEDULER] = NLA_POLICY_MAX(NLA_U32, 2),
};

/* RINGGATE_CMD_SERVICE_DEL - do */
static const struct nla_policy ringgate_service_del_nl_policy[RINGGATE_A_SERVICE_PROTO + 1] = {
	[RINGGATE_A_SERVICE_VIP] = { .type = NLA_U32, },
	[RINGGATE_A_SERVICE_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[RINGGATE_A_SERVICE_PROTO] = NLA_POLICY_RANGE(NLA_U8, 6, 17),
};

/* RINGGATE_CMD_BACKEND_ADD - do */
static const struct nla_policy ringgate_backend_add_nl_policy[RINGGATE_A_SERVICE_BACKEND + 1] = {
	[RINGGATE_A_SERVICE_VIP] = { .type = NLA_U32, },
	[RINGGATE_A_SERVICE_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[RINGGATE_A_SERVICE_PROTO] = NLA_POLICY_RANGE(NLA_U8, 6, 17),
	[RINGGATE_A_SERVICE_BACKEND] = NLA_POLICY_NESTED(ringgate_backend_nl_policy),
};

/* RINGGATE_CMD_BACKEND_SET - do */
static const struct nla_policy ringgate_backend_set_nl_policy[RINGGATE_A_SERVICE_BACKEND + 1] = {
	[RINGGATE_A_SERVICE_VIP] = { .type = NLA_U32, },
	[RINGGATE_A_SERVICE_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[RINGGATE_A_SERVICE_PROTO] = NLA_POLICY_RANGE(NLA_U8, 6, 17),
	[RINGGATE_A_SERVICE_BACKEND] = NLA_POLICY_NESTED(ringgate_backend_nl_policy),
};

/* RINGGATE_CMD_BACKEND_DEL - do */
static const struct nla_policy ringgate_backend_del_nl_policy[RINGGATE_A_SERVICE_BACKEND + 1] = {
	[RINGGATE_A_SERVICE_VIP] = { .type = NLA_U32, },
	[RINGGATE_A_SERVICE_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[RINGGATE_A_SERVICE_PROTO] = NLA_POLICY_RANGE(NLA_U8, 6, 17),
	[RINGGATE_A_SERVICE_BACKEND] = NLA_POLICY_NESTED(ringgate_backend_nl_policy),
};

/* RINGGATE_CMD_CONFIG_SET - do */
static const struct nla_policy ringgate_config_set_nl_policy[RINGGATE_A_CONFIG_CONNTRACK + 1] = {
	[RINGGATE_A_CONFIG_NODE_ID] = { .type = NLA_U16, },
	[RINGGATE_A_CONFIG_MAX_SESSIONS] = NLA_POLICY_FULL_RANGE(NLA_U32, &ringgate_a_config_max_sessions_range),
	[RINGGATE_A_CONFIG_TIMEOUT_SYN] = NLA_POLICY_FULL_RANGE(NLA_U32, &ringgate_a_config_timeout_syn_range),
	[RINGGATE_A_CONFIG_TIMEOUT_ESTABLISHED] = NLA_POLICY_FULL_RANGE(NLA_U32, &ringgate_a_config_timeout_established_range),
	[RINGGATE_A_CONFIG_TIMEOUT_CLOSING] = NLA_POLICY_FULL_RANGE(NLA_U32, &ringgate_a_config_timeout_closing_range),
	[RINGGATE_A_CONFIG_TIMEOUT_UDP] = NLA_POLICY_FULL_RANGE(NLA_U32, &ringgate_a_config_timeout_udp_range),
	[RINGGATE_A_CONFIG_DOWN_POLICY] = NLA_POLICY_MAX(NLA_U32, 1),
	[RINGGATE_A_CONFIG_CONNTRACK] = NLA_POLICY_MAX(NLA_U32, 1),
};

/* RINGGATE_CMD_SESSION_GET - dump */
static const struct nla_policy ringgate_session_get_nl_policy[RINGGATE_A_SESSION_CHANGED_WITHIN_MS + 1] = {
	[RINGGATE_A_SESSION_OWNER] = { .type = NLA_U16, },
	[RINGGATE_A_SESSION_CHANGED_WITHIN_MS] = NLA_POLICY_FULL_RANGE(NLA_U32, &ringgate_a_session_changed_within_ms_range),
};

/* RINGGATE_CMD_OWNER_LEASE - do */
static const struct nla_policy ringgate_owner_lease_nl_policy[RINGGATE_A_CONFIG_OWNER_LEASE_MS + 1] = {
	[RINGGATE_A_CONFIG_OWNER_LEASE_MS] = NLA_POLICY_FULL_RANGE(NLA_U32, &ringgate_a_config_owner_lease_ms_range),
};

/* RINGGATE_CMD_SESSION_IMPORT - do */
static const struct nla_policy ringgate_session_import_nl_policy[RINGGATE_A_SESSION_BATCH_SESSION + 1] = {
	[RINGGATE_A_SESSION_BATCH_SESSION] = NLA_POLICY_NESTED(ringgate_session_entry_nl_policy),
};

/* RINGGATE_CMD_SESSION_ADOPT - do */
static const struct nla_policy ringgate_session_adopt_nl_policy[RINGGATE_A_SESSION_BATCH_OWNER + 1] = {
	[RINGGATE_A_SESSION_BATCH_VIP] = { .type = NLA_U32, },
	[RINGGATE_A_SESSION_BATCH_OWNER] = { .type = NLA_U16, },
};

/* RINGGATE_CMD_PEER_SET - do */
static const struct nla_policy ringgate_peer_set_nl_policy[RINGGATE_A_PEER_TABLE_PEER + 1] = {
	[RINGGATE_A_PEER_TABLE_PEER] = NLA_POLICY_NESTED(ringgate_peer_nl_policy),
};

/* RINGGATE_CMD_SNAT_SET - do */
static const struct nla_policy ringgate_snat_set_nl_policy[RINGGATE_A_SNAT_PORT_HI + 1] = {
	[RINGGATE_A_SNAT_SOURCE] = { .type = NLA_U32, },
	[RINGGATE_A_SNAT_PREFIX_LEN] = NLA_POLICY_MAX(NLA_U8, 32),
	[RINGGATE_A_SNAT_TO] = { .type = NLA_U32, },
	[RINGGATE_A_SNAT_PORT_LO] = NLA_POLICY_MIN(NLA_U16, 1024),
	[RINGGATE_A_SNAT_PORT_HI] = NLA_POLICY_MIN(NLA_U16, 1024),
};

/* Ops table for ringgate */
static const struct genl_split_ops ringgate_nl_ops[] = {
	{
		.cmd		= RINGGATE_CMD_STATUS_GET,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_status_get_doit,
		.policy		= ringgate_status_get_nl_policy,
		.maxattr	= RINGGATE_A_STATUS_HOOK,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= RINGGATE_CMD_COUNTERS_RESET,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_counters_reset_doit,
		.policy		= ringgate_counters_reset_nl_policy,
		.maxattr	= RINGGATE_A_STATUS_HOOK,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= RINGGATE_CMD_VIP_ADD,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_vip_add_doit,
		.policy		= ringgate_vip_add_nl_policy,
		.maxattr	= RINGGATE_A_VIP_GARP_COUNT,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= RINGGATE_CMD_VIP_DEL,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_vip_del_doit,
		.policy		= ringgate_vip_del_nl_policy,
		.maxattr	= RINGGATE_A_VIP_ADDR,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= RINGGATE_CMD_VIP_SET,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_vip_set_doit,
		.policy		= ringgate_vip_set_nl_policy,
		.maxattr	= RINGGATE_A_VIP_OWNER_NODE,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= RINGGATE_CMD_VIP_GET,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_vip_get_doit,
		.policy		= ringgate_vip_get_nl_policy,
		.maxattr	= RINGGATE_A_VIP_ADDR,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= RINGGATE_CMD_VIP_GET,
		.start	= ringgate_nl_dump_start_admin,
		.dumpit	= ringgate_nl_vip_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= RINGGATE_CMD_SERVICE_ADD,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_service_add_doit,
		.policy		= ringgate_service_add_nl_policy,
		.maxattr	= RINGGATE_A_SERVICE_SCHEDULER,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= RINGGATE_CMD_SERVICE_SET,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_service_set_doit,
		.policy		= ringgate_service_set_nl_policy,
		.maxattr	= RINGGATE_A_SERVICE_SCHEDULER,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= RINGGATE_CMD_SERVICE_DEL,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_service_del_doit,
		.policy		= ringgate_service_del_nl_policy,
		.maxattr	= RINGGATE_A_SERVICE_PROTO,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= RINGGATE_CMD_BACKEND_ADD,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_backend_add_doit,
		.policy		= ringgate_backend_add_nl_policy,
		.maxattr	= RINGGATE_A_SERVICE_BACKEND,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= RINGGATE_CMD_BACKEND_SET,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_backend_set_doit,
		.policy		= ringgate_backend_set_nl_policy,
		.maxattr	= RINGGATE_A_SERVICE_BACKEND,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= RINGGATE_CMD_BACKEND_DEL,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_backend_del_doit,
		.policy		= ringgate_backend_del_nl_policy,
		.maxattr	= RINGGATE_A_SERVICE_BACKEND,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= RINGGATE_CMD_SERVICE_GET,
		.start	= ringgate_nl_dump_start_admin,
		.dumpit	= ringgate_nl_service_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= RINGGATE_CMD_CONFIG_SET,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_config_set_doit,
		.policy		= ringgate_config_set_nl_policy,
		.maxattr	= RINGGATE_A_CONFIG_CONNTRACK,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= RINGGATE_CMD_CONFIG_GET,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_config_get_doit,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= RINGGATE_CMD_SESSION_GET,
		.start		= ringgate_nl_dump_start_admin,
		.dumpit		= ringgate_nl_session_get_dumpit,
		.policy		= ringgate_session_get_nl_policy,
		.maxattr	= RINGGATE_A_SESSION_CHANGED_WITHIN_MS,
		.flags		= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= RINGGATE_CMD_OWNER_LEASE,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_owner_lease_doit,
		.policy		= ringgate_owner_lease_nl_policy,
		.maxattr	= RINGGATE_A_CONFIG_OWNER_LEASE_MS,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= RINGGATE_CMD_SESSION_IMPORT,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_session_import_doit,
		.policy		= ringgate_session_import_nl_policy,
		.maxattr	= RINGGATE_A_SESSION_BATCH_SESSION,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= RINGGATE_CMD_SESSION_ADOPT,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_session_adopt_doit,
		.policy		= ringgate_session_adopt_nl_policy,
		.maxattr	= RINGGATE_A_SESSION_BATCH_OWNER,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= RINGGATE_CMD_PEER_SET,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_peer_set_doit,
		.policy		= ringgate_peer_set_nl_policy,
		.maxattr	= RINGGATE_A_PEER_TABLE_PEER,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= RINGGATE_CMD_SNAT_SET,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_snat_set_doit,
		.policy		= ringgate_snat_set_nl_policy,
		.maxattr	= RINGGATE_A_SNAT_PORT_HI,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= RINGGATE_CMD_SNAT_GET,
		.pre_doit	= ringgate_nl_pre_doit_admin,
		.doit		= ringgate_nl_snat_get_doit,
		.flags		= GENL_CMD_CAP_DO,
	},
};

static const struct genl_multicast_group ringgate_nl_mcgrps[] = {
	[RINGGATE_NLGRP_EVENTS] = { "events", .flags = GENL_MCAST_CAP_NET_ADMIN, },
	[RINGGATE_NLGRP_SESSIONS] = { "sessions", .flags = GENL_MCAST_CAP_NET_ADMIN, },
};

struct genl_family ringgate_nl_family __ro_after_init = {
	.name		= RINGGATE_FAMILY_NAME,
	.version	= RINGGATE_FAMILY_VERSION,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.split_ops	= ringgate_nl_ops,
	.n_split_ops	= ARRAY_SIZE(ringgate_nl_ops),
	.mcgrps		= ringgate_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(ringgate_nl_mcgrps),
};
