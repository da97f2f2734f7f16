// SkeletonPtr: sole owner of a generated BPF skeleton (bpftool gen skeleton), destroyed with its
// own <name>__destroy, so a half-loaded skeleton never leaks on an error path.
//   using SteerSkeleton = SkeletonPtr<steer, steer__destroy>;
#pragma once

#include <memory>

namespace hotgate::dataplane {

template <typename Skeleton, void (*Destroy)(Skeleton*)>
struct SkeletonDestroyer {
    void operator()(Skeleton* skeleton) const { Destroy(skeleton); }
};

template <typename Skeleton, void (*Destroy)(Skeleton*)>
using SkeletonPtr = std::unique_ptr<Skeleton, SkeletonDestroyer<Skeleton, Destroy>>;

}  // namespace hotgate::dataplane
