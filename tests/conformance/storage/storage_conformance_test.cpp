// The storage conformance suite: every backend passes these same cases (docs/STYLE.md rule 10). A new
// backend adds a factory to test_support.h and one INSTANTIATE_TYPED_TEST_SUITE_P line at the bottom.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "parley/storage/storage.h"
#include "test_support.h"

namespace parley::storage::test {
namespace {

using sasl::HashAlgorithm;
using sasl::ScramCredential;

ScramCredential credential(HashAlgorithm algorithm, std::string seed) {
    ScramCredential result;
    result.algorithm = algorithm;
    result.salt = "salt-" + seed + std::string("\0\xff", 2);  // raw bytes, NUL included
    result.iterations = 4096;
    result.storedKey = "stored-" + seed + std::string(1, '\0');
    result.serverKey = "server-" + seed + "\x80\x01";
    return result;
}

Account account(std::string host, std::string username, std::int64_t createdAt = 1700000000) {
    Account result;
    result.host = std::move(host);
    result.username = std::move(username);
    result.createdAt = createdAt;
    result.credentials = {credential(HashAlgorithm::Sha1, "a"), credential(HashAlgorithm::Sha256, "b")};
    return result;
}

template <class Backend>
class StorageConformance : public ::testing::Test {
  protected:
    template <class T>
    T run(asio::awaitable<T> task) {
        return runSync(io_, std::move(task));
    }
    AccountStore& accounts() { return storage_->accounts(); }
    KeyValueStore& values() { return storage_->keyValue(); }

    void create(Account newAccount) {
        auto created = run(accounts().createAccount(std::move(newAccount)));
        ASSERT_TRUE(created) << toString(created.error());
    }
    std::optional<Account> find(std::string host, std::string username) {
        auto found = run(accounts().findAccount(std::move(host), std::move(username)));
        EXPECT_TRUE(found) << toString(found.error());
        return found ? *found : std::nullopt;
    }
    std::vector<std::string> list(std::string host) {
        auto listed = run(accounts().listAccounts(std::move(host)));
        EXPECT_TRUE(listed) << toString(listed.error());
        return listed ? *listed : std::vector<std::string>{};
    }
    void set(std::string host, std::string username, std::string store, std::string key, std::string value) {
        auto done = run(values().set(std::move(host), std::move(username), std::move(store), std::move(key),
                                     std::move(value)));
        ASSERT_TRUE(done) << toString(done.error());
    }
    std::optional<std::string> get(std::string host, std::string username, std::string store,
                                   std::string key) {
        auto got = run(values().get(std::move(host), std::move(username), std::move(store), std::move(key)));
        EXPECT_TRUE(got) << toString(got.error());
        return got ? *got : std::nullopt;
    }

    Backend backend_;
    asio::io_context io_;
    std::unique_ptr<Storage> storage_ = backend_.open();
};

TYPED_TEST_SUITE_P(StorageConformance);

// AccountStore

TYPED_TEST_P(StorageConformance, CreatedAccountIsFoundWithItsCredentials) {
    this->create(account("example.org", "juliet", 1234));
    auto found = this->find("example.org", "juliet");
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->host, "example.org");
    EXPECT_EQ(found->username, "juliet");
    EXPECT_EQ(found->createdAt, 1234);
    EXPECT_EQ(found->credentials, account("example.org", "juliet").credentials);
}

TYPED_TEST_P(StorageConformance, AbsentAccountIsNulloptNotAnError) {
    EXPECT_EQ(this->find("example.org", "nobody"), std::nullopt);
    this->create(account("example.org", "juliet"));
    EXPECT_EQ(this->find("example.org", "romeo"), std::nullopt);
    EXPECT_EQ(this->find("example.net", "juliet"), std::nullopt);
}

TYPED_TEST_P(StorageConformance, TakenUsernameIsAlreadyExistsAndKeepsTheFirstAccount) {
    this->create(account("example.org", "juliet", 1));
    Account second = account("example.org", "juliet", 2);
    second.credentials = {credential(HashAlgorithm::Sha512, "other")};
    auto created = this->run(this->accounts().createAccount(second));
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error(), StorageError::AlreadyExists);
    auto found = this->find("example.org", "juliet");
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->createdAt, 1);
    EXPECT_EQ(found->credentials, account("example.org", "juliet").credentials);
}

