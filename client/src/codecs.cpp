#include "codecs.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>

#include "parley/base/random.h"
#include "parley/xmpp/namespaces.h"

namespace parley::client::codec {

namespace {

bool parseDigits(std::string_view text, std::size_t pos, std::size_t count, int& out) {
    if (pos + count > text.size())
        return false;
    const char* begin = text.data() + pos;
    auto [end, ec] = std::from_chars(begin, begin + count, out);
    return ec == std::errc() && end == begin + count;
}

// RFC 6121 §4.7.2.1: <show/> values are our names, except that Available and Unavailable have none.
std::string_view presenceShow(Availability availability) {
    if (availability == Availability::Available || availability == Availability::Unavailable)
        return {};
    return toString(availability);
}

void setChildText(xml::Element& parent, std::string_view name, const std::string& value) {
    parent.removeChildren(name, parent.ns());
    if (!value.empty())
        parent.append(std::string(name), parent.ns()).appendText(value);
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parseTimestamp(std::string_view text) {
    // XEP-0082 §3.2: CCYY-MM-DDThh:mm:ss[.sss]TZD
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
        text[16] != ':' || !parseDigits(text, 0, 4, year) || !parseDigits(text, 5, 2, month) ||
        !parseDigits(text, 8, 2, day) || !parseDigits(text, 11, 2, hour) ||
        !parseDigits(text, 14, 2, minute) || !parseDigits(text, 17, 2, second))
        return std::nullopt;
    std::size_t pos = 19;
    std::chrono::microseconds fraction{0};
    if (text[pos] == '.') {
        ++pos;
        long long scale = 100000, micros = 0;
        while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
            micros += (text[pos] - '0') * scale;
            scale /= 10;
            ++pos;
        }
        fraction = std::chrono::microseconds(micros);
    }
    int offsetMinutes = 0;
    if (pos < text.size() && text[pos] == 'Z') {
        ++pos;
    } else if (pos + 6 == text.size() && (text[pos] == '+' || text[pos] == '-') && text[pos + 3] == ':') {
        int oh = 0, om = 0;
        if (!parseDigits(text, pos + 1, 2, oh) || !parseDigits(text, pos + 4, 2, om))
            return std::nullopt;
        offsetMinutes = (oh * 60 + om) * (text[pos] == '-' ? -1 : 1);
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != text.size() || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
        second > 60)
        return std::nullopt;
    const std::chrono::year_month_day date{std::chrono::year(year),
                                           std::chrono::month(static_cast<unsigned>(month)),
                                           std::chrono::day(static_cast<unsigned>(day))};
    if (!date.ok())
        return std::nullopt;
    auto time = std::chrono::sys_days(date) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
                std::chrono::seconds(second) + fraction - std::chrono::minutes(offsetMinutes);
    return std::chrono::time_point_cast<std::chrono::system_clock::duration>(time);
}

std::string formatTimestamp(std::chrono::system_clock::time_point time) {
    const auto days = std::chrono::floor<std::chrono::days>(time);
    const std::chrono::year_month_day date{days};
    const std::chrono::hh_mm_ss clock{std::chrono::floor<std::chrono::seconds>(time - days)};
    char out[32];
    std::snprintf(out, sizeof out, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                  static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()),
                  static_cast<int>(clock.seconds().count()));
    return out;
}

Error errorFromConditions(const xml::Element& element, std::string_view conditionNs, ErrorKind kind,
                          std::string fallback) {
    Error error{kind, std::move(fallback), {}};
    for (const xml::Element* child : element.children()) {
        if (child->ns() != conditionNs)
            continue;
        if (child->name() == "text")
            error.text = child->text();
        else
            error.condition = child->name();
    }
    return error;
}

Error stanzaError(const xml::Element& stanza) {
    const xml::Element* element = stanza.findChild("error", stanza.ns());
    if (!element)
        return Error{ErrorKind::Stanza, "undefined-condition", {}};
    return errorFromConditions(*element, ns::kStanzaErrors, ErrorKind::Stanza, "undefined-condition");
}

