#pragma once
// XEP-0115 entity capabilities: the verification string of a disco#info result (§5.1, with the
// extended information forms of §5.4) and its SHA-1 `ver`. The disco module hashes the server's own
// disco#info with it; the pep module checks the `ver` that clients announce in their presence.
#include <openssl/evp.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "parley/base/base64.h"
#include "parley/xml/element.h"

namespace parley::server::modules {

inline constexpr std::string_view kCapsNs = "http://jabber.org/protocol/caps";
inline constexpr std::string_view kDiscoInfoNs = "http://jabber.org/protocol/disco#info";

// §5.1 steps 1-7 over a <query xmlns='http://jabber.org/protocol/disco#info'/>.
inline std::string capsVerificationString(const xml::Element& query) {
    constexpr std::string_view kDataForms = "jabber:x:data";
    std::vector<std::string> identities;
    for (const xml::Element* identity : query.children("identity", kDiscoInfoNs)) {
        identities.push_back(std::string(identity->attr("category")) + "/" +
                             std::string(identity->attr("type")) + "/" + std::string(identity->lang()) + "/" +
                             std::string(identity->attr("name")));
    }
    std::sort(identities.begin(), identities.end());
    std::vector<std::string> features;
    for (const xml::Element* feature : query.children("feature", kDiscoInfoNs))
        features.push_back(std::string(feature->attr("var")));
    std::sort(features.begin(), features.end());
    // §5.4: each form by its FORM_TYPE, then its other fields by var, each field's values sorted.
    std::vector<std::pair<std::string, std::string>> forms;
    for (const xml::Element* form : query.children("x", kDataForms)) {
        std::string formType;
        std::vector<std::pair<std::string, std::vector<std::string>>> fields;
        for (const xml::Element* field : form->children("field", kDataForms)) {
            std::vector<std::string> values;
            for (const xml::Element* value : field->children("value", kDataForms))
                values.push_back(value->text());
            if (field->attr("var") == "FORM_TYPE") {
                formType = values.empty() ? std::string() : values.front();
                continue;
            }
            std::sort(values.begin(), values.end());
            fields.emplace_back(std::string(field->attr("var")), std::move(values));
        }
        std::sort(fields.begin(), fields.end());
        std::string text = formType + "<";
        for (const auto& [var, values] : fields) {
            text += var + "<";
            for (const std::string& value : values)
                text += value + "<";
        }
        forms.emplace_back(std::move(formType), std::move(text));
    }
    std::sort(forms.begin(), forms.end());
    std::string s;
    for (const std::string& identity : identities)
        s += identity + "<";
    for (const std::string& feature : features)
        s += feature + "<";
    for (const auto& form : forms)
        s += form.second;
    return s;
}

// The `ver` of §5.1 step 8 with hash='sha-1' (the one hash every entity supports, §5.2).
inline std::string capsSha1Ver(const xml::Element& query) {
    const std::string s = capsVerificationString(query);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(s.data(), s.size(), digest, &length, EVP_sha1(), nullptr);
    return base64Encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

}  // namespace parley::server::modules
