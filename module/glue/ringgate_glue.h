/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The interface between ringgate's Rust code and the C glue object linked into
 * the same ringgate.ko.
 *
 * The 6.12 `kernel` crate has no netfilter, skbuff or generic netlink
 * bindings, and most of what those subsystems offer is static inline C. The
 * glue turns exactly the pieces ringgate needs into real functions with plain
 * C types, and owns the C structures (hook ops, pernet ops, the genl family)
 * whose layout only C should know. It holds no policy: every decision is made
 * in Rust.
 *
 * This header is deliberately free of kernel includes so that bindgen can turn
 * it into module/glue/bindings.rs without the kernel's build flags; kernel
 * objects cross the boundary as opaque pointers.
 */
#ifndef RINGGATE_GLUE_H
#define RINGGATE_GLUE_H

#include "../../include/uapi/linux/ringgate.h"

struct sk_buff;
struct genl_info;
struct nlattr;
struct netlink_callback;
struct net;
struct net_device;

/* What a hook decided about a packet; the glue maps it to NF_* verdicts. */
enum rg_verdict {
	RG_VERDICT_ACCEPT,
	RG_VERDICT_DROP,
	/*
	 * Pre-routing only: the glue sends the packet, unchanged, to the
	 * hardware address of the hook's struct rg_l2_target out the device
	 * it came in on, and tells netfilter it was stolen.
	 */
	RG_VERDICT_FORWARD,
};

/* Where RG_VERDICT_FORWARD sends a packet. */
struct rg_l2_target {
	/* The device the packet came in on (checked again by the glue). */
	int ifindex;
	unsigned char mac[6];
};

struct rg_callbacks;

/*
 * Registers the pernet operations (which attach the hooks in every network
 * namespace) and then the generic netlink family, all calling into Rust
 * through @cb, which must outlive the registration. Returns 0 or -errno.
 */
int rg_glue_register(const struct rg_callbacks *cb);
/* Undoes rg_glue_register: the family first, so no request outlives the state. */
void rg_glue_unregister(void);
/*
 * Starts the namespace's session sweep @delay jiffies from now
 * (rg_callbacks.sweep, re-armed at the interval it returns until the
 * namespace goes); a no-op if it is queued already. Once NAT is active:
 * the other namespaces never wake up for it.
 */
void rg_sweep_start(struct net *net, unsigned long delay);
/* Turns IPv4 defragmentation on for the namespace (once; undone at exit). */
int rg_defrag_enable(struct net *net);

/* The hooks ringgate registers in a namespace (hooks.rs checks it agrees). */
#define RG_HOOK_COUNT 7

/*
 * Per-CPU arrays of `count` u64 counters (NULL when out of memory or larger
 * than the percpu allocator serves): adding is unlocked per-CPU
 * instructions; reading sums every CPU. Indexes are the caller's to check.
 */
void *rg_pcpu_new(unsigned int count);
void rg_pcpu_free(void *array);
void rg_pcpu_add(void *array, unsigned int index, unsigned long long value);
void rg_pcpu_add2(void *array, unsigned int index, unsigned long long first,
		  unsigned long long second);
unsigned long long rg_pcpu_sum(void *array, unsigned int index);

unsigned int rg_skb_len(const struct sk_buff *skb);
int rg_skb_from_loopback(const struct sk_buff *skb);
/*
 * Whether @skb fits the MTU of the device it came in on, as one frame or as
 * the segments of a GSO packet: a datagram defragmentation reassembled may
 * not, and sent on at layer 2 it would be dropped whole.
 */
int rg_skb_fits_ingress_mtu(const struct sk_buff *skb);
/* The index of the device @skb came in on; 0 if it has none. */
int rg_skb_iif(const struct sk_buff *skb);
/*
 * Copies the Ethernet source address @skb came with to @mac (6 bytes): 1 if
 * it came in on an Ethernet device with its header in place, addressed to
 * that device's own address (not broadcast, multicast or another host's),
 * and neither decrypted by IPsec nor bridged through br_netfilter; else 0:
 * only such a packet may be sent on to another node.
 */
