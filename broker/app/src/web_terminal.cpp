#include "web_terminal.hpp"

#include "conduit/ssh/web_shell.hpp"

namespace conduit::app {

namespace {

class WebShellSession final : public portal::TerminalSession {
 public:
  explicit WebShellSession(std::unique_ptr<ssh::WebShell> shell) : shell_(std::move(shell)) {}
  void input(std::string_view bytes) override { shell_->input(bytes); }
  void resize(int cols, int rows) override { shell_->resize(cols, rows); }
  void close(const std::string& reason) override { shell_->close(reason); }
  std::string sessionId() const override { return shell_->sessionId(); }

 private:
  std::unique_ptr<ssh::WebShell> shell_;
};

}  // namespace

core::Result<std::unique_ptr<portal::TerminalSession>> WebTerminalLauncher::start(
    const std::string& user, const std::string& asset, const std::string& source, int cols,
    int rows, portal::TerminalIo io) {
  auto shell =
      ssh::WebShell::start(backend_, {user, asset, source, cols, rows},
                           {std::move(io.output), std::move(io.notice), std::move(io.closed)});
  if (!shell) return shell.error();
  return std::unique_ptr<portal::TerminalSession>(
      std::make_unique<WebShellSession>(std::move(*shell)));
}

}  // namespace conduit::app