TYPED_TEST_P(StorageConformance, SameUsernameOnAnotherHostIsAnotherAccount) {
    this->create(account("example.org", "juliet", 1));
    Account other = account("example.net", "juliet", 2);
    other.credentials = {credential(HashAlgorithm::Sha512, "net")};
    this->create(other);
    EXPECT_EQ(this->find("example.org", "juliet")->createdAt, 1);
    EXPECT_EQ(this->find("example.net", "juliet")->credentials, other.credentials);
}

TYPED_TEST_P(StorageConformance, AccountWithoutCredentialsIsAllowed) {
    Account bare = account("example.org", "juliet");
    bare.credentials.clear();
    this->create(bare);
    auto found = this->find("example.org", "juliet");
    ASSERT_TRUE(found.has_value());
    EXPECT_TRUE(found->credentials.empty());
}

TYPED_TEST_P(StorageConformance, CredentialBytesRoundTripExactly) {
    Account unusual = account("example.org", "juliet");
    ScramCredential empty;
    empty.algorithm = HashAlgorithm::Sha512;
    empty.iterations = UINT32_MAX;  // the largest count the type can hold
    unusual.credentials = {empty, credential(HashAlgorithm::Sha1, std::string(300, '\0'))};
    this->create(unusual);
    auto found = this->find("example.org", "juliet");
    ASSERT_TRUE(found.has_value());
    // Sorted by algorithm.
    EXPECT_EQ(found->credentials, (std::vector<ScramCredential>{unusual.credentials[1], empty}));
}

TYPED_TEST_P(StorageConformance, CredentialsAreOnePerAlgorithmLastWinsSortedByAlgorithm) {
    Account duplicated = account("example.org", "juliet");
    duplicated.credentials = {
        credential(HashAlgorithm::Sha512, "x"), credential(HashAlgorithm::Sha256, "first"),
        credential(HashAlgorithm::Sha1, "y"), credential(HashAlgorithm::Sha256, "last")};
    this->create(duplicated);
    std::vector<ScramCredential> expected = {credential(HashAlgorithm::Sha1, "y"),
                                             credential(HashAlgorithm::Sha256, "last"),
                                             credential(HashAlgorithm::Sha512, "x")};
    EXPECT_EQ(this->find("example.org", "juliet")->credentials, expected);

    auto replaced = this->run(this->accounts().setCredentials(
        "example.org", "juliet",
        {credential(HashAlgorithm::Sha1, "1"), credential(HashAlgorithm::Sha1, "2")}));
    ASSERT_TRUE(replaced);
    EXPECT_EQ(this->find("example.org", "juliet")->credentials,
              (std::vector<ScramCredential>{credential(HashAlgorithm::Sha1, "2")}));
}

TYPED_TEST_P(StorageConformance, SetCredentialsReplacesAllOfThem) {
    this->create(account("example.org", "juliet", 7));
    std::vector<ScramCredential> next = {credential(HashAlgorithm::Sha256, "new"),
                                         credential(HashAlgorithm::Sha512, "new")};
    auto replaced = this->run(this->accounts().setCredentials("example.org", "juliet", next));
    ASSERT_TRUE(replaced) << toString(replaced.error());
    auto found = this->find("example.org", "juliet");
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->credentials, next);  // the SHA-1 one is gone
    EXPECT_EQ(found->createdAt, 7);

    auto cleared = this->run(this->accounts().setCredentials("example.org", "juliet", {}));
    ASSERT_TRUE(cleared);
    EXPECT_TRUE(this->find("example.org", "juliet")->credentials.empty());
}

