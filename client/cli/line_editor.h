#pragma once
// The line editor of `parley chat` on a terminal: pure logic on bytes, so that tests can feed it key
// sequences and read back the buffer and what it writes to the terminal. The caller owns the terminal
// (raw mode, reading, writing); the editor only says what to write.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace parley::cli {

class LineEditor {
  public:
    explicit LineEditor(std::string prompt);

    /// What feeding some bytes produced.
    struct Output {
        std::string terminal;            ///< to write to the terminal, as is
        std::vector<std::string> lines;  ///< lines the user submitted with Enter, in order
        bool endOfInput = false;         ///< Ctrl-D on an empty line
        bool interrupted = false;        ///< Ctrl-C
    };
    /// Feeds bytes read from the terminal. An escape sequence split across calls is completed by the
    /// next call. Keys: left/right (and Ctrl-B/F), Home/End (and Ctrl-A/E), Backspace, Delete, Ctrl-U
    /// (kill to the start), Ctrl-K (kill to the end), Ctrl-W (kill the word before the cursor), up/down
    /// (and Ctrl-P/N) through the history, Enter, Ctrl-D, Ctrl-C, Ctrl-L (redraw).
    Output feed(std::string_view bytes);

    /// Prints `text` above the line being typed without garbling it: clears the input line, writes
    /// the text and a line end, then draws the prompt, the buffer and the cursor again.
    std::string printAbove(std::string_view text) const;
    /// The prompt and the buffer, with the cursor where it belongs, on a cleared line.
    std::string redraw() const;

    const std::string& buffer() const { return buffer_; }
    /// The cursor as a byte offset into buffer(); always on a UTF-8 character boundary.
    std::size_t cursor() const { return cursor_; }
    const std::vector<std::string>& history() const { return history_; }

  private:
    void key(char byte, Output& out);
    void escape(std::string_view sequence, Output& out);
    void submit(Output& out);
    void recall(std::size_t index);
    std::size_t previousBoundary(std::size_t from) const;
    std::size_t nextBoundary(std::size_t from) const;

    std::string prompt_;
    std::string buffer_;
    std::size_t cursor_ = 0;
    std::string pendingEscape_;  ///< an escape sequence not complete yet
    std::vector<std::string> history_;
    std::size_t historyIndex_ = 0;  ///< == history_.size(): the line being typed, not a recalled one
    std::string draft_;             ///< the line being typed while browsing the history
};

}  // namespace parley::cli
