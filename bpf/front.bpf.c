// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* front.bpf.c: XDP program for the listener interfaces (generic mode on lo and veth, native
 * where the driver supports it). Counts packets and SYNs by destination port and drops
 * packets whose source address matches the deny list, before the stack sees them.
 * Anything it cannot parse passes untouched.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "front.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10
#define TCP_FLAGS_OFFSET 13

/* Source prefixes to drop. Written by: gwctl deny add|del (and the gateway's config).
 * Read by: front_filter, which also bumps the hit count of the matching prefix. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FRONT_DENY_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct front_deny_key);
	__type(value, struct front_deny_value);
} front_deny_map SEC(".maps");

/* Per-CPU counters by (protocol, destination port). Written by: front_filter.
 * Read by: gwctl status, the gateway's metrics. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, FRONT_PORTS_MAX);
	__type(key, struct front_port_key);
	__type(value, struct front_port_stats);
} front_port_map SEC(".maps");

struct front_packet {
	struct front_deny_key src; /* prefixlen 128: the full source address */
	__u16 dport;               /* host order; 0 when there is no L4 header to read */
	__u8 proto;
	bool syn;
};

/* Reads the L4 destination port and SYN flag at @l4.
 * Returns: false when the header is cut short. */
static __always_inline bool front_parse_l4(void *l4, void *end, struct front_packet *pkt)
{
	if (pkt->proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;
		__u8 flags;

		if ((void *)(tcp + 1) > end)
			return false;
		flags = ((__u8 *)tcp)[TCP_FLAGS_OFFSET];
		pkt->dport = bpf_ntohs(tcp->dest);
		pkt->syn = (flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
	} else if (pkt->proto == IPPROTO_UDP) {
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) > end)
			return false;
		pkt->dport = bpf_ntohs(udp->dest);
	}
	return true;
}

/* Fills @pkt from an Ethernet frame.
 * Returns: false for frames that are not IPv4/IPv6 or are too short to hold the IP header. */
static __always_inline bool front_parse(struct xdp_md *ctx, struct front_packet *pkt)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return false;
	pkt->src.prefixlen = 128;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		__u32 ihl;

		if ((void *)(ip + 1) > end)
			return false;
		ihl = (((__u8 *)ip)[0] & 0x0f) * 4;
		if (ihl < sizeof(*ip))
			return false;
		pkt->src.addr[10] = 0xff;
		pkt->src.addr[11] = 0xff;
		__builtin_memcpy(&pkt->src.addr[12], &ip->saddr, 4);
		pkt->proto = ip->protocol;
		/* Only the first fragment carries the L4 header. */
		if (ip->frag_off & bpf_htons(IP_OFFSET))
			return true;
		front_parse_l4((void *)ip + ihl, end, pkt);
		return true;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end)
			return false;
		__builtin_memcpy(pkt->src.addr, &ip6->saddr, 16);
		/* Extension headers are not walked: such packets are only checked against the
		 * deny list, not counted by port. */
		pkt->proto = ip6->nexthdr;
		front_parse_l4(ip6 + 1, end, pkt);
		return true;
	}
	return false;
}

static __always_inline void front_count(const struct front_packet *pkt, bool denied)
{
	struct front_port_key key = { .port = pkt->dport, .proto = pkt->proto };
	struct front_port_stats *stats, zero = {};

	if (pkt->dport == 0)
		return;
	stats = bpf_map_lookup_elem(&front_port_map, &key);
	if (!stats) {
		bpf_map_update_elem(&front_port_map, &key, &zero, BPF_NOEXIST);
		stats = bpf_map_lookup_elem(&front_port_map, &key);
		if (!stats)
			return;
	}
	/* Per-CPU value: plain increments are enough. */
	stats->packets++;
	if (pkt->syn)
		stats->syns++;
	if (denied)
		stats->denied++;
}

SEC("xdp")
int front_filter(struct xdp_md *ctx)
{
	struct front_packet pkt = {};
	struct front_deny_value *deny;

	if (!front_parse(ctx, &pkt))
		return XDP_PASS;

	deny = bpf_map_lookup_elem(&front_deny_map, &pkt.src);
	if (deny) {
		__sync_fetch_and_add(&deny->hits, 1);
		front_count(&pkt, true);
		return XDP_DROP;
	}
	front_count(&pkt, false);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
