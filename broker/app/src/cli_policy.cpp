// `conduit policy check|explain`.
#include "cli_context.hpp"
#include "conduit/policies/decision.hpp"
#include "conduit/store/access_repository.hpp"

namespace conduit::app {

void addPolicyCommands(CLI::App& app, CliContext& ctx, int& exitCode) {
  auto* policy = app.add_subcommand("policy", "Check policy files and explain decisions");
  policy->require_subcommand(1);

  struct Values {
    std::vector<std::string> files;
    std::string user, asset, protocol, at, action = "request";
    bool mfa = false;
  };
  auto values = std::make_shared<Values>();
  ctx.keepAlive(values);

  auto* check =
      policy->add_subcommand("check", "Validate policy files (errors name file, line, key)");
  check->add_option("files", values->files, "Policy files")->required()->check(CLI::ExistingFile);
  check->callback([&exitCode, values] {
    int bad = 0;
    std::size_t rules = 0;
    for (const auto& f : values->files) {
      auto set = policies::PolicySet::load({f});
      if (!set) {
        std::fprintf(stderr, "%s\n", set.error().message.c_str());
        ++bad;
      } else {
        rules += set->size();
      }
    }
    if (bad == 0) {
      // Also check them together: rule ids must be unique across the files loaded as one set.
      auto all = policies::PolicySet::load({values->files.begin(), values->files.end()});
      if (!all) {
        std::fprintf(stderr, "%s\n", all.error().message.c_str());
        ++bad;
      }
    }
    if (bad == 0) std::printf("%zu files ok, %zu rules\n", values->files.size(), rules);
    exitCode = bad == 0 ? 0 : 1;
  });

  auto* explain =
      policy->add_subcommand("explain", "Show the decision for a user, asset, protocol");
  ctx.addLocationOptions(*explain);
  explain->add_option("--user", values->user)->required();
  explain->add_option("--asset", values->asset)->required();
  explain->add_option("--protocol", values->protocol)->required();
  explain->add_option("--at", values->at, "When (default now)");
  explain->add_option("--action", values->action, "request or connect")
      ->check(CLI::IsMember({"request", "connect"}))
      ->capture_default_str();
  explain->add_flag("--mfa", values->mfa, "Assume the user passed a second factor");
  explain->callback([&ctx, &exitCode, values] {
    auto run = [&]() -> core::Status {
      auto proto = core::parseProtocol(values->protocol);
      if (!proto) {
        return core::fail(core::ErrorCode::invalid_argument,
                          "unknown protocol '" + values->protocol + "'");
      }
      core::TimePoint at = ctx.clock().now();
      if (!values->at.empty()) {
        auto t = core::parseTime(values->at);
        if (!t) return core::fail(core::ErrorCode::invalid_argument, "cannot read --at");
        at = *t;
      }
      auto db = ctx.database();
      if (!db) return db.error();
      store::AccessRepository repo(**db);
      auto user = repo.userByName(values->user);
      if (!user) return user.error();
      auto asset = repo.assetByName(values->asset);
      if (!asset) return asset.error();
      auto set = ctx.policySet();
      if (!set) return set.error();
      const policies::PolicyContext pc{
          *user,
          *asset,
          *proto,
          at,
          values->action == "connect" ? policies::Action::connect : policies::Action::request,
          values->mfa};
      std::vector<policies::TraceLine> trace;
      const auto decision = (*set)->explain(pc, trace);
      std::printf("%s", policies::formatExplanation(decision, trace).c_str());
      return core::Done{};
    };
    auto st = run();
    exitCode = st ? 0 : fail(st.error());
  });
}

}  // namespace conduit::app