int rg_skb_eth_source(const struct sk_buff *skb, unsigned char *mac);

/*
 * Copies @len bytes of @skb from @offset (from skb->data) into @buf: 0, or
 * -EFAULT if the packet is shorter (or @offset negative). The one way Rust
 * reads a packet, whose headers it parses itself.
 */
int rg_skb_copy_bits(const struct sk_buff *skb, int offset, void *buf, unsigned int len);
/* Where @skb's network header starts, from skb->data. */
int rg_skb_network_offset(const struct sk_buff *skb);

/*
 * Rewrites the destination (@source 0) or source (@source 1) address and
 * port of a TCP/UDP packet (network order) and fixes the IPv4 and TCP/UDP
 * checksums incrementally, as nf_nat does, so offloaded (GSO/GRO) packets
 * stay correct. Returns 0, or -errno if the packet cannot be made writable.
 */
int rg_skb_nat(struct sk_buff *skb, int source, unsigned int addr, unsigned short port);

/* Marks @skb untracked for conntrack (a no-op without conntrack). */
void rg_skb_untrack(struct sk_buff *skb);
/* Random bits for hash keys. */
unsigned long long rg_random_u64(void);

/*
 * Rewrites the destination (@source 0) or source (@source 1) address and
 * port of the packet an ICMP error quotes, whose IPv4 header Rust found at
 * @quoted, fixes the quoted IPv4 header's checksum and recomputes the ICMP
 * checksum. With @rewrite_outer, the error's own address at the other end
 * (its source when the quoted destination changes, and the other way
 * round) becomes @addr too. 0, or -errno.
 */
int rg_skb_icmp_nat_quoted(struct sk_buff *skb, unsigned int quoted, int source,
			   unsigned int addr, unsigned short port, int rewrite_outer);

/* The kernel's tick counter and its rate. */
unsigned long long rg_jiffies(void);
unsigned int rg_hz(void);

/*
 * An array of @n spinlocks for the session table's buckets, taken with
 * bottom halves disabled (hooks run in softirq and in process context).
 * NULL when out of memory.
 */
void *rg_locks_new(unsigned int n);
void rg_locks_free(void *locks);
void rg_lock(void *locks, unsigned int i);
void rg_unlock(void *locks, unsigned int i);
/*
 * Takes the locks of buckets @i and @j (one lock when they are the same),
 * lower index first so two CPUs taking the same pair cannot deadlock.
 */
void rg_lock_pair(void *locks, unsigned int i, unsigned int j);
void rg_unlock_pair(void *locks, unsigned int i, unsigned int j);

/*
 * Parses the nest @outer of a request (backend policy) once, into @tb, which
 * has @slots entries (RG_BACKEND_SLOTS), and points @nest at the nest: 1 if
 * the request has it, 0 if not, a negative errno if it does not parse (the
 * family's policy validated it already, so that does not happen).
 */
#define RG_BACKEND_SLOTS (RINGGATE_A_BACKEND_MAX + 1)
int rg_genl_backend_nest(struct genl_info *info, unsigned int outer, struct nlattr **tb,
			 unsigned int slots, struct nlattr **nest);
/* Copies @attr's payload to @value if it is @size bytes or longer: 1, else 0. */
int rg_nla_copy(const struct nlattr *attr, unsigned int size, void *value);

/* RCU: the hooks run inside a read-side section; netlink code opens one. */
void rg_rcu_read_lock(void);
void rg_rcu_read_unlock(void);
/* Waits until every read-side section that began before the call has ended. */
void rg_synchronize_rcu(void);
void rg_kvfree_rcu(void *ptr);
/*
 * A mutex of its own for each namespace, serializing changes to the tables
 * netlink configures there (process context); NULL when out of memory.
 */
void *rg_mutex_new(void);
void rg_mutex_free(void *m);
void rg_mutex_lock(void *m);
void rg_mutex_unlock(void *m);

/*
 * Reads a u32 attribute of a request that the family's policy has already
 * validated. Returns 1 and stores it if present, 0 if absent.
 */
