// The line editor of `parley chat`: key sequences in, the buffer and the terminal output checked, with
// no terminal involved.
#include "line_editor.h"

#include <gtest/gtest.h>

namespace parley::cli {
namespace {

constexpr const char* kLeft = "\x1b[D";
constexpr const char* kRight = "\x1b[C";
constexpr const char* kUp = "\x1b[A";
constexpr const char* kDown = "\x1b[B";
constexpr const char* kHome = "\x1b[H";
constexpr const char* kEnd = "\x1b[F";
constexpr const char* kDelete = "\x1b[3~";

std::string typed(LineEditor& editor, std::initializer_list<std::string_view> keys) {
    std::string terminal;
    for (std::string_view k : keys)
        terminal += editor.feed(k).terminal;
    return terminal;
}

TEST(LineEditorTest, TypingRedrawsThePromptAndTheBuffer) {
    LineEditor editor("> ");
    auto out = editor.feed("hi");
    EXPECT_EQ(editor.buffer(), "hi");
    EXPECT_EQ(editor.cursor(), 2u);
    // Each key redraws the whole line: CR, prompt, buffer, clear to the end of the line.
    EXPECT_EQ(out.terminal, "\r> h\x1b[K\r> hi\x1b[K");
    EXPECT_TRUE(out.lines.empty());
}

TEST(LineEditorTest, CursorMovesAndEditsInTheMiddle) {
    LineEditor editor("> ");
    typed(editor, {"helo", kLeft, "l"});
    EXPECT_EQ(editor.buffer(), "hello");
    EXPECT_EQ(editor.cursor(), 4u);
    // The redraw puts the terminal's cursor back before the last character.
    EXPECT_EQ(editor.redraw(), "\r> hello\x1b[K\x1b[1D");
    typed(editor, {kHome, kDelete});
    EXPECT_EQ(editor.buffer(), "ello");
    EXPECT_EQ(editor.cursor(), 0u);
    typed(editor, {kEnd, "\x7f", "\x01", "X", "\x05", "!"});  // Backspace, Ctrl-A, Ctrl-E
    EXPECT_EQ(editor.buffer(), "Xell!");
    typed(editor, {kLeft, kLeft, "\x0b"});  // Ctrl-K: kill to the end
    EXPECT_EQ(editor.buffer(), "Xel");
    typed(editor, {"\x02", "\x15"});  // Ctrl-B, Ctrl-U: kill to the start
    EXPECT_EQ(editor.buffer(), "l");
    EXPECT_EQ(editor.cursor(), 0u);
    typed(editor, {kRight, kRight, kRight});  // stops at the end
    EXPECT_EQ(editor.cursor(), 1u);
}

TEST(LineEditorTest, CtrlWDeletesTheWordBeforeTheCursor) {
    LineEditor editor("> ");
    typed(editor, {"see you  tomorrow", "\x17"});
    EXPECT_EQ(editor.buffer(), "see you  ");
    typed(editor, {"\x17"});
    EXPECT_EQ(editor.buffer(), "see ");
    typed(editor, {kLeft, kLeft, "\x17"});
    EXPECT_EQ(editor.buffer(), "e ");
}

TEST(LineEditorTest, EscapeSequencesSplitAcrossReadsAndOtherKeysAreHarmless) {
    LineEditor editor("> ");
    typed(editor, {"ab", "\x1b", "[", "D"});
    EXPECT_EQ(editor.cursor(), 1u);
    typed(editor, {"\x1bOH"});  // Home as SS3, as some terminals send it
    EXPECT_EQ(editor.cursor(), 0u);
    typed(editor, {"\x1b[1;5C", "\t",
                   "\x1b"
                   "x",
                   "\x07"});  // Ctrl-Right, Tab, Alt-x, Bell: ignored
    EXPECT_EQ(editor.buffer(), "ab");
}

TEST(LineEditorTest, Utf8CharactersMoveAndDeleteAsOne) {
    LineEditor editor("> ");
    typed(editor, {"caf\xc3", "\xa9!"});
    EXPECT_EQ(editor.buffer(), "caf\xc3\xa9!");
    typed(editor, {kLeft, kLeft});
    EXPECT_EQ(editor.cursor(), 3u);
    // One column after the cursor for "é!" would be wrong: two characters, two columns.
    EXPECT_EQ(editor.redraw(), "\r> caf\xc3\xa9!\x1b[K\x1b[2D");
    typed(editor, {kRight, "\x7f"});
    EXPECT_EQ(editor.buffer(), "caf!");
    // A half-typed character is not drawn yet.
    EXPECT_EQ(editor.feed("\xe2").terminal, "");
    const std::string drawn = editor.feed("\x82\xac").terminal;
    EXPECT_EQ(drawn, editor.redraw());
    EXPECT_NE(drawn.find("caf\xe2\x82\xac!"), std::string::npos);
}

TEST(LineEditorTest, EnterSubmitsAndHistoryGoesUpAndDownKeepingTheDraft) {
    LineEditor editor("> ");
    auto out = editor.feed("one\rtwo\n");
    EXPECT_EQ(out.lines, (std::vector<std::string>{"one", "two"}));
    EXPECT_EQ(editor.buffer(), "");
    EXPECT_EQ(editor.history(), (std::vector<std::string>{"one", "two"}));
    typed(editor, {"dra", kUp});
    EXPECT_EQ(editor.buffer(), "two");
    typed(editor, {kUp, kUp});  // stops at the oldest
    EXPECT_EQ(editor.buffer(), "one");
    EXPECT_EQ(editor.cursor(), 3u);
    typed(editor, {kDown});
    EXPECT_EQ(editor.buffer(), "two");
    typed(editor, {kDown, kDown});  // back to the draft, and no further
    EXPECT_EQ(editor.buffer(), "dra");
    typed(editor, {"\x10", "\x0e"});  // Ctrl-P, Ctrl-N
    EXPECT_EQ(editor.buffer(), "dra");
    // An empty line is submitted (the caller skips it) but not kept; a repeat is kept once.
    out = editor.feed("\x15\rtwo\r");
    EXPECT_EQ(out.lines, (std::vector<std::string>{"", "two"}));
    EXPECT_EQ(editor.history(), (std::vector<std::string>{"one", "two"}));
}

TEST(LineEditorTest, CtrlDOnAnEmptyLineEndsCtrlCInterruptsAndNothingAfterCounts) {
    LineEditor editor("> ");
    auto out = editor.feed("ab\x01\x04");  // Ctrl-D on a non-empty line deletes under the cursor
    EXPECT_FALSE(out.endOfInput);
    EXPECT_EQ(editor.buffer(), "b");
    out = editor.feed("\x0b\x04more\r");  // Ctrl-K empties the line
    EXPECT_TRUE(out.endOfInput);
    EXPECT_TRUE(out.lines.empty());
    LineEditor other("> ");
    out = other.feed("x\x03y\r");
    EXPECT_TRUE(out.interrupted);
    EXPECT_TRUE(out.lines.empty());
}

TEST(LineEditorTest, IncomingTextIsPrintedAboveTheLineBeingTyped) {
    LineEditor editor("> ");
    typed(editor, {"half a sent", kLeft});
    // Clear the input line, print the message (line ends as CR LF), then the prompt and buffer again
    // with the cursor where it was.
    EXPECT_EQ(editor.printAbove("bob: hi\nthere"),
              "\r\x1b[Kbob: hi\r\nthere\r\n\r> half a sent\x1b[K\x1b[1D");
    EXPECT_EQ(editor.buffer(), "half a sent");
}

}  // namespace
}  // namespace parley::cli
