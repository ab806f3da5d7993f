#pragma once
// A bounded cache of plaintext passwords (SASL PLAIN) that have been checked against a stored SCRAM
// credential, so that a repeat login of the same account with the same password skips the PBKDF2 that
// verifyPassword runs (thousands of hash rounds, ~1 ms) and costs two HMACs instead.
//
// What is kept: per account, HMAC-SHA-256 tags under a random key made per cache (never stored or
// logged): one over the credential (salt, iterations, StoredKey, ServerKey), one over that and the
// password. Neither the password nor SaltedPassword is kept. A hit needs the same account, the same
// credential and the same password; a changed password gives a new credential (new salt and keys),
// so its entry no longer matches and is dropped at the next lookup. The first login of an account
// after a start (or after eviction) still pays PBKDF2.
//
// Trade-off: someone who can read the server's memory can test password guesses against a tag at
// HMAC speed instead of PBKDF2 speed; capacity 0 turns the cache off.
#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "parley/sasl/scram_credential.h"

namespace parley::sasl {

class VerifiedPasswordCache {
  public:
    // At most `capacity` accounts; the least recently used one makes room. 0: nothing is cached.
    explicit VerifiedPasswordCache(std::size_t capacity);
    VerifiedPasswordCache(const VerifiedPasswordCache&) = delete;
    VerifiedPasswordCache& operator=(const VerifiedPasswordCache&) = delete;

    // Whether verifyPassword(credential, password) succeeded for `account` before and was remembered.
    // An entry made for another credential of the account (the password changed) is dropped.
    bool contains(std::string_view account, const ScramCredential& credential, std::string_view password);
    // Remembers that verifyPassword(credential, password) succeeded for `account` (replacing what
    // the account had).
    void remember(std::string_view account, const ScramCredential& credential, std::string_view password);
    // Drops what is known about `account` (e.g. when it is deleted).
    void forget(std::string_view account);

    std::size_t size() const;
    std::size_t capacity() const noexcept { return capacity_; }

  private:
    struct Entry {
        std::string account;
        std::string credentialTag;
        std::string passwordTag;
    };
    std::string credentialTag(std::string_view account, const ScramCredential& credential) const;
    std::string passwordTag(std::string_view credentialTag, std::string_view password) const;

    const std::size_t capacity_;
    const std::string key_;
    mutable std::mutex mutex_;
    std::list<Entry> entries_;  // most recently used first
    std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace parley::sasl
