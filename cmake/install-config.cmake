# SPDX-License-Identifier: MIT
# install-config.cmake - included by the top-level CMakeLists.txt after
# every target exists.  It adds what the queue tools and "cmake --install"
# need beyond the per-directory rules:
#
#   - mailq: a symbolic link to postqueue (which acts as "postqueue -p"
#     when called mailq), in the build tree and in PREFIX/sbin;
#   - the systemd units and the SysV init script, with the installed
#     paths filled in, under PREFIX/share/doc/postino/examples (copy them
#     to /etc/systemd/system or /etc/init.d yourself: an install never
#     enables a service);
#   - the configuration directory: created with main.cf, master.cf,
#     aliases and dynamicmaps.cf when those files are absent, never
#     overwriting a file that exists (the samples stay in
#     share/doc/postino/examples, not in the configuration directory);
#   - scripts/chroot-setup.sh as PREFIX/libexec/postino/chroot-setup, and
#     docs/walkthrough.md in PREFIX/share/doc/postino.
#
# The configuration directory follows core/util/paths.c: /etc/postino
# for a prefix of /usr or /, else PREFIX/etc/postino.  DESTDIR is
# honoured.  Set POSTINO_INSTALL_CONFIG=OFF to skip that step (packages
# that ship the configuration as conffiles).

option(POSTINO_INSTALL_CONFIG
	"cmake --install creates the configuration directory (never overwrites)" ON)

if(TARGET postqueue)
	add_custom_target(mailq-link ALL
		COMMAND ${CMAKE_COMMAND} -E create_symlink postqueue
			${CMAKE_BINARY_DIR}/${CMAKE_INSTALL_SBINDIR}/mailq
		VERBATIM)
	add_dependencies(mailq-link postqueue)
	install(CODE "
		set(sbin \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SBINDIR}\")
		file(REMOVE \"\${sbin}/mailq\")
		file(CREATE_LINK postqueue \"\${sbin}/mailq\" SYMBOLIC)
		message(STATUS \"Installing: \${sbin}/mailq -> postqueue\")
	")
endif()

# Service files: @SBINDIR@ and @CONFIG_DIR@ are filled in at install time
# (the prefix is only known then).
install(CODE "
	set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
	if(prefix STREQUAL \"/usr\" OR prefix STREQUAL \"/\")
		set(POSTINO_CONFIG_DIR /etc/postino)
	else()
		set(POSTINO_CONFIG_DIR \"\${prefix}/etc/postino\")
	endif()
	set(POSTINO_SBIN_DIR \"\${prefix}/${CMAKE_INSTALL_SBINDIR}\")
	set(ex \"\$ENV{DESTDIR}\${prefix}/${CMAKE_INSTALL_DATADIR}/doc/postino/examples\")
	foreach(f postino.service postino@.service init.d-postino)
		file(READ \"${CMAKE_SOURCE_DIR}/etc/\${f}\" text)
		string(REPLACE \"/usr/sbin/\" \"\${POSTINO_SBIN_DIR}/\" text \"\${text}\")
		string(REPLACE \"/etc/postino\" \"\${POSTINO_CONFIG_DIR}\" text \"\${text}\")
		string(REPLACE \"/usr/share/doc/postino\" \"\${prefix}/${CMAKE_INSTALL_DATADIR}/doc/postino\" text \"\${text}\")
		file(WRITE \"\${ex}/\${f}\" \"\${text}\")
		message(STATUS \"Installing: \${ex}/\${f}\")
	endforeach()
	file(CHMOD \"\${ex}/init.d-postino\" PERMISSIONS OWNER_READ OWNER_WRITE
		OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
")

install(FILES ${CMAKE_SOURCE_DIR}/docs/walkthrough.md
	DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/postino)
install(PROGRAMS ${CMAKE_SOURCE_DIR}/scripts/chroot-setup.sh
	DESTINATION ${POSTINO_LIBEXECDIR} RENAME chroot-setup)

if(POSTINO_INSTALL_CONFIG)
	install(CODE "
		set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
		if(prefix STREQUAL \"/usr\" OR prefix STREQUAL \"/\")
			set(conf \"\$ENV{DESTDIR}/etc/postino\")
		else()
			set(conf \"\$ENV{DESTDIR}\${prefix}/etc/postino\")
		endif()
		if(NOT IS_DIRECTORY \"\${conf}\")
			file(MAKE_DIRECTORY \"\${conf}\")
			file(CHMOD \"\${conf}\" DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE
				OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
			message(STATUS \"Created configuration directory \${conf}\")
		endif()
		foreach(f main.cf master.cf aliases dynamicmaps.cf)
			if(EXISTS \"\${conf}/\${f}\" OR IS_SYMLINK \"\${conf}/\${f}\")
				message(STATUS \"Kept: \${conf}/\${f} (exists; the sample is in share/doc/postino/examples)\")
			else()
				file(COPY_FILE \"${CMAKE_SOURCE_DIR}/etc/\${f}\" \"\${conf}/\${f}\")
				file(CHMOD \"\${conf}/\${f}\" PERMISSIONS OWNER_READ OWNER_WRITE
					GROUP_READ WORLD_READ)
				message(STATUS \"Installing: \${conf}/\${f}\")
			endif()
		endforeach()
	")
endif()
