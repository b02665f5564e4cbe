// SPDX-License-Identifier: GPL-2.0
/*
 * C glue for ringgate.ko: owns the C structures the Rust side cannot describe
 * (netfilter hook ops, pernet ops, the generic netlink family registration)
 * and turns static inline helpers into callable functions. See
 * ringgate_glue.h for why this layer exists; it makes no decisions.
 */

#include <linux/capability.h>
#include <linux/cpumask.h>
#include <linux/etherdevice.h>
#include <linux/if_arp.h>
#include <linux/inetdevice.h>
#include <linux/icmp.h>
#include <linux/ip.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/ipv4/nf_defrag_ipv4.h>
#include <linux/spinlock.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/workqueue.h>
#include <net/checksum.h>
#include <net/ip.h>
#include <linux/netfilter.h>
#include <linux/netfilter_arp.h>
#include <linux/netfilter_bridge.h>
#include <linux/netfilter_ipv4.h>
#include <linux/skbuff.h>
#include <net/arp.h>
#include <net/genetlink.h>
#include <net/gso.h>
#include <net/net_namespace.h>
#include <net/sock.h>
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
static_assert(ARRAY_SIZE(rg_hook_templates) == RG_HOOK_COUNT);

/*
 * Each namespace needs its own copy of the ops because nf_hook_ops.priv
 * carries that namespace's Rust state to the hook.
 */
struct rg_net {
	void *state;
	struct nf_hook_ops ops[ARRAY_SIZE(rg_hook_templates)];
	/* Frees expired sessions' back-end counts; re-arms itself. */
	struct delayed_work sweep;
	/* This namespace holds a reference on IPv4 defragmentation. */
	bool defrag;
	/* The hooks are registered (see rg_hooks_enable). */
	bool hooked;
};

/* Serializes the (once per namespace) registration of hooks. */
static DEFINE_MUTEX(rg_hooks_mutex);

static unsigned int rg_net_id __read_mostly;

/* The Rust callbacks, set once by rg_glue_register before anything calls them. */
static const struct rg_callbacks *rg_cb __read_mostly;

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

/*
 * Sends a packet at pre-routing to another node on the segment it came from:
 * a new Ethernet header (to @target's address, from the device's own) in
 * front of the IPv4 packet, which is not translated (its TTL goes down by
 * one), and out the device it came in on, as a bridge forwards a frame. Only that device: the target's
 * address was learned for it. A packet that cannot be sent is dropped, not
 * handed to this node's stack, where its VIP would be answered with a reset.
 */
