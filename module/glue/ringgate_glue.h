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
 * it into module/glue_bindings.rs without the kernel's build flags; kernel
 * objects cross the boundary as opaque pointers.
 */
#ifndef RINGGATE_GLUE_H
#define RINGGATE_GLUE_H

#include "../../include/uapi/linux/ringgate.h"

struct sk_buff;
struct genl_info;
struct nlattr;

/* What a hook decided about a packet; the glue maps it to NF_* verdicts. */
enum rg_verdict {
	RG_VERDICT_ACCEPT,
	RG_VERDICT_DROP,
};

/*
 * Registers the pernet operations (which attach the hooks in every network
 * namespace) and then the generic netlink family. Returns 0 or -errno.
 */
int rg_glue_register(void);
/* Undoes rg_glue_register: the family first, so no request outlives the state. */
void rg_glue_unregister(void);

/* Bounds of the CPU ids the per-CPU counters are indexed by. */
unsigned int rg_nr_cpu_ids(void);
unsigned int rg_raw_smp_processor_id(void);

unsigned int rg_skb_len(const struct sk_buff *skb);

/* The Rust state of the network namespace a netlink request arrived in. */
void *rg_genl_net_state(struct genl_info *info);
/*
 * Reads a u32 attribute of a request that the family's policy has already
 * validated. Returns 1 and stores it if present, 0 if absent.
 */
int rg_genl_get_u32(struct genl_info *info, unsigned int type, unsigned int *value);

/* Starts a reply to @info; NULL when out of memory. */
struct sk_buff *rg_reply_new(struct genl_info *info);
/* Finishes and sends a reply; consumes @msg in every case. */
int rg_reply_send(struct sk_buff *msg, struct genl_info *info);
/* Frees a reply that will not be sent. */
void rg_reply_free(struct sk_buff *msg);

/* Attribute writers: 0, or -EMSGSIZE when the message is full. */
int rg_put_u32(struct sk_buff *msg, unsigned int type, unsigned int value);
int rg_put_uint(struct sk_buff *msg, unsigned int type, unsigned long long value);
/* Puts @len bytes of @s followed by a NUL, as NLA_NUL_STRING expects. */
int rg_put_string(struct sk_buff *msg, unsigned int type, const char *s, unsigned int len);
/* Opens a nest and stores it in @nest: 0, or -EMSGSIZE when the message is full. */
int rg_nest_start(struct sk_buff *msg, unsigned int type, struct nlattr **nest);
void rg_nest_end(struct sk_buff *msg, struct nlattr *nest);
void rg_nest_cancel(struct sk_buff *msg, struct nlattr *nest);

/*
 * Implemented in Rust. A namespace's state is created before its hooks are
 * registered and dropped after they are unregistered (and synchronized), so
 * a hook never sees freed state.
 */
void *ringgate_rs_net_init(void);
void ringgate_rs_net_exit(void *state);
enum rg_verdict ringgate_rs_hook(void *state, struct sk_buff *skb, enum ringgate_hook hook);

#endif /* RINGGATE_GLUE_H */
