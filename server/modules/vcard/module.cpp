// XEP-0054 vcard-temp: an account stores its vCard on the server, whole, and anyone may read it (§5:
// vCards are world-readable). The server answers for the account's bare JID (§3.3); vCards of the
// server itself are not kept.
#include "parley/server/module.h"
#include "parley/modules/options.h"
#include "parley/modules/stored_xml.h"
#include "parley/storage/storage.h"

namespace parley::server::modules {
namespace {

constexpr std::string_view kVcardNs = "vcard-temp";
constexpr std::string_view kStore = "vcard";
constexpr std::string_view kKey = "vcard";
// Prosody and ejabberd bound a vCard only by the stanza size (256 KiB by default); XEP-0153 asks for
// avatars of at most 96x96 pixels, which fit many times over in 64 KiB.
constexpr std::size_t kDefaultMaxBytes = 65536;

using xmpp::StanzaError;
using xmpp::StanzaErrorCondition;

class VcardModule final : public Module {
  public:
    void start(ModuleContext& context) override {
        context_ = &context;
        maxBytes_ = sizeOption(context, "vcard", "max_bytes", kDefaultMaxBytes);
        // XEP-0054 §4: support is announced as the feature "vcard-temp".
        registrations_.push_back(context.addDiscoFeature(std::string(kVcardNs)));
        registrations_.push_back(
            context.onIq(xmpp::IqType::Get, scopes({IqScope::Self, IqScope::Bare}), std::string(kVcardNs),
                         "vCard", [this](IqRequest request) { return handleGet(std::move(request)); }));
        registrations_.push_back(
            context.onIq(xmpp::IqType::Set, scopes({IqScope::Self}), std::string(kVcardNs), "vCard",
                         [this](IqRequest request) { return handleSet(std::move(request)); }));
        registrations_.push_back(context.onIq(xmpp::IqType::Set, scopes({IqScope::Bare}),
                                              std::string(kVcardNs), "vCard",
                                              [](IqRequest) { return refuseForeignSet(); }));
    }

  private:
    // XEP-0054 §3.2: setting another user's vCard is an error, which SHOULD be forbidden.
    static asio::awaitable<IqResult> refuseForeignSet() {
        co_return StanzaError(StanzaErrorCondition::Forbidden, "You can change only your own vCard");
    }

    asio::awaitable<IqResult> handleSet(IqRequest request) {
        const Jid& from = request.from();
        const std::string xml = request.payload().toString();
        if (xml.size() > maxBytes_) {
            // Like XEP-0060's payload-too-big: the request is understood but not within what we accept.
            co_return StanzaError(StanzaErrorCondition::NotAcceptable,
                                  "The vCard is " + std::to_string(xml.size()) +
                                      " bytes; this server keeps at most " + std::to_string(maxBytes_) +
                                      " (use a smaller photo)");
        }
        // Named first: no temporary that owns memory inside co_await (docs/STYLE.md rule 16).
        const std::string host(from.domain());
        const std::string user(from.local());
        const std::string store(kStore);
        const std::string key(kKey);
        auto stored = co_await context_->storage().keyValue().set(host, user, store, key, xml);
        if (!stored) {
            context_->log().error("cannot store the vCard of " + std::string(from.bareView()) + ": " +
                                  std::string(storage::toString(stored.error())));
            co_return StanzaError(StanzaErrorCondition::InternalServerError, "The vCard could not be stored");
        }
        co_return std::nullopt;
    }

    asio::awaitable<IqResult> handleGet(IqRequest request) {
        const bool self = request.scope == IqScope::Self;
        const Jid owner = self ? request.from().bare() : request.stanza->to()->bare();
        const std::string host(owner.domain());
        const std::string user(owner.local());
        const std::string store(kStore);
        const std::string key(kKey);
        auto found = co_await context_->storage().keyValue().get(host, user, store, key);
        if (!found) {
            context_->log().error("cannot read the vCard of " + owner.str() + ": " +
                                  std::string(storage::toString(found.error())));
            co_return StanzaError(StanzaErrorCondition::InternalServerError, "The vCard could not be read");
        }
        if (!found->has_value()) {
            // §3.1: one's own missing vCard MAY be an empty <vCard/> (what clients expect before their
            // first set). §3.3: someone else's MUST be an error; service-unavailable is also the answer
            // for an account that does not exist, so the two cannot be told apart (RFC 6120 §13.11).
            if (self)
                co_return xml::Element("vCard", std::string(kVcardNs));
            co_return StanzaError(StanzaErrorCondition::ServiceUnavailable);
        }
        auto vcard = parseStoredXml(**found, context_->log(), "vCard of " + owner.str());
        if (!vcard)
            co_return StanzaError(StanzaErrorCondition::InternalServerError, "The stored vCard is damaged");
        co_return std::move(*vcard);
    }

    ModuleContext* context_ = nullptr;
    std::size_t maxBytes_ = kDefaultMaxBytes;
    std::vector<Registration> registrations_;
};

}  // namespace

ModuleInfo vcardModule() {
    return {"vcard", "stores each account's vCard and shows it to others (vcard-temp)", {"XEP-0054"}, [] {
                return std::unique_ptr<Module>(std::make_unique<VcardModule>());
            }};
}

}  // namespace parley::server::modules
