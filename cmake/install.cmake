# Installation: headers, static + shared library, pkg-config file, CMake package (winvmem::).
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/include/winvmem/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/winvmem)

# Consumers of the static library see WVM_STATIC (vm.h then marks the API default-visible).
target_compile_definitions(winvmem_static INTERFACE $<INSTALL_INTERFACE:WVM_STATIC>)
install(TARGETS winvmem winvmem_static EXPORT winvmemTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Development
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(WVM_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/winvmem)
install(EXPORT winvmemTargets NAMESPACE winvmem:: DESTINATION ${WVM_CMAKE_DIR}
        FILE winvmemTargets.cmake)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/winvmemConfig.cmake.in
  ${PROJECT_BINARY_DIR}/winvmemConfig.cmake INSTALL_DESTINATION ${WVM_CMAKE_DIR})
# 0.x: a minor release may break compatibility (CHANGELOG.md), so 0.1 satisfies only 0.1.*
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(WVM_COMPAT SameMinorVersion)
else()
  set(WVM_COMPAT SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/winvmemConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${WVM_COMPAT})
install(FILES ${PROJECT_BINARY_DIR}/winvmemConfig.cmake
              ${PROJECT_BINARY_DIR}/winvmemConfigVersion.cmake DESTINATION ${WVM_CMAKE_DIR})

# pkg-config: `pkg-config --libs winvmem` (shared) or `--static` (static archive + pthread).
# The prefix is relative to the .pc file, so that `cmake --install --prefix X` stays usable.
if(NOT IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  string(REGEX REPLACE "[^/]+" ".." up "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
  set(WVM_PC_PREFIX "\${pcfiledir}/${up}")
else()
  set(WVM_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(WVM_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(WVM_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(WVM_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(WVM_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/winvmem.pc.in ${PROJECT_BINARY_DIR}/winvmem.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/winvmem.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# Documentation under share/doc/winvmem: README, CHANGELOG, LICENSE, the guides of doc/, the
# measured figures (bench/RESULTS.md) and the differential test's findings, the example
# programs, the `winvmem run` scripts and the op language they are written in. What the README
# links to keeps its place relative to the README (doc/, bench/, tests/diff/, tests/lin/), so every link of
# the installed copy works. The manual pages name these installed paths; tools/check-install.sh
# checks that each exists and that every relative link of an installed .md file resolves.
set(S ${PROJECT_SOURCE_DIR})
install(FILES ${S}/README.md ${S}/CHANGELOG.md ${S}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${S}/doc/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/doc
        FILES_MATCHING PATTERN "*.md" PATTERN man EXCLUDE)
install(FILES ${S}/bench/RESULTS.md DESTINATION ${CMAKE_INSTALL_DOCDIR}/bench)
install(FILES ${S}/tests/diff/divergences.md ${S}/tests/diff/known_wine_differences.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/tests/diff)
install(FILES ${S}/tests/lin/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}/tests/lin)
install(DIRECTORY ${S}/examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples
        FILES_MATCHING PATTERN "*.c" PATTERN "*.md")
install(DIRECTORY ${S}/tools/winvmem/scripts/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/scripts
        FILES_MATCHING PATTERN "*.ops")
install(FILES ${S}/tests/diff/regress.ops DESTINATION ${CMAKE_INSTALL_DOCDIR}/scripts)
install(FILES ${S}/tools/oplang/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME oplang.md)

# Manual pages (doc/man/*.scd; needs scdoc).
add_subdirectory(${PROJECT_SOURCE_DIR}/doc/man ${PROJECT_BINARY_DIR}/doc/man)
