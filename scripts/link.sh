#!/bin/sh
# The linker cargo calls on Linux x86-64 (.cargo/config.toml): the C compiler driving mold where mold is
# installed (scripts/install_system_deps.sh installs it; linking the test binaries is a large share of a build),
# else the system's default linker, so a machine without mold still builds.
if command -v ld.mold >/dev/null 2>&1; then
  exec cc -fuse-ld=mold "$@"
fi
exec cc "$@"
