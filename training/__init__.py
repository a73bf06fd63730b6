"""Researcher-facing command-line scripts: train, evaluate, cross-validate, compare backbones.

Each script is a thin ``main(argv)`` around a function that takes one typed config and
returns numbers (``train``, ``evaluate``, ``cross_validate``, ``compare``), so tests and
notebooks call the functions and the command line stays a formality. See training/README.md.
"""
