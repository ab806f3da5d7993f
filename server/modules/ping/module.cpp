// XEP-0199: XMPP Ping. The server answers a ping addressed to it (or to the account, with no `to`)
// with an empty result. This is the worked example of docs/HACKING.md.
#include "parley/server/module.h"

namespace parley::server::modules {
namespace {

constexpr std::string_view kPingNamespace = "urn:xmpp:ping";

class PingModule final : public Module {
  public:
    void start(ModuleContext& context) override {
        registrations_.push_back(context.addDiscoFeature(std::string(kPingNamespace)));
        registrations_.push_back(context.onIq(xmpp::IqType::Get, scopes({IqScope::Host, IqScope::Self}),
                                              std::string(kPingNamespace), "ping", &PingModule::handlePing));
    }

  private:
    // XEP-0199 §4.2: the answer is an empty iq result.
    static asio::awaitable<IqResult> handlePing(IqRequest) { co_return std::nullopt; }

    std::vector<Registration> registrations_;
};

}  // namespace

ModuleInfo pingModule() {
    return {"ping", "answers XMPP pings to the server", {"XEP-0199"}, [] {
                return std::unique_ptr<Module>(std::make_unique<PingModule>());
            }};
}

}  // namespace parley::server::modules
