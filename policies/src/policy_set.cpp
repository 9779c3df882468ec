#include "conduit/policies/policy_set.hpp"

#include "conduit/policies/glob.hpp"
#include "conduit/policies/schedule.hpp"
#include "text.hpp"

namespace conduit::policies {

namespace {

using text::list;

std::string quoted(const std::string& s) {
  return "'" + s + "'";
}
std::string same(const std::string& s) {
  return s;
}
std::string roleText(core::Role r) {
  return std::string(core::roleName(r));
}
std::string protocolText(core::Protocol p) {
  return std::string(core::protocolName(p));
}
std::string criticalityText(core::Criticality c) {
  return std::string(core::criticalityName(c));
}
std::string actionText(Action a) {
  return std::string(actionName(a));
}

/// Checks a rule's conditions against a context. When `why` is set it receives the first
/// condition that failed, or the list of conditions met; decide() passes null and pays for no
/// text.
class RuleMatcher {
 public:
  RuleMatcher(const Rule& rule, const PolicyContext& ctx, std::string* why)
      : rule_(rule), ctx_(ctx), why_(why) {}

  /// True if every condition except the schedule holds.
  bool conditionsHold() {
    const RuleMatch& m = rule_.match;
    if (!m.actions.empty() && !m.actions.contains(ctx_.action)) {
      return miss([&] {
        return "action " + actionText(ctx_.action) + " not in " + list(m.actions, actionText);
      });
    }
    met([&] { return "action " + actionText(ctx_.action); }, !m.actions.empty());
    if (!m.protocols.empty() && !m.protocols.contains(ctx_.protocol)) {
      return miss([&] {
        return "protocol " + protocolText(ctx_.protocol) + " not in " +
               list(m.protocols, protocolText);
      });
    }
    met([&] { return "protocol " + protocolText(ctx_.protocol); }, !m.protocols.empty());
    if (!m.roles.empty()) {
      const core::Role* held = nullptr;
      for (const core::Role& r : m.roles) {
        if (ctx_.user.hasRole(r)) {
          held = &r;
          break;
        }
      }
      if (held == nullptr) {
        return miss([&] {
          return "user " + quoted(ctx_.user.username) + " has none of the roles " +
                 list(m.roles, roleText);
        });
      }
      met([&] { return "role " + roleText(*held); }, true);
    }
    if (!m.users.empty() && !m.users.contains(ctx_.user.username)) {
      return miss(
          [&] { return "user " + quoted(ctx_.user.username) + " not in " + list(m.users, same); });
    }
    met([&] { return "user " + ctx_.user.username; }, !m.users.empty());
    if (!m.vendors.empty() && !m.vendors.contains(ctx_.user.vendorName)) {
      return miss([&] {
        return ctx_.user.vendorName.empty()
                   ? "user " + quoted(ctx_.user.username) + " belongs to no vendor, rule needs " +
                         list(m.vendors, same)
                   : "vendor " + quoted(ctx_.user.vendorName) + " not in " + list(m.vendors, same);
      });
    }
    met([&] { return "vendor " + ctx_.user.vendorName; }, !m.vendors.empty());
    if (!m.assets.empty()) {
      const std::string* hit = nullptr;
      for (const auto& pattern : m.assets) {
        if (globMatch(pattern, ctx_.asset.name)) {
          hit = &pattern;
          break;
        }
      }
      if (hit == nullptr) {
        return miss([&] {
          return "asset " + quoted(ctx_.asset.name) + " matches none of " + list(m.assets, same);
        });
      }
      met([&] { return "asset " + ctx_.asset.name + " ~ " + *hit; }, true);
    }
    if (!m.sites.empty() && !m.sites.contains(ctx_.asset.site)) {
      return miss(
          [&] { return "site " + quoted(ctx_.asset.site) + " not in " + list(m.sites, same); });
    }
    met([&] { return "site " + ctx_.asset.site; }, !m.sites.empty());
    if (!m.zones.empty() && !m.zones.contains(ctx_.asset.zone)) {
      return miss(
          [&] { return "zone " + quoted(ctx_.asset.zone) + " not in " + list(m.zones, same); });
    }
    met([&] { return "zone " + ctx_.asset.zone; }, !m.zones.empty());
    if (!m.criticality.empty() && !m.criticality.contains(ctx_.asset.criticality)) {
      return miss([&] {
        return "criticality " + criticalityText(ctx_.asset.criticality) + " not in " +
               list(m.criticality, criticalityText);
      });
    }
    met([&] { return "criticality " + criticalityText(ctx_.asset.criticality); },
        !m.criticality.empty());
    if (!m.tags.empty()) {
      const std::string* hit = nullptr;
      for (const auto& tag : m.tags) {
        if (ctx_.asset.tags.contains(tag)) {
          hit = &tag;
          break;
        }
      }
      if (hit == nullptr) {
        return miss([&] {
          return "asset " + quoted(ctx_.asset.name) + " has none of the tags " + list(m.tags, same);
        });
      }
      met([&] { return "tag " + *hit; }, true);
    }
    return true;
  }

