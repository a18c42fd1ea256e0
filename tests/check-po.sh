#!/bin/sh
# Every translatable string is in po/POTFILES.in and translated in bg.po:
# extract afresh, merge, and refuse untranslated or fuzzy messages.
set -eu
srcdir=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$srcdir"
for f in $(grep -rl --include='*.c' -E '\b(N?_|C_)\s?\("' src); do
  grep -qx "$f" po/POTFILES.in || { echo "$f has translatable strings but is not in po/POTFILES.in"; exit 1; }
done
xgettext --from-code=UTF-8 --keyword=_ --keyword=N_ --keyword=C_:1c,2 \
  --files-from=po/POTFILES.in --directory=. -o "$tmp/all.pot"
for lang in $(cat po/LINGUAS); do
  msgmerge -q --no-fuzzy-matching "po/$lang.po" "$tmp/all.pot" -o "$tmp/$lang.po"
  stats=$(msgfmt -c --statistics -o /dev/null "$tmp/$lang.po" 2>&1)
  case "$stats" in
    *untranslated*|*fuzzy*) echo "po/$lang.po is incomplete: $stats"; exit 1 ;;
  esac
  echo "$lang: $stats"
done
