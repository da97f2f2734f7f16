// The pin helper (dataplane/bpffs*.h) on the real kernel, each test with a private bpffs root:
// every loader's spec table against its BPF object, pinned maps of another layout refused with
// the reason, a pin set published whole and replaced only when nobody uses it, and concurrent
// publishers serialised by the root's flock.
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "dataplane/bpffs_publish.h"
#include "dataplane/skeleton_ptr.h"
#include "dataplane/front_loader.h"
#include "dataplane/steer_loader.h"
#include "front.skel.h"
#include "health.skel.h"
#include "health/health_loader.h"
#include "netns_bpf_test.h"
#include "steer.skel.h"
#include "tcp_util.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;
using dataplane::MapSpec;
using dataplane::PinRootLock;
using dataplane::PinSetOrigin;
using dataplane::PinSetRecipe;

// Every spec names a map of the object with exactly its layout; with `covers_object`, every map
// of the object (but the internal .rodata/.bss) has a spec.
void expectTableMatchesObject(bpf_object* object, std::span<const MapSpec> specs, bool covers_object) {
    std::set<std::string> found;
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, object) {
        if (bpf_map__is_internal(map)) continue;
        const std::string name = bpf_map__name(map);
        const auto spec = std::find_if(specs.begin(), specs.end(), [&](const MapSpec& s) { return name == s.name; });
        if (spec == specs.end()) {
            if (covers_object) ADD_FAILURE() << name << " of the object has no spec";
            continue;
        }
        found.insert(name);
        EXPECT_EQ(bpf_map__type(map), spec->type) << name;
        EXPECT_EQ(bpf_map__key_size(map), spec->key_size) << name;
        EXPECT_EQ(bpf_map__value_size(map), spec->value_size) << name;
        if (spec->max_entries != dataplane::kAnyMaxEntries) {
            EXPECT_EQ(bpf_map__max_entries(map), spec->max_entries) << name;
        }
        EXPECT_EQ(bpf_map__map_flags(map), spec->flags) << name;
    }
    for (const MapSpec& spec : specs) EXPECT_TRUE(found.count(spec.name)) << spec.name << " is not in the object";
}

// Opening a skeleton parses its ELF only: no privilege needed.
TEST(BpffsSpecs, EveryLoadersTableMatchesItsObject) {
    dataplane::SkeletonPtr<steer, steer__destroy> steer_skel(steer__open());
    ASSERT_TRUE(steer_skel) << std::strerror(errno);
    expectTableMatchesObject(steer_skel->obj, dataplane::steerMapSpecs(), true);
    dataplane::SkeletonPtr<front, front__destroy> front_skel(front__open());
    ASSERT_TRUE(front_skel) << std::strerror(errno);
    expectTableMatchesObject(front_skel->obj, dataplane::frontMapSpecs(), true);
    // health.bpf.c keeps per-connection state the loader never opens; those maps need no spec.
    dataplane::SkeletonPtr<::health, health__destroy> health_skel(health__open());
    ASSERT_TRUE(health_skel) << std::strerror(errno);
    expectTableMatchesObject(health_skel->obj, health::healthMapSpecs(), false);
}

class BpffsTest : public NetnsBpfTest {
protected:
    std::string dir(const std::string& name) const { return root_->path() + "/" + name; }

    // Pins a new map at <dir>/<name>; fails the test when the kernel refuses.
    void pinMap(const std::string& in, const char* name, bpf_map_type type, std::uint32_t key, std::uint32_t value,
                std::uint32_t entries, std::uint32_t flags = 0) {
        ::mkdir(in.c_str(), 0700);
        LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = flags);
        UniqueFd fd(bpf_map_create(type, name, key, value, entries, &opts));
        ASSERT_TRUE(fd) << "create " << name << ": " << std::strerror(errno);
        ASSERT_EQ(bpf_obj_pin(fd.get(), (in + "/" + name).c_str()), 0) << std::strerror(errno);
    }
};

