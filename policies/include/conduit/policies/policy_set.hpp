#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/core/result.hpp"
#include "conduit/policies/decision.hpp"
#include "conduit/policies/rule.hpp"

namespace conduit::policies {

/// An ordered list of rules. The first rule that matches a context decides; when none does,
/// access is denied ("default-deny"). Immutable once loaded, so one set may be shared by
/// threads.
class PolicySet {
 public:
  /// An empty set: denies everything.
  PolicySet() = default;

  /// Parses one TOML document; errors are core::Error{invalid_argument,
  /// "FILE:LINE: rule 'id': key ... why"}. Never throws.
  static core::Result<PolicySet> parse(std::string_view text, const std::string& sourceName);

  /// Loads and concatenates files in the given order (rule ids must be unique across files).
  /// Fails with unavailable if a file cannot be read, invalid_argument if one does not parse.
  static core::Result<PolicySet> load(const std::vector<std::filesystem::path>& files);

  /// The decision for ctx.
  Decision decide(const PolicyContext& ctx) const;

  /// decide() plus the reasoning: each rule considered, matched or not and why. Replaces the
  /// contents of `trace`.
  Decision explain(const PolicyContext& ctx, std::vector<TraceLine>& trace) const;

  /// The number of rules.
  std::size_t size() const { return rules_.size(); }

  /// The rules in evaluation order.
  const std::vector<Rule>& rules() const { return rules_; }

 private:
  explicit PolicySet(std::vector<Rule> rules) : rules_(std::move(rules)) {}
  Decision evaluate(const PolicyContext& ctx, std::vector<TraceLine>* trace) const;

  std::vector<Rule> rules_;
};

}  // namespace conduit::policies
