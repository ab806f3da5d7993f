// IqTracker (server/core): answers are matched by id and sender, and requests time out by the Clock.
#include "parley/server/iq_tracker.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <future>

#include "parley/xml/stream_parser.h"

namespace parley::server {
namespace {

xmpp::Stanza makeStanza(const std::string& xml) {
    auto parsed = xml::parseElement(xml);
    EXPECT_TRUE(parsed.element) << xml;
    auto stanza = xmpp::Stanza::fromElement(std::move(*parsed.element));
    EXPECT_TRUE(stanza) << xml;
    return std::move(*stanza);
}

class IqTrackerTest : public ::testing::Test {
  protected:
    // Starts a request to juliet@localhost/balcony and runs the loop until it was sent.
    std::future<IqAnswer> start(std::chrono::seconds timeout = std::chrono::seconds(30)) {
        xmpp::Stanza request = makeStanza(
            "<iq xmlns='jabber:client' type='get' id='x' from='localhost' to='juliet@localhost/balcony'>"
            "<query xmlns='urn:example:q'/></iq>");
        std::function<void(xmpp::StanzaPtr)> send = [this](xmpp::StanzaPtr stanza) {
            sent_ = std::move(stanza);
        };
        auto future =
            boost::asio::co_spawn(context_, tracker_.request(std::move(request), timeout, std::move(send)),
                                  boost::asio::use_future);
        while (!sent_ && context_.poll_one() > 0) {
        }
        EXPECT_TRUE(sent_) << "the request was not sent";
        return future;
    }

    // Runs what is ready on the loop (no timer waits) and says whether the request completed.
    bool settled(std::future<IqAnswer>& future) {
        context_.poll();
        return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    }

    xmpp::StanzaPtr answer(const std::string& from, std::string_view id, const std::string& type = "result") {
        return std::make_shared<const xmpp::Stanza>(makeStanza("<iq xmlns='jabber:client' type='" + type +
                                                               "' id='" + std::string(id) + "' from='" +
                                                               from + "' to='localhost'/>"));
    }

    FakeClock clock_;
    boost::asio::io_context context_;
    IqTracker tracker_{clock_};  // after context_: what still waits is released while the loop exists
    xmpp::StanzaPtr sent_;
};

TEST_F(IqTrackerTest, SendsWithAFreshIdAndKeepsTheAddresses) {
    auto future = start();
    EXPECT_NE(sent_->id(), "x");
    EXPECT_TRUE(sent_->id().starts_with("parley-"));
    EXPECT_EQ(sent_->to()->str(), "juliet@localhost/balcony");
    EXPECT_EQ(sent_->from()->str(), "localhost");
    EXPECT_EQ(sent_->payload()->ns(), "urn:example:q");
    EXPECT_EQ(tracker_.pendingForTest(), 1u);
    EXPECT_FALSE(settled(future));
}

TEST_F(IqTrackerTest, TheAnswerWithTheIdFromTheAddresseeCompletesIt) {
    auto future = start();
    const std::string id(sent_->id());
    EXPECT_FALSE(tracker_.complete(answer("juliet@localhost/balcony", "other-id")));
    EXPECT_FALSE(settled(future));
    auto reply = answer("juliet@localhost/balcony", id);
    EXPECT_TRUE(tracker_.complete(reply));
    ASSERT_TRUE(settled(future));
    IqAnswer result = future.get();
    ASSERT_TRUE(result);
    EXPECT_EQ(*result, reply);
    EXPECT_EQ(tracker_.pendingForTest(), 0u);
    // A second answer with the same id matches nothing any more.
    EXPECT_FALSE(tracker_.complete(answer("juliet@localhost/balcony", id)));
}

TEST_F(IqTrackerTest, AnErrorAnswerCompletesItToo) {
    auto future = start();
    EXPECT_TRUE(tracker_.complete(answer("juliet@localhost/balcony", sent_->id(), "error")));
    ASSERT_TRUE(settled(future));
    IqAnswer result = future.get();
    ASSERT_TRUE(result);
    EXPECT_EQ((*result)->type(), "error");
}

TEST_F(IqTrackerTest, SomeoneElseWithTheRightIdDoesNotCompleteIt) {
    auto future = start();
    EXPECT_FALSE(tracker_.complete(answer("romeo@localhost/orchard", sent_->id())));
    EXPECT_FALSE(tracker_.complete(answer("juliet@localhost", sent_->id())));
    EXPECT_FALSE(settled(future));
    EXPECT_EQ(tracker_.pendingForTest(), 1u);
}

TEST_F(IqTrackerTest, RequestsAreNotAnswers) {
    auto future = start();
    auto request = std::make_shared<const xmpp::Stanza>(
        makeStanza("<iq xmlns='jabber:client' type='get' id='" + std::string(sent_->id()) +
                   "' from='juliet@localhost/balcony' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>"));
    EXPECT_FALSE(tracker_.complete(request));
    EXPECT_FALSE(settled(future));
}

TEST_F(IqTrackerTest, TimesOutWhenTheClockPassesTheDeadline) {
    auto future = start(std::chrono::seconds(10));
    clock_.advance(std::chrono::seconds(9));
    tracker_.expire(clock_.now());
    EXPECT_FALSE(settled(future));
    clock_.advance(std::chrono::seconds(1));
    tracker_.expire(clock_.now());
    ASSERT_TRUE(settled(future));
    IqAnswer result = future.get();
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), IqFailure::Timeout);
    // A late answer is dropped.
    EXPECT_FALSE(tracker_.complete(answer("juliet@localhost/balcony", sent_->id())));
}

TEST_F(IqTrackerTest, EachRequestHasItsOwnId) {
    auto first = start();
    const std::string firstId(sent_->id());
    sent_.reset();
    auto second = start();
    EXPECT_NE(sent_->id(), firstId);
    EXPECT_TRUE(tracker_.complete(answer("juliet@localhost/balcony", firstId)));
    EXPECT_TRUE(settled(first));
    EXPECT_FALSE(settled(second));
}

}  // namespace
}  // namespace parley::server