TYPED_TEST_P(StorageConformance, SetCredentialsOfAbsentAccountIsNotFound) {
    this->create(account("example.org", "juliet"));
    auto replaced = this->run(
        this->accounts().setCredentials("example.net", "juliet", {credential(HashAlgorithm::Sha256, "x")}));
    ASSERT_FALSE(replaced);
    EXPECT_EQ(replaced.error(), StorageError::NotFound);
    EXPECT_EQ(this->find("example.net", "juliet"), std::nullopt);
}

TYPED_TEST_P(StorageConformance, DeleteAccountRemovesItAndItsCredentials) {
    this->create(account("example.org", "juliet"));
    this->create(account("example.org", "romeo"));
    auto deleted = this->run(this->accounts().deleteAccount("example.org", "juliet"));
    ASSERT_TRUE(deleted) << toString(deleted.error());
    EXPECT_EQ(this->find("example.org", "juliet"), std::nullopt);
    EXPECT_EQ(this->list("example.org"), std::vector<std::string>{"romeo"});

    // Re-registering the name starts from nothing: no credential of the old account survives.
    Account again = account("example.org", "juliet", 99);
    again.credentials = {credential(HashAlgorithm::Sha512, "again")};
    this->create(again);
    EXPECT_EQ(this->find("example.org", "juliet")->credentials, again.credentials);
}

TYPED_TEST_P(StorageConformance, DeleteAbsentAccountIsNotFound) {
    auto deleted = this->run(this->accounts().deleteAccount("example.org", "nobody"));
    ASSERT_FALSE(deleted);
    EXPECT_EQ(deleted.error(), StorageError::NotFound);

    this->create(account("example.org", "juliet"));
    ASSERT_TRUE(this->run(this->accounts().deleteAccount("example.org", "juliet")));
    auto again = this->run(this->accounts().deleteAccount("example.org", "juliet"));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error(), StorageError::NotFound);
}

TYPED_TEST_P(StorageConformance, DeleteAccountRemovesOnlyThatUsersDocuments) {
    this->create(account("example.org", "juliet"));
    this->create(account("example.org", "romeo"));
    this->create(account("example.net", "juliet"));
    this->set("example.org", "juliet", "private", "a", "1");
    this->set("example.org", "juliet", "vcard", "", "2");
    this->set("example.org", "romeo", "private", "a", "3");
    this->set("example.net", "juliet", "private", "a", "4");

    ASSERT_TRUE(this->run(this->accounts().deleteAccount("example.org", "juliet")));
    EXPECT_EQ(this->get("example.org", "juliet", "private", "a"), std::nullopt);
    EXPECT_EQ(this->get("example.org", "juliet", "vcard", ""), std::nullopt);
    EXPECT_EQ(this->get("example.org", "romeo", "private", "a"), "3");
    EXPECT_EQ(this->get("example.net", "juliet", "private", "a"), "4");
}

TYPED_TEST_P(StorageConformance, ListAccountsIsSortedAndPerHost) {
    EXPECT_TRUE(this->list("example.org").empty());
    for (const char* name : {"romeo", "juliet", "Zed", "\xc3\xa9loise", "benvolio", "2b", "juliet2"}) {
        this->create(account("example.org", name));
    }
    this->create(account("example.net", "mercutio"));
    this->create(account("example.org.evil", "tybalt"));
    // Byte order, as std::string compares: digits < upper case < lower case < UTF-8 multi-byte.
    const std::vector<std::string> expected = {"2b",      "Zed",   "benvolio",     "juliet",
                                               "juliet2", "romeo", "\xc3\xa9loise"};
    EXPECT_EQ(this->list("example.org"), expected);
    EXPECT_EQ(this->list("example.net"), std::vector<std::string>{"mercutio"});
    EXPECT_TRUE(this->list("example.com").empty());
}

// KeyValueStore

TYPED_TEST_P(StorageConformance, AbsentValueIsNulloptAndRemovingItIsNotAnError) {
    EXPECT_EQ(this->get("example.org", "juliet", "private", "missing"), std::nullopt);
    auto removed = this->run(this->values().remove("example.org", "juliet", "private", "missing"));
    EXPECT_TRUE(removed);
}

