#include "parley/sasl/verified_password_cache.h"

#include "crypto.h"
#include "parley/base/random.h"

namespace parley::sasl {
namespace {

// Length-prefixed, so that no two different field lists give the same MAC input.
void appendField(std::string& out, std::string_view field) {
    const auto size = static_cast<std::uint32_t>(field.size());
    for (int shift = 24; shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((size >> shift) & 0xff));
    }
    out.append(field);
}

}  // namespace

VerifiedPasswordCache::VerifiedPasswordCache(std::size_t capacity)
    : capacity_(capacity), key_(randomBytes(32)) {}

std::string VerifiedPasswordCache::credentialTag(std::string_view account,
                                                 const ScramCredential& credential) const {
    std::string input;
    appendField(input, account);
    appendField(input, toString(credential.algorithm));
    appendField(input, credential.salt);
    appendField(input, std::to_string(credential.iterations));
    appendField(input, credential.storedKey);
    appendField(input, credential.serverKey);
    return detail::hmac(HashAlgorithm::Sha256, key_, input);
}

std::string VerifiedPasswordCache::passwordTag(std::string_view credentialTag,
                                               std::string_view password) const {
    std::string input;
    appendField(input, credentialTag);
    appendField(input, password);
    std::string tag = detail::hmac(HashAlgorithm::Sha256, key_, input);
    detail::cleanse(input);  // it holds the password
    return tag;
}

bool VerifiedPasswordCache::contains(std::string_view account, const ScramCredential& credential,
                                     std::string_view password) {
    if (capacity_ == 0) {
        return false;
    }
    const std::string credTag = credentialTag(account, credential);
    const std::string pwTag = passwordTag(credTag, password);
    std::lock_guard lock(mutex_);
    auto found = index_.find(std::string(account));
    if (found == index_.end()) {
        return false;
    }
    auto entry = found->second;
    if (!detail::constantTimeEqual(entry->credentialTag, credTag)) {
        // The stored credential changed (password change, or the account was made anew): what was
        // verified no longer says anything about it.
        entries_.erase(entry);
        index_.erase(found);
        return false;
    }
    if (!detail::constantTimeEqual(entry->passwordTag, pwTag)) {
        return false;  // another password: the caller runs the full check
    }
    entries_.splice(entries_.begin(), entries_, entry);
    return true;
}

void VerifiedPasswordCache::remember(std::string_view account, const ScramCredential& credential,
                                     std::string_view password) {
    if (capacity_ == 0) {
        return;
    }
    std::string credTag = credentialTag(account, credential);
    std::string pwTag = passwordTag(credTag, password);
    std::lock_guard lock(mutex_);
    std::string key(account);
    if (auto found = index_.find(key); found != index_.end()) {
        found->second->credentialTag = std::move(credTag);
        found->second->passwordTag = std::move(pwTag);
        entries_.splice(entries_.begin(), entries_, found->second);
        return;
    }
    if (entries_.size() >= capacity_) {
        index_.erase(entries_.back().account);
        entries_.pop_back();
    }
    entries_.push_front(Entry{key, std::move(credTag), std::move(pwTag)});
    index_.emplace(std::move(key), entries_.begin());
}

void VerifiedPasswordCache::forget(std::string_view account) {
    std::lock_guard lock(mutex_);
    if (auto found = index_.find(std::string(account)); found != index_.end()) {
        entries_.erase(found->second);
        index_.erase(found);
    }
}

std::size_t VerifiedPasswordCache::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

}  // namespace parley::sasl
