"""Build entry point (build layer): compiles the cffi core next to the package.

Metadata lives in pyproject.toml; this file only adds what setuptools cannot
read from there: the cffi extension, built by csrc/ffi_build.py from every
csrc/*.c and the declarations in csrc/pyipvs.h.
"""

from setuptools import setup

setup(cffi_modules=["csrc/ffi_build.py:ffibuilder"])