TYPED_TEST_P(StorageConformance, ValueIsSetReplacedAndRemoved) {
    this->set("example.org", "juliet", "private", "storage:bookmarks", "<storage/>");
    EXPECT_EQ(this->get("example.org", "juliet", "private", "storage:bookmarks"), "<storage/>");
    this->set("example.org", "juliet", "private", "storage:bookmarks", "<storage><conference/></storage>");
    EXPECT_EQ(this->get("example.org", "juliet", "private", "storage:bookmarks"),
              "<storage><conference/></storage>");
    auto removed = this->run(this->values().remove("example.org", "juliet", "private", "storage:bookmarks"));
    ASSERT_TRUE(removed);
    EXPECT_EQ(this->get("example.org", "juliet", "private", "storage:bookmarks"), std::nullopt);
}

TYPED_TEST_P(StorageConformance, ValuesDoNotNeedAnAccount) {
    // A user who authenticates by other means than a local account may still keep documents.
    this->set("example.org", "external", "vcard", "", "<vCard/>");
    EXPECT_EQ(this->get("example.org", "external", "vcard", ""), "<vCard/>");
}

TYPED_TEST_P(StorageConformance, ValuesAreIsolatedByHostUserStoreAndKey) {
    this->set("example.org", "juliet", "private", "k", "base");
    this->set("example.net", "juliet", "private", "k", "other host");
    this->set("example.org", "romeo", "private", "k", "other user");
    this->set("example.org", "juliet", "vcard", "k", "other store");
    this->set("example.org", "juliet", "private", "k2", "other key");
    EXPECT_EQ(this->get("example.org", "juliet", "private", "k"), "base");
    EXPECT_EQ(this->get("example.net", "juliet", "private", "k"), "other host");
    EXPECT_EQ(this->get("example.org", "romeo", "private", "k"), "other user");
    EXPECT_EQ(this->get("example.org", "juliet", "vcard", "k"), "other store");
    EXPECT_EQ(this->get("example.org", "juliet", "private", "k2"), "other key");

    ASSERT_TRUE(this->run(this->values().remove("example.org", "juliet", "private", "k")));
    EXPECT_EQ(this->get("example.org", "juliet", "private", "k"), std::nullopt);
    EXPECT_EQ(this->get("example.net", "juliet", "private", "k"), "other host");
    EXPECT_EQ(this->get("example.org", "romeo", "private", "k"), "other user");
    EXPECT_EQ(this->get("example.org", "juliet", "vcard", "k"), "other store");
    EXPECT_EQ(this->get("example.org", "juliet", "private", "k2"), "other key");
}

TYPED_TEST_P(StorageConformance, ValueBytesRoundTripExactly) {
    const std::string binary("\0\x01\xff<x/>\0", 8);
    const std::string large(1 << 20, 'x');
    this->set("example.org", "juliet", "s", "binary", binary);
    this->set("example.org", "juliet", "s", "empty", "");
    this->set("example.org", "juliet", "s", "large", large);
    EXPECT_EQ(this->get("example.org", "juliet", "s", "binary"), binary);
    EXPECT_EQ(this->get("example.org", "juliet", "s", "empty"), std::string{});
    EXPECT_EQ(this->get("example.org", "juliet", "s", "large"), large);
}

// Concurrency and lifetime

asio::awaitable<bool> createAndReadBack(Storage* storage, std::string username) {
    auto created = co_await storage->accounts().createAccount(account("example.org", username));
    auto stored = co_await storage->keyValue().set("example.org", username, "s", "k", username);
    auto found = co_await storage->accounts().findAccount("example.org", username);
    auto value = co_await storage->keyValue().get("example.org", username, "s", "k");
    co_return created&& stored&& found && found->has_value() && value&&* value == username;
}

