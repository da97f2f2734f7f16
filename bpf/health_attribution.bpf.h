// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* health_attribution.bpf.h: which connections are ours and whose they are: the version mark
 * on accepted sockets, the upstream socket storage, the accepted-connection table, and the
 * per-connection state transitions the programs in health.bpf.c call. Included once, by
 * health.bpf.c; see docs/architecture.md, "Health attribution", for why it is exact. */
#pragma once

#include "health_maps.bpf.h"


static __always_inline void health_tuple_of(struct health_tuple *t, const struct sock_common *c)
{
	__u16 family = BPF_CORE_READ(c, skc_family);

	__builtin_memset(t, 0, sizeof(*t));
	t->family = family;
	t->lport = BPF_CORE_READ(c, skc_num);
	t->rport = bpf_ntohs(BPF_CORE_READ(c, skc_dport));
	if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&t->laddr, c, skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&t->raddr, c, skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((__u32 *)t->laddr, c, skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)t->raddr, c, skc_daddr);
	}
}

/* True when `port` (host order) is a marked listener's port (HEALTH_SIDE_LISTENER) or an upstream
 * endpoint's (HEALTH_SIDE_UPSTREAM), as some gateway registered it. */
static __always_inline bool health_port(__u32 side, __u16 port)
{
	__u32 word = side * HEALTH_PORT_WORDS + port / 64;
	__u64 *bits = bpf_map_lookup_elem(&health_ports_map, &word);

	return bits && (*bits & (1ULL << (port % 64)));
}

/* Whose a marked socket is (a listener of ours, or a connection it accepted): true and `who`
 * filled from the socket's receive timeout `timeout` (sk_rcvtimeo), see HEALTH_MARK_SECONDS. Two
 * comparisons for a socket that is not marked. */
static __always_inline bool health_mark_decode(__u64 timeout, struct health_who *who)
{
	__u64 code;

	if (timeout < health_mark_base || timeout - health_mark_base >= HEALTH_MARK_CODES * health_hz)
		return false;
	code = (timeout - health_mark_base) / health_hz;
	who->slot = code / HEALTH_MAX_INDEX;
	who->side = HEALTH_SIDE_LISTENER;
	who->index = code % HEALTH_MAX_INDEX;
	return true;
}

/* health_mark_decode of a BTF-typed socket (tp_btf, fentry). */
static __always_inline bool health_marked(const struct sock *sk, struct health_who *who)
{
	return health_mark_decode((__u64)sk->sk_rcvtimeo, who);
}

/* The same for an established socket, tested on its local port first (see HEALTH_PORT_WORDS).
 * Only while established: by CLOSE (and at the resets an abortive close sends after it) the
 * kernel may have released the local port, and skc_num reads 0 (measured: the tests' closes
 * went uncounted with the port test there). */
static __always_inline bool health_marked_established(const struct sock *sk, struct health_who *who)
{
	return health_port(HEALTH_SIDE_LISTENER, sk->__sk_common.skc_num) && health_marked(sk, who);
}

/* health_marked_established for a kprobe's untyped pointer. */
static __always_inline bool health_marked_established_kprobe(const struct sock *sk, struct health_who *who)
{
	return health_port(HEALTH_SIDE_LISTENER, BPF_CORE_READ(sk, __sk_common.skc_num)) &&
	       health_mark_decode((__u64)BPF_CORE_READ(sk, sk_rcvtimeo), who);
}

/* The state of an upstream connection of ours (BTF pointer: tp_btf, fentry), NULL otherwise.
 * Two reads turn most sockets away before the helper call: the remote port (see
 * health_ports_map; in the socket's first cache line, which the kernel has just used) and then
 * the storage pointer (NULL for a socket without any BPF storage, though sockets can carry
 * other programs' storage; in a line the packet path does not otherwise touch). */
static __always_inline struct health_sk *health_upstream_of(const struct sock *sk)
{
	if (!sk || !health_port(HEALTH_SIDE_UPSTREAM, bpf_ntohs(sk->__sk_common.skc_dport)) || !sk->sk_bpf_storage)
		return NULL;
	return bpf_sk_storage_get(&health_sk_map, (struct sock *)sk, 0, 0);
}

static __always_inline struct health_who health_who_of(const struct health_sk *s)
{
	struct health_who who = {.slot = s->slot, .side = s->side, .index = s->index};

	return who;
}

/* Returns: the slot of the calling process when it is a registered gateway, else -1. */
static __always_inline int health_proc_slot(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 *slot = bpf_map_lookup_elem(&health_procs_map, &tgid);

	return slot ? (int)*slot : -1;
}

