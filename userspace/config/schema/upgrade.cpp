// upgrade: what `gwctl upgrade` demands of a new binary before it runs it
// (docs/operations.md#signed-artifacts). The running version reports it in its Status reply.
#include "config/schema/tables.h"

namespace hotgate::schema {

namespace {

Table<ShadowVerifyConfig> verifyTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"headers", &ShadowVerifyConfig::headers,
         SetOf<FieldName>{.noun = "field", .duplicates = Duplicates::Merged, .sorted = true}, kEmpty, InPlace,
         "response fields whose values must be equal in both versions' answers (status and body always are)"},
        {"latency_tolerance", &ShadowVerifyConfig::latency_tolerance, Number{0, 100}, Default::addedLater("0.1"),
         InPlace, "a mirrored answer's latency may differ from the running version's by this share (0.1: 10%)"},
        {"latency_floor", &ShadowVerifyConfig::latency_floor, Duration{}, Default::addedLater("5ms"), InPlace,
         "... or by this much, whichever is more (loopback answers of a few ms jitter more than 10%)"},
    }};
}

}  // namespace

Table<UpgradeConfig> upgradeTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"require_signature", &UpgradeConfig::require_signature, Boolean{}, Default::addedLater("false"), InPlace,
         "gwctl upgrade refuses a binary without --signature and --public-key that verify over it"},
        block("verify", &UpgradeConfig::verify, verifyTable(), kEmpty,
              "how gwctl verify compares the running and the ready version's answers (docs/verification.md)"),
    }};
}

}  // namespace hotgate::schema
