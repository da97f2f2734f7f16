// NetnsBpfTest: the common ground of the BPF tests: privilege required (skips or, under
// HOTGATE_REQUIRE_PRIVILEGED, fails without it), the test inside a network namespace of its own
// (entered with setns, so the host's bpffs stays visible), and a bpffs root private to the test.
// A fixture calls NetnsBpfTest::SetUp() first and returns when it skipped or failed, and calls
// NetnsBpfTest::TearDown() last, after releasing what it pinned or opened in the namespace.
#pragma once

#include <memory>

#include <gtest/gtest.h>

#include "support/netns.h"
#include "support/privilege.h"

namespace hotgate::test {

class NetnsBpfTest : public PrivilegedTest {
protected:
    void SetUp() override {
        PrivilegedTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        auto ns = ScopedNetns::enter();
        ASSERT_TRUE(ns) << ns.error().what();
        netns_ = std::move(*ns);
        root_ = std::make_unique<ScopedBpffsRoot>(::testing::UnitTest::GetInstance()->current_test_info()->name());
        ASSERT_TRUE(root_->ok()) << root_->error();
    }

    void TearDown() override {
        root_.reset();
        netns_.reset();
    }

    std::unique_ptr<ScopedNetns> netns_;
    std::unique_ptr<ScopedBpffsRoot> root_;
};

}  // namespace hotgate::test