RosterItem decodeRosterItem(const xml::Element& item) {
    RosterItem out;
    out.jid = std::string(item.attr("jid"));
    out.name = std::string(item.attr("name"));
    out.subscription = subscriptionFromString(item.attr("subscription")).value_or(Subscription::None);
    out.pendingOut = item.attr("ask") == "subscribe";
    out.approved = item.attr("approved") == "true" || item.attr("approved") == "1";
    for (const xml::Element* group : item.children("group", kRoster))
        out.groups.push_back(group->text());
    return out;
}

xml::Element encodeRosterItem(const RosterItem& item) {
    xml::Element out("item", std::string(kRoster));
    out.setAttr("jid", item.jid);
    if (!item.name.empty())
        out.setAttr("name", item.name);
    // RFC 6121 §2.1.5: a client sets only 'remove'; other subscription values are the server's.
    if (item.subscription == Subscription::Remove)
        out.setAttr("subscription", "remove");
    for (const std::string& group : item.groups)
        out.append("group", std::string(kRoster)).appendText(group);
    return out;
}

std::vector<RosterItem> decodeRoster(const xml::Element& query) {
    std::vector<RosterItem> items;
    for (const xml::Element* item : query.children("item", kRoster))
        items.push_back(decodeRosterItem(*item));
    return items;
}

Message decodeMessage(const xml::Element& message) {
    Message out;
    out.from = std::string(message.attr("from"));
    out.to = std::string(message.attr("to"));
    out.id = std::string(message.attr("id"));
    const std::string_view type = message.attr("type");
    out.type = type == "chat"        ? MessageType::Chat
               : type == "groupchat" ? MessageType::Groupchat
               : type == "headline"  ? MessageType::Headline
               : type == "error"     ? MessageType::Error
                                     : MessageType::Normal;
    out.body = message.childText("body", message.ns());
    out.thread = message.childText("thread", message.ns());
    if (const xml::Element* delay = message.findChild("delay", kDelay))
        out.delayedAt = parseTimestamp(delay->attr("stamp"));
    out.receiptRequested = message.findChild("request", kReceipts) != nullptr;
    out.stanza = message;
    return out;
}

Presence decodePresence(const xml::Element& presence) {
    Presence out;
    out.from = std::string(presence.attr("from"));
    if (presence.attr("type") == "unavailable") {
        out.availability = Availability::Unavailable;
    } else {
        out.availability = availabilityFromString(presence.childText("show", presence.ns()))
                               .value_or(Availability::Available);
    }
    out.status = presence.childText("status", presence.ns());
    const std::string priority = presence.childText("priority", presence.ns());
    std::from_chars(priority.data(), priority.data() + priority.size(), out.priority);
    return out;
}

xml::Element encodePresence(Availability availability, const std::string& status, int priority) {
    xml::Element presence("presence", std::string(ns::kClient));
    if (availability == Availability::Unavailable)
        presence.setAttr("type", "unavailable");
    if (const std::string_view show = presenceShow(availability); !show.empty())
        presence.append("show", std::string(ns::kClient)).appendText(show);
    if (!status.empty())
        presence.append("status", std::string(ns::kClient)).appendText(status);
    if (priority != 0)
        presence.append("priority", std::string(ns::kClient)).appendText(std::to_string(priority));
    return presence;
}

