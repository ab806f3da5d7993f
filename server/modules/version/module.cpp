// XEP-0092: Software Version. The operating system is left out unless `show_os = true`, since it
// tells attackers more than it tells users.
#include <sys/utsname.h>

#include "parley/modules/options.h"
#include "parley/server/module.h"
#include "parley/server/version.h"

namespace parley::server::modules {
namespace {

constexpr std::string_view kVersionNamespace = "jabber:iq:version";

class VersionModule final : public Module {
  public:
    void start(ModuleContext& context) override {
        if (boolOption(context, "version", "show_os", false)) {
            utsname info{};
            if (uname(&info) == 0)
                os_ = std::string(info.sysname) + " " + info.release;
        }
        registrations_.push_back(context.addDiscoFeature(std::string(kVersionNamespace)));
        registrations_.push_back(
            context.onIq(xmpp::IqType::Get, scopes({IqScope::Host}), std::string(kVersionNamespace), "query",
                         [this](IqRequest request) { return handleVersion(std::move(request)); }));
    }

  private:
    asio::awaitable<IqResult> handleVersion(IqRequest) {
        xml::Element query("query", std::string(kVersionNamespace));
        query.append("name", std::string(kVersionNamespace)).appendText("Parley");
        query.append("version", std::string(kVersionNamespace)).appendText(std::string(kParleyVersion));
        if (!os_.empty())
            query.append("os", std::string(kVersionNamespace)).appendText(os_);
        co_return query;
    }

    std::string os_;
    std::vector<Registration> registrations_;
};

}  // namespace

ModuleInfo versionModule() {
    return {"version", "tells the server's software name and version", {"XEP-0092"}, [] {
                return std::unique_ptr<Module>(std::make_unique<VersionModule>());
            }};
}

}  // namespace parley::server::modules
