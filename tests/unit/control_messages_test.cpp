// The typed payloads of the control protocol (control/messages.h): each encodes to exactly the
// keys protocol version 1 has always sent, decodes what version 1 sends (optional fields
// missing included), and refuses a required field that is missing or mistyped by name.
#include <gtest/gtest.h>

#include "control/fd_passing.h"
#include "control/messages.h"

namespace hotgate::control {
namespace {

using nlohmann::json;

// A successor that serves gwctl verify's shadow paths says so in its Ready; one from before
// says nothing, and is read as serving none (no ShadowConnection is ever sent to it).
TEST(ControlMessages, ReadySaysWhetherItServesShadowPaths) {
    const Ready serving{1, "127.0.0.1:9901", 42, true};
    EXPECT_EQ(serving.toJson()["shadow_paths"], true);
    EXPECT_TRUE(Ready::fromJson(serving.toJson())->shadow_paths);
    EXPECT_FALSE(Ready::fromJson(json({{"slot", 1}, {"admin", "a"}, {"pid", 42}}))->shadow_paths);
    EXPECT_FALSE(Ready::fromJson(json({{"shadow_paths", "yes"}}))) << "a wrong type is refused, like every field's";
}

TEST(ControlMessages, EncodeTheKeysOfProtocolVersionOne) {
    EXPECT_EQ(Hello({"v2/abc", 42, "abc"}).toJson(), json({{"version", "v2/abc"}, {"pid", 42}, {"config_hash", "abc"}}));
    EXPECT_EQ(Ready({1, "127.0.0.1:9901", 42}).toJson(), json({{"slot", 1}, {"admin", "127.0.0.1:9901"}, {"pid", 42}}));
    EXPECT_EQ(Failed{"bind failed"}.toJson(), json({{"reason", "bind failed"}}));
    EXPECT_EQ(Heartbeat({3, 1, true}).toJson(), json({{"connections", 3}, {"in_flight", 1}, {"healthy", true}}));
    EXPECT_EQ(Activate{}.toJson(), json::object());
    EXPECT_EQ(Committed{5000}.toJson(), json({{"drain_ms", 5000}}));
    EXPECT_EQ(Stop{"why"}.toJson(), json({{"reason", "why"}}));
    EXPECT_EQ(AdoptConnection({"public", "GET /"}).toJson(), json({{"listener", "public"}, {"buffered_base64", "R0VUIC8="}}));
    EXPECT_EQ(ConfigApplyRequest({"/etc/hotgate.yaml", true}).toJson(), json({{"path", "/etc/hotgate.yaml"}, {"wait", true}}));
    EXPECT_EQ(ConfigDiffRequest{"/x.yaml"}.toJson(), json({{"path", "/x.yaml"}}));

    Handover handover{"v1/def", 7, "def", DataplaneMode::Bpf, 0, {{"public", 5}, {"admin", 5}}, "keys"};
    EXPECT_EQ(handover.toJson(), json({{"version", "v1/def"},
                                       {"pid", 7},
                                       {"config_hash", "def"},
                                       {"mode", "bpf"},
                                       {"active_slot", 0},
                                       {"listeners", {{{"name", "public"}, {"fds", 5}}, {{"name", "admin"}, {"fds", 5}}}},
                                       {"tls_session_ticket_keys", "keys"}}));
}

TEST(ControlMessages, RepliesCarryOkMessageAndTheirDetails) {
    const auto reply = Reply::success("cut over", {{"write_us", 12}});
    EXPECT_EQ(reply.type(), MessageType::Ok);
    EXPECT_EQ(reply.toJson(), json({{"ok", true}, {"message", "cut over"}, {"write_us", 12}}));
    EXPECT_EQ(Reply::failure("no").type(), MessageType::Error);
    EXPECT_EQ(Reply::failure("no").toJson(), json({{"ok", false}, {"message", "no"}}));

    // The config engine's replies pass through unchanged.
    const json engine{{"ok", false}, {"message", "config rejected (1 problem(s))"}, {"problems", {"a.yaml:3: x"}}};
    const auto passed = Reply::fromJson(engine);
    EXPECT_FALSE(passed.ok);
    EXPECT_EQ(passed.message, "config rejected (1 problem(s))");
    EXPECT_EQ(passed.toJson(), engine);
}

TEST(ControlMessages, DecodeWhatVersionOneSends) {
    auto handover = Handover::fromJson(json::parse(R"({"version":"v1/def","config_hash":"def","mode":"takeover",
        "active_slot":0,"listeners":[{"name":"public","fds":2}]})"));
    ASSERT_TRUE(handover) << handover.error().message;
    EXPECT_EQ(handover->mode, DataplaneMode::Takeover);
    EXPECT_EQ(handover->pid, 0) << "pid is optional";
    EXPECT_EQ(handover->ticket_keys, "") << "an older version hands no ticket keys";
    ASSERT_EQ(handover->listeners.size(), 1u);
    EXPECT_EQ(handover->listeners[0].fd_count, 2u);

    EXPECT_EQ(Ready::fromJson(json::object())->slot, 0u);
    EXPECT_EQ(Failed::fromJson(json::object())->reason, "no reason given");
    EXPECT_EQ(Stop::fromJson(json::object())->reason, "no reason given");
    EXPECT_TRUE(Heartbeat::fromJson(json::object())->healthy) << "silence about health is not sickness";
    EXPECT_EQ(Committed::fromJson(json::object())->drain_ms, 0);
    EXPECT_EQ(Hello::fromJson(json({{"version", "v"}, {"pid", 1}}))->config_hash, "");
    EXPECT_EQ(AdoptConnection::fromJson(json({{"listener", "l"}, {"buffered_base64", "R0VUIC8="}}))->buffered, "GET /");
}

// The protection tables (docs/protection.md) travel after the listeners' fds; a version
// without them sends no count, and its successor makes fresh tables.
TEST(ControlMessages, AHandoverCountsItsProtectionFdsOnlyWhenItHasThem) {
    Handover with{"v2/abc", 9, "abc", DataplaneMode::Takeover, 0, {{"public", 2}}, "", 2};
    const auto encoded = with.toJson();
    EXPECT_EQ(encoded.value("protection_fds", 0u), 2u);
    auto decoded = Handover::fromJson(encoded);
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_EQ(decoded->protection_fds, 2u);
    Handover without{"v2/abc", 9, "abc", DataplaneMode::Takeover, 0, {{"public", 2}}, "", 0};
    EXPECT_FALSE(without.toJson().contains("protection_fds"));
    EXPECT_EQ(Handover::fromJson(without.toJson())->protection_fds, 0u);
}

TEST(ControlMessages, RefuseMissingOrMistypedRequiredFieldsByName) {
    auto hello = Hello::fromJson(json({{"pid", 1}}));
    ASSERT_FALSE(hello);
    EXPECT_NE(hello.error().message.find("version"), std::string::npos) << hello.error().message;

    auto handover = Handover::fromJson(json({{"version", "v"}, {"config_hash", "h"}, {"mode", "bpf"}}));
    ASSERT_FALSE(handover);
    EXPECT_EQ(handover.error().message.rfind("malformed Handover: ", 0), 0u) << handover.error().message;
    EXPECT_NE(handover.error().message.find("active_slot"), std::string::npos) << handover.error().message;

    auto unknown = Handover::fromJson(
        json({{"version", "v"}, {"config_hash", "h"}, {"mode", "xdp"}, {"active_slot", 0}, {"listeners", json::array()}}));
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().message, "Handover has unknown mode 'xdp'");

