// dataplane: how new connections reach the active version (bpf/steer.bpf.c) and where the XDP
// front (bpf/front.bpf.c) attaches.
#include "config/schema/tables.h"

namespace hotgate::schema {

Table<DataplaneConfig> dataplaneTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"steering", &DataplaneConfig::steering, Choice<bool>{{{"auto", true}, {"off", false}}}, "auto", NewVersion,
         "auto: BPF version-slot steering when the kernel and privileges allow, else listener-fd takeover "
         "(logged, and shown by gwctl status); off: never BPF"},
        {"bpffs_root", &DataplaneConfig::bpffs_root, AbsolutePath{}, "/sys/fs/bpf/hotgate", NewVersion,
         "where the pinned BPF maps live: `<bpffs_root>/<listener>/`"},
        {"xdp_interfaces", &DataplaneConfig::xdp_interfaces,
         SetOf<InterfaceName>{.noun = "interface", .duplicates = Duplicates::Kept}, kEmpty, NewVersion,
         "interfaces the XDP front (per-port counters, deny list) attaches to; none unless the operator asks"},
    }};
}

}  // namespace hotgate::schema
