/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	include/netlink/ringgate.yaml */
/* YNL-GEN kernel header */

#ifndef _LINUX_RINGGATE_GEN_H
#define _LINUX_RINGGATE_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/linux/ringgate.h>

/* Common nested types */
extern const struct nla_policy ringgate_backend_nl_policy[RINGGATE_A_BACKEND_BYTES_OUT + 1];
extern const struct nla_policy ringgate_peer_nl_policy[RINGGATE_A_PEER_PORT_HI + 1];
extern const struct nla_policy ringgate_session_entry_nl_policy[RINGGATE_A_SESSION_OUTBOUND + 1];

int ringgate_nl_pre_doit_admin(const struct genl_split_ops *ops,
			       struct sk_buff *skb, struct genl_info *info);
int ringgate_nl_dump_start_admin(struct netlink_callback *cb);

int ringgate_nl_status_get_doit(struct sk_buff *skb, struct genl_info *info);
int ringgate_nl_counters_reset_doit(struct sk_buff *skb,
				    struct genl_info *info);
int ringgate_nl_vip_add_doit(struct sk_buff *skb, struct genl_info *info);
int ringgate_nl_vip_del_doit(struct sk_buff *skb, struct genl_info *info);
int ringgate_nl_vip_set_doit(struct sk_buff *skb, struct genl_info *info);
int ringgate_nl_vip_get_doit(struct sk_buff *skb, struct genl_info *info);
int ringgate_nl_vip_get_dumpit(struct sk_buff *skb,
			       struct netlink_callback *cb);
int ringgate_nl_service_add_doit(struct sk_buff *skb, struct genl_info *info);
int ringgate_nl_service_set_doit(struct sk_buff *skb, struct genl_info *info);
int ringgate_nl_service_del_doit(struct sk_buff *skb, struct genl_info *info);
int ringgate_nl_backend_add_doit(struct sk_buff *skb, struct genl_info *info);
int ringgate_nl_backend_set_doit(struct sk_buff *skb, struct genl_info *info);
int ringgate_nl_backend_del_doit(struct sk_buff *skb, struct genl_info *info);
int ringgate_nl_service_get_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb);
int ringgate_nl_config_set_doit(struct sk_buff *skb, struct genl_info *info);
int ringgate_nl_config_get_doit(struct sk_buff *skb, struct genl_info *info);
int ringgate_nl_session_get_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb);
int ringgate_nl_owner_lease_doit(struct sk_buff *skb, struct genl_info *info);
int ringgate_nl_session_import_doit(struct sk_buff *skb,
				    struct genl_info *info);
int ringgate_nl_session_adopt_doit(struct sk_buff *skb, struct genl_info *info);
int ringgate_nl_peer_set_doit(struct sk_buff *skb, struct genl_info *info);
int ringgate_nl_snat_set_doit(struct sk_buff *skb, struct genl_info *info);
int ringgate_nl_snat_get_doit(struct sk_buff *skb, struct genl_info *info);

enum {
	RINGGATE_NLGRP_EVENTS,
	RINGGATE_NLGRP_SESSIONS,
};

extern struct genl_family ringgate_nl_family;

#endif /* _LINUX_RINGGATE_GEN_H */