int rg_genl_get_u32(struct genl_info *info, unsigned int type, unsigned int *value);
int rg_genl_get_u8(struct genl_info *info, unsigned int type, unsigned char *value);
int rg_genl_get_u16(struct genl_info *info, unsigned int type, unsigned int *value);
/* Reports a missing required attribute through extack; returns -EINVAL. */
int rg_genl_missing(struct genl_info *info, unsigned int type);
/* The nests rg_genl_next_nest parses, each by its own policy. */
enum rg_nest_kind {
	RG_NEST_SESSION,
	RG_NEST_PEER,
};
#define RG_SESSION_SLOTS (RINGGATE_A_SESSION_MAX + 1)
#define RG_PEER_SLOTS (RINGGATE_A_PEER_MAX + 1)
/*
 * The next nest of type @outer (a multi-attr: genl_info's table holds only
 * the last) at or after byte @*offset of the request's attributes, parsed
 * by the policy of @kind (session-entry or peer) into @tb, which has
 * @slots entries (RG_SESSION_SLOTS or RG_PEER_SLOTS); @*offset moves past
 * it and @nest points at it. 1 if one was found, 0 if none is left, or a
 * negative errno. The request's policy has validated every nest already.
 */
int rg_genl_next_nest(struct genl_info *info, unsigned int outer, unsigned int kind,
		      unsigned int *offset, struct nlattr **tb, unsigned int slots,
		      struct nlattr **nest);
/* cond_resched(), for long loops in process context. */
void rg_cond_resched(void);
/* Likewise for attribute @inner of the nest @nest. */
int rg_genl_missing_in(struct genl_info *info, const struct nlattr *nest, unsigned int inner);
/* Sets the extack message of a failing request; @msg must be static. */
void rg_genl_set_err_msg(struct genl_info *info, const char *msg);
/*
 * The device of @net that holds IPv4 address @addr (network order), with a
 * reference the caller drops with rg_dev_put; NULL if no device holds it.
 */
struct net_device *rg_dev_find(struct net *net, unsigned int addr);

/*
 * Whether a device of @net holds IPv4 address @addr (network order). Only
 * under the RCU read lock (the packet path).
 */
int rg_addr_is_local(struct net *net, unsigned int addr);
void rg_dev_put(struct net_device *dev);
/*
 * Broadcasts one ARP packet of opcode @op from @dev speaking for @addr
 * (network order) as both sender and target protocol address, with @dev's
 * hardware address as sender and, if @target_hw_own, as target hardware
 * address too (else zero). Which packets make an announcement is Rust's.
 */
void rg_arp_send(struct net_device *dev, unsigned int op, unsigned int addr, int target_hw_own);

/* Starts a reply to @info; NULL when out of memory. */
struct sk_buff *rg_reply_new(struct genl_info *info);
/* Finishes and sends a reply; consumes @msg in every case. */
int rg_reply_send(struct sk_buff *msg, struct genl_info *info);
/* Frees a reply that will not be sent. */
void rg_reply_free(struct sk_buff *msg);

/* Attribute writers: 0, or -EMSGSIZE when the message is full. */
int rg_err_msgsize(void); /* -EMSGSIZE, whose number the kernel crate does not name */
int rg_err_addrnotavail(void); /* -EADDRNOTAVAIL, likewise */
int rg_put_u32(struct sk_buff *msg, unsigned int type, unsigned int value);
int rg_put_u8(struct sk_buff *msg, unsigned int type, unsigned char value);
int rg_put_u16(struct sk_buff *msg, unsigned int type, unsigned short value);
int rg_put_uint(struct sk_buff *msg, unsigned int type, unsigned long long value);
/* Puts @len bytes of @s followed by a NUL, as NLA_NUL_STRING expects. */
int rg_put_string(struct sk_buff *msg, unsigned int type, const char *s, unsigned int len);
/* Opens a nest and stores it in @nest: 0, or -EMSGSIZE when the message is full. */
int rg_nest_start(struct sk_buff *msg, unsigned int type, struct nlattr **nest);
void rg_nest_end(struct sk_buff *msg, struct nlattr *nest);
void rg_nest_cancel(struct sk_buff *msg, struct nlattr *nest);

