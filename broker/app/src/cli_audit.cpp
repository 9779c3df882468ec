// `conduit audit verify|export`: the hash-chained audit trail for auditors and SIEMs.
#include <fstream>

#include "cli_context.hpp"
#include "conduit/store/audit_log.hpp"

namespace conduit::app {

namespace {}  // namespace

void addAuditCommands(CLI::App& app, CliContext& ctx, int& exitCode) {
  auto* audit = app.add_subcommand("audit", "Verify and export the audit trail");
  audit->require_subcommand(1);
  ctx.addLocationOptions(*audit);

  audit->add_subcommand("verify", "Recompute the hash chain; names the first broken event")
      ->callback([&ctx, &exitCode] {
        auto db = ctx.database();
        if (!db) {
          exitCode = fail(db.error());
          return;
        }
        store::AuditLog log(**db);
        auto count = log.count();
        auto result = log.verify();
        if (!result || !count) {
          exitCode = fail(result ? count.error() : result.error());
          return;
        }
        if (*result) {
          std::printf("audit chain BROKEN at event %lld: %s\n",
                      static_cast<long long>((*result)->seq), (*result)->why.c_str());
          exitCode = 4;  // distinct from an error: the check ran and found tampering
          return;
        }
        std::printf("audit chain intact: %lld events\n", static_cast<long long>(*count));
        exitCode = 0;
      });

  struct Values {
    std::string since, until, format = "jsonl", output;
  };
  auto values = std::make_shared<Values>();
  ctx.keepAlive(values);
  auto* exp = audit->add_subcommand("export", "Write events as JSON lines (for a SIEM)");
  exp->add_option("--since", values->since, "Start time (inclusive)");
  exp->add_option("--until", values->until, "End time (exclusive)");
  exp->add_option("--format", values->format, "jsonl")->check(CLI::IsMember({"jsonl"}));
  exp->add_option("--output", values->output, "File to write (default: standard output)");
  exp->callback([&ctx, &exitCode, values] {
    std::optional<core::TimePoint> since, until;
    for (auto [text, out] :
         {std::pair{&values->since, &since}, std::pair{&values->until, &until}}) {
      if (text->empty()) continue;
      *out = core::parseTime(*text);
      if (!*out) {
        exitCode = fail({core::ErrorCode::invalid_argument, "cannot read time '" + *text + "'"});
        return;
      }
    }
    auto db = ctx.database();
    if (!db) {
      exitCode = fail(db.error());
      return;
    }
    auto events = store::AuditLog(**db).list(since, until);
    if (!events) {
      exitCode = fail(events.error());
      return;
    }
    std::ofstream file;
    if (!values->output.empty()) {
      file.open(values->output, std::ios::trunc);
      if (!file) {
        exitCode = fail({core::ErrorCode::unavailable, "cannot write " + values->output});
        return;
      }
    }
    std::ostream& out = values->output.empty() ? std::cout : file;
    for (const auto& e : *events) out << store::auditEventJsonLine(e) << '\n';
    out.flush();
    if (!out) {
      exitCode = fail({core::ErrorCode::io, "writing the export failed"});
      return;
    }
    if (!values->output.empty()) {
      std::fprintf(stderr, "exported %zu events to %s\n", events->size(), values->output.c_str());
    }
    exitCode = 0;
  });
}

}  // namespace conduit::app
