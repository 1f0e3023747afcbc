"""Build hook: compile hive_core's hot paths with Cython where a C compiler exists.

The hot-path modules are plain Python in Cython's pure-Python mode, so when compilation is not
possible the same source runs interpreted; `python -m hive_core info` says which one is active.
With HIVE_REQUIRE_COMPILED=1 (set by CI) a failed compile fails the build instead.
"""
import os

from setuptools import setup
from setuptools.command.build_ext import build_ext

COMPILED_MODULES = ["hive_core/clock.py", "hive_core/scheduler.py", "hive_core/orders/rate_limit.py",
                    "hive_core/market/local_book.py", "hive_core/market/ws_frames.py"]
REQUIRE_COMPILED = os.environ.get("HIVE_REQUIRE_COMPILED") == "1"


class OptionalBuildExt(build_ext):
    """Treat a failed compile as 'run interpreted' instead of a failed install, unless compiling is required.
    The modules compile side by side, one per CPU, unless --parallel says otherwise."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler, missing headers, ...
            if REQUIRE_COMPILED:
                raise
            print(f"hive_core: compiled build unavailable ({exc}); using pure Python")

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            if REQUIRE_COMPILED:
                raise
            print(f"hive_core: could not compile {ext.name} ({exc}); using pure Python")


def extensions() -> list:
    try:
        from Cython.Build import cythonize
    except ImportError:
        if REQUIRE_COMPILED:
            raise
        return []
    extensions = cythonize(COMPILED_MODULES, compiler_directives={"language_level": "3"}, quiet=True)
    for extension in extensions:
        # the same optimised code without debug information, which takes gcc most of its time on Cython's C
        extension.extra_compile_args.append("-g0")
    return extensions


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