  /// Records a condition that held (only when tracing and the rule actually has it).
  template <typename Text>
  void met(Text text, bool present) {
    if (why_ != nullptr && present) {
      *why_ += why_->empty() ? "" : ", ";
      *why_ += text();
    }
  }

  /// Records the condition that failed and returns false.
  template <typename Text>
  bool miss(Text text) {
    if (why_ != nullptr) *why_ = text();
    return false;
  }

 private:
  const Rule& rule_;
  const PolicyContext& ctx_;
  std::string* why_;
};

std::string who(const PolicyContext& ctx) {
  std::string out = quoted(ctx.user.username);
  if (!ctx.user.vendorName.empty()) out += " (vendor " + ctx.user.vendorName + ")";
  return out;
}

}  // namespace

Decision PolicySet::decide(const PolicyContext& ctx) const {
  return evaluate(ctx, nullptr);
}

Decision PolicySet::explain(const PolicyContext& ctx, std::vector<TraceLine>& trace) const {
  trace.clear();
  return evaluate(ctx, &trace);
}

Decision PolicySet::evaluate(const PolicyContext& ctx, std::vector<TraceLine>* trace) const {
  const bool tracing = trace != nullptr;
  std::string why;
  for (const Rule& rule : rules_) {
    why.clear();
    RuleMatcher matcher(rule, ctx, tracing ? &why : nullptr);
    if (!matcher.conditionsHold()) {
      if (tracing) trace->push_back({rule.id, false, why});
      continue;
    }
    if (rule.schedule) {
      const auto inside = inSchedule(*rule.schedule, ctx.at);
      if (!inside) {
        // Fail closed: a schedule that cannot be evaluated (time-zone data gone since the
        // policy was loaded) must not let a request through or skip a deny rule.
        if (tracing) trace->push_back({rule.id, false, inside.error().message});
        return Deny{rule.id, "cannot evaluate the schedule of rule '" + rule.id +
                                 "': " + inside.error().message};
      }
      if (!*inside) {
        if (tracing) {
          trace->push_back(
              {rule.id, false, "outside schedule " + describeSchedule(*rule.schedule)});
        }
        continue;
      }
      matcher.met([&] { return "within schedule " + describeSchedule(*rule.schedule); }, true);
    }
    if (tracing && why.empty()) why = "matches any request";

    if (rule.effect == Effect::deny) {
      if (tracing) trace->push_back({rule.id, true, why + "; denies"});
      std::string reason = !rule.reason.empty()        ? rule.reason
                           : !rule.description.empty() ? rule.description
                                                       : "denied by rule '" + rule.id + "'";
      return Deny{rule.id, std::move(reason)};
    }
    // MFA is checked when access is used, not when it is asked for: a request may be filed
    // from a session without a second factor, but no session opens without one.
    if (ctx.action == Action::connect && rule.limits.mfaRequired && !ctx.mfaSatisfied) {
      if (tracing) trace->push_back({rule.id, true, why + "; needs MFA"});
      return NeedMore{rule.id, "mfa"};
    }
    if (tracing) trace->push_back({rule.id, true, why + "; allows"});
    std::string explanation = "rule '" + rule.id + "' (" + rule.source + ") allows " + who(ctx) +
                              " " + std::string(core::protocolName(ctx.protocol)) + " to " +
                              quoted(ctx.asset.name) + ": " +
                              text::describeLimits(rule.limits, ctx.protocol);
    return Allow{rule.id, std::move(explanation), rule.limits};
  }
  if (tracing) trace->push_back({std::string(kDefaultDenyId), true, "no rule matched; denies"});
  return Deny{std::string(kDefaultDenyId),
              "no rule allows " + who(ctx) + " " + protocolText(ctx.protocol) + " to " +
                  quoted(ctx.asset.name) + " (criticality " +
                  criticalityText(ctx.asset.criticality) + ", " + actionText(ctx.action) +
                  "); access is denied by default"};
}

}  // namespace conduit::policies
