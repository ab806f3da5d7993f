// Placeholder: the vcard module is being written.
#include "parley/server/module.h"

namespace parley::server::modules {

ModuleInfo vcardModule() {
    struct Empty final : Module {
        void start(ModuleContext&) override {}
    };
    return {"vcard", "(in progress)", {}, [] { return std::unique_ptr<Module>(std::make_unique<Empty>()); }};
}

}  // namespace parley::server::modules
