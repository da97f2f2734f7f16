// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* netfault.bpf.c: TEST ONLY. Drops the first N IPv4 TCP segments that match one rule (see
 * netfault.h). The health tests attach it to a veth of their own network namespace to delay
 * a handshake by a SYN-ACK or final-ACK retransmit, or to force a data retransmit. */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "netfault.h"

#define ETH_P_IP 0x0800

/* The rule (key 0). Written by: the test. Read, and drops_left/dropped updated, by: netfault_drop. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct netfault_rule);
} netfault_rule_map SEC(".maps");

SEC("xdp")
int netfault_drop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct netfault_rule *rule;
	struct iphdr *ip;
	struct tcphdr *tcp;
	__u32 zero = 0, ip_len, tcp_len, payload;
	__u8 flags;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_TCP)
		return XDP_PASS;
	ip_len = ip->ihl * 4;
	if (ip_len < sizeof(*ip))
		return XDP_PASS;
	tcp = (void *)ip + ip_len;
	if ((void *)(tcp + 1) > end)
		return XDP_PASS;
	rule = bpf_map_lookup_elem(&netfault_rule_map, &zero);
	if (!rule || rule->drops_left == 0)
		return XDP_PASS;
	if (rule->sport && bpf_ntohs(tcp->source) != rule->sport)
		return XDP_PASS;
	if (rule->dport && bpf_ntohs(tcp->dest) != rule->dport)
		return XDP_PASS;
	flags = ((__u8 *)tcp)[13];
	if ((flags & rule->flags_mask) != rule->flags_value)
		return XDP_PASS;
	tcp_len = tcp->doff * 4;
	payload = bpf_ntohs(ip->tot_len);
	payload = payload > ip_len + tcp_len ? payload - ip_len - tcp_len : 0;
	if (rule->payload == NETFAULT_PAYLOAD_NONE && payload)
		return XDP_PASS;
	if (rule->payload == NETFAULT_PAYLOAD_SOME && !payload)
		return XDP_PASS;
	/* One veth queue: segments come one at a time, plain updates are enough. */
	rule->drops_left--;
	rule->dropped++;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
