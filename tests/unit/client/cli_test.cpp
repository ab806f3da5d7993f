// The `parley` command line: argument parsing, the account file, the password sources, and then the
// binary itself against an in-process server: a friendship and a chat scripted as a new user would.
#include <gtest/gtest.h>

#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "cli.h"
#include "parley/base/random.h"
#include "test_server.h"

namespace parley::cli {
namespace {

Args parsed(std::vector<std::string> words) {
    auto args = parseArgs(words);
    EXPECT_TRUE(args) << (args ? std::string() : args.error().message);
    return args ? *args : Args{};
}

TEST(CliArgsTest, CommandPositionalsOptionsAndFlagsInAnyOrder) {
    auto args =
        parsed({"--host", "127.0.0.1", "roster", "add", "--json", "bob@example.org", "--port=5223", "Bob"});
    EXPECT_EQ(args.command, "roster");
    EXPECT_EQ(args.positional, (std::vector<std::string>{"add", "bob@example.org", "Bob"}));
    EXPECT_EQ(args.option("--host"), "127.0.0.1");
    EXPECT_EQ(args.option("--port"), "5223");
    EXPECT_TRUE(args.has("--json"));
}

TEST(CliArgsTest, APasswordOnTheCommandLineIsRefusedWithTheAlternatives) {
    for (std::vector<std::string> words : {std::vector<std::string>{"login", "a@b", "--password", "x"},
                                           std::vector<std::string>{"login", "--password=x"}}) {
        auto args = parseArgs(words);
        ASSERT_FALSE(args);
        EXPECT_NE(args.error().message.find("PARLEY_PASSWORD"), std::string::npos);
        EXPECT_NE(args.error().message.find("--password-file"), std::string::npos);
    }
}

TEST(CliArgsTest, UnknownOptionsAndMissingValuesAreErrors) {
    EXPECT_FALSE(parseArgs({"send", "--colour"}));
    EXPECT_FALSE(parseArgs({"send", "--host"}));
}

TEST(CliAccountTest, SavedAccountLoadsBackAndTheCommandLineWins) {
    const auto dir = std::filesystem::temp_directory_path() / ("parley-cli-" + randomId(8));
    Account account{.jid = "alice@example.org",
                    .host = "xmpp.example.org",
                    .port = 5223,
                    .tls = "direct",
                    .trustFingerprint = "AB:CD"};
    ASSERT_TRUE(saveAccount(dir, account));
    auto loaded = loadAccount(dir);
    ASSERT_TRUE(loaded);
    ASSERT_TRUE(*loaded);
    EXPECT_EQ((*loaded)->jid, "alice@example.org");
    EXPECT_EQ((*loaded)->port, 5223);
    EXPECT_EQ((*loaded)->tls, "direct");
    auto merged = accountFromArgs(parsed({"send", "--host", "other.example.org", "--starttls"}), *loaded);
    ASSERT_TRUE(merged);
    EXPECT_EQ(merged->host, "other.example.org");
    EXPECT_EQ(merged->tls, "starttls");
    EXPECT_EQ(merged->trustFingerprint, "AB:CD");
    { std::ofstream(dir / "account") << "jid = a@b\ncolour = blue\n"; }
    auto bad = loadAccount(dir);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find(":2: unknown key 'colour'"), std::string::npos) << bad.error().message;
    std::filesystem::remove_all(dir);
    EXPECT_FALSE(accountFromArgs(parsed({"send"}), std::nullopt));  // no account at all
}

TEST(CliPasswordTest, FileThenEnvironmentThenRememberedThenPrompt) {
    const auto file = std::filesystem::temp_directory_path() / ("parley-pw-" + randomId(8));
    { std::ofstream(file) << "from-file\nsecond line\n"; }
    auto prompt = [] { return std::optional<std::string>("typed"); };
    auto noTerminal = [] { return std::optional<std::string>(); };
    Account remembered{.jid = "a@b", .passwordFile = file.string()};
    EXPECT_EQ(*resolvePassword(parsed({"send", "--password-file", file.string()}), {}, "env", prompt),
              "from-file");
    EXPECT_EQ(*resolvePassword(parsed({"send"}), remembered, "env", prompt), "env");
    EXPECT_EQ(*resolvePassword(parsed({"send"}), remembered, std::nullopt, prompt), "from-file");
    EXPECT_EQ(*resolvePassword(parsed({"send"}), {}, std::nullopt, prompt), "typed");
    auto none = resolvePassword(parsed({"send"}), {}, std::nullopt, noTerminal);
    ASSERT_FALSE(none);
    EXPECT_NE(none.error().message.find("PARLEY_PASSWORD"), std::string::npos);
    std::filesystem::remove(file);
}

TEST(CliJsonTest, EscapesQuotesBackslashesAndControlCharacters) {
    EXPECT_EQ(jsonString("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
}

TEST(CliFormatTest, RosterItemsAsTextAndJson) {
    client::RosterItem item{.jid = "bob@example.org",
                            .name = "Bob \"B\"",
                            .subscription = client::Subscription::To,
                            .pendingOut = true,
                            .groups = {"Friends", "Work"}};
    EXPECT_EQ(formatRosterItem(item, false), "bob@example.org\tBob \"B\"\tto (asked)");
    EXPECT_EQ(
        formatRosterItem(item, true),
        "{\"jid\":\"bob@example.org\",\"name\":\"Bob \\\"B\\\"\",\"subscription\":\"to\",\"asked\":true,"
        "\"groups\":[\"Friends\",\"Work\"]}");
    item.groups.clear();
    item.pendingOut = false;
    EXPECT_NE(formatRosterItem(item, true).find("\"asked\":false,\"groups\":[]}"), std::string::npos);
}

TEST(CliFormatTest, VCardShowsSetFieldsAsTextAndAllFieldsAsJson) {
    client::VCard card{.fullName = "Alice Liddell", .email = "alice@example.org", .note = "line\nbreak"};
    EXPECT_EQ(formatVCard(card, false), "name: Alice Liddell\nemail: alice@example.org\nnote: line\nbreak\n");
    EXPECT_EQ(formatVCard(card, true),
              "{\"name\":\"Alice Liddell\",\"nickname\":\"\",\"email\":\"alice@example.org\",\"url\":\"\","
              "\"note\":\"line\\nbreak\"}\n");
    EXPECT_EQ(formatVCard({}, false), "");
}

// --- the binary -------------------------------------------------------------------------------

struct CliRun {
    int code = -1;
    std::string output;
};

class CliBinaryTest : public ::testing::Test {
  protected:
    void SetUp() override {
        home_ = server_.directory() / "home";
        std::filesystem::create_directories(home_);
    }
    // Runs `parley` for `user` (its own config directory) with the password in PARLEY_PASSWORD.
    CliRun parley(const std::string& user, const std::string& password, const std::string& arguments,
                  const std::string& input = {}) {
        const auto config = home_ / user;
        // An empty password: none in the environment (the remembered one, or no terminal to ask on).
        const std::string environment =
            password.empty() ? "env -u PARLEY_PASSWORD " : "PARLEY_PASSWORD='" + password + "' ";
        std::string command =
            environment + PARLEY_CLI_PATH " --config-dir '" + config.string() + "' " + arguments;
        if (!input.empty())
            command = "printf '%s' '" + input + "' | " + command;
        command += " 2>&1";
        CliRun run;
        FILE* pipe = popen(command.c_str(), "r");
        if (!pipe)
            return run;
        std::array<char, 4096> buffer{};
        while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe))
            run.output.append(buffer.data(), n);
        const int status = pclose(pipe);
        run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return run;
    }
    std::string connection() const {
        return "--host 127.0.0.1 --port " + std::to_string(server_.requiredTlsPort()) + " --trust-cert '" +
               (server_.directory() / "certs" / "localhost.crt").string() + "'";
    }

    test::TestServer server_;
    std::filesystem::path home_;
};

TEST_F(CliBinaryTest, AFriendshipAndAChatScriptedWithTheCommandLine) {
    auto reg = parley("alice", "alice-pw", "register alice@localhost " + connection());
    ASSERT_EQ(reg.code, 0) << reg.output;
    ASSERT_EQ(parley("bob", "bob-pw", "register bob@localhost --remember-password " + connection()).code, 0);
    // The remembered password is readable by its owner only, and used when no other source is given.
    const auto remembered = std::filesystem::status(home_ / "bob" / "password").permissions();
    EXPECT_EQ(remembered & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    // Later commands use the remembered account: no connection options needed.
    auto add = parley("alice", "alice-pw", "roster add bob@localhost Bob");
    ASSERT_EQ(add.code, 0) << add.output;
    auto approve = parley("bob", "", "roster approve alice@localhost");
    ASSERT_EQ(approve.code, 0) << approve.output;
    auto list = parley("alice", "alice-pw", "roster list");
    ASSERT_EQ(list.code, 0) << list.output;
    EXPECT_NE(list.output.find("bob@localhost\tBob\tto"), std::string::npos) << list.output;

    auto sent = parley("alice", "alice-pw", "send bob@localhost hello from the command line");
    ASSERT_EQ(sent.code, 0) << sent.output;
    auto piped = parley("alice", "alice-pw", "send bob@localhost", "disk full on db1\n");
    ASSERT_EQ(piped.code, 0) << piped.output;
    // Bob was offline: history has both, and JSON lines for scripts.
    auto history = parley("bob", "bob-pw", "history alice@localhost --json");
    ASSERT_EQ(history.code, 0) << history.output;
    EXPECT_NE(history.output.find("\"body\":\"hello from the command line\""), std::string::npos)
        << history.output;
    EXPECT_NE(history.output.find("\"body\":\"disk full on db1\""), std::string::npos) << history.output;

    // `parley chat` sends each line of its input, and ends when the input does.
    auto chat = parley("bob", "", "chat alice@localhost", "first line\nsecond line\n");
    ASSERT_EQ(chat.code, 0) << chat.output;
    auto replies = parley("alice", "alice-pw", "history bob@localhost");
    ASSERT_EQ(replies.code, 0) << replies.output;
    EXPECT_NE(replies.output.find("bob@localhost/"), std::string::npos) << replies.output;
    EXPECT_LT(replies.output.find(": first line"), replies.output.find(": second line")) << replies.output;
    EXPECT_NE(replies.output.find(": second line"), std::string::npos) << replies.output;
    // Without any password source and no terminal, the error says what to do.
    auto nopassword = parley("alice", "", "roster list");
    EXPECT_EQ(nopassword.code, kUsage) << nopassword.output;
    EXPECT_NE(nopassword.output.find("PARLEY_PASSWORD"), std::string::npos) << nopassword.output;
}

TEST_F(CliBinaryTest, RosterAsJsonAndVCards) {
    ASSERT_EQ(parley("alice", "alice-pw", "register alice@localhost " + connection()).code, 0);
    ASSERT_EQ(parley("bob", "bob-pw", "register bob@localhost " + connection()).code, 0);
    auto add = parley("alice", "alice-pw", "roster add bob@localhost Bob --group Friends");
    ASSERT_EQ(add.code, 0) << add.output;
    auto list = parley("alice", "alice-pw", "roster list --json");
    ASSERT_EQ(list.code, 0) << list.output;
    EXPECT_EQ(list.output,
              "{\"jid\":\"bob@localhost\",\"name\":\"Bob\",\"subscription\":\"none\",\"asked\":true,"
              "\"groups\":[\"Friends\"]}\n");

    auto set = parley("bob", "bob-pw", "vcard set --name 'Bob Builder' --email bob@example.org");
    ASSERT_EQ(set.code, 0) << set.output;
    // A second set changes one field and keeps the others.
    ASSERT_EQ(parley("bob", "bob-pw", "vcard set --nickname bobby").code, 0);
    auto own = parley("bob", "bob-pw", "vcard");
    ASSERT_EQ(own.code, 0) << own.output;
    EXPECT_EQ(own.output, "name: Bob Builder\nnickname: bobby\nemail: bob@example.org\n");
    auto other = parley("alice", "alice-pw", "vcard bob@localhost --json");
    ASSERT_EQ(other.code, 0) << other.output;
    EXPECT_NE(other.output.find("\"name\":\"Bob Builder\""), std::string::npos) << other.output;
}

TEST_F(CliBinaryTest, ExitCodesScriptsCanRelyOn) {
    server_.addAccount("alice", "localhost", "right");
    auto wrong = parley("alice", "wrong", "login alice@localhost " + connection());
    EXPECT_EQ(wrong.code, kAuthFailed) << wrong.output;
    EXPECT_NE(wrong.output.find("not-authorized"), std::string::npos);
    auto untrusted =
        parley("alice", "right",
               "login alice@localhost --host 127.0.0.1 --port " + std::to_string(server_.requiredTlsPort()));
    EXPECT_EQ(untrusted.code, kUnreachable) << untrusted.output;
    EXPECT_NE(untrusted.output.find("--trust-fingerprint"), std::string::npos);
    EXPECT_EQ(parley("nobody", "x", "send bob@localhost hi").code, kUsage);  // no account remembered
    EXPECT_EQ(parley("alice", "x", "frobnicate").code, kUsage);
    auto ok = parley("alice", "right", "login alice@localhost " + connection());
    EXPECT_EQ(ok.code, kOk) << ok.output;
    auto refused = parley("alice", "right", "roster add 'not a jid@@'");
    EXPECT_EQ(refused.code, kUsage) << refused.output;
}

// Reads the pseudo-terminal until `needle` appears in `seen` at or after `from` and returns where (npos
// after 10 s without it: the test fails). The terminal may turn "\r\n" into "\r\r\n" (ONLCR).
std::size_t readUntil(int fd, const std::string& needle, std::string& seen, std::size_t from = 0) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (seen.find(needle, from) == std::string::npos) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd in{.fd = fd, .events = POLLIN, .revents = 0};
        if (left.count() <= 0 || ::poll(&in, 1, static_cast<int>(left.count())) <= 0)
            return std::string::npos;
        std::array<char, 1024> buffer{};
        const ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n <= 0)
            return std::string::npos;
        seen.append(buffer.data(), static_cast<std::size_t>(n));
    }
    return seen.find(needle, from);
}