xml::Element encodeHistoryQuery(const HistoryQuery& query, const std::string& queryId) {
    xml::Element out("query", std::string(kMam));
    out.setAttr("queryid", queryId);
    // XEP-0313 §4.1: the filter is a XEP-0004 form with FORM_TYPE urn:xmpp:mam:2.
    xml::Element& form = out.append("x", std::string(kDataForms));
    form.setAttr("type", "submit");
    auto field = [&form](std::string var, std::string value, bool hidden) {
        xml::Element& f = form.append("field", std::string(kDataForms));
        f.setAttr("var", std::move(var));
        if (hidden)
            f.setAttr("type", "hidden");
        f.append("value", std::string(kDataForms)).appendText(value);
    };
    field("FORM_TYPE", std::string(kMam), true);
    if (!query.with.empty())
        field("with", query.with, false);
    if (query.start)
        field("start", formatTimestamp(*query.start), false);
    if (query.end)
        field("end", formatTimestamp(*query.end), false);
    // XEP-0059 §2.2 / XEP-0313 §5.1: <before/> (empty) asks for the last page.
    xml::Element& set = out.append("set", std::string(kRsm));
    set.append("max", std::string(kRsm)).appendText(std::to_string(query.pageSize));
    if (!query.after.empty())
        set.append("after", std::string(kRsm)).appendText(query.after);
    else if (!query.before.empty())
        set.append("before", std::string(kRsm)).appendText(query.before);
    else if (query.latest)
        set.append("before", std::string(kRsm));
    return out;
}

std::optional<ArchivedMessage> decodeArchivedMessage(const xml::Element& message, std::string_view queryId) {
    const xml::Element* result = message.findChild("result", kMam);
    if (!result || result->attr("queryid") != queryId)
        return std::nullopt;
    const xml::Element* forwarded = result->findChild("forwarded", kForward);
    if (!forwarded)
        return std::nullopt;
    const xml::Element* inner = forwarded->findChild("message", ns::kClient);
    if (!inner)
        return std::nullopt;
    ArchivedMessage out;
    out.archiveId = std::string(result->attr("id"));
    out.message = decodeMessage(*inner);
    if (const xml::Element* delay = forwarded->findChild("delay", kDelay)) {
        if (auto stamp = parseTimestamp(delay->attr("stamp")))
            out.timestamp = *stamp;
    }
    return out;
}

void decodeHistoryFin(const xml::Element& fin, HistoryPage& page) {
    page.complete = fin.attr("complete") == "true" || fin.attr("complete") == "1";
    if (const xml::Element* set = fin.findChild("set", kRsm)) {
        page.first = set->childText("first", kRsm);
        page.last = set->childText("last", kRsm);
        const std::string count = set->childText("count", kRsm);
        std::size_t n = 0;
        if (!count.empty() && std::from_chars(count.data(), count.data() + count.size(), n).ec == std::errc())
            page.count = n;
    }
}

DiscoInfo decodeDiscoInfo(const xml::Element& query) {
    DiscoInfo info;
    for (const xml::Element* identity : query.children("identity", kDiscoInfo))
        info.identities.push_back({std::string(identity->attr("category")),
                                   std::string(identity->attr("type")), std::string(identity->attr("name"))});
    for (const xml::Element* feature : query.children("feature", kDiscoInfo))
        info.features.emplace_back(feature->attr("var"));
    return info;
}

std::vector<DiscoItem> decodeDiscoItems(const xml::Element& query) {
    std::vector<DiscoItem> items;
    for (const xml::Element* item : query.children("item", kDiscoItems))
        items.push_back({std::string(item->attr("jid")), std::string(item->attr("node")),
                         std::string(item->attr("name"))});
    return items;
}

VCard decodeVCard(const xml::Element& vcard) {
    VCard card;
    card.fullName = vcard.childText("FN", kVCard);
    card.nickname = vcard.childText("NICKNAME", kVCard);
    card.url = vcard.childText("URL", kVCard);
    card.note = vcard.childText("DESC", kVCard);
    if (const xml::Element* email = vcard.findChild("EMAIL", kVCard))
        card.email = email->childText("USERID", kVCard);
    card.raw = vcard;
    return card;
}

