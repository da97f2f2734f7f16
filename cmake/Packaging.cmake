# The Debian package: install() rules for what it holds and CPack's DEB generator. tools/package
# builds it (Release, stripped); tests/package checks it. Layout (docs/operations.md,
# "Installing and running as a service"):
#   /usr/sbin/hotgate, /usr/bin/gwctl
#   /etc/hotgate/hotgate.yaml (conffile), /etc/logrotate.d/hotgate (conffile)
#   /lib/systemd/system/hotgate.service
#   /usr/share/bash-completion/completions/gwctl   (gwctl completion bash)
#   /usr/share/man/man8/hotgate.8.gz, /usr/share/man/man1/gwctl.1.gz   (help2man, from --help)
#   /usr/share/doc/hotgate/
# Depends: from dpkg-shlibdeps (the libraries the binaries link), plus adduser for postinst.

# `make install` and CPack's preinstall step install what is built, without building the whole
# tree first (tests, fuzzers): tools/package and tests/package build what the package holds.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(HOTGATE_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)
set(HOTGATE_GENERATED_PACKAGING_DIR ${PROJECT_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${HOTGATE_GENERATED_PACKAGING_DIR})

# Generated from the binaries themselves, so they cannot drift from the command lines: the bash
# completion (gwctl's CLI11 tree) and the man pages (help2man runs --help).
set(HOTGATE_COMPLETION ${HOTGATE_GENERATED_PACKAGING_DIR}/gwctl.bash-completion)
add_custom_command(OUTPUT ${HOTGATE_COMPLETION}
  COMMAND sh -c "\"$1\" completion bash > \"$2\"" sh $<TARGET_FILE:gwctl> ${HOTGATE_COMPLETION}
  DEPENDS gwctl
  COMMENT "gwctl completion bash"
  VERBATIM)
set(HOTGATE_GENERATED_PACKAGE_FILES ${HOTGATE_COMPLETION})

find_program(HOTGATE_HELP2MAN help2man)
if(HOTGATE_HELP2MAN)
  # hotgate_man_page(TARGET SECTION SUMMARY): <target>.<section>.gz from `<target> --help`.
  function(hotgate_man_page target section summary)
    set(page ${HOTGATE_GENERATED_PACKAGING_DIR}/${target}.${section})
    add_custom_command(OUTPUT ${page}.gz
      COMMAND ${HOTGATE_HELP2MAN} --no-info --no-discard-stderr --section=${section}
              --version-string=${HOTGATE_VERSION_LABEL} --name=${summary}
              --include=${HOTGATE_PACKAGING_DIR}/man-${target}.h2m
              --output=${page} $<TARGET_FILE:${target}>
      COMMAND gzip -9nf ${page}
      DEPENDS ${target} ${HOTGATE_PACKAGING_DIR}/man-${target}.h2m
      COMMENT "man page ${target}(${section})"
      VERBATIM)
    set(HOTGATE_GENERATED_PACKAGE_FILES ${HOTGATE_GENERATED_PACKAGE_FILES} ${page}.gz PARENT_SCOPE)
    install(FILES ${page}.gz DESTINATION share/man/man${section})
  endfunction()
  hotgate_man_page(hotgate 8 "HTTP gateway whose new versions take over live traffic without a failed request")
  hotgate_man_page(gwctl 1 "operate hotgate: status, hot upgrades, config, steering")
else()
  message(WARNING "help2man not found (tools/deps build installs it): the package has no man pages")
endif()
add_custom_target(hotgate_package_files ALL DEPENDS ${HOTGATE_GENERATED_PACKAGE_FILES})

install(TARGETS hotgate RUNTIME DESTINATION sbin)
install(TARGETS gwctl RUNTIME DESTINATION bin)
# Absolute: /etc and /lib/systemd are not under the package's /usr prefix.
install(FILES ${HOTGATE_PACKAGING_DIR}/hotgate.yaml DESTINATION /etc/hotgate)
install(FILES ${HOTGATE_PACKAGING_DIR}/logrotate DESTINATION /etc/logrotate.d RENAME hotgate)
install(FILES ${HOTGATE_PACKAGING_DIR}/hotgate.service DESTINATION /lib/systemd/system)
install(FILES ${HOTGATE_COMPLETION} DESTINATION share/bash-completion/completions RENAME gwctl)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/operations.md
              ${PROJECT_SOURCE_DIR}/docs/config.md
        DESTINATION share/doc/hotgate)

# The Debian version is the build version (x-hotgate-version, /status): "0.1.0-1a2b3c4d"
# becomes "0.1.0+1a2b3c4d" (no '-': the package has no Debian revision of its own).
string(REGEX REPLACE "[^A-Za-z0-9.+~]" "+" HOTGATE_DEB_VERSION "${HOTGATE_VERSION_LABEL}")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hotgate)
set(CPACK_PACKAGE_VERSION ${HOTGATE_DEB_VERSION})
set(CPACK_PACKAGE_CONTACT "hotgate maintainers <hotgate@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "HTTP gateway whose new versions take over live traffic without a failed request")
# CPack indents each further line of the description as the control file wants.
set(CPACK_PACKAGE_DESCRIPTION "hotgate is an HTTP gateway with a BPF data plane. A new binary or config
takes over live traffic beside the running process (gwctl upgrade, or systemctl reload hotgate),
which hands over its sockets and connections and exits.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # hotgate_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "logrotate")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${HOTGATE_PACKAGING_DIR}/conffiles ${HOTGATE_PACKAGING_DIR}/postinst
  ${HOTGATE_PACKAGING_DIR}/prerm ${HOTGATE_PACKAGING_DIR}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/package)
include(CPack)