TEST_F(CliBinaryTest, ChatOnATerminalEditsTheLineAndPrintsRepliesAboveIt) {
    ASSERT_EQ(parley("alice", "alice-pw", "register alice@localhost " + connection()).code, 0);
    ASSERT_EQ(parley("bob", "bob-pw", "register bob@localhost " + connection()).code, 0);
    // `parley chat` for Alice on a pseudo-terminal: raw mode and the line editor, as a user sees it.
    // Everything the child needs is prepared before fork(): the test process has threads.
    const std::string command =
        PARLEY_CLI_PATH " --config-dir '" + (home_ / "alice").string() + "' chat bob@localhost";
    std::string password = "PARLEY_PASSWORD=alice-pw";
    std::string path = "PATH=/usr/bin:/bin";
    char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>(command.c_str()),
                    nullptr};
    char* envp[] = {password.data(), path.data(), nullptr};
    int master = -1;
    const pid_t child = ::forkpty(&master, nullptr, nullptr, nullptr);
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::execve("/bin/sh", argv, envp);
        ::_exit(127);
    }
    std::string seen;
    ASSERT_NE(readUntil(master, "Ctrl-C ends)", seen), std::string::npos) << seen;
    // A missing letter inserted after moving left, End, a stray key taken back with Backspace, Enter.
    std::string keys = "helo world";
    for (int i = 0; i < 7; ++i)
        keys += "\x1b[D";
    keys += "l\x1b[Fx\x7f\r";
    ASSERT_EQ(::write(master, keys.data(), keys.size()), static_cast<ssize_t>(keys.size()));
    const std::size_t sent = readUntil(master, "> hello world\x1b[K\r", seen);
    ASSERT_NE(sent, std::string::npos) << seen;
    ASSERT_NE(readUntil(master, "\n\r> \x1b[K", seen, sent), std::string::npos) << seen;
    // Half a line typed, then Bob answers: his message appears above it, and the line is drawn again.
    ASSERT_EQ(::write(master, "half", 4), 4);
    const std::size_t typed = readUntil(master, "> half\x1b[K", seen);
    ASSERT_NE(typed, std::string::npos) << seen;
    ASSERT_EQ(parley("bob", "bob-pw", "send alice@localhost hi alice").code, 0);
    const std::size_t reply = readUntil(master, "\r\x1b[Kbob@localhost/", seen, typed);
    ASSERT_NE(reply, std::string::npos) << seen;
    ASSERT_NE(readUntil(master, ": hi alice\r", seen, reply), std::string::npos) << seen;
    ASSERT_NE(readUntil(master, "\n\r> half\x1b[K", seen, reply), std::string::npos) << seen;
    // Alice's own presence, which the server reflects to her (RFC 6121 §4.4.2), is not chat.
    EXPECT_EQ(seen.find("alice@localhost/"), std::string::npos) << seen;
    // Ctrl-U empties the line, Ctrl-D on the empty line ends the chat with exit code 0.
    ASSERT_EQ(::write(master, "\x15\x04", 2), 2);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ::close(master);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    auto history = parley("bob", "bob-pw", "history alice@localhost");
    ASSERT_EQ(history.code, 0) << history.output;
    EXPECT_NE(history.output.find(": hello world"), std::string::npos) << history.output;
    EXPECT_EQ(history.output.find("half"), std::string::npos) << history.output;
}

}  // namespace
}  // namespace parley::cli