    EXPECT_FALSE(Ready::fromJson(json({{"slot", "one"}})));
    EXPECT_FALSE(AdoptConnection::fromJson(json({{"listener", "l"}, {"buffered_base64", "!!"}})));
}

TEST(ControlMessages, ConfigRequestsAreRefusedWithTheTextGwctlShows) {
    EXPECT_EQ(ConfigApplyRequest::fromJson(json::object()).error().message,
              "ConfigApply needs a non-empty string field 'path'");
    EXPECT_EQ(ConfigDiffRequest::fromJson(json({{"path", ""}})).error().message,
              "ConfigDiff needs a non-empty string field 'path'");
    EXPECT_EQ(ConfigDiffRequest::fromJson(json({{"path", "relative.yaml"}})).error().message,
              "'path' must be absolute (the server reads it), got 'relative.yaml'");
    EXPECT_EQ(ConfigApplyRequest::fromJson(json({{"path", "/x.yaml"}, {"wait", "yes"}})).error().message,
              "'wait' must be true or false");
    const auto apply = ConfigApplyRequest::fromJson(json({{"path", "/x.yaml"}}));
    ASSERT_TRUE(apply);
    EXPECT_FALSE(apply->wait);
}

TEST(ControlMessages, StatusRoundTripsAndKeepsAbsentFieldsAbsent) {
    StatusReply status;
    VersionInfo self;
    self.version = "v1/def";
    self.pid = 7;
    self.phase = VersionPhase::Standby;
    self.mode = DataplaneMode::Bpf;
    self.config_path = "/etc/hotgate.yaml";
    self.slot = 0;
    self.connections = 4;
    self.in_flight = 1;
    self.connections_handed_off = 0;
    self.connections_adopted = 2;
    VersionInfo successor;
    successor.version = "v2/abc";
    successor.pid = 8;
    successor.phase = VersionPhase::Active;
    successor.slot = 1;
    successor.connections = 9;
    successor.in_flight = 0;
    status.versions = {self, successor};
    status.mode = DataplaneMode::Bpf;
    status.upgrade_state = UpgradeState::CutOver;

    const auto wire = status.toJson();
    EXPECT_EQ(wire["upgrade_state"], "cut over");
    EXPECT_EQ(wire["versions"][0]["phase"], "standby");
    EXPECT_FALSE(wire.contains("last_upgrade_error"));
    EXPECT_FALSE(wire.contains("mode_reason"));
    EXPECT_FALSE(wire["versions"][1].contains("config_path"));
    EXPECT_FALSE(wire["versions"][1].contains("drain_deadline_ms"));

    const auto back = StatusReply::fromJson(wire);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->toJson(), wire);
    EXPECT_EQ(back->versions[1].slot, 1u);
    EXPECT_EQ(back->upgrade_state, UpgradeState::CutOver);

