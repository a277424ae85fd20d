"""Build of the optional compiled core (verifier/_core.pyx -> pteverify._core).

Everything else is declared in pyproject.toml. The extension is optional: on a machine without a C
compiler (or without Python's headers) the build prints a warning and the install goes on with the
pure-Python explorer loops, which `pteverify doctor` and `pteverify --version` then name."""

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class optional_build_ext(build_ext):
    """build_ext that lets the compiled core fail (setuptools' Extension(optional=True) is not
    honoured by editable installs)."""

    failed: list = []

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as e:          # no compiler, no headers, a compiler error
            self.failed.append(ext.name)
            sys.stderr.write(f"WARNING: the compiled core ({ext.name}) was not built ({e}); "
                             f"pteverify will use its pure-Python core\n")

    def get_outputs(self):
        return [o for o, ext in zip(super().get_outputs(), self.extensions) if ext.name not in self.failed]

    def copy_extensions_to_source(self):
        keep = self.extensions
        self.extensions = [ext for ext in keep if ext.name not in self.failed]
        try:
            super().copy_extensions_to_source()
        finally:
            self.extensions = keep


try:
    from Cython.Build import cythonize
except ImportError:              # no Cython in the build environment: the pure-Python core only
    ext_modules = []
else:
    ext_modules = cythonize([Extension("pteverify._core", ["verifier/_core.pyx"], extra_compile_args=["-O2"])],
                            language_level=3, quiet=True)

setup(ext_modules=ext_modules, cmdclass={"build_ext": optional_build_ext})