xml::Element encodeVCard(const VCard& card) {
    xml::Element out = card.raw.is("vCard", kVCard) ? card.raw : xml::Element("vCard", std::string(kVCard));
    setChildText(out, "FN", card.fullName);
    setChildText(out, "NICKNAME", card.nickname);
    setChildText(out, "URL", card.url);
    setChildText(out, "DESC", card.note);
    out.removeChildren("EMAIL", kVCard);
    if (!card.email.empty()) {
        xml::Element& email = out.append("EMAIL", std::string(kVCard));
        email.append("INTERNET", std::string(kVCard));
        email.append("USERID", std::string(kVCard)).appendText(card.email);
    }
    return out;
}

namespace {

bool equalsIgnoringAsciiCase(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
    });
}

std::string_view asn1Text(const ASN1_STRING* text) {
    return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
            static_cast<std::size_t>(ASN1_STRING_length(text))};
}

}  // namespace

bool certificateHasXmppName(std::string_view der, std::string_view domain, std::string_view asciiDomain) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(der.data());
    X509* certificate = d2i_X509(nullptr, &bytes, static_cast<long>(der.size()));
    if (!certificate)
        return false;
    auto* names =
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
    X509_free(certificate);
    if (!names)
        return false;
    const std::string srvIds[] = {"_xmpp-client." + std::string(asciiDomain),
                                  "_xmpps-client." + std::string(asciiDomain)};
    bool found = false;
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && !found; ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
        if (name->type != GEN_OTHERNAME)
            continue;
        std::array<char, 64> oid{};
        OBJ_obj2txt(oid.data(), static_cast<int>(oid.size()), name->d.otherName->type_id, 1);
        const ASN1_TYPE* value = name->d.otherName->value;
        if (std::string_view(oid.data()) == "1.3.6.1.5.5.7.8.5" && value->type == V_ASN1_UTF8STRING) {
            const std::string_view xmppAddr = asn1Text(value->value.utf8string);
            found =
                equalsIgnoringAsciiCase(xmppAddr, domain) || equalsIgnoringAsciiCase(xmppAddr, asciiDomain);
        } else if (std::string_view(oid.data()) == "1.3.6.1.5.5.7.8.7" && value->type == V_ASN1_IA5STRING) {
            const std::string_view srvId = asn1Text(value->value.ia5string);
            found = equalsIgnoringAsciiCase(srvId, srvIds[0]) || equalsIgnoringAsciiCase(srvId, srvIds[1]);
        }
    }
    GENERAL_NAMES_free(names);
    return found;
}

std::string fingerprintHex(std::string_view der) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(der.data(), der.size(), digest, &size, EVP_sha256(), nullptr);
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
        if (i > 0)
            out += ':';
        out += kHex[digest[i] >> 4];
        out += kHex[digest[i] & 0xF];
    }
    return out;
}

std::string normalizeFingerprint(std::string_view text) {
    if (text.size() >= 7) {
        std::string prefix(text.substr(0, 7));
        std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                       [](unsigned char c) { return std::toupper(c); });
        if (prefix == "SHA256:")
            text.remove_prefix(7);
    }
    std::string hex;
    for (char c : text) {
        if (std::isxdigit(static_cast<unsigned char>(c)))
            hex += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    std::string out;
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        if (i > 0)
            out += ':';
        out += hex.substr(i, 2);
    }
    return out;
}

std::string chooseMechanism(const std::vector<std::string>& offered, bool channelBinding, bool tls,
                            bool allowPlain) {
    auto has = [&offered](std::string_view name) {
        return std::find(offered.begin(), offered.end(), name) != offered.end();
    };
    if (channelBinding) {
        for (std::string_view name : {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"}) {
            if (has(name))
                return std::string(name);
        }
    }
    for (std::string_view name : {"SCRAM-SHA-256", "SCRAM-SHA-1"}) {
        if (has(name))
            return std::string(name);
    }
    // RFC 4616 §4: PLAIN sends the password itself, so only inside TLS.
    if (tls && allowPlain && has("PLAIN"))
        return "PLAIN";
    return {};
}

}  // namespace parley::client::codec
