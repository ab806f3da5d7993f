// XEP-0049 Private XML Storage: an account keeps XML fragments on the server, one per qualified name
// of the fragment's root element ("{storage:bookmarks}storage" is XEP-0048 bookmarks), readable and
// writable only by the account itself. XEP-0049 defines no service discovery feature, so none is
// announced; clients simply try it.
#include <algorithm>
#include <array>

#include "parley/modules/options.h"
#include "parley/modules/stored_xml.h"
#include "parley/server/module.h"
#include "parley/storage/storage.h"

namespace parley::server::modules {
namespace {

constexpr std::string_view kPrivateNs = "jabber:iq:private";
constexpr std::string_view kStore = "private";
constexpr std::size_t kDefaultMaxBytes = 65536;

// XEP-0049 §2.3 lets a server refuse reserved namespaces with not-acceptable. We refuse the stanza
// namespaces and jabber:iq:private itself (a fragment in them would be read as stanza content or as
// nested private storage), and a root element without a namespace (§2.1: "scoped by its own
// namespace"). Other jabber: namespaces stay allowed: clients do store data under them.
constexpr std::array<std::string_view, 4> kRefusedNamespaces{"", "jabber:client", "jabber:server",
                                                             kPrivateNs};

using xmpp::StanzaError;
using xmpp::StanzaErrorCondition;

class PrivateModule final : public Module {
  public:
    void start(ModuleContext& context) override {
        context_ = &context;
        maxBytes_ = sizeOption(context, "private", "max_bytes", kDefaultMaxBytes);
        for (xmpp::IqType type : {xmpp::IqType::Get, xmpp::IqType::Set}) {
            registrations_.push_back(
                context.onIq(type, scopes({IqScope::Self}), std::string(kPrivateNs), "query",
                             [this](IqRequest request) { return handleOwn(std::move(request)); }));
            // XEP-0049 §2.3 and §3: data of another user, or addressed to anything but the sender's own
            // JID, is forbidden (preferred over the service-unavailable some servers answer).
            registrations_.push_back(context.onIq(type, scopes({IqScope::Bare, IqScope::Host}),
                                                  std::string(kPrivateNs), "query",
                                                  [](IqRequest) { return refuseForeign(); }));
        }
    }

  private:
    static asio::awaitable<IqResult> refuseForeign() {
        co_return StanzaError(StanzaErrorCondition::Forbidden,
                              "Private XML storage is only for your own account");
    }

    // The one fragment a request names, or why the request is not acceptable.
    static Result<const xml::Element*, StanzaError> fragmentOf(const xml::Element& query) {
        const std::size_t count = query.childCount();
        if (count == 0) {
            // §2.3: a query without a child element MUST be refused with not-acceptable.
            return StanzaError(StanzaErrorCondition::NotAcceptable,
                               "Name the data: <query/> needs one child element in its own namespace");
        }
        if (count > 1) {
            // §2.3: a get MUST NOT name more than one namespace; a set is held to the same, so that each
            // request stores or returns exactly one document.
            return StanzaError(StanzaErrorCondition::BadRequest,
                               "Send one child element of <query/> per request");
        }
        const xml::Element* fragment = query.firstChild();
        if (std::find(kRefusedNamespaces.begin(), kRefusedNamespaces.end(), fragment->ns()) !=
            kRefusedNamespaces.end()) {
            return StanzaError(
                StanzaErrorCondition::NotAcceptable,
                "The namespace '" + fragment->ns() + "' is reserved; store data in your own namespace");
        }
        return fragment;
    }

    // The document's key: the root element's qualified name in Clark notation.
    static std::string keyOf(std::string_view name, std::string_view ns) {
        return "{" + std::string(ns) + "}" + std::string(name);
    }

    asio::awaitable<IqResult> handleOwn(IqRequest request) {
        auto fragment = fragmentOf(request.payload());
        if (!fragment)
            co_return fragment.error();
        if (request.stanza->iqType() == xmpp::IqType::Get) {
            // Named first: no temporary that owns memory inside co_await (docs/STYLE.md rule 16).
            Jid owner = request.from().bare();
            std::string name((*fragment)->name());
            std::string ns((*fragment)->ns());
            IqResult loaded = co_await load(std::move(owner), std::move(name), std::move(ns));
            co_return loaded;
        }
        IqResult stored = co_await store(std::move(request));
        co_return stored;
    }

    asio::awaitable<IqResult> load(Jid owner, std::string name, std::string ns) {
        const std::string key = keyOf(name, ns);
        xml::Element query("query", std::string(kPrivateNs));
        const std::string host(owner.domain());
        const std::string user(owner.local());
        const std::string store(kStore);
        auto found = co_await context_->storage().keyValue().get(host, user, store, key);
        if (!found) {
            context_->log().error("cannot read private data " + key + " of " + owner.str() + ": " +
                                  std::string(storage::toString(found.error())));
            co_return StanzaError(StanzaErrorCondition::InternalServerError, "The data could not be read");
        }
        if (!found->has_value()) {
            // Nothing stored: the requested element comes back empty (XEP-0049 §2.3, as servers answer).
            query.append(std::move(name), std::move(ns));
            co_return query;
        }
        auto fragment =
            parseStoredXml(**found, context_->log(), "private data " + key + " of " + owner.str());
        if (!fragment)
            co_return StanzaError(StanzaErrorCondition::InternalServerError, "The stored data is damaged");
        query.append(std::move(*fragment));
        co_return query;
    }

    // A set whose fragment fragmentOf() accepted.
    asio::awaitable<IqResult> store(IqRequest request) {
        const Jid owner = request.from().bare();
        const xml::Element& fragment = *request.payload().firstChild();
        const std::string key = keyOf(fragment.name(), fragment.ns());
        auto& values = context_->storage().keyValue();
        const std::string host(owner.domain());
        const std::string user(owner.local());
        const std::string store(kStore);
        if (fragment.attributes().empty() && fragment.nodes().empty()) {
            // Storing an empty element reads back the same as storing nothing: keep no row for it.
            auto removed = co_await values.remove(host, user, store, key);
            if (!removed) {
                context_->log().error("cannot remove private data " + key + " of " + owner.str() + ": " +
                                      std::string(storage::toString(removed.error())));
                co_return StanzaError(StanzaErrorCondition::InternalServerError,
                                      "The data could not be stored");
            }
            co_return std::nullopt;
        }
        std::string xml = fragment.toString();
        if (xml.size() > maxBytes_) {
            co_return StanzaError(StanzaErrorCondition::NotAcceptable,
                                  "The data is " + std::to_string(xml.size()) +
                                      " bytes; this server keeps at most " + std::to_string(maxBytes_) +
                                      " per element");
        }
        auto stored = co_await values.set(host, user, store, key, std::move(xml));
        if (!stored) {
            context_->log().error("cannot store private data " + key + " of " + owner.str() + ": " +
                                  std::string(storage::toString(stored.error())));
            co_return StanzaError(StanzaErrorCondition::InternalServerError, "The data could not be stored");
        }
        co_return std::nullopt;
    }

    ModuleContext* context_ = nullptr;
    std::size_t maxBytes_ = kDefaultMaxBytes;
    std::vector<Registration> registrations_;
};

}  // namespace

ModuleInfo privateModule() {
    return {"private",
            "stores private XML data for each account (bookmarks and client settings)",
            {"XEP-0049"},
            [] { return std::unique_ptr<Module>(std::make_unique<PrivateModule>()); }};
}

}  // namespace parley::server::modules