/* Handshake latency of an accepted connection reaching ESTABLISHED. */
static __always_inline void health_handshake(const struct health_who *who, struct sock *sk, __u64 now)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	struct health_tuple t;
	__u64 *first_synack, handshake_us = 0;
	__u32 srtt;

	if (!tp)
		return;
	/* SYN-ACK retransmitted (the child inherits the request's retransmissions as
	 * total_retrans): from the first SYN-ACK, sent when the SYN arrived. Otherwise the
	 * kernel's first RTT sample is exactly SYN-ACK -> ACK, and the tuple-keyed lookup is
	 * skipped: it is the common case. */
	if (tp->total_retrans) {
		health_tuple_of(&t, &sk->__sk_common);
		first_synack = bpf_map_lookup_elem(&health_synack_map, &t);
		if (first_synack) {
			__u64 now_us = now / NSEC_PER_USEC;

			handshake_us = now_us > *first_synack ? now_us - *first_synack : 0;
			bpf_map_delete_elem(&health_synack_map, &t);
			health_latency(HEALTH_H_HANDSHAKE, HEALTH_EV_HANDSHAKE, who, sk, handshake_us);
			return;
		}
	}
	srtt = tp->srtt_us >> 3;
	handshake_us = srtt ? srtt : 1;
	health_latency(HEALTH_H_HANDSHAKE, HEALTH_EV_HANDSHAKE, who, sk, handshake_us);
}

/* The client end of an accepted connection, as far as placing its entry needs it: its address
 * folded to 32 bits, its port, and the kernel's hash of the 4-tuple (skc_hash, set when the
 * connection entered the established table, before ESTABLISHED). */
struct health_peer {
	__u32 addr;
	__u32 port;
	__u32 tuple_hash;
};

/* health_peer of a BTF-typed socket (tp_btf, fentry): direct reads of its first cache line. */
static __always_inline struct health_peer health_peer_of(const struct sock *sk)
{
	const struct sock_common *c = &sk->__sk_common;
	struct health_peer peer = {.port = bpf_ntohs(c->skc_dport), .tuple_hash = c->skc_hash};

	if (c->skc_family == AF_INET6)
		peer.addr = c->skc_v6_daddr.in6_u.u6_addr32[0] ^ c->skc_v6_daddr.in6_u.u6_addr32[1] ^
			    c->skc_v6_daddr.in6_u.u6_addr32[2] ^ c->skc_v6_daddr.in6_u.u6_addr32[3];
	else
		peer.addr = c->skc_daddr;
	return peer;
}

/* The same for a kprobe's untyped pointer. */
static __always_inline struct health_peer health_peer_of_kprobe(const struct sock *sk)
{
	struct health_peer peer = {
		.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)),
		.tuple_hash = BPF_CORE_READ(sk, __sk_common.skc_hash),
	};
	__u32 v6[4];

	if (BPF_CORE_READ(sk, __sk_common.skc_family) == AF_INET6) {
		BPF_CORE_READ_INTO(&v6, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32);
		peer.addr = v6[0] ^ v6[1] ^ v6[2] ^ v6[3];
	} else {
		peer.addr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	}
	return peer;
}

/* Where an accepted connection's entry in health_accepted_map is: two candidates in one cache
 * line, and a tag. The first candidate is a hash of the client's address plus the client's port,
 * so one client's connections sit side by side (each of its ports has its own entry, and ports
 * handed out in sequence share cache lines): a gateway behind a load balancer or a NAT sees many
 * connections from few addresses. With the whole 4-tuple hashed instead, every connection's
 * entry is a random line of the 4 MB table: a cache miss at ESTABLISHED and again at CLOSE
 * (tools/bench/results/health-sittings.md). The tag, from the tuple hash, tells apart two clients
 * whose entries meet; it is odd, so an entry in use never reads 0. 24 bits: a false match is
 * about as likely as two live connections with the same 32-bit tuple hash. */
struct health_accepted_place {
	__u32 first, second;
	__u64 tag;
};

static __always_inline struct health_accepted_place health_accepted_place_of(struct health_peer peer)
{
	const __u32 mask = (1U << HEALTH_ACCEPTED_BITS) - 1;
	__u32 base = (peer.addr * 0x9E3779B1U) >> (32 - HEALTH_ACCEPTED_BITS); /* 2^32 / golden ratio */
	struct health_accepted_place p = {
		.first = (base + peer.port) & mask,
		.tag = (peer.tuple_hash & ((1ULL << HEALTH_ACCEPTED_TAG_BITS) - 1)) | 1,
	};

	p.second = p.first ^ 1;
	return p;
}

/* ESTABLISHED: claims a free candidate (compare-and-swap: another CPU may be claiming it), else
 * overwrites the first. */