TYPED_TEST_P(StorageConformance, ConcurrentCallsFromSeveralThreadsAllSucceed) {
    constexpr int kUsers = 40;
    std::vector<std::string> names;
    std::atomic<int> succeeded = 0;
    for (int i = 0; i < kUsers; ++i) {
        names.push_back("user" + std::to_string(100 + i));
        asio::co_spawn(this->io_, createAndReadBack(this->storage_.get(), names.back()),
                       [&succeeded](std::exception_ptr error, bool ok) {
                           if (!error && ok) {
                               ++succeeded;
                           }
                       });
    }
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i) {
        threads.emplace_back([this] { this->io_.run(); });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(succeeded.load(), kUsers);
    EXPECT_EQ(this->list("example.org"), names);  // "user100".."user139" are already sorted
}

TYPED_TEST_P(StorageConformance, CallsAfterCloseAreUnavailable) {
    this->create(account("example.org", "juliet"));
    this->storage_->close();
    auto expectUnavailable = [](const auto& result) {
        ASSERT_FALSE(result);
        EXPECT_EQ(result.error(), StorageError::Unavailable);
    };
    expectUnavailable(this->run(this->accounts().createAccount(account("example.org", "romeo"))));
    expectUnavailable(this->run(this->accounts().findAccount("example.org", "juliet")));
    expectUnavailable(this->run(this->accounts().setCredentials("example.org", "juliet", {})));
    expectUnavailable(this->run(this->accounts().deleteAccount("example.org", "juliet")));
    expectUnavailable(this->run(this->accounts().listAccounts("example.org")));
    expectUnavailable(this->run(this->values().get("example.org", "juliet", "s", "k")));
    expectUnavailable(this->run(this->values().set("example.org", "juliet", "s", "k", "v")));
    expectUnavailable(this->run(this->values().remove("example.org", "juliet", "s", "k")));
    this->storage_->close();  // closing twice is harmless
}

REGISTER_TYPED_TEST_SUITE_P(
    StorageConformance, CreatedAccountIsFoundWithItsCredentials, AbsentAccountIsNulloptNotAnError,
    TakenUsernameIsAlreadyExistsAndKeepsTheFirstAccount, SameUsernameOnAnotherHostIsAnotherAccount,
    AccountWithoutCredentialsIsAllowed, CredentialBytesRoundTripExactly,
    CredentialsAreOnePerAlgorithmLastWinsSortedByAlgorithm, SetCredentialsReplacesAllOfThem,
    SetCredentialsOfAbsentAccountIsNotFound, DeleteAccountRemovesItAndItsCredentials,
    DeleteAbsentAccountIsNotFound, DeleteAccountRemovesOnlyThatUsersDocuments, ListAccountsIsSortedAndPerHost,
    AbsentValueIsNulloptAndRemovingItIsNotAnError, ValueIsSetReplacedAndRemoved, ValuesDoNotNeedAnAccount,
    ValuesAreIsolatedByHostUserStoreAndKey, ValueBytesRoundTripExactly,
    ConcurrentCallsFromSeveralThreadsAllSucceed, CallsAfterCloseAreUnavailable);

// One line per backend.
INSTANTIATE_TYPED_TEST_SUITE_P(Memory, StorageConformance, MemoryBackend);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StorageConformance, SqliteBackend);

// Outside the suite: the backend choice itself.

TEST(OpenStorage, UnknownBackendIsAClearOpenError) {
    auto storage = openStorage({.backend = "postgres-typo"});
    ASSERT_FALSE(storage);
    EXPECT_NE(storage.error().message.find("postgres-typo"), std::string::npos) << storage.error().message;
    EXPECT_NE(storage.error().message.find("storage.backend"), std::string::npos) << storage.error().message;
}

TEST(OpenStorage, StorageErrorsHaveNames) {
    EXPECT_EQ(toString(StorageError::NotFound), "not found");
    EXPECT_EQ(toString(StorageError::AlreadyExists), "already exists");
    EXPECT_EQ(toString(StorageError::Unavailable), "storage unavailable");
    EXPECT_EQ(toString(StorageError::QuotaExceeded), "quota exceeded");
}

}  // namespace
}  // namespace parley::storage::test
