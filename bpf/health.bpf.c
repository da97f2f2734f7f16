// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* health.bpf.c: TCP health of the gateway's connections, per version slot.
 *
 * Which connections: those accepted on a listening socket the gateway marked with its version
 * slot (the listener's receive timeout, which every accepted socket inherits: see
 * HEALTH_MARK_SECONDS in health.h; exact per-version attribution though all versions share one
 * port), and those a registered gateway process (health_procs_map, by tgid) opens to one of its
 * upstream endpoints (health_endpoints_map). Nothing else on the host is measured, so the
 * numbers are exact even though the tracepoints are system-wide.
 *
 * What: handshake latency (first SYN-ACK sent -> ESTABLISHED, server side), upstream connect
 * latency (SYN_SENT -> ESTABLISHED), connection lifetime, smoothed RTT, resets sent and
 * received, retransmits. Latencies above the thresholds in health_thresh_map, and every
 * reset and retransmit, become ring-buffer events; a full ring buffer drops the event and
 * counts the drop, never delaying the packet path.
 *
 * Variants, all in this one object: the tracepoint programs always load; the RTT sampler and
 * the connect-start hook come in three flavours (tp_btf tcp_probe / set_state, kprobe,
 * fentry) and the loader turns on exactly one flavour with bpf_program__set_autoload()
 * before load. One object rather than three: the maps are defined once (no drift between
 * copies, one set of pins), and the variant choice is a load-time switch that the loader can
 * retry with the next flavour after a refused load or attach.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "health.h"
