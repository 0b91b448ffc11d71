# Sourced by the install-*.sh scripts: a pinned Python package in its own virtualenv, installed
# once into a cache outside the clone (kept across clones and CI runs on one machine) and linked
# as .tools/<name>. Skips everything when the pinned version is already there.
#
#   pinned_venv NAME VERSION "PIP SPEC" "PYTHON CHECK (exit 0 when the venv is complete)"
pinned_venv() {
  local name="$1" version="$2" spec="$3" check="$4"
  local cache="${AUTHGATE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/authgate}"
  local venv="$cache/$name-$version"
  local py="${PYTHON:-python3}"
  if ! "$venv/bin/python" -c "$check" 2>/dev/null; then
    echo "installing $spec into $venv"
    rm -rf "$venv"
    mkdir -p "$cache"
    "$py" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$spec"
  fi
  mkdir -p .tools
  ln -sfn "$venv" ".tools/$name"
  echo "$name $("$venv/bin/python" -c "import $name; print($name.__version__)" 2>/dev/null || echo "$version") at .tools/$name"
}
