#!/bin/bash
# The module graph of src/ has no cycle (doc/design.md, "Modules"). A module
# is src/NAME.c with include/corad/NAME.h, or a folder src/NAME/ (a context,
# or the runtime's handlers) with the headers in it and those of
# include/corad named NAME.h; it depends on the modules whose headers its
# files include. tsort(1) finds a cycle if there is one.
set -u
cd "${CORAD_SRCDIR:?}" || { echo "Bail out! no source directory"; exit 1; }
echo 1..4

dirs=$(cd src && ls -d */ | tr -d /)
module_of() {	# file -> module
	local f=$1 base d
	case $f in
	src/*/*.[ch]) base=${f#src/}; echo "${base%%/*}" ;;
	src/*.c) base=${f#src/}; echo "${base%.c}" ;;
	include/corad/*.h)
		base=${f#include/corad/}
		base=${base%.h}
		for d in $dirs; do
			if [[ $base == "$d" || $base == "${d}_"* ]]; then
				echo "$d"
				return
			fi
		done
		echo "$base" ;;
	esac
}

edges=$(for f in src/*.c src/*/*.[ch] include/corad/*.h; do
	m=$(module_of "$f")
	{
		sed -n 's/^#include "corad\/\([a-z0-9_]*\)\.h".*/include\/corad\/\1.h/p' "$f"
		sed -n 's/^#include "\([a-z0-9_]*\)\/[a-z0-9_]*\.h".*/src\/\1\/x.h/p' "$f" |
			grep -v '^src/corad/'
	} | while read -r h; do
		t=$(module_of "$h")
		[[ $t != "$m" ]] && echo "$m $t"
	done
done | sort -u)
n=$(wc -l <<<"$edges")
if [[ $n -gt 50 ]]; then
	echo "ok 1 - $n dependencies between modules found"
else
	echo "not ok 1 - only $n dependencies between modules found: the scan is broken"
fi

if out=$(tsort <<<"$edges" 2>&1 >/dev/null) && [[ -z $out ]]; then
	echo "ok 2 - no module of src/ depends on itself through others"
else
	echo "not ok 2 - the modules of src/ include each other in a circle"
	sed 's/^/# /' <<<"$out"
fi

# The runtime knows no context by name: only the list of contexts does. A
# context is a folder of src/ with a context.c.
leaks=
for c in src/*/context.c; do
	d=${c#src/}
	d=${d%/context.c}
	leaks+=$(grep -l "#include \"$d/" src/*.c src/*/*.c | grep -v "^src/$d/\|^src/contexts\.c$")
done
if [[ -z $leaks ]]; then
	echo "ok 3 - only src/contexts.c includes a context's headers"
else
	echo "not ok 3 - files outside the contexts include them"
	sed 's/^/# /' <<<"$leaks"
fi

# Comments cite doc/design.md by section name, and every section they name
# must exist. The documents the code may point at are the reference ones:
# doc/design.md, doc/install.md and the manual; any other file under doc/ is
# reported. No file, the documents included, names a Markdown document
# that is not one of the repository's own: corad describes itself.
missing=$(python3 - <<'PY'
import glob, re
def sections(p):
    return {l[3:].strip() for l in open(p) if l.startswith("## ")}
docs = {"design": sections("doc/design.md")}
cited = {"design.md", "install.md", "corad.8"}
for f in sorted(glob.glob("src/**/*.[ch]", recursive=True) + glob.glob("include/corad/*.h") +
                glob.glob("tests/**/*.sh", recursive=True) + glob.glob("tests/**/*.[ch]", recursive=True) +
                glob.glob("sql/*.sql") + ["Makefile.am"]):
    flat = re.sub(r"\n\s*(\*|#|//|--)\s*", " ", open(f, errors="replace").read())
    for other in sorted(set(re.findall(r"\bdoc/([\w.-]+\.\w+)", flat)) - cited):
        print(f"{f}: cites doc/{other}; cite doc/design.md or the manual")
    for m in re.finditer(r'(design)\.md, ((?:"[^"]+"(?:,? (?:and )?)?)+)', flat):
        for name in re.findall(r'"([^"]+)"', m.group(2)):
            if name not in docs[m.group(1)]:
                print(f"{f}: doc/{m.group(1)}.md has no section \"{name}\"")
own = {p.rsplit("/", 1)[-1] for p in glob.glob("*.md") + glob.glob("doc/*.md")}
for f in sorted(glob.glob("src/**/*.[ch]", recursive=True) + glob.glob("include/corad/*.h") +
                glob.glob("tests/**/*.sh", recursive=True) + glob.glob("sql/*.sql") +
                glob.glob("doc/*") + glob.glob("bench/*") + ["README.md", "Makefile.am"]):
    for n, l in enumerate(open(f, errors="replace"), 1):
        for name in set(re.findall(r"\b([\w-]+\.md)\b", l)) - own:
            print(f"{f}:{n}: names {name}, not a document of this repository;"
                  " cite doc/design.md or the manual")
PY
)
if [[ -z $missing ]]; then
	echo "ok 4 - comments cite the reference documents only, and every section they name exists"
else
	echo "not ok 4 - comments cite other documents, or sections that do not exist"
	sed 's/^/# /' <<<"$missing"
fi