#include "health_maps.bpf.h"
#include "health_attribution.bpf.h"

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(health_state, struct sock *sk, int oldstate, int newstate)
{
	struct health_who who;
	struct health_sk *s;

	/* Only these transitions are measured: SYN_RECV, FIN_WAIT*, CLOSE_WAIT, LAST_ACK and
	 * CLOSING (half of all) return before the socket is read. */
	if (newstate != TCP_SYN_SENT && newstate != TCP_ESTABLISHED && newstate != TCP_CLOSE)
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;

	if (newstate == TCP_SYN_SENT) {
		struct health_endpoint ep = {};
		__u64 key = (__u64)sk, *start;
		__u32 *index;
		int slot;

		ep.port = bpf_ntohs(sk->__sk_common.skc_dport);
		if (!health_port(HEALTH_SIDE_UPSTREAM, ep.port))
			return 0;
		slot = health_proc_slot();
		if (slot < 0)
			return 0;
		ep.family = BPF_CORE_READ(sk, __sk_common.skc_family);
		if (ep.family == AF_INET6)
			BPF_CORE_READ_INTO(&ep.addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
		else
			BPF_CORE_READ_INTO((__u32 *)ep.addr, sk, __sk_common.skc_daddr);
		index = bpf_map_lookup_elem(&health_endpoints_map, &ep);
		if (!index)
			return 0;
		s = bpf_sk_storage_get(&health_sk_map, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (!s)
			return 0;
		s->slot = slot;
		s->side = HEALTH_SIDE_UPSTREAM;
		s->index = *index;
		s->est_ns = 0;
		s->last_rtt_ns = 0;
		/* The kprobe/fentry variants saw tcp_v4_connect itself, a little earlier. */
		start = bpf_map_lookup_elem(&health_connect_map, &key);
		if (start) {
			s->start_ns = *start;
			bpf_map_delete_elem(&health_connect_map, &key);
		} else {
			s->start_ns = bpf_ktime_get_ns();
		}
		return 0;
	}

	if (newstate == TCP_ESTABLISHED ? health_marked_established(sk, &who) : health_marked(sk, &who)) {
		if (oldstate != TCP_LISTEN) /* LISTEN -> CLOSE: a marked listener closing */
			health_accepted_state(&who, sk, oldstate, newstate);
		return 0;
	}
	s = health_upstream_of(sk);
	if (s)
		health_upstream_state(s, sk, newstate);
	return 0;
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(health_synack_retransmit, const struct sock *listener, const struct request_sock *req)
{
	struct health_tuple t;
	struct health_who who;
	__u64 first;

	if (!listener || !health_marked(listener, &who))
		return 0;
	first = BPF_CORE_READ((struct tcp_request_sock *)req, snt_synack);
	if (!first)
		return 0;
	health_tuple_of(&t, &req->__req_common);
	bpf_map_update_elem(&health_synack_map, &t, &first, BPF_NOEXIST);
	return 0;
}

/* A reset or retransmit on a connection of ours (accepted: from its mark, so even after its
 * CLOSE, as an abortive close sends its reset after; or upstream), not on a listener: counted
 * on its side, and an event. */
static __always_inline void health_tcp_incident(const struct sock *sk, __u32 counter, __u32 event)
{
	struct health_who who;
	struct health_sk *s;

	if (!sk)
		return;
	if (health_marked(sk, &who)) {
		if (sk->__sk_common.skc_state == TCP_LISTEN)
			return;
	} else {
		s = health_upstream_of(sk);
		if (!s)
			return;
		who = health_who_of(s);
	}
	health_count(who.slot, who.side, counter);
	health_emit(event, &who, sk, 0, 0);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(health_retransmit, const struct sock *sk, const struct sk_buff *skb)
{
	health_tcp_incident(sk, HEALTH_CTR_RETRANSMITS, HEALTH_EV_RETRANSMIT);
	return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(health_reset_sent, const struct sock *sk, const struct sk_buff *skb)
{
	health_tcp_incident(sk, HEALTH_CTR_RESETS_SENT, HEALTH_EV_RESET_SENT);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(health_reset_received, struct sock *sk)
{
	health_tcp_incident(sk, HEALTH_CTR_RESETS_RECEIVED, HEALTH_EV_RESET_RECEIVED);
	return 0;
}

/* ---- Variant programs: exactly one RTT sampler and at most one connect hook load. ---- */

/* RTT samples are taken at most once per HEALTH_RTT_SAMPLE_NS per connection (`last_ns`: its
 * last sample time): true when one is due now. Checked before the socket is read. */
static __always_inline bool health_rtt_due(const __u64 *last_ns, __u64 now)
{
	return !*last_ns || now - *last_ns >= HEALTH_RTT_SAMPLE_NS;
}

/* A due RTT sample: `srtt` is the kernel's smoothed RTT in us (0: none measured yet, as after a
 * retransmitted SYN-ACK, Karn's rule: then the next segment tries again). */
static __always_inline void health_rtt(__u32 slot, __u32 side, __u32 index, __u64 *last_ns, __u64 now,
				       __u32 srtt)
{
	if (!srtt)
		return;
	*last_ns = now;
	health_observe(side == HEALTH_SIDE_LISTENER ? HEALTH_H_SRTT_LISTENER : HEALTH_H_SRTT_UPSTREAM,
		       slot, index, srtt);
}

/* tp_btf and fentry: the socket is a BTF pointer; an accepted connection's state is in
 * health_accepted_map, an upstream one's in sk_storage. */
static __always_inline void health_rtt_btf(struct sock *sk)
{
	struct health_who who;
	struct tcp_sock *tp;
	__u64 *last_ns, now;

	if (health_marked_established(sk, &who)) {
		struct health_accepted *a = health_accepted_find(health_peer_of(sk));

		if (!a)
			return; /* displaced, or established before the programs were loaded */
		barrier_var(a); /* keeps clang from forming &a->last_rtt_ns before the NULL test */
		last_ns = &a->last_rtt_ns;
	} else {
		struct health_sk *s = health_upstream_of(sk);

		if (!s || !s->est_ns)
			return;
		barrier_var(s);
		who = health_who_of(s);
		last_ns = &s->last_rtt_ns;
	}
	now = bpf_ktime_get_ns();
	if (!health_rtt_due(last_ns, now))
		return;
	tp = bpf_skc_to_tcp_sock(sk);
	if (tp)
		health_rtt(who.slot, who.side, who.index, last_ns, now, tp->srtt_us >> 3);
}

/* The connect start, before SYN_SENT, for registered gateway processes only. */
static __always_inline void health_connect_start(const struct sock *sk)
{
	__u64 key = (__u64)sk, now;

	if (health_proc_slot() < 0)
		return;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&health_connect_map, &key, &now, BPF_ANY);
}

/* tcp_probe and tcp_rcv_established fire for every segment of every socket on the host: the
 * mark and sk_storage checks (two field reads for a socket of neither kind) reject the sockets
 * that are not ours. kprobes cannot read sk_storage and look an upstream socket up by address. */
SEC("tp_btf/tcp_probe")
int BPF_PROG(health_rtt_tp, struct sock *sk, const struct sk_buff *skb)
{
	health_rtt_btf(sk);
	return 0;
}

SEC("kprobe/tcp_rcv_established")
int BPF_KPROBE(health_rtt_kprobe, struct sock *sk)
{
	struct health_who who;
	__u64 key = (__u64)sk, *last_ns, now;

	if (health_marked_established_kprobe(sk, &who)) {
		struct health_accepted *a = health_accepted_find(health_peer_of_kprobe(sk));

		if (!a)
			return 0;
		barrier_var(a);
		last_ns = &a->last_rtt_ns;
	} else {
		struct health_conn *c;

		if (!health_port(HEALTH_SIDE_UPSTREAM, bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport))))
			return 0;
		c = bpf_map_lookup_elem(&health_conns_map, &key);
		if (!c)
			return 0;
		barrier_var(c);
		who.slot = c->slot;
		who.side = c->side;
		who.index = c->index;
		last_ns = &c->last_rtt_ns;
	}
	now = bpf_ktime_get_ns();
	if (health_rtt_due(last_ns, now))
		health_rtt(who.slot, who.side, who.index, last_ns, now,
			   BPF_CORE_READ((struct tcp_sock *)sk, srtt_us) >> 3);
	return 0;
}

SEC("kprobe/tcp_v4_connect")
int BPF_KPROBE(health_connect_kprobe, struct sock *sk)
{
	health_connect_start(sk);
	return 0;
}

SEC("fentry/tcp_rcv_established")
int BPF_PROG(health_rtt_fentry, struct sock *sk)
{
	health_rtt_btf(sk);
	return 0;
}

SEC("fentry/tcp_v4_connect")
int BPF_PROG(health_connect_fentry, struct sock *sk)
{
	health_connect_start(sk);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
