"""A real LuaJIT with Debian's inspect.lua and lua-cjson, the reference for Kong's checksum:
finding it (a test skips, saying what to install, when it is missing) and printing a JSON
document with inspect.lua, as Kong prints its report table before hashing it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

#: Debian's lua-inspect installs here; ";;" keeps LuaJIT's default path after it.
LUA_PATH = "/usr/share/lua/5.1/?.lua;;"

MISSING = (
    "needs a real LuaJIT with inspect.lua and lua-cjson (Debian: apt-get install luajit "
    "lua-inspect lua-cjson); {what}"
)

#: Decode stdin with cjson, drop cjson.null (Kong's table has no such entries), inspect it.
_STRIPPING = """
local cjson = require "cjson"
local inspect = require "inspect"
local function strip(t)
  if type(t) ~= "table" then return t end
  for k, v in pairs(t) do
    if v == cjson.null then t[k] = nil else strip(v) end
  end
  return t
end
io.write(inspect(strip(cjson.decode(io.read("*a")))))
"""

#: Decode stdin with cjson and inspect it as it is: a null prints as cjson's ``userdata``.
_AS_DECODED = 'io.write(require "inspect"(require "cjson".decode(io.read("*a"))))'


def environment() -> dict[str, str]:
    """This process's environment with ``LUA_PATH`` reaching Debian's inspect.lua."""
    return {**os.environ, "LUA_PATH": os.environ.get("LUA_PATH", LUA_PATH)}


def find_luajit() -> str:
    """The luajit executable, once its inspect and cjson modules load; skip otherwise."""
    executable = shutil.which("luajit")
    if executable is None:
        pytest.skip(MISSING.format(what="no luajit on PATH"))
    probe = subprocess.run(
        [executable, "-e", 'require "cjson"; io.write(require("inspect")._VERSION)'],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        first_line = (probe.stderr.strip().splitlines() or ["no output"])[0]
        pytest.skip(MISSING.format(what=f"luajit cannot load them: {first_line}"))
    return executable


def inspect(luajit: str, document: object, *, strip_nulls: bool) -> bytes:
    """inspect.lua's output for ``document`` sent as JSON; ``strip_nulls`` drops its nulls
    first, as a Lua table holds no ``nil`` (without it, a null shows and cannot match Kong)."""
    done = subprocess.run(
        [luajit, "-e", _STRIPPING if strip_nulls else _AS_DECODED],
        input=json.dumps(document).encode(),
        capture_output=True,
        env=environment(),
        timeout=30,
        check=True,
    )
    return done.stdout
