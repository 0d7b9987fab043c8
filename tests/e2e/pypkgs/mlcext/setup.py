from setuptools import Extension, setup

setup(ext_modules=[Extension("mlcext._speed", ["mlcext/_speed.c"])])
