# policies/: the policy language, the decision engine, the shipped presets and the examples in
# docs/policies.md.
conduit_test(test_policies unit
  SOURCES
    policies/glob_test.cpp
    policies/parse_test.cpp
    policies/decide_test.cpp
    policies/limits_test.cpp
    policies/schedule_test.cpp
    policies/presets_test.cpp
    policies/docs_test.cpp
  LIBS conduit_policies)