// The control map of steer (ARRAY, key 4, value 8, 1 entry, no flags) pinned with one field
// wrong at a time: refused, naming the map, the field, both values and the fix.
TEST_F(BpffsTest, PinnedMapOfAnotherLayoutIsRefusedWithTheReason) {
    if (IsSkipped() || HasFatalFailure()) return;
    const MapSpec spec{"steer_ctl_map", BPF_MAP_TYPE_ARRAY, 4, 8, 1};
    struct Case {
        const char* group;
        bpf_map_type type;
        std::uint32_t key, value, entries, flags;
        const char* reason;
    };
    const Case cases[] = {
        {"type", BPF_MAP_TYPE_HASH, 4, 8, 1, 0, "type 1, this build wants 2"},
        {"key", BPF_MAP_TYPE_HASH, 8, 8, 1, 0, "key size 8, this build wants 4"},
        {"value", BPF_MAP_TYPE_ARRAY, 4, 16, 1, 0, "value size 16, this build wants 8"},
        {"entries", BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0, "max entries 2, this build wants 1"},
        {"flags", BPF_MAP_TYPE_ARRAY, 4, 8, 1, BPF_F_MMAPABLE, "flags 1024, this build wants 0"},
    };
    for (const Case& c : cases) {
        ASSERT_NO_FATAL_FAILURE(pinMap(dir(c.group), "steer_ctl_map", c.type, c.key, c.value, c.entries, c.flags));
        auto opened = dataplane::openPinnedMap(dir(c.group), spec);
        ASSERT_FALSE(opened) << c.group;
        const std::string& why = opened.error().what();
        EXPECT_NE(why.find(dir(c.group) + "/steer_ctl_map has another layout"), std::string::npos) << why;
        EXPECT_NE(why.find(c.reason), std::string::npos) << why;
        EXPECT_NE(why.find("or remove " + dir(c.group)), std::string::npos) << why;
        EXPECT_EQ(opened.error().errnum, 0) << why;
        auto incompatible = dataplane::pinSetIncompatibility(dir(c.group), std::span(&spec, 1));
        ASSERT_TRUE(incompatible) << c.group;
        EXPECT_NE(incompatible->find(c.reason), std::string::npos) << *incompatible;
    }
    // The key size the type check alone would miss: a hash of the right sizes but two fields off.
    auto both = dataplane::openPinnedMap(dir("key"), spec);
    ASSERT_FALSE(both);
    EXPECT_NE(both.error().what().find("type 1, this build wants 2; key size 8, this build wants 4"), std::string::npos)
        << both.error().what();

    ASSERT_NO_FATAL_FAILURE(pinMap(dir("right"), "steer_ctl_map", BPF_MAP_TYPE_ARRAY, 4, 8, 1));
    EXPECT_TRUE(dataplane::openPinnedMap(dir("right"), spec));
    EXPECT_FALSE(dataplane::pinSetIncompatibility(dir("right"), std::span(&spec, 1)));
    auto missing = dataplane::openPinnedMap(dir("absent"), spec);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errnum, ENOENT) << missing.error().what();
    EXPECT_NE(missing.error().what().find(dir("absent") + "/steer_ctl_map"), std::string::npos);
}

PinSetRecipe recipeOf(const std::string& name, const MapSpec& spec, bool in_use, int* populated = nullptr) {
    return PinSetRecipe{
        name,
        std::span(&spec, 1),
        [spec, populated](const std::string& into) -> Result<void> {
            UniqueFd fd(bpf_map_create(spec.type, spec.name, spec.key_size, spec.value_size, spec.max_entries, nullptr));
            if (!fd) return sysError(errno, "create ", spec.name);
            if (bpf_obj_pin(fd.get(), (into + "/" + spec.name).c_str()) != 0) return sysError(errno, "pin ", spec.name);
            if (populated) ++*populated;
            return {};
        },
        [in_use](const std::string&) { return in_use; },
    };
}

