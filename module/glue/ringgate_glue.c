// SPDX-License-Identifier: GPL-2.0
/*
 * C glue for ringgate.ko: owns the C structures the Rust side cannot describe
 * (netfilter hook ops, pernet ops, the generic netlink family registration)
 * and turns static inline helpers into callable functions. See
 * ringgate_glue.h for why this layer exists; it makes no decisions.
 */

#include <linux/capability.h>
#include <linux/cpumask.h>
#include <linux/netfilter.h>
#include <linux/netfilter_arp.h>
#include <linux/netfilter_ipv4.h>
#include <linux/skbuff.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "ringgate_glue.h"
#include "ringgate_nl_gen.h"

/*
 * Hook priorities. Pre-routing runs just after defragmentation and before
 * conntrack, so ringgate sees whole datagrams with their original addresses
 * (the place IPVS and nftables DNAT compete for later is after conntrack);
 * the other IPv4 hooks run first so their counters see every packet whatever
 * other rules decide.
 */
#define RG_PRI_PRE_ROUTING	(NF_IP_PRI_CONNTRACK_DEFRAG + 1)
#define RG_PRI_OTHERS		NF_IP_PRI_FIRST

static unsigned int rg_nf_hook(void *priv, struct sk_buff *skb,
			       const struct nf_hook_state *state);

static const struct nf_hook_ops rg_hook_templates[] = {
	{ .hook = rg_nf_hook, .pf = NFPROTO_IPV4, .hooknum = NF_INET_PRE_ROUTING,
	  .priority = RG_PRI_PRE_ROUTING },
	{ .hook = rg_nf_hook, .pf = NFPROTO_IPV4, .hooknum = NF_INET_LOCAL_IN,
	  .priority = RG_PRI_OTHERS },
	{ .hook = rg_nf_hook, .pf = NFPROTO_IPV4, .hooknum = NF_INET_FORWARD,
	  .priority = RG_PRI_OTHERS },
	{ .hook = rg_nf_hook, .pf = NFPROTO_IPV4, .hooknum = NF_INET_LOCAL_OUT,
	  .priority = RG_PRI_OTHERS },
	{ .hook = rg_nf_hook, .pf = NFPROTO_IPV4, .hooknum = NF_INET_POST_ROUTING,
	  .priority = RG_PRI_OTHERS },
	{ .hook = rg_nf_hook, .pf = NFPROTO_ARP, .hooknum = NF_ARP_IN },
	{ .hook = rg_nf_hook, .pf = NFPROTO_ARP, .hooknum = NF_ARP_OUT },
};

/*
 * Each namespace needs its own copy of the ops because nf_hook_ops.priv
 * carries that namespace's Rust state to the hook.
 */
struct rg_net {
	void *state;
	struct nf_hook_ops ops[ARRAY_SIZE(rg_hook_templates)];
};

static unsigned int rg_net_id __read_mostly;

static int rg_hook_id(u8 pf, unsigned int hooknum)
{
	if (pf == NFPROTO_ARP)
		return hooknum == NF_ARP_IN ? RINGGATE_HOOK_ARP_IN :
		       hooknum == NF_ARP_OUT ? RINGGATE_HOOK_ARP_OUT : -1;
	if (pf != NFPROTO_IPV4)
		return -1;
	switch (hooknum) {
	case NF_INET_PRE_ROUTING:	return RINGGATE_HOOK_PRE_ROUTING;
	case NF_INET_LOCAL_IN:		return RINGGATE_HOOK_LOCAL_IN;
	case NF_INET_FORWARD:		return RINGGATE_HOOK_FORWARD;
	case NF_INET_LOCAL_OUT:		return RINGGATE_HOOK_LOCAL_OUT;
	case NF_INET_POST_ROUTING:	return RINGGATE_HOOK_POST_ROUTING;
	default:			return -1;
	}
}

static unsigned int rg_nf_hook(void *priv, struct sk_buff *skb,
			       const struct nf_hook_state *state)
{
	int hook = rg_hook_id(state->pf, state->hook);

	if (hook < 0)
		return NF_ACCEPT;
	return ringgate_rs_hook(priv, skb, hook) == RG_VERDICT_DROP ? NF_DROP : NF_ACCEPT;
}

static int __net_init rg_net_init(struct net *net)
{
	struct rg_net *rn = net_generic(net, rg_net_id);
	int i, err;

	rn->state = ringgate_rs_net_init();
	if (!rn->state)
		return -ENOMEM;
	for (i = 0; i < ARRAY_SIZE(rn->ops); i++) {
		rn->ops[i] = rg_hook_templates[i];
		rn->ops[i].priv = rn->state;
	}
	err = nf_register_net_hooks(net, rn->ops, ARRAY_SIZE(rn->ops));
	if (err) {
		/* Hooks registered before the failing one may have run. */
		synchronize_net();
		ringgate_rs_net_exit(rn->state);
		rn->state = NULL;
	}
	return err;
}

/*
 * Unhooking happens in pre_exit because the netns core runs an RCU grace
 * period between pre_exit and exit: by the time exit frees the state, no
 * hook can still be running with it.
 */