static __always_inline void health_accepted_claim(struct health_peer peer, __u64 now)
{
	struct health_accepted_place p = health_accepted_place_of(peer);
	__u64 established = ((now / NSEC_PER_USEC) << HEALTH_ACCEPTED_TAG_BITS) | p.tag;
	struct health_accepted *first = bpf_map_lookup_elem(&health_accepted_map, &p.first);
	struct health_accepted *second = bpf_map_lookup_elem(&health_accepted_map, &p.second);

	if (!first || !second)
		return;
	if (__sync_val_compare_and_swap(&first->established, 0, established) == 0) {
		first->last_rtt_ns = 0;
	} else if (__sync_val_compare_and_swap(&second->established, 0, established) == 0) {
		second->last_rtt_ns = 0;
	} else {
		first->established = established; /* an aligned 8-byte store: never torn */
		first->last_rtt_ns = 0;
	}
}

/* The connection's entry, NULL when it has none (the programs were loaded after it was
 * established, or another connection displaced it). */
static __always_inline struct health_accepted *health_accepted_find(struct health_peer peer)
{
	struct health_accepted_place p = health_accepted_place_of(peer);
	const __u64 tag_mask = (1ULL << HEALTH_ACCEPTED_TAG_BITS) - 1;
	struct health_accepted *entry;

	entry = bpf_map_lookup_elem(&health_accepted_map, &p.first);
	if (entry && (entry->established & tag_mask) == p.tag)
		return entry;
	entry = bpf_map_lookup_elem(&health_accepted_map, &p.second);
	if (entry && (entry->established & tag_mask) == p.tag)
		return entry;
	return NULL;
}

/* CLOSE: releases the connection's entry and returns its lifetime in us (-1: it had none). */
static __always_inline __s64 health_accepted_release(struct health_peer peer, __u64 now)
{
	struct health_accepted *entry = health_accepted_find(peer);
	__u64 established;

	if (!entry)
		return -1;
	established = entry->established;
	if (__sync_val_compare_and_swap(&entry->established, established, 0) != established)
		return -1; /* displaced meanwhile */
	/* Both times are modulo 2^40 us (12.7 days): the difference is right for any shorter
	 * lifetime, across the wrap too. */
	return ((now / NSEC_PER_USEC) - (established >> HEALTH_ACCEPTED_TAG_BITS)) & HEALTH_ACCEPTED_US_MASK;
}

/* An accepted connection (marked, not the listener) reached ESTABLISHED or CLOSE. */
static __always_inline void health_accepted_state(const struct health_who *who, struct sock *sk, int oldstate,
						  int newstate)
{
	__u64 now = bpf_ktime_get_ns();
	__s64 lifetime_us;

	if (newstate == TCP_ESTABLISHED) {
		health_handshake(who, sk, now);
		health_accepted_claim(health_peer_of(sk), now);
		health_count(who->slot, who->side, HEALTH_CTR_OPENED);
		return;
	}
	/* CLOSE. From SYN_RECV: never established, its opening was never counted. Otherwise it is
	 * counted closed even when its entry is gone (then only its lifetime is lost). */
	if (oldstate == TCP_SYN_RECV)
		return;
	health_count(who->slot, who->side, HEALTH_CTR_CLOSED);
	lifetime_us = health_accepted_release(health_peer_of(sk), now);
	if (lifetime_us >= 0)
		health_observe(HEALTH_H_LIFETIME, who->slot, who->index, lifetime_us);
}

/* For the kprobe RTT sampler only: the upstream connection by address (see
 * health_conns_by_address). */
static __always_inline void health_track(const struct health_sk *s, const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct health_conn conn = {.slot = s->slot, .side = s->side, .index = s->index, .last_rtt_ns = 0};

	if (health_conns_by_address)
		bpf_map_update_elem(&health_conns_map, &key, &conn, BPF_ANY);
}

static __always_inline void health_untrack(const struct sock *sk)
{
	__u64 key = (__u64)sk;

	if (health_conns_by_address)
		bpf_map_delete_elem(&health_conns_map, &key);
}

/* An upstream connection of ours reached ESTABLISHED or CLOSE. */
static __always_inline void health_upstream_state(struct health_sk *s, struct sock *sk, int newstate)
{
	struct health_who who = health_who_of(s);
	__u64 now = bpf_ktime_get_ns();

	if (newstate == TCP_ESTABLISHED) {
		if (s->start_ns && now > s->start_ns)
			health_latency(HEALTH_H_CONNECT, HEALTH_EV_CONNECT, &who, sk, (now - s->start_ns) / NSEC_PER_USEC);
		s->est_ns = now;
		health_count(s->slot, s->side, HEALTH_CTR_OPENED);
		health_track(s, sk);
		return;
	}
	if (s->est_ns) {
		health_count(s->slot, s->side, HEALTH_CTR_CLOSED);
		s->est_ns = 0;
	}
	/* The storage stays: an abortive close (SO_LINGER 0) sets CLOSE first and sends its reset
	 * after, and that reset is still ours. */
	health_untrack(sk);
}