// An incompatible set in use stays and publishing says why; nobody using it, it is replaced;
// a compatible one is reused as it is; an empty directory counts as no set.
TEST_F(BpffsTest, PublishReusesCompatibleSetsAndReplacesOnlyUnusedIncompatibleOnes) {
    if (IsSkipped() || HasFatalFailure()) return;
    const MapSpec spec{"group_map", BPF_MAP_TYPE_ARRAY, 4, 8, 4};
    auto lock = PinRootLock::acquire(root_->path());
    ASSERT_TRUE(lock) << lock.error().what();
    ASSERT_NO_FATAL_FAILURE(pinMap(dir("group"), "group_map", BPF_MAP_TYPE_ARRAY, 4, 16, 4));

    int populated = 0;
    auto refused = dataplane::publishPinSet(*lock, recipeOf("group", spec, /*in_use=*/true, &populated));
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().what().find("group_map has another layout (value size 16, this build wants 8)"),
              std::string::npos)
        << refused.error().what();
    EXPECT_NE(refused.error().what().find("still in use"), std::string::npos) << refused.error().what();
    EXPECT_EQ(populated, 0);
    EXPECT_TRUE(dataplane::pinSetIncompatibility(dir("group"), std::span(&spec, 1))) << "the set in use was touched";

    auto replaced = dataplane::publishPinSet(*lock, recipeOf("group", spec, /*in_use=*/false, &populated));
    ASSERT_TRUE(replaced) << replaced.error().what();
    EXPECT_EQ(replaced->origin, PinSetOrigin::kPublished);
    EXPECT_EQ(replaced->dir, dir("group"));
    EXPECT_EQ(populated, 1);
    EXPECT_FALSE(dataplane::pinSetIncompatibility(dir("group"), std::span(&spec, 1)));

    auto reused = dataplane::publishPinSet(*lock, recipeOf("group", spec, /*in_use=*/false, &populated));
    ASSERT_TRUE(reused) << reused.error().what();
    EXPECT_EQ(reused->origin, PinSetOrigin::kExisting);
    EXPECT_EQ(populated, 1) << "a compatible set was populated again";

    ASSERT_EQ(::mkdir(dir("empty").c_str(), 0700), 0);
    auto fresh = dataplane::publishPinSet(*lock, recipeOf("empty", spec, /*in_use=*/true, &populated));
    ASSERT_TRUE(fresh) << fresh.error().what();
    EXPECT_EQ(fresh->origin, PinSetOrigin::kPublished);

    // A failing populate leaves nothing: no set, no temporary directory.
    PinSetRecipe failing = recipeOf("broken", spec, false);
    failing.populate = [](const std::string&) -> Result<void> { return fail("load refused on purpose"); };
    auto broken = dataplane::publishPinSet(*lock, failing);
    ASSERT_FALSE(broken);
    EXPECT_EQ(broken.error().what(), "load refused on purpose");
    EXPECT_FALSE(dataplane::pinExists(dir("broken")));
    EXPECT_FALSE(dataplane::pinExists(dataplane::tempPinDir(root_->path(), "broken")));
}

// Steer's own judgement: a group of another layout whose registered owner lives is kept, and
// attaching says why; once no owner lives, the next attach replaces it.
TEST_F(BpffsTest, SteerReplacesAnIncompatibleGroupOnlyWhenNobodyServesIt) {
    if (IsSkipped() || HasFatalFailure()) return;
    // Every map of this build's layout but the control entry, grown to 16 bytes.
    const std::string web = dir("web");
    ASSERT_NO_FATAL_FAILURE(
        pinMap(web, "steer_sock_map", BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, 4, 8, STEER_SOCKARRAY_SIZE));
    ASSERT_NO_FATAL_FAILURE(pinMap(web, "steer_slot_map", BPF_MAP_TYPE_ARRAY, 4, sizeof(steer_slot), STEER_SLOTS));
    ASSERT_NO_FATAL_FAILURE(pinMap(web, "steer_ctl_map", BPF_MAP_TYPE_ARRAY, 4, 16, 1));
    ASSERT_NO_FATAL_FAILURE(
        pinMap(web, "steer_stats_map", BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(steer_stats), STEER_STATS_ROWS));
    UniqueFd slots(bpf_obj_get((web + "/steer_slot_map").c_str()));
    ASSERT_TRUE(slots);
    steer_slot owner{1, static_cast<__u32>(::getpid())};
    __u32 key = 0;
    ASSERT_EQ(bpf_map_update_elem(slots.get(), &key, &owner, BPF_ANY), 0);

    UniqueFd listener = listenReuseport(18085);
    ASSERT_TRUE(listener) << std::strerror(errno);
    int fds[] = {listener.get()};
    auto refused = dataplane::SteerLoader::attachListener("web", fds, 0, true, root_->path());
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().what().find("steer_ctl_map has another layout (value size 16, this build wants 8)"),
              std::string::npos)
        << refused.error().what();
    EXPECT_NE(refused.error().what().find("still in use"), std::string::npos) << refused.error().what();
    EXPECT_TRUE(dataplane::steerGroupInUse(web));

    owner = steer_slot{};
    ASSERT_EQ(bpf_map_update_elem(slots.get(), &key, &owner, BPF_ANY), 0);
    EXPECT_FALSE(dataplane::steerGroupInUse(web));
    auto attached = dataplane::SteerLoader::attachListener("web", fds, 0, true, root_->path());
    ASSERT_TRUE(attached) << attached.error().what();
    EXPECT_TRUE(dataplane::steerGroupInUse(web)) << "a group with a live socket must count as served";
    EXPECT_FALSE(dataplane::pinSetIncompatibility(web, dataplane::steerMapSpecs()));
}

