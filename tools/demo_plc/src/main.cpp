// `conduit-demo-plc`: a simulated Modbus/TCP PLC for demos and tests, until SIGINT/SIGTERM.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "conduit/demo_plc/demo_plc.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "Conduit demo PLC: a Modbus/TCP server (libmodbus) with holding register i = "
      "1000 + i, input register i = 2000 + i"};
  conduit::demo_plc::DemoPlcOptions options;
  // 1502: Modbus's 502 needs privileges; 1502 is the usual unprivileged stand-in.
  options.port = 1502;
  app.add_option("--address", options.address, "Address to listen on")->capture_default_str();
  app.add_option("--port", options.port, "TCP port; 0 picks a free one")->capture_default_str();
  app.add_option("--count", options.count, "Registers and coils of each kind")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  // Signals are taken synchronously by this thread (sigwait), never in a handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto plc = conduit::demo_plc::DemoPlc::start(options);
  if (!plc) {
    std::fprintf(stderr, "conduit-demo-plc: %s\n", plc.error().message.c_str());
    return 1;
  }
  // On stderr, like every log line: stdout stays free for a supervisor's use.
  std::fprintf(stderr, "conduit-demo-plc listening on %s:%u\n", options.address.c_str(),
               static_cast<unsigned>((*plc)->port()));
  int received = 0;
  sigwait(&signals, &received);
  (*plc)->stop();
  return 0;
}
