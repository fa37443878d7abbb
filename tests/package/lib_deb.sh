# shellcheck shell=bash disable=SC2034
# lib_deb.sh: building corad's Debian package for the tests of
# tests/package/, sourced after tests/e2e/lib.sh. They install it on this
# machine, so they need root and a machine without corad installed.
need_tools dpkg-buildpackage dpkg
[[ $(id -u) == 0 ]] || bail "installing a package needs root"
if dpkg -s corad >/dev/null 2>&1; then
	bail "a corad package is installed already: these tests install and purge their own"
fi

# build_deb: dpkg-buildpackage on a copy of the tree as it is (tracked and
# new files, not build output); sets VERSION, ARCH and DEB, and $? to its
# status. The unit tests ran in this build already: the package skips them.
build_deb() {
	mkdir -p "$T/src/corad"
	if git -C "$CORAD_SRCDIR" rev-parse >/dev/null 2>&1; then
		(cd "$CORAD_SRCDIR" && git ls-files --cached --others --exclude-standard -z |
			xargs -0 cp --parents -t "$T/src/corad")
	else
		(cd "$CORAD_SRCDIR" && tar --exclude=./build --exclude=./build-asan \
			--exclude='./corad-*' -cf - .) | tar -C "$T/src/corad" -xf -
	fi
	VERSION=$(sed -n '1s/^corad (\([^)]*\)).*/\1/p' "$T/src/corad/debian/changelog")
	ARCH=$(dpkg --print-architecture)
	DEB=$T/src/corad_${VERSION}_${ARCH}.deb
	(cd "$T/src/corad" && DEB_BUILD_OPTIONS=nocheck timeout 900 dpkg-buildpackage -us -uc -b) \
		>"$T/build.log" 2>&1
}
