"""Packaging for scrapyd eggs (``scrapyd-deploy``) and ``pip install -e .``.

The shipped example configs live in ``examples/`` at the top of the repository and are
packaged as ``tiktok_scrapy.examples`` so that a config can be named by example in a
scrapyd job (``-d config=quickstart``).
"""

from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py


class BuildPy(build_py):
    """Make ``tiktok_scrapy.examples`` a regular package in builds.

    scrapyd runs eggs as zip files, and importlib.resources cannot find a namespace package
    (a folder without ``__init__.py``) inside a zip: ``-d config=quickstart`` would fail.
    """

    def run(self) -> None:
        super().run()
        init = Path(self.build_lib, "tiktok_scrapy", "examples", "__init__.py")
        init.parent.mkdir(parents=True, exist_ok=True)
        init.touch()


setup(
    name="tiktok-scrapy",
    version="0.1.0",
    description="Scrapy crawler for TikTok's Research API, with a local sandbox of the API",
    python_requires=">=3.11",
    packages=[
        *find_packages(include=["tiktok_scrapy", "tiktok_scrapy.*"]),
        "tiktok_scrapy.examples",
    ],
    package_dir={"tiktok_scrapy.examples": "examples"},
    package_data={
        "tiktok_scrapy.examples": ["*.yaml", "*.json", "*.txt"],
        "tiktok_scrapy": ["schemas/*.json"],
        "tiktok_scrapy.ui": ["templates/*.html", "static/*.css", "static/*.js"],
    },
    include_package_data=True,
    entry_points={"scrapy": ["settings = tiktok_scrapy.settings"]},
    zip_safe=False,
    cmdclass={"build_py": BuildPy},
)
