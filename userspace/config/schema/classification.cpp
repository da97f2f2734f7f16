#include "config/schema/classification.h"

namespace hotgate::schema {

std::string_view toString(Applies applies) {
    switch (applies) {
        case Applies::InPlace:
            return "in_place";
        case Applies::NewVersion:
            return "new_version";
    }
    return "in_place";
}

}  // namespace hotgate::schema