/*
 * Notifications to a multicast group of a namespace: a message for command
 * @cmd with room for @size bytes of attributes (0: a default page;
 * NULL when out of memory; atomic allocation, so packet context may send),
 * sent to group @group (consumed in every case; 0 if a socket of the
 * namespace got it, -ENOBUFS if one had no room, -ESRCH if none listens),
 * or freed unsent.
 */
/* The family's multicast groups, numbered as the generated family has them. */
enum rg_group { RG_GROUP_EVENTS = 0, RG_GROUP_SESSIONS = 1 };
struct sk_buff *rg_event_new(unsigned int cmd, unsigned int size);
int rg_event_send(struct sk_buff *msg, struct net *net, unsigned int group);
/*
 * Whether any socket, of any namespace, listens to the sessions group: one
 * bitmap read (netlink keeps listeners per protocol, not per namespace;
 * rg_event_send's result tells a namespace's own).
 */
int rg_sessions_listened(struct net *net);
void rg_event_free(struct sk_buff *msg);

/* A dump request's attribute, as rg_genl_get_u32 and rg_genl_get_u16. */
int rg_dump_get_u32(struct netlink_callback *cb, unsigned int type, unsigned int *value);
int rg_dump_get_u16(struct netlink_callback *cb, unsigned int type, unsigned int *value);

/*
 * Dumps. The cursor kept between the parts of a dump, and the start and
 * end of one entry's message. @generation names the table version being dumped: a part that
 * sees another version than the part before marks its messages
 * NLM_F_DUMP_INTR, so userspace knows to retry.
 */
unsigned long rg_dump_cursor(struct netlink_callback *cb);
void rg_dump_set_cursor(struct netlink_callback *cb, unsigned long cursor);
void rg_dump_set_generation(struct netlink_callback *cb, unsigned int generation);
/* Opens one NLM_F_MULTI message in @skb; NULL when @skb is full. */
void *rg_dump_entry_start(struct sk_buff *skb, struct netlink_callback *cb);
void rg_dump_entry_end(struct sk_buff *skb, void *hdr);
void rg_dump_entry_cancel(struct sk_buff *skb, void *hdr);

/*
 * The functions Rust implements for C (registration.rs's Adapter<T>), as a
 * table of pointers: C calls Rust only through it, so the Rust wrapper layer
 * names no type of the module above it. bindgen turns the struct into the
 * Rust type the table is built as, so a Rust callback whose type differs
 * from its prototype here does not compile, and C calls through the same
 * prototypes.
 *
 * A namespace's state is created (net_init) before its hooks are registered
 * and dropped (net_exit) after they are unregistered (and synchronized) and
 * its sweep is cancelled, so no callback sees freed state.
 */
typedef void *(*rg_net_init_fn)(struct net *net);
typedef void (*rg_net_exit_fn)(void *state);
/* One step of the namespace's sweep; the jiffies until the next. */
typedef unsigned long (*rg_sweep_fn)(void *state);
/* Fills @target when it decides RG_VERDICT_FORWARD. */
typedef enum rg_verdict (*rg_hook_fn)(void *state, struct sk_buff *skb, enum ringgate_hook hook,
				      struct rg_l2_target *target);
/* A doit request and a dump part of command @cmd of the family. */
typedef int (*rg_doit_fn)(void *state, unsigned int cmd, struct genl_info *info);
typedef int (*rg_dumpit_fn)(void *state, unsigned int cmd, struct sk_buff *skb,
			    struct netlink_callback *cb);

struct rg_callbacks {
	rg_net_init_fn net_init;
	rg_net_exit_fn net_exit;
	rg_sweep_fn sweep;
	rg_hook_fn hook;
	rg_doit_fn doit;
	rg_dumpit_fn dumpit;
};

#endif /* RINGGATE_GLUE_H */