static void __net_exit rg_net_pre_exit(struct net *net)
{
	struct rg_net *rn = net_generic(net, rg_net_id);

	nf_unregister_net_hooks(net, rn->ops, ARRAY_SIZE(rn->ops));
}

static void __net_exit rg_net_exit(struct net *net)
{
	struct rg_net *rn = net_generic(net, rg_net_id);

	ringgate_rs_net_exit(rn->state);
	rn->state = NULL;
}

static struct pernet_operations rg_net_ops = {
	.init = rg_net_init,
	.pre_exit = rg_net_pre_exit,
	.exit = rg_net_exit,
	.id = &rg_net_id,
	.size = sizeof(struct rg_net),
};

int rg_glue_register(void)
{
	int err;

	err = register_pernet_subsys(&rg_net_ops);
	if (err)
		return err;
	err = genl_register_family(&ringgate_nl_family);
	if (err)
		unregister_pernet_subsys(&rg_net_ops);
	return err;
}

void rg_glue_unregister(void)
{
	genl_unregister_family(&ringgate_nl_family);
	unregister_pernet_subsys(&rg_net_ops);
}

unsigned int rg_nr_cpu_ids(void)
{
	return nr_cpu_ids;
}

unsigned int rg_raw_smp_processor_id(void)
{
	return raw_smp_processor_id();
}

unsigned int rg_skb_len(const struct sk_buff *skb)
{
	return skb->len;
}

/*
 * Every op runs one of these pre_doit callbacks (named in the YAML spec).
 * genl_info does not say how large its attrs array is, so the op's maxattr is
 * kept in user_ptr[1] for rg_genl_get_u32's bounds check, next to the
 * namespace state in user_ptr[0].
 */
int ringgate_nl_pre_doit(const struct genl_split_ops *ops, struct sk_buff *skb,
			 struct genl_info *info)
{
	struct rg_net *rn = net_generic(genl_info_net(info), rg_net_id);

	if (!rn->state)
		return -ENODEV;
	info->user_ptr[0] = rn->state;
	info->user_ptr[1] = (void *)(uintptr_t)ops->maxattr;
	return 0;
}

/*
 * The equivalent of GENL_UNS_ADMIN_PERM (which 6.12's ynl-gen-c cannot
 * emit): CAP_NET_ADMIN in the user namespace owning the request's network
 * namespace, so a container's root administers its own namespace only.
 */
int ringgate_nl_pre_doit_admin(const struct genl_split_ops *ops, struct sk_buff *skb,
			       struct genl_info *info)
{
	if (!netlink_ns_capable(skb, genl_info_net(info)->user_ns, CAP_NET_ADMIN))
		return -EPERM;
	return ringgate_nl_pre_doit(ops, skb, info);
}

void *rg_genl_net_state(struct genl_info *info)
{
	return info->user_ptr[0];
}

int rg_genl_get_u32(struct genl_info *info, unsigned int type, unsigned int *value)
{
	uintptr_t maxattr = (uintptr_t)info->user_ptr[1];
	const struct nlattr *attr;

	if (type > maxattr)
		return 0;
	attr = info->attrs[type];
	if (!attr || nla_len(attr) < sizeof(u32))
		return 0;
	*value = nla_get_u32(attr);
	return 1;
}

struct sk_buff *rg_reply_new(struct genl_info *info)
{
	struct sk_buff *msg;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return NULL;
	if (!genlmsg_put_reply(msg, info, &ringgate_nl_family, 0, info->genlhdr->cmd)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

int rg_reply_send(struct sk_buff *msg, struct genl_info *info)
{
	/* A reply holds exactly one message, starting at skb->data. */
	nlmsg_end(msg, nlmsg_hdr(msg));
	return genlmsg_reply(msg, info);
}

void rg_reply_free(struct sk_buff *msg)
{
	nlmsg_free(msg);
}

int rg_put_u32(struct sk_buff *msg, unsigned int type, unsigned int value)
{
	return nla_put_u32(msg, type, value);
}

int rg_put_uint(struct sk_buff *msg, unsigned int type, unsigned long long value)
{
	return nla_put_uint(msg, type, value);
}

int rg_put_string(struct sk_buff *msg, unsigned int type, const char *s, unsigned int len)
{
	struct nlattr *attr = nla_reserve(msg, type, len + 1);

	if (!attr)
		return -EMSGSIZE;
	memcpy(nla_data(attr), s, len);
	((char *)nla_data(attr))[len] = '\0';
	return 0;
}

int rg_nest_start(struct sk_buff *msg, unsigned int type, struct nlattr **nest)
{
	*nest = nla_nest_start(msg, type);
	return *nest ? 0 : -EMSGSIZE;
}

void rg_nest_end(struct sk_buff *msg, struct nlattr *nest)
{
	nla_nest_end(msg, nest);
}

void rg_nest_cancel(struct sk_buff *msg, struct nlattr *nest)
{
	nla_nest_cancel(msg, nest);
}