// What several processes publishing the same set at once share, in anonymous shared memory.
struct PublishRace {
    std::atomic<int> holders{0};
    std::atomic<int> most_holders{0};
    std::atomic<int> published{0};
    std::atomic<int> existing{0};
    std::atomic<int> failed{0};
};

// Four processes publish one set at the same moment: the flock lets one at a time in, exactly
// one populates and renames, the others find its set and reuse it.
TEST_F(BpffsTest, ConcurrentPublishersUnderTheLockPublishOnce) {
    if (IsSkipped() || HasFatalFailure()) return;
    void* shared = ::mmap(nullptr, sizeof(PublishRace), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(shared, MAP_FAILED);
    auto* race = new (shared) PublishRace();
    const MapSpec spec{"shared_map", BPF_MAP_TYPE_ARRAY, 4, 8, 4};
    int start[2];
    ASSERT_EQ(::pipe(start), 0);
    std::vector<pid_t> children;
    for (int i = 0; i < 4; ++i) {
        pid_t child = ::fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            ::close(start[1]);
            char go;
            (void)!::read(start[0], &go, 1);  // EOF: every child starts at once
            auto lock = PinRootLock::acquire(root_->path(), 20s);
            if (!lock) {
                race->failed++;
                ::_exit(1);
            }
            const int inside = ++race->holders;
            for (int most = race->most_holders.load(); inside > most;)
                race->most_holders.compare_exchange_weak(most, inside);
            PinSetRecipe recipe = recipeOf("shared", spec, true);
            auto populate = recipe.populate;
            recipe.populate = [populate](const std::string& into) {
                std::this_thread::sleep_for(30ms);  // a load takes a while: let the others pile up
                return populate(into);
            };
            auto result = dataplane::publishPinSet(*lock, recipe);
            --race->holders;
            if (!result) race->failed++;
            else if (result->origin == PinSetOrigin::kPublished) race->published++;
            else race->existing++;
            ::_exit(result ? 0 : 1);
        }
        children.push_back(child);
    }
    ::close(start[0]);
    ::close(start[1]);
    for (pid_t child : children) {
        int status = 0;
        ASSERT_EQ(::waitpid(child, &status, 0), child);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "publisher " << child << " failed";
    }
    EXPECT_EQ(race->failed.load(), 0);
    EXPECT_EQ(race->published.load(), 1) << "the set must be populated exactly once";
    EXPECT_EQ(race->existing.load(), 3);
    EXPECT_EQ(race->most_holders.load(), 1) << "two publishers held the root's lock at once";
    EXPECT_FALSE(dataplane::pinSetIncompatibility(dir("shared"), std::span(&spec, 1)));
    ::munmap(shared, sizeof(PublishRace));
}

// A lock held elsewhere (another open file description: another process, or here another fd)
// is waited for, and a holder that never lets go costs an error naming the root.
TEST_F(BpffsTest, LockHeldTooLongFailsNamingTheRoot) {
    if (IsSkipped() || HasFatalFailure()) return;
    auto held = PinRootLock::acquire(root_->path());
    ASSERT_TRUE(held) << held.error().what();
    const auto started = std::chrono::steady_clock::now();
    auto second = PinRootLock::acquire(root_->path(), 100ms);
    ASSERT_FALSE(second);
    EXPECT_GE(std::chrono::steady_clock::now() - started, 100ms);
    EXPECT_EQ(second.error().errnum, EWOULDBLOCK) << second.error().what();
    EXPECT_NE(second.error().what().find("lock bpffs root " + root_->path()), std::string::npos)
        << second.error().what();

    std::thread release([&] {
        std::this_thread::sleep_for(50ms);
        auto gone = std::move(*held);
    });
    auto waited = PinRootLock::acquire(root_->path(), 5s);
    release.join();
    EXPECT_TRUE(waited) << waited.error().what();

    auto nowhere = PinRootLock::acquire(dir("absent"));
    ASSERT_FALSE(nowhere);
    EXPECT_EQ(nowhere.error().errnum, ENOENT);
}

}  // namespace
}  // namespace hotgate::test
