// upgrade: what `gwctl upgrade` demands of a new binary before it runs it
// (docs/operations.md#signed-artifacts). The running version reports it in its Status reply.
#include "config/schema/tables.h"

namespace hotgate::schema {

Table<UpgradeConfig> upgradeTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"require_signature", &UpgradeConfig::require_signature, Boolean{}, Default::addedLater("false"), InPlace,
         "gwctl upgrade refuses a binary without --signature and --public-key that verify over it"},
    }};
}

}  // namespace hotgate::schema
