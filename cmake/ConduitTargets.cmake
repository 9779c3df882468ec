# Flags applied to project targets only (third-party headers come in as system headers).

set(CONDUIT_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wnon-virtual-dtor -Woverloaded-virtual -Wimplicit-fallthrough -Werror)

set(CONDUIT_SANITIZER_FLAGS)
if(CONDUIT_SANITIZE)
  set(CONDUIT_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined
      -fno-omit-frame-pointer)
endif()

set(CONDUIT_HARDEN_COMPILE)
set(CONDUIT_HARDEN_LINK)
if(CONDUIT_HARDEN)
  # Release hardening: stack protector, fortified libc calls, PIE and full RELRO.
  set(CONDUIT_HARDEN_COMPILE -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
      -fstack-clash-protection -fcf-protection)
  set(CONDUIT_HARDEN_LINK -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack)
endif()

# Applies the project's warning, sanitizer and hardening flags to TARGET.
function(conduit_target_defaults target)
  target_compile_options(${target} PRIVATE ${CONDUIT_WARNINGS} ${CONDUIT_SANITIZER_FLAGS}
                                           ${CONDUIT_HARDEN_COMPILE})
  target_link_options(${target} PRIVATE ${CONDUIT_SANITIZER_FLAGS} ${CONDUIT_HARDEN_LINK})
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()

# Declares a module library conduit_<name> from the sources given, with its public include dir.
function(conduit_module name)
  add_library(conduit_${name} STATIC ${ARGN})
  target_include_directories(conduit_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  conduit_target_defaults(conduit_${name})
endfunction()