static unsigned int rg_forward_l2(struct sk_buff *skb, const struct nf_hook_state *state,
				  const struct rg_l2_target *target)
{
	struct net_device *dev = skb->dev;
	struct ethhdr *eth;

	if (state->hook != NF_INET_PRE_ROUTING || !dev || dev->ifindex != target->ifindex ||
	    dev->type != ARPHRD_ETHER || dev->addr_len != ETH_ALEN || !(dev->flags & IFF_UP))
		return NF_DROP;
	/*
	 * The TTL goes down by one, as on any hop: nodes that disagree for a
	 * moment about a session's owner can then not pass a packet between
	 * them for ever, whatever their peer tables say.
	 */
	if (skb_ensure_writable(skb, sizeof(struct iphdr)) || ip_hdr(skb)->ttl <= 1)
		return NF_DROP;
	/* Room for the header, and a header of our own if the data is shared. */
	if (skb_cow_head(skb, ETH_HLEN))
		return NF_DROP;
	ip_decrease_ttl(ip_hdr(skb));
	eth = skb_push(skb, ETH_HLEN);
	skb_reset_mac_header(skb);
	skb->mac_len = ETH_HLEN;
	memcpy(eth->h_dest, target->mac, ETH_ALEN);
	memcpy(eth->h_source, dev->dev_addr, ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	/* A receive checksum means nothing on transmit (as br_forward says). */
	skb_forward_csum(skb);
	skb_dst_drop(skb);
	nf_reset_ct(skb);
	skb_clear_tstamp(skb);
	dev_queue_xmit(skb);
	return NF_STOLEN;
}

static unsigned int rg_nf_hook(void *priv, struct sk_buff *skb,
			       const struct nf_hook_state *state)
{
	struct rg_l2_target target = { 0 };
	int hook = rg_hook_id(state->pf, state->hook);

	if (hook < 0)
		return NF_ACCEPT;
	switch (rg_cb->hook(priv, skb, hook, &target)) {
	case RG_VERDICT_DROP:
		return NF_DROP;
	case RG_VERDICT_FORWARD:
		return rg_forward_l2(skb, state, &target);
	default:
		return NF_ACCEPT;
	}
}

static void rg_sweep(struct work_struct *work)
{
	struct rg_net *rn = container_of(to_delayed_work(work), struct rg_net, sweep);

	queue_delayed_work(system_power_efficient_wq, &rn->sweep, rg_cb->sweep(rn->state));
}

static int __net_init rg_net_init(struct net *net)
{
	struct rg_net *rn = net_generic(net, rg_net_id);
	int i;

	/* Queued only once the namespace has NAT (rg_sweep_start). */
	INIT_DELAYED_WORK(&rn->sweep, rg_sweep);
	rn->state = rg_cb->net_init(net);
	if (!rn->state)
		return -ENOMEM;
	for (i = 0; i < ARRAY_SIZE(rn->ops); i++) {
		rn->ops[i] = rg_hook_templates[i];
		rn->ops[i].priv = rn->state;
	}
	rn->hooked = false;
	return 0;
}

/*
 * Registers the namespace's hooks, once: on its first ringgate request from
 * an administrator, as IPVS registers its hooks with the first service. A
 * namespace nobody configures ringgate in (most, on a host of containers)
 * never has a hook, so its packets pay nothing for the module. Called from
 * the netlink ops' admin checks; the requesting socket keeps the namespace
 * alive, so pre_exit (which unregisters) cannot run meanwhile.
 */
static int rg_hooks_enable(struct net *net)
{
	struct rg_net *rn = net_generic(net, rg_net_id);
	int err = 0;

	if (READ_ONCE(rn->hooked))
		return 0;
	mutex_lock(&rg_hooks_mutex);
	if (!rn->hooked) {
		err = nf_register_net_hooks(net, rn->ops, ARRAY_SIZE(rn->ops));
		if (!err)
			WRITE_ONCE(rn->hooked, true);
	}
	mutex_unlock(&rg_hooks_mutex);
	return err;
}

void rg_sweep_start(struct net *net, unsigned long delay)
{
	struct rg_net *rn = net_generic(net, rg_net_id);

	queue_delayed_work(system_power_efficient_wq, &rn->sweep, delay);
}

/*
 * NAT needs whole datagrams: only the first fragment carries the ports a
 * session is found by. The kernel reassembles at pre-routing only in
 * namespaces where something asked for it (conntrack does, when a rule uses
 * it), so a namespace with a service asks too, as IPVS does. The reference
 * is dropped when the namespace goes. Called under the configuration mutex.
 */
int rg_defrag_enable(struct net *net)
{
	struct rg_net *rn = net_generic(net, rg_net_id);
	int err;

	if (rn->defrag)
		return 0;
	err = nf_defrag_ipv4_enable(net);
	if (!err)
		rn->defrag = true;
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

	if (rn->hooked)
		nf_unregister_net_hooks(net, rn->ops, ARRAY_SIZE(rn->ops));
	rn->hooked = false;
	/* The work re-arms itself; this waits for a running one and stops it. */
	cancel_delayed_work_sync(&rn->sweep);
}

static void __net_exit rg_net_exit(struct net *net)
{
	struct rg_net *rn = net_generic(net, rg_net_id);

	if (rn->defrag)
		nf_defrag_ipv4_disable(net);
	rn->defrag = false;
	rg_cb->net_exit(rn->state);
	rn->state = NULL;
}

static struct pernet_operations rg_net_ops = {
	.init = rg_net_init,
	.pre_exit = rg_net_pre_exit,
	.exit = rg_net_exit,
	.id = &rg_net_id,
	.size = sizeof(struct rg_net),
};

int rg_glue_register(const struct rg_callbacks *cb)
{
	int err;

	rg_cb = cb;
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

/*
 * Arrays of u64 counters kept per CPU: this_cpu_add is one unlocked
 * instruction on x86 (and safe against migration and interrupts
 * everywhere), where an atomic add on a shared counter is a locked one and
 * bounces its cache line between CPUs. The Rust side checks every index
 * against the length it allocated. The percpu allocator serves at most
 * PCPU_MIN_UNIT_SIZE bytes per allocation; larger requests fail (NULL).
 * Resets are the Rust side's (a base subtracted on reading): writing
 * another CPU's copy would race its unlocked add.
 */
void *rg_pcpu_new(unsigned int count)
{
	/* Too large a request fails with ENOMEM, not a warning (panic_on_warn). */
	return (void __force *)__alloc_percpu_gfp(count * sizeof(u64), sizeof(u64),
						   GFP_KERNEL | __GFP_NOWARN);
}

void rg_pcpu_free(void *array)
{
	free_percpu((u64 __percpu __force *)array);
}

void rg_pcpu_add(void *array, unsigned int index, unsigned long long value)
{
	u64 __percpu *a = (u64 __percpu __force *)array;

	this_cpu_add(a[index], value);
}

void rg_pcpu_add2(void *array, unsigned int index, unsigned long long first,
		  unsigned long long second)
{
	u64 __percpu *a = (u64 __percpu __force *)array;

	this_cpu_add(a[index], first);
	this_cpu_add(a[index + 1], second);
}

/*
 * Sums one counter over all CPUs. Each copy is read whole on 64-bit
 * machines; on 32-bit ones a read racing an add may see a torn value,
 * which these statistics accept.
 */
unsigned long long rg_pcpu_sum(void *array, unsigned int index)
{
	u64 __percpu *a = (u64 __percpu __force *)array;
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(*per_cpu_ptr(&a[index], cpu));
	return sum;
}

unsigned int rg_skb_len(const struct sk_buff *skb)
{
	return skb->len;
}

/* Whether the packet came in on a loopback device: this host sent it. */
int rg_skb_from_loopback(const struct sk_buff *skb)
{
	return skb->dev && (skb->dev->flags & IFF_LOOPBACK);
}

int rg_skb_fits_ingress_mtu(const struct sk_buff *skb)
{
	if (!skb->dev)
		return 0;
	if (skb_is_gso(skb))
		return skb_gso_validate_network_len(skb, READ_ONCE(skb->dev->mtu));
	return skb->len <= READ_ONCE(skb->dev->mtu);
}

int rg_skb_iif(const struct sk_buff *skb)
{
	return skb->dev ? skb->dev->ifindex : 0;
}

int rg_skb_eth_source(const struct sk_buff *skb, unsigned char *mac)
{
	const struct net_device *dev = skb->dev;

	if (!dev || dev->type != ARPHRD_ETHER || dev->addr_len != ETH_ALEN ||
	    skb->pkt_type != PACKET_HOST || !skb_mac_header_was_set(skb) ||
	    skb_mac_header(skb) + ETH_HLEN > skb->data)
		return 0;
	/* Sent to this device alone, not to a group address it listens to. */
	if (!ether_addr_equal(eth_hdr(skb)->h_dest, dev->dev_addr))
		return 0;
	/* Decrypted here: sent on, it would cross the segment in clear. */
	if (secpath_exists(skb))
		return 0;
#if IS_ENABLED(CONFIG_BRIDGE_NETFILTER)
	/* Bridged between other hosts, seen here through br_netfilter. */
	if (nf_bridge_info_exists(skb))
		return 0;
#endif
	memcpy(mac, eth_hdr(skb)->h_source, ETH_ALEN);
	return 1;
}

int rg_skb_copy_bits(const struct sk_buff *skb, int offset, void *buf, unsigned int len)
{
	/* skb_copy_bits checks the end; a negative offset would read before the data. */
	if (offset < 0 || len > INT_MAX)
		return -EFAULT;
	return skb_copy_bits(skb, offset, buf, len);
}

int rg_skb_network_offset(const struct sk_buff *skb)
{
	return skb_network_offset(skb);
}

int rg_skb_nat(struct sk_buff *skb, int source, unsigned int addr, unsigned short port)
{
	struct iphdr *iph;
	unsigned int thoff, l4len;
	__be32 *old_addr, new_addr = (__force __be32)addr;
	__be16 *old_port, new_port = (__force __be16)port;
	__sum16 *check = NULL;

	iph = ip_hdr(skb);
	thoff = skb_network_offset(skb) + iph->ihl * 4;
	l4len = iph->protocol == IPPROTO_TCP ? sizeof(struct tcphdr) : sizeof(struct udphdr);
	if (skb_ensure_writable(skb, thoff + l4len))
		return -ENOMEM;
	/* skb_ensure_writable may have moved the data. */
	iph = ip_hdr(skb);
	if (iph->protocol == IPPROTO_TCP) {
		struct tcphdr *th = (struct tcphdr *)(skb_network_header(skb) + iph->ihl * 4);

		check = &th->check;
		old_port = source ? &th->source : &th->dest;
	} else {
		struct udphdr *uh = (struct udphdr *)(skb_network_header(skb) + iph->ihl * 4);

		/* A zero UDP checksum means "none" and must stay zero. */
		if (uh->check || skb->ip_summed == CHECKSUM_PARTIAL)
			check = &uh->check;
		old_port = source ? &uh->source : &uh->dest;
	}
	old_addr = source ? &iph->saddr : &iph->daddr;
	if (check) {
		inet_proto_csum_replace4(check, skb, *old_addr, new_addr, true);
		inet_proto_csum_replace2(check, skb, *old_port, new_port, false);
		if (iph->protocol == IPPROTO_UDP && !*check)
			*check = CSUM_MANGLED_0;
	}
	csum_replace4(&iph->check, *old_addr, new_addr);
	*old_addr = new_addr;
	*old_port = new_port;
	return 0;
}

void rg_skb_untrack(struct sk_buff *skb)
{
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	nf_reset_ct(skb);
	nf_ct_set(skb, NULL, IP_CT_UNTRACKED);
#endif
}

unsigned long long rg_random_u64(void)
{
	return get_random_u64();
}

int rg_skb_icmp_nat_quoted(struct sk_buff *skb, unsigned int quoted, int source,
			   unsigned int addr, unsigned short port, int rewrite_outer)
{
	struct iphdr *outer, *inner;
	struct icmphdr *icmph;
	__be16 *ports;
	__be32 *old_addr, new_addr = (__force __be32)addr;
	unsigned int thoff, off = quoted;

	/* Everything up to the quoted header's end is made linear and writable. */
	if (skb_ensure_writable(skb, off + sizeof(struct iphdr)))
		return -ENOMEM;
	/* The quoted header follows the outer one and the ICMP header. */
	outer = ip_hdr(skb);
	if (off != skb_network_offset(skb) + outer->ihl * 4 + sizeof(struct icmphdr))
		return -EINVAL;
	inner = (struct iphdr *)(skb->data + off);
	if (skb_ensure_writable(skb, off + inner->ihl * 4 + 4))
		return -ENOMEM;
	/* skb_ensure_writable may have moved the data. */
	outer = ip_hdr(skb);
	thoff = skb_network_offset(skb) + outer->ihl * 4;
	inner = (struct iphdr *)(skb->data + off);
	ports = (__be16 *)((u8 *)inner + inner->ihl * 4);
	old_addr = source ? &inner->saddr : &inner->daddr;
	csum_replace4(&inner->check, *old_addr, new_addr);
	*old_addr = new_addr;
	ports[source ? 0 : 1] = (__force __be16)port;
	if (rewrite_outer) {
		/* ICMP has no pseudo-header: only the IP checksum covers it. */
		old_addr = source ? &outer->daddr : &outer->saddr;
		csum_replace4(&outer->check, *old_addr, new_addr);
		*old_addr = new_addr;
	}
	/* The quoted transport checksum may be cut off; the ICMP checksum,
	 * which covers everything quoted, is recomputed whole. */
	icmph = (struct icmphdr *)(skb->data + thoff);
	icmph->checksum = 0;
	icmph->checksum = csum_fold(skb_checksum(skb, thoff, skb->len - thoff, 0));
	if (skb->ip_summed == CHECKSUM_PARTIAL || skb->ip_summed == CHECKSUM_COMPLETE)
		skb->ip_summed = CHECKSUM_NONE;
	return 0;
}

/*
 * The 64-bit tick counter: it does not wrap (at 1000 Hz, not for 500 million
 * years), so expiry times compare as plain integers on every architecture,
 * where the native jiffies wraps after 49 days on 32-bit ones.
 */
unsigned long long rg_jiffies(void)
{
	return get_jiffies_64();
}

unsigned int rg_hz(void)
{
	return HZ;
}

struct rg_locks {
	unsigned int n;
	spinlock_t lock[];
};

void *rg_locks_new(unsigned int n)
{
	struct rg_locks *locks;
	unsigned int i;

	/* rg_lock indexes modulo n. */
	if (!n)
		return NULL;
	locks = kvmalloc(struct_size(locks, lock, n), GFP_KERNEL);
	if (!locks)
		return NULL;
	locks->n = n;
	for (i = 0; i < n; i++)
		spin_lock_init(&locks->lock[i]);
	return locks;
}

void rg_locks_free(void *locks)
{
	kvfree(locks);
}

void rg_lock(void *locks, unsigned int i)
{
	struct rg_locks *l = locks;

	spin_lock_bh(&l->lock[i % l->n]);
}

void rg_unlock(void *locks, unsigned int i)
{
	struct rg_locks *l = locks;

	spin_unlock_bh(&l->lock[i % l->n]);
}

void rg_lock_pair(void *locks, unsigned int i, unsigned int j)
{
	struct rg_locks *l = locks;
	unsigned int a = i % l->n, b = j % l->n;

	if (a > b)
		swap(a, b);
	spin_lock_bh(&l->lock[a]);
	/*
	 * Every bucket lock is of one lockdep class; the second of a pair is
	 * taken as a nested one, as nf_conntrack_double_lock does.
	 */
	if (b != a)
		spin_lock_nested(&l->lock[b], SINGLE_DEPTH_NESTING);
}

void rg_unlock_pair(void *locks, unsigned int i, unsigned int j)
{
	struct rg_locks *l = locks;
	unsigned int a = i % l->n, b = j % l->n;

	if (a > b)
		swap(a, b);
	if (b != a)
		spin_unlock(&l->lock[b]);
	spin_unlock_bh(&l->lock[a]);
}

int rg_genl_backend_nest(struct genl_info *info, unsigned int outer, struct nlattr **tb,
			 unsigned int slots, struct nlattr **nest)
{
	uintptr_t maxattr = (uintptr_t)info->user_ptr[1];

	*nest = NULL;
	if (slots != RG_BACKEND_SLOTS)
		return -EINVAL;
	if (!info->attrs || outer > maxattr || !info->attrs[outer])
		return 0;
	*nest = info->attrs[outer];
	return nla_parse_nested(tb, RINGGATE_A_BACKEND_MAX, *nest, ringgate_backend_nl_policy,
				info->extack) ?: 1;
}

int rg_nla_copy(const struct nlattr *attr, unsigned int size, void *value)
{
	if (!attr || nla_len(attr) < size)
		return 0;
	memcpy(value, nla_data(attr), size);
	return 1;
}

void rg_rcu_read_lock(void)
{
	rcu_read_lock();
}

void rg_rcu_read_unlock(void)
{
	rcu_read_unlock();
}

/*
 * Expedited, as synchronize_net() is under RTNL: configuration writers wait
 * for the grace period while holding a netlink request, and a take or
 * release of a VIP is on the failover path (the gratuitous ARP goes out
 * after it, the peer's take waits for a release). A normal grace period
 * costs tens of milliseconds, and far more on a loaded or emulated host;
 * the expedited one costs an IPI per CPU, and configuration changes are
 * rare next to packets.
 */
void rg_synchronize_rcu(void)
{
	synchronize_rcu_expedited();
}

/*
 * Frees a kmalloc'ed value once no RCU reader can see it, without waiting:
 * for replaced tables whose readers may harmlessly see the old value a
 * little longer (see RcuBox::update). May sleep if memory is short.
 */
void rg_kvfree_rcu(void *ptr)
{
	kvfree_rcu_mightsleep(ptr);
}

/*
 * A namespace's configuration mutex, allocated here because the Rust side
 * cannot describe struct mutex. Namespaces never take each other's, so one
 * lockdep class for all of them is right.
 */
void *rg_mutex_new(void)
{
	struct mutex *m = kmalloc(sizeof(*m), GFP_KERNEL);

	if (m)
		mutex_init(m);
	return m;
}

void rg_mutex_free(void *m)
{
	mutex_destroy(m);
	kfree(m);
}

void rg_mutex_lock(void *m)
{
	mutex_lock(m);
}

void rg_mutex_unlock(void *m)
{
	mutex_unlock(m);
}

/*
 * Every op runs one of these pre_doit callbacks (named in the YAML spec).
 * genl_info does not say how large its attrs array is, so the op's maxattr is
 * kept in user_ptr[1] for rg_genl_get_u32's bounds check, next to the
 * namespace state in user_ptr[0].
 */
static int ringgate_nl_pre_doit(const struct genl_split_ops *ops, struct sk_buff *skb,
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
 * Dumps have no pre_doit; their start callback refuses a caller without
 * CAP_NET_ADMIN in the namespace's user namespace, as the doit ops' admin
 * pre_doit does.
 */
int ringgate_nl_dump_start_admin(struct netlink_callback *cb)
{
	struct net *net = sock_net(cb->skb->sk);

	if (!netlink_ns_capable(cb->skb, net->user_ns, CAP_NET_ADMIN))
		return -EPERM;
	return rg_hooks_enable(net);
}

/*
 * The equivalent of GENL_UNS_ADMIN_PERM (which 6.12's ynl-gen-c cannot
 * emit): CAP_NET_ADMIN in the user namespace owning the request's network
 * namespace, so a container's root administers its own namespace only.
 */
int ringgate_nl_pre_doit_admin(const struct genl_split_ops *ops, struct sk_buff *skb,
			       struct genl_info *info)
{
	int err;

	if (!netlink_ns_capable(skb, genl_info_net(info)->user_ns, CAP_NET_ADMIN))
		return -EPERM;
	err = rg_hooks_enable(genl_info_net(info));
	if (err)
		return err;
	return ringgate_nl_pre_doit(ops, skb, info);
}

int rg_genl_get_u32(struct genl_info *info, unsigned int type, unsigned int *value)
{
	uintptr_t maxattr = (uintptr_t)info->user_ptr[1];
	const struct nlattr *attr;

	/* An op without a policy has no attribute array at all. */
	if (!info->attrs || type > maxattr)
		return 0;
	attr = info->attrs[type];
	if (!attr || nla_len(attr) < sizeof(u32))
		return 0;
	*value = nla_get_u32(attr);
	return 1;
}

int rg_genl_get_u8(struct genl_info *info, unsigned int type, unsigned char *value)
{
	uintptr_t maxattr = (uintptr_t)info->user_ptr[1];
	const struct nlattr *attr;

	/* An op without a policy has no attribute array at all. */
	if (!info->attrs || type > maxattr)
		return 0;
	attr = info->attrs[type];
	if (!attr || nla_len(attr) < sizeof(u8))
		return 0;
	*value = nla_get_u8(attr);
	return 1;
}

int rg_genl_get_u16(struct genl_info *info, unsigned int type, unsigned int *value)
{
	uintptr_t maxattr = (uintptr_t)info->user_ptr[1];
	const struct nlattr *attr;

	/* An op without a policy has no attribute array at all. */
	if (!info->attrs || type > maxattr)
		return 0;
	attr = info->attrs[type];
	if (!attr || nla_len(attr) < sizeof(u16))
		return 0;
	*value = nla_get_u16(attr);
	return 1;
}


int rg_genl_missing(struct genl_info *info, unsigned int type)
{
	NL_SET_ERR_ATTR_MISS(info->extack, NULL, type);
	NL_SET_ERR_MSG(info->extack, "required attribute missing");
	return -EINVAL;
}

int rg_genl_next_nest(struct genl_info *info, unsigned int outer, unsigned int kind,
		      unsigned int *offset, struct nlattr **tb, unsigned int slots,
		      struct nlattr **nest)
{
	const struct nlattr *head = genlmsg_data(info->genlhdr);
	int len = genlmsg_len(info->genlhdr);
	const struct nla_policy *policy;
	const struct nlattr *attr;
	unsigned int maxtype;
	int rem;

	*nest = NULL;
	switch (kind) {
	case RG_NEST_SESSION:
		maxtype = RINGGATE_A_SESSION_MAX;
		policy = ringgate_session_entry_nl_policy;
		break;
	case RG_NEST_PEER:
		maxtype = RINGGATE_A_PEER_MAX;
		policy = ringgate_peer_nl_policy;
		break;
	default:
		return -EINVAL;
	}
	if (slots != maxtype + 1)
		return -EINVAL;
	if (*offset >= (unsigned int)len)
		return 0;
	/* Attributes start 4-byte aligned, and *offset only ever lands on one. */
	head = (const struct nlattr *)((const char *)head + *offset);
	len -= *offset;
	nla_for_each_attr(attr, head, len, rem) {
		if (nla_type(attr) != outer)
			continue;
		*offset = (const char *)attr - (const char *)genlmsg_data(info->genlhdr) +
			  nla_total_size(nla_len(attr));
		*nest = (struct nlattr *)attr;
		return nla_parse_nested(tb, maxtype, attr, policy, info->extack) ?: 1;
	}
	*offset = genlmsg_len(info->genlhdr);
	return 0;
}

void rg_cond_resched(void)
{
	cond_resched();
}

int rg_genl_missing_in(struct genl_info *info, const struct nlattr *nest, unsigned int inner)
{
	NL_SET_ERR_ATTR_MISS(info->extack, nest, inner);
	NL_SET_ERR_MSG(info->extack, "required nested attribute missing");
	return -EINVAL;
}

void rg_genl_set_err_msg(struct genl_info *info, const char *msg)
{
	/* NL_SET_ERR_MSG wants a literal; the Rust caller passes a static string. */
	if (info->extack)
		info->extack->_msg = msg;
}

struct net_device *rg_dev_find(struct net *net, unsigned int addr)
{
	/* Takes a reference, so the device cannot go away while we send. */
	return ip_dev_find(net, (__force __be32)addr);
}

void rg_dev_put(struct net_device *dev)
{
	dev_put(dev);
}

int rg_addr_is_local(struct net *net, unsigned int addr)
{
	/* The packet path holds the RCU read lock __ip_dev_find needs; no
	 * reference is taken, as only the answer is used. */
	return __ip_dev_find(net, (__force __be32)addr, false) != NULL;
}

void rg_arp_send(struct net_device *dev, unsigned int op, unsigned int addr, int target_hw_own)
{
	__be32 ip = (__force __be32)addr;

	arp_send(op, ETH_P_ARP, ip, dev, ip, NULL, dev->dev_addr,
		 target_hw_own ? dev->dev_addr : NULL);
}

struct sk_buff *rg_event_new(unsigned int cmd, unsigned int size)
{
	struct sk_buff *msg = genlmsg_new(size ? size : NLMSG_DEFAULT_SIZE, GFP_ATOMIC);

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, 0, 0, &ringgate_nl_family, 0, cmd)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

static_assert(RG_GROUP_EVENTS == RINGGATE_NLGRP_EVENTS);
static_assert(RG_GROUP_SESSIONS == RINGGATE_NLGRP_SESSIONS);

int rg_event_send(struct sk_buff *msg, struct net *net, unsigned int group)
{
	nlmsg_end(msg, nlmsg_hdr(msg));
	/*
	 * 0: a socket of @net got it; -ENOBUFS: one that asked for broadcast
	 * errors (NETLINK_BROADCAST_ERROR) had no room, and learns of the
	 * loss; -ESRCH: no socket of @net listens to @group (or none that
	 * asked for broadcast errors had room).
	 */
	return genlmsg_multicast_netns(&ringgate_nl_family, net, msg, 0, group, GFP_ATOMIC);
}

int rg_sessions_listened(struct net *net)
{
	return genl_has_listeners(&ringgate_nl_family, net, RINGGATE_NLGRP_SESSIONS) > 0;
}

void rg_event_free(struct sk_buff *msg)
{
	nlmsg_free(msg);
}

/*
 * A u32 or u16 attribute of a dump's request, validated by the op's policy
 * when the dump started (genl_start parses it into the dump's info, which
 * lives as long as the dump). Returns 1 and stores it if present, 0 if
 * absent or if the op has no policy.
 */
static const struct nlattr *rg_dump_attr(struct netlink_callback *cb, unsigned int type)
{
	const struct genl_dumpit_info *di = genl_dumpit_info(cb);

	if (!di || !di->info.attrs || type > di->op.maxattr)
		return NULL;
	return di->info.attrs[type];
}

int rg_dump_get_u32(struct netlink_callback *cb, unsigned int type, unsigned int *value)
{
	const struct nlattr *attr = rg_dump_attr(cb, type);

	if (!attr || nla_len(attr) < sizeof(u32))
		return 0;
	*value = nla_get_u32(attr);
	return 1;
}

int rg_dump_get_u16(struct netlink_callback *cb, unsigned int type, unsigned int *value)
{
	const struct nlattr *attr = rg_dump_attr(cb, type);

	if (!attr || nla_len(attr) < sizeof(u16))
		return 0;
	*value = nla_get_u16(attr);
	return 1;
}

unsigned long rg_dump_cursor(struct netlink_callback *cb)
{
	return cb->args[0];
}

void rg_dump_set_cursor(struct netlink_callback *cb, unsigned long cursor)
{
	cb->args[0] = cursor;
}

void rg_dump_set_generation(struct netlink_callback *cb, unsigned int generation)
{
	cb->seq = generation;
}

void *rg_dump_entry_start(struct sk_buff *skb, struct netlink_callback *cb)
{
	void *hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
				&ringgate_nl_family, NLM_F_MULTI,
				genl_info_dump(cb)->genlhdr->cmd);

	if (hdr)
		genl_dump_check_consistent(cb, hdr);
	return hdr;
}

void rg_dump_entry_end(struct sk_buff *skb, void *hdr)
{
	genlmsg_end(skb, hdr);
}

void rg_dump_entry_cancel(struct sk_buff *skb, void *hdr)
{
	genlmsg_cancel(skb, hdr);
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

int rg_err_msgsize(void)
{
	return -EMSGSIZE;
}

int rg_err_addrnotavail(void)
{
	return -EADDRNOTAVAIL;
}

int rg_put_u8(struct sk_buff *msg, unsigned int type, unsigned char value)
{
	return nla_put_u8(msg, type, value);
}

int rg_put_u16(struct sk_buff *msg, unsigned int type, unsigned short value)
{
	return nla_put_u16(msg, type, value);
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

/*
 * The doit and dumpit callbacks the generated ops table names (see
 * ringgate_nl_gen.h): each hands its namespace's state and its command to
 * the one Rust doit or dumpit, which dispatches on the command. pre_doit put
 * the state in user_ptr[0]; a dump finds it through its socket's namespace.
 */
static int rg_doit(struct sk_buff *skb, struct genl_info *info)
{
	return rg_cb->doit(info->user_ptr[0], info->genlhdr->cmd, info);
}

static int rg_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct rg_net *rn = net_generic(sock_net(cb->skb->sk), rg_net_id);

	if (!rn->state)
		return -ENODEV;
	return rg_cb->dumpit(rn->state, genl_info_dump(cb)->genlhdr->cmd, skb, cb);
}

#define RG_DOIT(name) \
	int name(struct sk_buff *skb, struct genl_info *info) { return rg_doit(skb, info); }
#define RG_DUMPIT(name) \
	int name(struct sk_buff *skb, struct netlink_callback *cb) { return rg_dumpit(skb, cb); }

RG_DOIT(ringgate_nl_status_get_doit)
RG_DOIT(ringgate_nl_session_import_doit)
RG_DOIT(ringgate_nl_session_adopt_doit)
RG_DOIT(ringgate_nl_peer_set_doit)
RG_DOIT(ringgate_nl_snat_set_doit)
RG_DOIT(ringgate_nl_snat_get_doit)
RG_DOIT(ringgate_nl_counters_reset_doit)
RG_DOIT(ringgate_nl_vip_add_doit)
RG_DOIT(ringgate_nl_vip_del_doit)
RG_DOIT(ringgate_nl_vip_set_doit)
RG_DOIT(ringgate_nl_vip_get_doit)
RG_DOIT(ringgate_nl_service_add_doit)
RG_DOIT(ringgate_nl_service_set_doit)
RG_DOIT(ringgate_nl_service_del_doit)
RG_DOIT(ringgate_nl_backend_add_doit)
RG_DOIT(ringgate_nl_backend_set_doit)
RG_DOIT(ringgate_nl_backend_del_doit)
RG_DOIT(ringgate_nl_config_set_doit)
RG_DOIT(ringgate_nl_config_get_doit)
RG_DOIT(ringgate_nl_owner_lease_doit)
RG_DUMPIT(ringgate_nl_vip_get_dumpit)
RG_DUMPIT(ringgate_nl_service_get_dumpit)
RG_DUMPIT(ringgate_nl_session_get_dumpit)