    // A phase or state this binary does not know reads as unknown, not as an error.
    auto newer = wire;
    newer["upgrade_state"] = "canarying";
    newer["versions"][1]["phase"] = "warming";
    const auto read = StatusReply::fromJson(newer);
    ASSERT_TRUE(read);
    EXPECT_FALSE(read->upgrade_state);
    EXPECT_FALSE(read->versions[1].phase);
}

// upgrade.require_signature rides in the Status reply; a reply from a version before it has no
// such field, and reads as demanding nothing.
TEST(ControlMessages, StatusCarriesRequireSignatureAndOlderRepliesLackIt) {
    StatusReply status;
    status.upgrade_state = UpgradeState::None;
    EXPECT_FALSE(status.toJson().contains("require_signature"));
    status.require_signature = true;
    const auto wire = status.toJson();
    EXPECT_EQ(wire["require_signature"], true);
    const auto back = StatusReply::fromJson(wire);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->require_signature, std::optional<bool>(true));

    auto older = wire;
    older.erase("require_signature");
    const auto read = StatusReply::fromJson(older);
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_FALSE(read->require_signature.has_value());

    auto wrong = wire;
    wrong["require_signature"] = "yes";
    const auto refused = StatusReply::fromJson(wrong);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("StatusReply"), std::string::npos) << refused.error().message;
}

TEST(ControlMessages, PeerMessagesDecodeByTheirFrameType) {
    Message frame;
    frame.type = MessageType::Heartbeat;
    frame.payload = Heartbeat{5, 2, false}.toJson();
    auto decoded = decodePeerMessage(frame);
    ASSERT_TRUE(decoded);
    ASSERT_TRUE(std::holds_alternative<Heartbeat>(*decoded));
    EXPECT_FALSE(std::get<Heartbeat>(*decoded).healthy);
    EXPECT_EQ(messageType(*decoded), MessageType::Heartbeat);
    EXPECT_EQ(toJson(*decoded), frame.payload);

    frame.type = MessageType::Status;
    EXPECT_FALSE(decodePeerMessage(frame)) << "Status is a gwctl request, not a peer message";
}

}  // namespace
}  // namespace hotgate::control
