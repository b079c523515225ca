"""Build entry point (build layer): compiles the cffi core next to the package.

Metadata lives in pyproject.toml; this file only adds what setuptools cannot
read from there: the cffi extension, built by csrc/ffi_build.py from every
csrc/*.c and the declarations in csrc/pyipvs.h, and the wheel's tag.

cffi builds the extension against the stable ABI (``py_limited_api``) on
every CPython except free-threaded ones, so one wheel serves CPython 3.10 and
every later version: the wheel is tagged ``cp310-abi3`` to say so. Where cffi
cannot use the stable ABI (a free-threaded or debug interpreter) the tag is
left to setuptools, which then names the exact interpreter.
"""

import sys
import sysconfig

from setuptools import setup

# cffi turns py_limited_api off for these interpreters (cffi/setuptools_ext.py).
_ABI3 = not sysconfig.get_config_var("Py_GIL_DISABLED") and not hasattr(sys, "gettotalrefcount")

setup(
    cffi_modules=["csrc/ffi_build.py:ffibuilder"],
    options={"bdist_wheel": {"py_limited_api": "cp310"}} if _ABI3 else {},
)
